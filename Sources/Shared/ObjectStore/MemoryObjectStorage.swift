import Core
import Foundation

/// Objects kept in memory: the fake for tests of code that uses `ObjectStorage`. It passes the
/// same contract suite as `S3Client` against a real server, including S3's 5 MiB minimum part
/// size, and can be told to fail (`failAfter`) to test what callers do with a store that breaks.
public final class MemoryObjectStorage: ObjectStorage, @unchecked Sendable {
    private let lock = NSLock()
    private var objects: [String: [UInt8]] = [:]
    private var uploads: [String: (key: String, parts: [Int: [UInt8]])] = [:]
    private var requests = 0
    /// Requests numbered in this range fail with a transport error.
    private var failing: Range<Int>?

    public init() {}

    public var name: String { "memory://" }

    /// After `after` more requests succeed, the next `count` fail (nil: none fails).
    public func fail(after: Int?, count: Int = Int.max / 2) {
        locked { failing = after.map { (requests + $0 + 1)..<(requests + $0 + 1 + count) } }
    }

    /// Keys of every stored object, sorted.
    public var keys: [String] { locked { objects.keys.sorted() } }
    /// Multipart uploads started and neither completed nor aborted.
    public var openUploads: Int { locked { uploads.count } }

    public func put(_ key: String, _ bytes: [UInt8]) throws {
        try request { objects[key] = bytes }
    }

    public func get(_ key: String, range: Range<Int>?) throws -> [UInt8]? {
        try request {
            guard let object = objects[key] else { return nil }
            guard let range else { return object }
            guard range.lowerBound >= 0, range.upperBound <= object.count else {
                throw ObjectStoreError(.server, "GET \(key) bytes \(range): the object has \(object.count) bytes", status: 416)
            }
            return Array(object[range])
        }
    }

    public func list(prefix: String) throws -> [ObjectInfo] {
        try request { objects.filter { $0.key.hasPrefix(prefix) }.map { ObjectInfo(key: $0.key, size: $0.value.count) }.sorted { $0.key < $1.key } }
    }

    public func delete(_ key: String) throws {
        try request { objects[key] = nil }
    }

    public func startMultipart(_ key: String) throws -> String {
        try request {
            let id = String(UInt64.random(in: 1...UInt64.max), radix: 16)
            uploads[id] = (key, [:])
            return id
        }
    }

    public func putPart(_ key: String, uploadID: String, number: Int, _ bytes: [UInt8]) throws -> String {
        try request {
            guard uploads[uploadID]?.key == key else { throw noSuchUpload(uploadID) }
            uploads[uploadID]!.parts[number] = bytes
            return "\"" + SHA256.hex(bytes).prefix(32) + "\""
        }
    }

    public func completeMultipart(_ key: String, uploadID: String, parts: [(number: Int, etag: String)]) throws {
        try request {
            guard let upload = uploads[uploadID], upload.key == key else { throw noSuchUpload(uploadID) }
            var object: [UInt8] = []
            for (index, part) in parts.enumerated() {
                guard let bytes = upload.parts[part.number], "\"" + SHA256.hex(bytes).prefix(32) + "\"" == part.etag else {
                    throw ObjectStoreError(.server, "complete \(key): part \(part.number) with ETag \(part.etag) was not uploaded", status: 400)
                }
                if index < parts.count - 1 && bytes.count < MultipartUpload.minimumPartSize {
                    throw ObjectStoreError(.server, "complete \(key): EntityTooSmall: part \(part.number) has \(bytes.count) bytes", status: 400)
                }
                object += bytes
            }
            objects[key] = object
            uploads[uploadID] = nil
        }
    }

    public func abortMultipart(_ key: String, uploadID: String) throws {
        try request { uploads[uploadID] = nil }
    }

    private func noSuchUpload(_ id: String) -> ObjectStoreError {
        ObjectStoreError(.server, "NoSuchUpload: \(id)", status: 404)
    }

    private func request<T>(_ body: () throws -> T) throws -> T {
        try locked {
            requests += 1
            if let failing, failing.contains(requests) {
                throw ObjectStoreError(.transport, "memory store: request \(requests) failed on purpose")
            }
            return try body()
        }
    }

    private func locked<T>(_ body: () throws -> T) rethrows -> T {
        lock.lock()
        defer { lock.unlock() }
        return try body()
    }
}
