import Core
import Foundation
import Logging

/// The workers of a Slurm job: one `srun` job step per allocated node, each running one `worker`
/// that dials the coordinator in the batch step.
///
/// One step per node, each with `--no-kill`, so that a node that fails or is taken away ends only
/// the step on it: the coordinator declares that worker down (or sees it drain, when Slurm's
/// SIGTERM reaches it first) and training goes on with the others. A single step over every node
/// would be ended whole by the first lost node.
///
/// Each `srun`'s output — its worker's log, forwarded by Slurm — goes to `logs/worker-NODE.log`
/// in the run directory, appended to across requeues.
///
/// `@unchecked Sendable`: the step list is written only by `start`, before anything else may
/// read it from another thread.
public final class SlurmSteps: @unchecked Sendable {
    private var steps: [(node: String, process: ChildProcess)] = []
    private let logger: Logger

    public init(logger: Logger) { self.logger = logger }

    /// The arguments of the `srun` that starts the worker on `node`, in front of the worker's own.
    public static func srunArguments(node: String, extra: [String]) -> [String] {
        ["--nodes=1", "--ntasks=1", "--nodelist=\(node)", "--no-kill", "--kill-on-bad-exit=0",
         "--job-name=grove-worker"] + extra
    }

    /// Starts one step per node.
    ///
    /// - Parameters:
    ///   - srun: the `srun` executable.
    ///   - extra: more `srun` options, placed before the worker executable (`--cpus-per-task=…`).
    ///   - worker: the `worker` executable; it must exist at this path on every node (a shared
    ///     filesystem, or the same image).
    ///   - coordinator: the endpoint workers dial.
    public func start(nodes: [String], srun: String, extra: [String], worker: String, coordinator: String,
                      logDirectory: String) throws {
        // A worker started by srun is not this process's child: the parent watch of local
        // workers would see slurmstepd as its parent and exit at once.
        var environment = ProcessInfo.processInfo.environment
        environment[ParentWatch.environmentKey] = nil
        for node in nodes {
            let log = "\(logDirectory)/worker-\(node).log"
            let arguments = Self.srunArguments(node: node, extra: extra) + [worker, "--coordinator", coordinator]
            let process = try ChildProcess(executable: srun, arguments: arguments, environment: environment, outputPath: log)
            logger.notice("started the worker step on \(node)", metadata: ["srun_pid": "\(process.pid)", "log": "\(log)"])
            steps.append((node, process))
        }
    }

    /// Waits up to `timeout` for every step to end (the coordinator told its workers to leave);
    /// then sends SIGTERM to each `srun` still running, which makes Slurm end its step, and
    /// SIGKILL after `grace` more. Returns each node's exit code.
    @discardableResult
    public func waitForExit(timeout: Duration, grace: Duration = .seconds(10)) -> [String: Int32] {
        let deadline = ContinuousClock.now + timeout
        while steps.contains(where: { $0.process.isRunning }) && ContinuousClock.now < deadline {
            Thread.sleep(forTimeInterval: 0.05)
        }
        let late = steps.filter { $0.process.isRunning }
        if !late.isEmpty {
            logger.warning("worker steps on \(late.map(\.node).joined(separator: ", ")) still running; ending them")
            for step in late { step.process.kill(SIGTERM) }
            let killAt = ContinuousClock.now + grace
            while late.contains(where: { $0.process.isRunning }) && ContinuousClock.now < killAt {
                Thread.sleep(forTimeInterval: 0.05)
            }
            for step in late where step.process.isRunning { step.process.kill(SIGKILL) }
        }
        var codes: [String: Int32] = [:]
        for step in steps {
            step.process.waitUntilExit()
            codes[step.node] = step.process.exitCode ?? -1
        }
        return codes
    }

    /// Runs a short Slurm command (`scontrol …`) and returns its exit code and its output.
    ///
    /// - Throws: `TrainingError` when it cannot be started, or has not ended within `timeout`
    ///   (it is killed).
    public static func capture(_ executable: String, _ arguments: [String], timeout: Duration = .seconds(30)) throws -> (code: Int32, output: String) {
        let path = NSTemporaryDirectory() + "grove-\(getpid())-\(UInt64.random(in: 0...UInt64.max)).out"
        defer { try? FileManager.default.removeItem(atPath: path) }
        let process = try ChildProcess(executable: executable, arguments: arguments,
                                       environment: ProcessInfo.processInfo.environment, outputPath: path)
        let deadline = ContinuousClock.now + timeout
        while process.isRunning && ContinuousClock.now < deadline { Thread.sleep(forTimeInterval: 0.02) }
        if process.isRunning {
            process.kill(SIGKILL)
            process.waitUntilExit()
            throw TrainingError(code: "slurm.command", "`\(([executable] + arguments).joined(separator: " "))` did not end within \(timeout)")
        }
        let output = (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
        return (process.exitCode ?? -1, output)
    }

    /// The full path of `name` on `PATH` (Slurm's commands), for `posix_spawn`, which does not search.
    ///
    /// - Throws: `TrainingError` `slurm.command` when no directory of `PATH` holds it.
    public static func executable(_ name: String, path: String? = ProcessInfo.processInfo.environment["PATH"]) throws -> String {
        for directory in (path ?? "/usr/bin:/bin").split(separator: ":") where !directory.isEmpty {
            let candidate = "\(directory)/\(name)"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        throw TrainingError(code: "slurm.command", "\(name) is not on PATH (\(path ?? "unset")): is this a Slurm node?")
    }
}
