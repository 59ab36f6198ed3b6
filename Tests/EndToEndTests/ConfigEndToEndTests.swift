import Foundation
import Testing

/// A bad configuration stops the coordinator with exit code 2 and a message naming key and line.
@Suite struct ConfigEndToEndTests {
    func write(_ text: String) throws -> String {
        let path = Grove.temporaryDirectory("config") + "/cluster.yaml"
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    @Test func unknownKeyNamesKeyAndLine() throws {
        let path = try write("run:\n  name: x\ntraining:\n  stepz: 10\n")
        let result = try Grove.run("coordinator", ["run", "--config", path])
        #expect(result.status == 2)
        #expect(result.output.contains("training.stepz"))
        #expect(result.output.contains("line 4"))
    }

    @Test func wrongTypeNamesKeyAndLine() throws {
        let path = try write("training:\n  steps: many\n")
        let result = try Grove.run("coordinator", ["run", "--config", path])
        #expect(result.status == 2)
        #expect(result.output.contains("training.steps"))
        #expect(result.output.contains("line 2"))
    }

    @Test func outOfRangeOverrideIsRefused() throws {
        let result = try Grove.run("coordinator", ["run", "--set", "training.steps=-5"])
        #expect(result.status == 2)
        #expect(result.output.contains("training.steps"))
        #expect(result.output.contains("--set"))
    }

    /// Numbers that used to trap or livelock the coordinator are configuration errors.
    @Test(arguments: ["fault_tolerance.heartbeat_interval=1e300", "fault_tolerance.heartbeat_interval=0.0001",
                      "training.samples=9223372036854775807"])
    func numbersOutsideTheirRangeAreRefusedByName(argument: String) throws {
        let result = try Grove.run("coordinator", ["run", "--set", argument], timeout: .seconds(30))
        #expect(result.status == 2)
        let key = String(argument.prefix { $0 != "=" })
        #expect(result.output.contains("--set \(argument): \(key): expected a number in")
                || result.output.contains("--set \(argument): \(key): expected an integer in"), "\(result.output)")
    }

    /// Local workers that cannot start stop the run at once, with what they said, instead of after
    /// `fault_tolerance.wait_for_workers`.
    @Test func localWorkersThatDieBeforeJoiningStopTheRun() throws {
        let directory = Grove.temporaryDirectory("dead-workers")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let script = directory + "/broken-worker"
        try "#!/bin/sh\necho \"cannot start: the model library is missing\" >&2\nexit 3\n".write(toFile: script, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: script)
        let result = try Grove.run("coordinator", ["run", "--config", "cluster.yaml", "--run-dir", directory + "/run",
                                                   "--worker-executable", script, "--set", "coordinator.port=0",
                                                   "--set", "logging.status_port=-1", "--set", "fault_tolerance.wait_for_workers=100"])
        #expect(result.status == 1)
        #expect(result.output.contains("run.workers-failed"), "\(result.output)")
        #expect(result.output.contains("exited with status 3"), "\(result.output)")
        #expect(result.output.contains("cannot start: the model library is missing"), "\(result.output)")
    }
}
