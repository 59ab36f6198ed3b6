import Foundation
import Testing
@testable import Training

/// `SlurmSteps` against a stand-in `srun` (a shell script): what each step is started with, and
/// how the launcher waits for steps and ends the ones that outstay their time.
@Suite(.serialized) struct SlurmStepsTests {
    func scratch() throws -> String {
        let path = NSTemporaryDirectory() + "grove-srun-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    /// Prints its arguments and whether it inherited a parent watch; the step on node `hang` runs
    /// until SIGTERM, as a worker step that did not leave would.
    func fakeSrun(in directory: String) throws -> String {
        let path = directory + "/srun"
        try """
            #!/bin/sh
            case "$3" in
              --nodelist=hang) trap 'echo terminated; exit 143' TERM; while :; do sleep 0.05; done ;;
              *) echo "args: $*"; echo "parent watch: ${GROVE_PARENT_PID:-unset}"; exit 0 ;;
            esac
            """.write(toFile: path, atomically: true, encoding: .utf8)
        chmod(path, 0o755)
        return path
    }

    @Test func eachNodeGetsOneStepAndAStepThatOutstaysItsTimeIsEnded() throws {
        let directory = try scratch()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let srun = try fakeSrun(in: directory)
        // The launcher's own parent watch must not reach a worker that srun starts elsewhere.
        setenv(ParentWatch.environmentKey, "\(getpid())", 1)
        defer { unsetenv(ParentWatch.environmentKey) }
        let steps = SlurmSteps(logger: GroveLogging.bootstrap(label: "test", level: "error"))
        try steps.start(nodes: ["n1", "hang"], srun: srun, extra: ["--cpus-per-task=2"], worker: "/opt/grove/bin/worker",
                        coordinator: "tcp://10.0.0.1:7070", logDirectory: directory)
        let started = ContinuousClock.now
        let codes = steps.waitForExit(timeout: .milliseconds(500), grace: .seconds(10))
        #expect(codes == ["n1": 0, "hang": 143])
        #expect(started.duration(to: .now) < .seconds(5), "the hanging step was not ended at its SIGTERM")
        let log = try String(contentsOfFile: directory + "/worker-n1.log", encoding: .utf8)
        #expect(log.contains("args: --nodes=1 --ntasks=1 --nodelist=n1 --no-kill --kill-on-bad-exit=0 --job-name=grove-worker "
                             + "--cpus-per-task=2 /opt/grove/bin/worker --coordinator tcp://10.0.0.1:7070"), "\(log)")
        #expect(log.contains("parent watch: unset"), "\(log)")
        #expect(try String(contentsOfFile: directory + "/worker-hang.log", encoding: .utf8).contains("terminated"))
    }

    @Test func captureReturnsTheCommandsCodeAndOutput() throws {
        let result = try SlurmSteps.capture("/bin/sh", ["-c", "echo node1; echo node2; exit 4"])
        #expect(result.code == 4)
        #expect(result.output == "node1\nnode2\n")
        #expect(throws: TrainingError.self) { try SlurmSteps.capture("/bin/sh", ["-c", "sleep 5"], timeout: .milliseconds(200)) }
    }
}
