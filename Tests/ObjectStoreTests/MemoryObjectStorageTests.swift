import Foundation
import Testing
@testable import ObjectStore

@Suite struct MemoryObjectStorageTests {
    @Test func passesTheObjectStorageContract() throws {
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("grove-memstore-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        let storage = MemoryObjectStorage()
        let failures = ObjectStorageContract.run(storage, prefix: "contract/", scratch: scratch)
        #expect(failures.isEmpty, "\(failures)")
        #expect(storage.keys.isEmpty, "the contract cleans up: \(storage.keys)")
        #expect(storage.openUploads == 0)
    }

    @Test func aFailedMultipartUploadIsAborted() throws {
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("grove-memstore-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        let file = scratch + "/big"
        try #require(FileManager.default.createFile(atPath: file, contents: Data(count: 2 * MultipartUpload.minimumPartSize + 1)))
        let storage = MemoryObjectStorage()
        storage.fail(after: 2, count: 1)  // start and part 1 succeed, part 2 fails, the abort succeeds
        #expect(throws: ObjectStoreError.self) { try storage.upload(file: file, to: "big", partSize: MultipartUpload.minimumPartSize) }
        #expect(storage.keys.isEmpty, "no object from a failed upload")
        #expect(storage.openUploads == 0, "the upload was aborted, its parts freed")
    }
}
