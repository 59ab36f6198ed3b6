import Foundation
import Testing

/// A run directory belongs to one coordinator at a time; a finished run is reported, not redone;
/// a resume keeps the earlier timeline; `status --run-dir` finds the run, live or finished.
@Suite(.serialized) struct RunDirectoryEndToEndTests {
    static func run(_ directory: String, _ extra: [String]) -> [String] {
        ["run", "--config", "cluster.yaml", "--run-dir", directory, "--set", "coordinator.port=0",
         "--set", "logging.level=notice", "--set", "checkpoint.interval=2"] + extra
    }

    /// Every file of the directory, with its bytes and modification time.
    static func snapshot(_ directory: String) throws -> [String: (Data, Date)] {
        var files: [String: (Data, Date)] = [:]
        let enumerator = FileManager.default.enumerator(atPath: directory)
        while let name = enumerator?.nextObject() as? String {
            let path = directory + "/" + name
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), !isDirectory.boolValue else { continue }
            let attributes = try FileManager.default.attributesOfItem(atPath: path)
            files[name] = (try Data(contentsOf: URL(fileURLWithPath: path)), attributes[.modificationDate] as? Date ?? .distantPast)
        }
        return files
    }

    @Test func aSecondCoordinatorOnALiveRunIsRefusedNamingTheOwner() throws {
        let directory = Grove.temporaryDirectory("locked")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let first = try Grove.Background("coordinator", Self.run(directory, [
            "--set", "model.name=pixel-mlp", "--set", "workers.local=0", "--set", "fault_tolerance.wait_for_workers=120"]))
        defer { first.stop() }
        _ = try first.waitFor("status page at ")
        try "{\"step\": 1}\n".write(toFile: directory + "/metrics.jsonl", atomically: true, encoding: .utf8)
        let started = ContinuousClock.now
        let second = try Grove.run("coordinator", Self.run(directory, ["--set", "model.name=pixel-mlp", "--set", "workers.local=0"]),
                                   timeout: .seconds(30))
        #expect(started.duration(to: .now) < .seconds(10))
        #expect(second.status != 0)
        #expect(second.output.contains("in use by the coordinator with pid \(first.process.processIdentifier)"), "\(second.output)")
        #expect(try String(contentsOfFile: directory + "/metrics.jsonl", encoding: .utf8) == "{\"step\": 1}\n")
        let status = try Grove.run("coordinator", ["status", "--run-dir", directory], timeout: .seconds(20))
        #expect(status.status == 0)
        #expect(status.output.contains("live: coordinator pid \(first.process.processIdentifier)"), "\(status.output)")
        #expect(status.output.contains("waiting"), "\(status.output)")
    }

    /// A finished CanopyNet run (its summary holds tree scores) run again: reported complete, and
    /// no file of its directory changes. A resume past it writes its timeline beside the first.
    @Test func aFinishedRunIsLeftAsItWasAndAResumeKeepsTheTimeline() throws {
        let directory = Grove.temporaryDirectory("finished")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let settings = ["--set", "model.name=canopy-net", "--set", "training.steps=2", "--set", "training.eval_every=2",
                        "--set", "logging.timeline=true", "--set", "workers.local=1"]
        let first = try Grove.run("coordinator", Self.run(directory, settings))
        try #require(first.status == 0, "\(first.output)")
        let summary = try RunFiles(directory: directory).summary
        try #require((summary["validation"] as? [String: Any])?["trees"] != nil, "no tree scores in \(summary)")
        let before = try Self.snapshot(directory)
        Thread.sleep(forTimeInterval: 1.1)  // a rewrite would show in the modification times

        let again = try Grove.run("coordinator", Self.run(directory, settings))
        #expect(again.status == 0)
        #expect(again.output.contains("already complete at step 2"), "\(again.output)")
        let after = try Self.snapshot(directory)
        #expect(Set(after.keys) == Set(before.keys))
        for (name, (bytes, modified)) in before where name != "coordinator.lock" {
            #expect(after[name]?.0 == bytes, "\(name) changed")
            #expect(after[name]?.1 == modified, "\(name) was rewritten")
        }

        let status = try Grove.run("coordinator", ["status", "--run-dir", directory], timeout: .seconds(20))
        #expect(status.status == 0)
        #expect(status.output.contains("finished: no coordinator is running"), "\(status.output)")
        #expect(status.output.contains("run canopy: 2 steps"), "\(status.output)")

        let resumed = try Grove.run("coordinator", Self.run(directory, settings + ["--set", "training.steps=4"]))
        try #require(resumed.status == 0, "\(resumed.output)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: directory + "/trace.json")) == before["trace.json"]?.0)
        let second = try String(contentsOfFile: directory + "/trace-2.json", encoding: .utf8)
        #expect(second.contains("step 4"), "the resumed invocation's timeline")
    }

    @Test func statusOfADirectoryWithoutARunSaysSo() throws {
        let directory = Grove.temporaryDirectory("empty-status")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let result = try Grove.run("coordinator", ["status", "--run-dir", directory], timeout: .seconds(20))
        #expect(result.status == 1)
        #expect(result.output.contains("no coordinator is running in \(directory) and it has no summary.json"), "\(result.output)")
    }
}
