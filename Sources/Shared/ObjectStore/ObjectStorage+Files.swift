import Core
import Foundation

extension ObjectStorage {
    /// Uploads a local file: one request when it fits in `partSize`, else a multipart upload of
    /// `partSize` parts (aborted if any part fails, so no parts are left to pay for). Memory use
    /// is one part. The bytes are hashed as they are read.
    ///
    /// - Returns: the size sent and the SHA-256 (hex) of the bytes sent, which the caller compares
    ///   with what it expected before it publishes anything that points at the object.
    @discardableResult
    public func upload(file path: String, to key: String, partSize: Int = 16 << 20) throws -> (size: Int, sha256: String) {
        precondition(partSize >= 1)
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw ObjectStoreError(.io, "cannot open \(path) to upload it to \(name)/\(key)")
        }
        defer { try? handle.close() }
        var hasher = SHA256()
        func read() throws -> [UInt8] {
            do {
                let chunk = [UInt8](try handle.read(upToCount: partSize) ?? Data())
                hasher.update(chunk)
                return chunk
            } catch {
                throw ObjectStoreError(.io, "reading \(path) to upload it: \(error.localizedDescription)")
            }
        }
        let first = try read()
        if first.count < partSize {
            try put(key, first)
            return (first.count, hasher.finalize().hexString)
        }
        let uploadID = try startMultipart(key)
        do {
            var parts: [(number: Int, etag: String)] = []
            var size = 0
            var chunk = first
            while !chunk.isEmpty {
                guard parts.count < MultipartUpload.maximumParts else {
                    throw ObjectStoreError(.io, "\(path) needs more than \(MultipartUpload.maximumParts) parts of \(partSize) bytes")
                }
                let etag = try putPart(key, uploadID: uploadID, number: parts.count + 1, chunk)
                parts.append((parts.count + 1, etag))
                size += chunk.count
                chunk = try read()
            }
            try completeMultipart(key, uploadID: uploadID, parts: parts)
            return (size, hasher.finalize().hexString)
        } catch {
            try? abortMultipart(key, uploadID: uploadID)
            throw error
        }
    }

    /// Downloads an object of known `size` into a new local file, in ranged requests of
    /// `partSize` bytes (memory use is one part), hashing as it writes.
    ///
    /// - Returns: the SHA-256 (hex) of the bytes written.
    /// - Throws: `.badResponse` when the object is missing or shorter than `size`.
    @discardableResult
    public func download(_ key: String, size: Int, to path: String, partSize: Int = 16 << 20) throws -> String {
        precondition(partSize >= 1)
        guard FileManager.default.createFile(atPath: path, contents: nil), let handle = FileHandle(forWritingAtPath: path) else {
            throw ObjectStoreError(.io, "cannot create \(path) to download \(name)/\(key) into it")
        }
        defer { try? handle.close() }
        var hasher = SHA256()
        var offset = 0
        repeat {
            let end = min(size, offset + partSize)
            guard let bytes = try get(key, range: offset..<end) else {
                throw ObjectStoreError(.badResponse, "\(name)/\(key) is not there (expected \(size) bytes)")
            }
            hasher.update(bytes)
            do { try handle.write(contentsOf: bytes) } catch {
                throw ObjectStoreError(.io, "writing \(path): \(error.localizedDescription)")
            }
            offset = end
        } while offset < size
        do { try handle.synchronize() } catch {
            throw ObjectStoreError(.io, "flushing \(path): \(error.localizedDescription)")
        }
        return hasher.finalize().hexString
    }
}
