import Foundation
import ObjectStore
import Testing

/// Checkpoints in object storage, with real processes against a local S3-compatible server: a
/// coordinator killed in the middle of an upload, then `resume` on a "new machine" (an empty run
/// directory) that finds, downloads, verifies and continues from the newest verified remote
/// checkpoint and ends on the uninterrupted run's weights.
@Suite(.serialized, .enabled(if: S3TestServer.available, Comment(rawValue: S3TestServer.unavailable)))
struct RemoteCheckpointEndToEndTests {
    static let settings = FaultEndToEndTests.settings.map { $0 == "checkpoint.interval=20" ? "checkpoint.interval=10" : $0 }
        + ["--set", "checkpoint.keep=2"]

    /// Steps of the remote checkpoints with a manifest, and of the ones without.
    static func remoteSteps(_ client: S3Client, prefix: String) throws -> (complete: [Int], incomplete: [Int]) {
        var files: [Int: Set<String>] = [:]
        for object in try client.list(prefix: prefix + "/") {
            let parts = object.key.dropFirst(prefix.count + 1).split(separator: "/")
            guard parts.count == 2, parts[0].hasPrefix("step-"), let step = Int(parts[0].dropFirst(5)) else { continue }
            files[step, default: []].insert(String(parts[1]))
        }
        let complete = files.filter { $0.value.contains("manifest.json") }.keys.sorted()
        let incomplete = files.filter { !$0.value.contains("manifest.json") }.keys.sorted()
        return (complete, incomplete)
    }

    @Test func aRunKilledMidUploadResumesFromObjectStorageOnAnEmptyMachine() throws {
        let expected = try FaultEndToEndTests.reference(settings: Self.settings)
        let server = try S3TestServer()
        defer { server.stop() }
        let client = try server.client(bucket: "grove-runs")
        try client.createBucket()
        let remote = ["--set", "checkpoint.remote=s3://grove-runs/canopy/e2e"]

        // The first machine: killed inside the upload of the first checkpoint of a step >= 25,
        // its tensor files sent and its manifest not.
        let first = Grove.temporaryDirectory("remote-first")
        defer { try? FileManager.default.removeItem(atPath: first) }
        let killed = try Grove.Background("coordinator", ["run", "--config", "cluster.yaml", "--run-dir", first, "--set", "workers.local=2"]
                                          + Self.settings + remote,
                                          environment: server.environment.merging(["GROVE_FAULT_POINT": "mid-upload", "GROVE_FAULT_STEP": "25"]) { $1 })
        defer { killed.stop() }
        #expect(killed.waitForExit(timeout: .seconds(120)) != nil, "\(killed.output)")
        #expect(killed.process.terminationReason == .uncaughtSignal, "\(killed.output)")
        for pid in RecoveryEndToEndTests.pids(in: killed.output) { kill(pid, SIGKILL) }
        let interrupted = try #require(Int(try killed.waitFor("fault point mid-upload reached at step ").prefix { $0.isNumber }),
                                       "\(killed.output)")
        #expect([30, 40].contains(interrupted), "\(killed.output)")

        let before = try Self.remoteSteps(client, prefix: "canopy/e2e")
        #expect(before.incomplete == [interrupted], "the half-uploaded checkpoint has files and no manifest: \(before)")
        let newest = try #require(before.complete.last, "earlier uploads are complete: \(before)")
        #expect(newest < interrupted && newest >= 20, "\(before)")
        #expect(before.complete.count <= 2, "retention keeps 2 remotely: \(before)")

        // The second machine: an empty run directory and the same cluster.yaml and settings.
        let second = Grove.temporaryDirectory("remote-second") + "/run"
        defer { try? FileManager.default.removeItem(atPath: URL(fileURLWithPath: second).deletingLastPathComponent().path) }
        let resumed = try Grove.Background("coordinator", ["resume", "--config", "cluster.yaml", "--run-dir", second, "--set", "workers.local=2"]
                                           + Self.settings + remote, environment: server.environment)
        defer { resumed.stop() }
        #expect(resumed.waitForExit(timeout: .seconds(120)) == 0, "\(resumed.output)")
        #expect(resumed.output.contains("downloaded and verified the checkpoint of step \(newest) from s3://grove-runs/canopy/e2e"),
                "\(resumed.output)")
        let summary = try RunFiles(directory: second).summary
        #expect(summary["resumed_from_step"] as? Int == newest)
        #expect(summary["steps"] as? Int == 40)
        #expect(summary["weights_sha256"] as? String == expected, "the resumed run ends on the uninterrupted run's weights")

        // The remote now ends where the run ended: every checkpoint complete, the half upload gone.
        let after = try Self.remoteSteps(client, prefix: "canopy/e2e")
        #expect(after.complete == [30, 40], "\(after)")
        #expect(after.incomplete.isEmpty, "\(after)")
        #expect(resumed.output.contains("checkpoint of step 40 uploaded to s3://grove-runs/canopy/e2e"), "\(resumed.output)")
    }

    /// With the server checking signatures; the location has no prefix, so that the listing is
    /// one moto can check (see S3TestServer).
    @Test func aResumeWithNothingToResumeOrBadSettingsSaysWhy() throws {
        let server = try S3TestServer(authenticating: true)
        defer { server.stop() }
        try server.client(bucket: "grove-empty").createBucket()
        let dir = Grove.temporaryDirectory("remote-nothing") + "/run"
        defer { try? FileManager.default.removeItem(atPath: URL(fileURLWithPath: dir).deletingLastPathComponent().path) }
        func resume(_ extra: [String], environment: [String: String]) throws -> (Int32?, String) {
            let process = try Grove.Background("coordinator", ["resume", "--config", "cluster.yaml", "--run-dir", dir] + Self.settings + extra,
                                               environment: environment)
            defer { process.stop() }
            return (process.waitForExit(timeout: .seconds(60)), process.output)
        }
        var (status, output) = try resume(["--set", "checkpoint.remote=s3://grove-empty"], environment: server.environment)
        #expect(status == 1)
        #expect(output.contains("nor in s3://grove-empty; nothing to resume"), "\(output)")

        (status, output) = try resume(["--set", "checkpoint.remote=s3://Grove_Runs/x"], environment: server.environment)
        #expect(status == 2, "a configuration error")
        #expect(output.contains("checkpoint.remote: expected empty or s3://BUCKET/PREFIX, found \"s3://Grove_Runs/x\""), "\(output)")
        #expect(output.contains("lower-case letters"), "\(output)")

        var noCredentials = server.environment
        noCredentials["AWS_ACCESS_KEY_ID"] = ""
        (status, output) = try resume(["--set", "checkpoint.remote=s3://grove-empty"], environment: noCredentials)
        #expect(status == 1)
        #expect(output.contains("no S3 credentials: AWS_ACCESS_KEY_ID is not set"), "\(output)")

        var wrongSecret = server.environment
        wrongSecret["AWS_SECRET_ACCESS_KEY"] = "wrong"
        (status, output) = try resume(["--set", "checkpoint.remote=s3://grove-empty"], environment: wrongSecret)
        #expect(status == 1)
        #expect(output.contains("403 SignatureDoesNotMatch"), "\(output)")
    }
}
