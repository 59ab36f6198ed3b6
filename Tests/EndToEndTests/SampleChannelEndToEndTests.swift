import Foundation
import Testing

/// A worker that has only the binary: started in an empty working directory, it fetches the
/// run's files from the coordinator's sample server, trains to the same weights as a worker that
/// reads them locally, and a second run takes every file from its cache.
@Suite(.serialized) struct SampleChannelEndToEndTests {
    static let common = ["--config", "cluster.yaml", "--set", "coordinator.port=0", "--set", "training.steps=6",
                         "--set", "checkpoint.interval=3", "--set", "logging.status_port=-1", "--set", "model.name=pixel-mlp"]

    /// The reference: one local worker reading the files where the configuration says.
    static func localRun(_ directory: String, extra: [String]) throws -> String {
        let result = try Grove.run("coordinator", ["run", "--run-dir", directory, "--set", "workers.local=1"] + common + extra)
        try #require(result.status == 0, "\(result.output)")
        return try #require(try RunFiles(directory: directory).summary["weights_sha256"] as? String)
    }

    /// A coordinator that starts no worker, and one worker process in `workDirectory` (empty)
    /// with its cache at `cache`. Returns the run's weights hash and the worker's output.
    static func remoteRun(_ directory: String, workDirectory: String, cache: String, extra: [String]) throws -> (weights: String, worker: String, coordinator: String) {
        let coordinator = try Grove.Background("coordinator", ["run", "--run-dir", directory, "--set", "workers.local=0",
                                                               "--set", "workers.min=1", "--set", "fault_tolerance.wait_for_workers=120"]
                                                              + common + extra)
        defer { coordinator.stop() }
        let endpoint = try coordinator.waitFor("coordinator listening on ")
        let worker = try Grove.Background("worker", ["--coordinator", endpoint, "--cache-dir", cache, "--cache-mib", "64"],
                                          directory: workDirectory)
        defer { worker.stop() }
        let workerStatus = worker.waitForExit()
        let coordinatorStatus = coordinator.waitForExit(timeout: .seconds(60))
        try #require(workerStatus == 0 && coordinatorStatus == 0,
                     "worker \(String(describing: workerStatus)):\n\(worker.output)\ncoordinator \(String(describing: coordinatorStatus)):\n\(coordinator.output)")
        let weights = try #require(try RunFiles(directory: directory).summary["weights_sha256"] as? String)
        return (weights, worker.output, coordinator.output)
    }

    /// The number N of "samples: N fetched" in a worker's log.
    static func fetched(_ output: String) -> Int? {
        guard let range = output.range(of: "samples: ") else { return nil }
        return Int(output[range.upperBound...].prefix { $0.isNumber })
    }

    /// The number N of "…, N read from the cache" in a worker's log.
    static func fromCache(_ output: String) -> Int? {
        guard let range = output.range(of: " read from the cache") else { return nil }
        return Int(String(output[..<range.lowerBound].reversed().prefix { $0.isNumber }.reversed()))
    }

    @Test func aWorkerWithAnEmptyDirectoryTrainsOnTheTileDirectoryAndReusesItsCache() throws {
        let root = Grove.temporaryDirectory("samples-tiles")
        defer { try? FileManager.default.removeItem(atPath: root) }
        let empty = root + "/empty", cache = root + "/cache"
        try FileManager.default.createDirectory(atPath: empty, withIntermediateDirectories: true)
        let reference = try Self.localRun(root + "/local", extra: [])

        let first = try Self.remoteRun(root + "/remote-1", workDirectory: empty, cache: cache, extra: [])
        #expect(first.weights == reference, "fetched files trained other weights")
        #expect(first.worker.contains("fetching the run's files from the coordinator's sample server"), "\(first.worker)")
        #expect(first.coordinator.contains("sample server on tcp://127.0.0.1:"), "\(first.coordinator)")
        // The tables and three images per tile of the vendored sample's 81 tiles; files with the
        // same bytes (identical masks) are one cache entry, fetched once.
        let fetched = try #require(Self.fetched(first.worker), "\(first.worker)")
        #expect(fetched > 200 && fetched + (Self.fromCache(first.worker) ?? -1) == 2 + 3 * 81, "\(first.worker)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: empty).isEmpty, "the worker wrote into its working directory")

        let second = try Self.remoteRun(root + "/remote-2", workDirectory: empty, cache: cache, extra: [])
        #expect(second.weights == reference)
        #expect(Self.fetched(second.worker) == 0, "a file was fetched again: \(second.worker)")
        #expect(Self.fromCache(second.worker) == 2 + 3 * 81, "\(second.worker)")
    }

    @Test func aManifestRunFetchesEverySampleItIsLeasedAndTrainsTheSameWeights() throws {
        let root = Grove.temporaryDirectory("samples-manifest")
        defer { try? FileManager.default.removeItem(atPath: root) }
        let catalog = root + "/catalog", empty = root + "/empty"
        try FileManager.default.createDirectory(atPath: empty, withIntermediateDirectories: true)
        for arguments in [["synth", "--count", "24", "--seed", "3"], ["freeze", "--name", "rgb", "--query", "bands = 3"]] {
            let result = try Grove.run("coordinator", ["dataset"] + arguments + ["--catalog", catalog])
            try #require(result.status == 0, "\(arguments): \(result.output)")
        }
        // The manifest's path exists on this machine: only `coordinator` makes the worker fetch.
        let extra = ["--set", "dataset.manifest=\(catalog)/manifests/rgb.json", "--set", "dataset.validation_every=4"]
        let reference = try Self.localRun(root + "/local", extra: extra)
        let remote = try Self.remoteRun(root + "/remote", workDirectory: empty, cache: root + "/cache",
                                        extra: extra + ["--set", "dataset.source=coordinator"])
        #expect(remote.weights == reference)
        #expect(remote.worker.contains("(dataset.source coordinator)"), "\(remote.worker)")
        let count = try #require(Self.fetched(remote.worker), "\(remote.worker)")
        #expect(count > 1, "the manifest and its samples were fetched: \(remote.worker)")
        #expect(try RunFiles(directory: root + "/remote").summary["dataset_hash"] as? String
                == RunFiles(directory: root + "/local").summary["dataset_hash"] as? String)
    }
}
