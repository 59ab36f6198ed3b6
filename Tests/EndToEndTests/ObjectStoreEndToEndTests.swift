import Foundation
import ObjectStore
import Testing

/// The S3 client against a real S3-compatible server (moto): the same contract as the in-memory
/// store, signatures checked by the server and its refusals, and what an upload costs.
@Suite(.serialized, .enabled(if: S3TestServer.available, Comment(rawValue: S3TestServer.unavailable)))
struct ObjectStoreEndToEndTests {
    @Test func theS3ClientPassesTheObjectStorageContractAgainstAServer() throws {
        let server = try S3TestServer()
        defer { server.stop() }
        let client = try server.client(bucket: "grove-contract")
        try client.createBucket()
        let scratch = Grove.temporaryDirectory("s3-contract")
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        let failures = ObjectStorageContract.run(client, prefix: "contract/", scratch: scratch)
        #expect(failures.isEmpty, "\(failures)")
        #expect(try client.list(prefix: "").isEmpty, "the contract cleans up")
    }

    @Test func theServerAcceptsOurSignaturesAndItsRefusalsReachTheUser() throws {
        let server = try S3TestServer(authenticating: true)
        defer { server.stop() }
        let client = try server.client(bucket: "grove-refusals")
        try client.createBucket()
        // Signed with the right secret: the server checked and accepted every one of these.
        let bytes = (0..<(MultipartUpload.minimumPartSize + 10)).map { UInt8(truncatingIfNeeded: $0) }
        try client.put("p/step-000010/weights.safetensors", bytes)
        #expect(try client.get("p/step-000010/weights.safetensors", range: 5..<9) == [5, 6, 7, 8])
        let id = try client.startMultipart("p/multi")
        let first = try client.putPart("p/multi", uploadID: id, number: 1, bytes)
        let second = try client.putPart("p/multi", uploadID: id, number: 2, [1])
        try client.completeMultipart("p/multi", uploadID: id, parts: [(1, first), (2, second)])
        #expect(try client.get("p/multi", range: nil)?.count == bytes.count + 1)
        try client.delete("p/multi")
        #expect(try client.list(prefix: "").map(\.key) == ["p/step-000010/weights.safetensors"])

        let wrong = try server.client(bucket: "grove-refusals", secret: "not-the-secret")
        do {
            try wrong.put("p/k", [1, 2, 3])
            Issue.record("a request signed with the wrong secret was accepted")
        } catch let error as ObjectStoreError {
            #expect(error.status == 403)
            #expect(error.message.contains("PUT s3://grove-refusals/p/k at \(server.endpoint): 403 SignatureDoesNotMatch"), "\(error.message)")
            #expect(error.message.contains("access key \(server.accessKeyID)"), "names the key, never the secret: \(error.message)")
            #expect(!error.message.contains("not-the-secret"))
        }
        let missing = try server.client(bucket: "grove-no-such-bucket")
        do {
            _ = try missing.get("k", range: nil)
            Issue.record("a missing bucket read as a missing key")
        } catch let error as ObjectStoreError {
            #expect(error.status == 404)
            #expect(error.message.contains("NoSuchBucket"), "\(error.message)")
        }
    }

    /// Reported, not asserted: a 64 MiB file uploaded in 16 MiB parts and downloaded again,
    /// against writing the same bytes to a local file.
    @Test func uploadThroughputIsReported() throws {
        let server = try S3TestServer()
        defer { server.stop() }
        let client = try server.client(bucket: "grove-throughput")
        try client.createBucket()
        let scratch = Grove.temporaryDirectory("s3-throughput")
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        let size = 64 << 20
        let bytes = Data((0..<size).map { UInt8(truncatingIfNeeded: $0 &* 2_654_435_761 >> 13) })
        var started = ContinuousClock.now
        try #require(FileManager.default.createFile(atPath: scratch + "/local", contents: nil))
        let handle = try #require(FileHandle(forWritingAtPath: scratch + "/local"))
        try handle.write(contentsOf: bytes)
        try handle.synchronize()
        try handle.close()
        let local = started.duration(to: .now)
        started = .now
        let sent = try client.upload(file: scratch + "/local", to: "big", partSize: 16 << 20)
        let upload = started.duration(to: .now)
        started = .now
        let got = try client.download("big", size: size, to: scratch + "/back", partSize: 16 << 20)
        let download = started.duration(to: .now)
        #expect(sent.size == size && got == sent.sha256)
        func rate(_ duration: Duration) -> String {
            let seconds = Double(duration.components.seconds) + Double(duration.components.attoseconds) * 1e-18
            return String(format: "%.1f MiB/s (%.2f s)", 64 / seconds, seconds)
        }
        print("64 MiB: local write+fsync \(rate(local)); upload to moto on loopback \(rate(upload)); download \(rate(download))")
    }
}
