import ArgumentParser
import Foundation
import Training
import Transport

struct RunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Starts a run (or continues it, when its directory already holds checkpoints)."
    )

    @OptionGroup var options: ConfigOptions

    @Flag(name: .customLong("from-scratch"), help: "Delete the run directory's checkpoints and metrics and start over.")
    var fromScratch = false

    @Option(name: .customLong("worker-executable"), help: "The worker binary started for workers.local (default: beside this one).")
    var workerExecutable: String?

    func run() throws {
        let config = options.load()
        var settings = CoordinatorRuntime.Settings(config: config)
        settings.fromScratch = fromScratch
        settings.workerExecutable = workerExecutable
        try runCoordinator(settings)
    }
}

/// Runs the coordinator and prints its summary; failures exit with code 1 and a message. A run
/// told to stop (SIGTERM, SIGINT) exits with code 75 (EX_TEMPFAIL: resumable) after its summary.
func runCoordinator(_ settings: CoordinatorRuntime.Settings) throws {
    let logger = GroveLogging.bootstrap(label: "grove.coordinator", level: settings.config.logging.level)
    do {
        let summary = try CoordinatorRuntime(settings: settings, logger: logger).run()
        print(SummaryText.render(summary, runDirectory: settings.config.run.directory))
        if summary.stopped != nil { throw ExitCode(75) }
    } catch let exit as ExitCode {
        throw exit
    } catch let refused as SecurityError {
        // A setting or key the run cannot start with, like a bad configuration.
        logger.critical("\(refused)")
        throw ExitCode(2)
    } catch {
        logger.critical("run failed: \(error)")
        throw ExitCode(1)
    }
}
