import Core
import Foundation
import Logging

/// The worker processes a coordinator starts on its own machine (`workers.local`): the `worker`
/// executable of the same build, each logging to `logs/worker-N.log` in the run directory.
///
/// Each gets `GROVE_PARENT_PID` (`ParentWatch`), so it exits when the coordinator dies, and is
/// reaped with its own resource usage, so the run's CPU time counts these workers and nothing else.
///
/// `@unchecked Sendable`: the process list is written only by `start`, before the coordinator's
/// signal handler may call `killAll` from another thread; after that it is only read.
public final class LocalWorkers: @unchecked Sendable {
    private var processes: [ChildProcess] = []
    private var logs: [String] = []
    private let logger: Logger

    public init(logger: Logger) { self.logger = logger }

    /// The `worker` executable beside the running one.
    public static func defaultExecutable() -> String {
        let me = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        return URL(fileURLWithPath: me).deletingLastPathComponent().appendingPathComponent("worker").path
    }

    ///
    /// - Parameters:
    ///   - arguments: more options for every worker (`--insecure`).
    ///   - environment: more environment for every worker (`GROVE_KEY_FILE`).
    public func start(count: Int, executable: String, coordinator: String, logDirectory: String, arguments: [String] = [],
                      environment extra: [String: String] = [:]) throws {
        guard FileManager.default.isExecutableFile(atPath: executable) else {
            throw TrainingError(code: "run.worker-executable", "no worker executable at \(executable) (workers.local is \(count))")
        }
        var environment = ProcessInfo.processInfo.environment
        environment[ParentWatch.environmentKey] = "\(getpid())"
        environment.merge(extra) { _, new in new }
        for index in 0..<count {
            let log = "\(logDirectory)/worker-\(processes.count).log"
            FileManager.default.createFile(atPath: log, contents: nil)
            let process = try ChildProcess(executable: executable, arguments: ["--coordinator", coordinator] + arguments,
                                           environment: environment, outputPath: log)
            logger.debug("started local worker \(index)", metadata: ["pid": "\(process.pid)", "log": "\(log)"])
            processes.append(process)
            logs.append(log)
        }
    }

    /// The process ids of the workers started, in order.
    public var pids: [Int32] { processes.map(\.pid) }

    /// CPU seconds of the workers that have exited and been reaped (all of them after
    /// `waitForExit` or `killAll`).
    public var cpuSeconds: Double { processes.reduce(0) { $0 + $1.cpuSeconds } }

    /// When every local worker has exited and at least one failed: what each one last logged,
    /// for an error message. Nil while any is running, or when none was started.
    public func failedBeforeJoining() -> String? {
        guard !processes.isEmpty, processes.allSatisfy({ !$0.isRunning }),
              processes.contains(where: { $0.exitCode != 0 || $0.wasSignalled }) else { return nil }
        let lines = zip(processes.indices, processes).map { index, process in
            let log = logs[index]
            let last = (try? String(contentsOfFile: log, encoding: .utf8))?
                .split(separator: "\n").last(where: { !$0.trimmingCharacters(in: .whitespaces).isEmpty }).map(String.init) ?? "(empty log)"
            return "worker \(index) exited with status \(process.exitCode ?? -1) (\(log)): \(last.escapedForLog)"
        }
        return "all \(processes.count) local workers exited before the first step; " + lines.joined(separator: "; ")
    }

    /// Waits for every worker to exit, up to `timeout`; kills the ones still running after it.
    /// Returns the exit codes.
    @discardableResult
    public func waitForExit(timeout: Duration) -> [Int32] {
        let deadline = ContinuousClock.now + timeout
        for process in processes {
            while process.isRunning && ContinuousClock.now < deadline { Thread.sleep(forTimeInterval: 0.02) }
            if process.isRunning {
                logger.warning("local worker \(process.pid) did not exit in time; killing it")
                process.kill(SIGKILL)
                process.waitUntilExit()
            }
        }
        return processes.map { $0.exitCode ?? -1 }
    }

    /// Stops every worker at once (the coordinator is failing).
    public func killAll() {
        for process in processes where process.isRunning { process.kill(SIGKILL) }
        for process in processes { process.waitUntilExit() }
    }
}
