import ArgumentParser
import Foundation
import Preemption
import Training

@main
struct WorkerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "worker",
        abstract: "Joins a Grove coordinator and trains until the run ends.",
        discussion: """
            Exit codes: 0 the run finished; 1 failure; 3 refused by the coordinator; 4 the \
            coordinator went silent; 75 preempted (SIGTERM or a cloud notice: the worker finished \
            its step and left cleanly); 130 stopped at once by a second signal.
            """
    )

    @Option(name: .long, help: "The coordinator's control endpoint, e.g. tcp://10.0.0.2:7070.")
    var coordinator: String

    @Option(name: .long, help: "Address this worker's ring socket binds to (default: workers.bind of the run).")
    var bind: String?

    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error or critical.")
    var logLevel = "info"

    func run() throws {
        let logger = GroveLogging.bootstrap(label: "grove.worker", level: logLevel)
        let runtime = WorkerRuntime(settings: WorkerRuntime.Settings(coordinator: coordinator, bindHost: bind), logger: logger)
        do {
            switch try runtime.run() {
            case .finished:
                return
            case .rejected(let reason):
                logger.error("the coordinator refused this worker: \(reason)")
                throw ExitCode(3)
            case .coordinatorLost:
                logger.error("lost the coordinator at \(coordinator)")
                throw ExitCode(4)
            case .preempted(let notice):
                logger.notice("left the run after a \(notice.source) preemption notice")
                throw ExitCode(PreemptionExit.code)
            case .stopped(let reason):
                logger.warning("stopped at once: \(reason)")
                throw ExitCode(130)
            }
        } catch let error as ExitCode {
            throw error
        } catch {
            logger.critical("worker failed: \(error)")
            throw ExitCode(1)
        }
    }
}
