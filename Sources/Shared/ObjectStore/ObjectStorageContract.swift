import Core
import Foundation

/// The behaviour every `ObjectStorage` must have, as runnable checks: `MemoryObjectStorage` passes
/// it in ObjectStoreTests, `S3Client` against a real S3-compatible server in the end-to-end tests.
///
/// Each check works under `prefix` (which should be empty), cleans up after itself, and returns
/// what went wrong as readable strings (empty = pass).
public enum ObjectStorageContract {
    public static func run(_ storage: any ObjectStorage, prefix: String, scratch: String) -> [String] {
        var failures: [String] = []
        func check(_ name: String, _ body: () throws -> [String]) {
            do { failures += try body().map { "\(name): \($0)" } } catch { failures.append("\(name): threw \(error)") }
        }
        check("round trip") { try roundTrip(storage, prefix) }
        check("ranges") { try ranges(storage, prefix) }
        check("listing") { try listing(storage, prefix) }
        check("multipart") { try multipart(storage, prefix) }
        check("files") { try files(storage, prefix, scratch: scratch) }
        return failures
    }

    static func roundTrip(_ storage: any ObjectStorage, _ prefix: String) throws -> [String] {
        var failures: [String] = []
        let bytes = (0..<1000).map { UInt8(truncatingIfNeeded: $0 &* 7) }
        // Characters that must be encoded in the path, and UTF-8.
        for key in [prefix + "plain", prefix + "a b/c+d=e&f~g", prefix + "ünïcode/ሴ", prefix + "empty"] {
            let body = key.hasSuffix("empty") ? [] : bytes
            try storage.put(key, body)
            let back = try storage.get(key, range: nil)
            if back != body { failures.append("\(key): got \(back?.count ?? -1) bytes back, put \(body.count)") }
            try storage.delete(key)
            if try storage.get(key, range: nil) != nil { failures.append("\(key): still there after delete") }
        }
        try storage.put(prefix + "twice", [1, 2, 3])
        try storage.put(prefix + "twice", [4])
        if try storage.get(prefix + "twice", range: nil) != [4] { failures.append("a second put did not replace the first") }
        try storage.delete(prefix + "twice")
        if try storage.get(prefix + "never-written", range: nil) != nil { failures.append("a missing key did not give nil") }
        try storage.delete(prefix + "never-written")  // no error
        return failures
    }

    static func ranges(_ storage: any ObjectStorage, _ prefix: String) throws -> [String] {
        var failures: [String] = []
        let bytes = (0..<300).map { UInt8(truncatingIfNeeded: $0) }
        try storage.put(prefix + "ranged", bytes)
        defer { try? storage.delete(prefix + "ranged") }
        for range in [0..<1, 0..<300, 100..<200, 299..<300] {
            let got = try storage.get(prefix + "ranged", range: range)
            if got != Array(bytes[range]) { failures.append("bytes \(range): got \(got?.count ?? -1) bytes, not the slice") }
        }
        if try storage.get(prefix + "missing", range: 0..<10) != nil { failures.append("a range of a missing key did not give nil") }
        return failures
    }

    static func listing(_ storage: any ObjectStorage, _ prefix: String) throws -> [String] {
        var failures: [String] = []
        let keys = ["list/b", "list/a/1", "list/a/2", "listing-not"].map { prefix + $0 }
        for (index, key) in keys.enumerated() { try storage.put(key, [UInt8](repeating: 9, count: index)) }
        defer { for key in keys { try? storage.delete(key) } }
        let listed = try storage.list(prefix: prefix + "list/")
        let expected = [ObjectInfo(key: prefix + "list/a/1", size: 1), ObjectInfo(key: prefix + "list/a/2", size: 2),
                        ObjectInfo(key: prefix + "list/b", size: 0)]
        if listed != expected { failures.append("list \(prefix)list/ gave \(listed), expected \(expected)") }
        if try !storage.list(prefix: prefix + "nothing-here/").isEmpty { failures.append("an empty prefix listed objects") }
        return failures
    }

    static func multipart(_ storage: any ObjectStorage, _ prefix: String) throws -> [String] {
        var failures: [String] = []
        let key = prefix + "multi"
        let first = [UInt8](repeating: 1, count: MultipartUpload.minimumPartSize)
        let second: [UInt8] = [2, 3, 4]
        let id = try storage.startMultipart(key)
        let etag1 = try storage.putPart(key, uploadID: id, number: 1, first)
        let etag2 = try storage.putPart(key, uploadID: id, number: 2, second)
        if try storage.get(key, range: nil) != nil { failures.append("the object was visible before the upload completed") }
        try storage.completeMultipart(key, uploadID: id, parts: [(1, etag1), (2, etag2)])
        let whole = try storage.get(key, range: nil)
        if whole != first + second { failures.append("the completed object has \(whole?.count ?? -1) bytes, not the two parts") }
        try storage.delete(key)

        let aborted = try storage.startMultipart(key)
        _ = try storage.putPart(key, uploadID: aborted, number: 1, second)
        try storage.abortMultipart(key, uploadID: aborted)
        if try storage.get(key, range: nil) != nil { failures.append("an aborted upload left an object") }
        do {
            try storage.completeMultipart(key, uploadID: aborted, parts: [(1, "\"0\"")])
            failures.append("completing an aborted upload succeeded")
        } catch is ObjectStoreError {}
        return failures
    }

    static func files(_ storage: any ObjectStorage, _ prefix: String, scratch: String) throws -> [String] {
        var failures: [String] = []
        let partSize = MultipartUpload.minimumPartSize
        for size in [0, 1000, 2 * partSize + 12345] {
            var generator = SplitMix64(seed: UInt64(size))
            let bytes = (0..<size).map { _ in UInt8(truncatingIfNeeded: generator.next()) }
            let source = scratch + "/upload-\(size)"
            guard FileManager.default.createFile(atPath: source, contents: Data(bytes)) else {
                return failures + ["cannot create \(source)"]
            }
            let key = prefix + "file-\(size)"
            let sent = try storage.upload(file: source, to: key, partSize: partSize)
            let expected = SHA256.hex(bytes)
            if sent.size != size || sent.sha256 != expected { failures.append("upload of \(size) bytes reported \(sent)") }
            let listed = try storage.list(prefix: key)
            if listed != [ObjectInfo(key: key, size: size)] { failures.append("upload of \(size) bytes listed as \(listed)") }
            let target = scratch + "/download-\(size)"
            let got = try storage.download(key, size: size, to: target, partSize: partSize)
            if got != expected || FileManager.default.contents(atPath: target) != Data(bytes) {
                failures.append("download of \(size) bytes differs from the upload")
            }
            try storage.delete(key)
            try? FileManager.default.removeItem(atPath: source)
            try? FileManager.default.removeItem(atPath: target)
        }
        do {
            try storage.download(prefix + "absent", size: 10, to: scratch + "/absent", partSize: partSize)
            failures.append("downloading a missing object succeeded")
        } catch let error as ObjectStoreError where error.kind == .badResponse {}
        return failures
    }
}
