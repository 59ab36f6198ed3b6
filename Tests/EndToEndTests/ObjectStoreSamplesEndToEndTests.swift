import Foundation
import ObjectStore
import Testing

/// `dataset.source: s3://BUCKET/PREFIX`: a worker with only the binary takes the run's files from
/// object storage, each verified against the index the coordinator announced and kept in its
/// cache, and trains the weights of a worker that reads them locally; a file changed in the store
/// is refused, naming it.
@Suite(.serialized, .enabled(if: S3TestServer.available, Comment(rawValue: S3TestServer.unavailable)))
struct ObjectStoreSamplesEndToEndTests {
    /// Uploads every file of the vendored tile directory to `prefix/<path relative to it>`, as
    /// `aws s3 sync data/aerial-sample s3://BUCKET/PREFIX` would.
    static func uploadTiles(_ client: S3Client, prefix: String) throws -> Int {
        let root = Grove.root + "/"
        var count = 0
        let enumerator = try #require(FileManager.default.enumerator(atPath: root + "data/aerial-sample"))
        while let relative = enumerator.nextObject() as? String {
            var isDirectory: ObjCBool = false
            let path = root + "data/aerial-sample/" + relative
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), !isDirectory.boolValue else { continue }
            try client.upload(file: path, to: prefix + "/" + relative)
            count += 1
        }
        return count
    }

    static func run(_ directory: String, workDirectory: String, cache: String, environment: [String: String]) throws -> (status: Int32?, weights: String?, worker: String) {
        let coordinator = try Grove.Background("coordinator", ["run", "--run-dir", directory, "--set", "workers.local=0", "--set", "workers.min=1",
                                                               "--set", "fault_tolerance.wait_for_workers=60",
                                                               "--set", "dataset.source=s3://grove-data/tiles"] + SampleChannelEndToEndTests.common)
        defer { coordinator.stop() }
        let endpoint = try coordinator.waitFor("coordinator listening on ")
        let worker = try Grove.Background("worker", ["--coordinator", endpoint, "--cache-dir", cache, "--cache-mib", "64"],
                                          environment: environment, directory: workDirectory)
        defer { worker.stop() }
        let status = worker.waitForExit(timeout: .seconds(120))
        _ = coordinator.waitForExit(timeout: .seconds(30))
        return (status, try? RunFiles(directory: directory).summary["weights_sha256"] as? String, worker.output)
    }

    @Test func aWorkerTakesTheRunsFilesFromObjectStorageVerified() throws {
        let server = try S3TestServer()
        defer { server.stop() }
        let client = try server.client(bucket: "grove-data")
        try client.createBucket()
        let uploaded = try Self.uploadTiles(client, prefix: "tiles")
        let root = Grove.temporaryDirectory("s3-samples")
        defer { try? FileManager.default.removeItem(atPath: root) }
        let empty = root + "/empty"
        try FileManager.default.createDirectory(atPath: empty, withIntermediateDirectories: true)
        let reference = try SampleChannelEndToEndTests.localRun(root + "/local", extra: [])

        let first = try Self.run(root + "/remote", workDirectory: empty, cache: root + "/cache", environment: server.environment)
        #expect(first.status == 0, "\(first.worker)")
        #expect(first.weights == reference, "files from object storage trained other weights")
        #expect(first.worker.contains("fetching the run's files from s3://grove-data/tiles, verified against the index"), "\(first.worker)")
        let fetched = try #require(SampleChannelEndToEndTests.fetched(first.worker), "\(first.worker)")
        #expect(fetched > 200 && fetched <= uploaded, "\(first.worker)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: empty).isEmpty)

        // A file changed in the store after the index was made: refused, named, never trained on.
        try client.put("tiles/tiles.csv", Array("id,image\nforged,x.png\n".utf8))
        let forged = try Self.run(root + "/forged", workDirectory: empty, cache: root + "/cache-2", environment: server.environment)
        #expect(forged.status != nil && forged.status != 0, "the worker stops with an error: \(forged.worker)")
        #expect(forged.worker.contains("s3://grove-data/tiles/tiles.csv"), "\(forged.worker)")
        #expect(forged.worker.contains("the index says"), "\(forged.worker)")
    }
}
