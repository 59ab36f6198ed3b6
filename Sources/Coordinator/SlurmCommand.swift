import ArgumentParser
import Foundation
import Logging
import Training

/// `coordinator slurm`: a whole Grove job inside one Slurm batch allocation. The batch script
/// `exec`s it, so this process is the batch shell that `--signal=B:TERM@N` reaches.
struct SlurmCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "slurm",
        abstract: "Runs a job inside a Slurm batch allocation: the coordinator here, one worker per allocated node as a job step.",
        discussion: """
            Submit it with sbatch (deploy/slurm/grove.sbatch shows the options it is meant for: \
            --no-kill, --requeue, --signal=B:TERM@N, --open-mode=append). Each allocated node runs \
            one worker as its own step (srun --no-kill), so a lost node costs its worker, not the \
            job. workers.local is always 0 here.

            On SIGTERM (the time limit's warning, scancel, preemption) the coordinator drains: the \
            step in flight finishes, the last commit is checkpointed, the workers leave. A job \
            still RUNNING that was submitted with --requeue then requeues itself. When Slurm starts \
            it again (SLURM_RESTART_COUNT > 0), it continues from the newest verified checkpoint \
            with the run's own config.yaml, as `coordinator resume` does.

            Exit codes: 0 the run finished; 75 it stopped on a signal and can be continued; 1 it \
            failed; 2 a bad configuration, or not inside a Slurm job.
            """
    )

    @OptionGroup var options: ConfigOptions

    @Option(name: .customLong("worker-executable"),
            help: "The worker binary srun starts on each node (default: beside this one); the same path must exist on every node.")
    var workerExecutable: String?

    @Option(name: .customLong("srun-arg"), parsing: .unconditionalSingleValue,
            help: ArgumentHelp("One more option for each worker's srun, e.g. --srun-arg=--cpus-per-task=8 (repeatable).", valueName: "option"))
    var srunArguments: [String] = []

    @Flag(name: .customLong("no-requeue"), help: "After a drain, leave the job ended instead of requeueing it.")
    var noRequeue = false

    func run() throws {
        let job: SlurmJob
        let srun: String
        let scontrol: String
        let nodes: [String]
        do {
            job = try SlurmJob(environment: ProcessInfo.processInfo.environment)
            srun = try SlurmSteps.executable("srun")
            scontrol = try SlurmSteps.executable("scontrol")
            let listed = try SlurmSteps.capture(scontrol, ["show", "hostnames", job.nodeList])
            guard listed.code == 0 else {
                throw TrainingError(code: "slurm.nodes", "`scontrol show hostnames \(job.nodeList)` failed (\(listed.code)): \(listed.output.prefix(300))")
            }
            nodes = try SlurmJob.hostnames(fromScontrol: listed.output, nodeList: job.nodeList)
        } catch {
            FileHandle.standardError.write(Data("error: \(error)\n".utf8))
            throw ExitCode(2)
        }

        // A requeued job continues its run as `coordinator resume` would: with the run's own
        // effective configuration, so that a cluster.yaml edited meanwhile changes nothing.
        let forced = ["workers.local=0"]
        var config = options.load(forced: forced)
        let runConfig = config.run.directory + "/config.yaml"
        let resumed = job.restartCount > 0 && FileManager.default.fileExists(atPath: runConfig)
        if resumed { config = options.load(path: runConfig, forced: forced) }
        let logger = GroveLogging.bootstrap(label: "grove.coordinator", level: config.logging.level)
        if job.restartCount > 0 {
            logger.notice(resumed
                ? "Slurm job \(job.id) restarted (restart \(job.restartCount)): continuing run \(config.run.name) with \(runConfig) from its newest verified checkpoint"
                : "Slurm job \(job.id) restarted (restart \(job.restartCount)), but \(runConfig) does not exist yet: starting the run")
        }
        logger.notice("Slurm job \(job.id): one worker step on each of \(nodes.count) nodes (\(nodes.joined(separator: ", ")))")

        let worker = workerExecutable ?? LocalWorkers.defaultExecutable()
        guard FileManager.default.isExecutableFile(atPath: worker) else {
            logger.critical("--worker-executable: no executable at \(worker)")
            throw ExitCode(2)
        }
        let steps = SlurmSteps(logger: logger)
        var settings = CoordinatorRuntime.Settings(config: config)
        let logs = RunDirectory(path: config.run.directory, checkpointDirectory: config.checkpoint.directory).logs
        let extra = srunArguments
        settings.onListening = { endpoint in
            try steps.start(nodes: nodes, srun: srun, extra: extra, worker: worker, coordinator: endpoint.description, logDirectory: logs)
        }
        // The coordinator has told its workers to leave when it returns; they get as long to go
        // as a drain, and their steps are ended after that.
        let leaveTimeout = Duration.seconds(config.faultTolerance.drainTimeout + 5)
        do {
            try runCoordinator(settings)
        } catch let exit as ExitCode where exit == ExitCode(75) {
            logger.notice("worker steps exited: \(Self.describe(steps.waitForExit(timeout: leaveTimeout)))")
            if !noRequeue { requeue(job, scontrol: scontrol, logger: logger) }
            throw exit
        } catch {
            steps.waitForExit(timeout: .seconds(5))
            throw error
        }
        logger.notice("worker steps exited: \(Self.describe(steps.waitForExit(timeout: leaveTimeout)))")
    }

    static func describe(_ codes: [String: Int32]) -> String {
        codes.isEmpty ? "none was started" : codes.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
    }

    /// Puts the job back in the queue after a drain, when it is still running and allows it.
    func requeue(_ job: SlurmJob, scontrol: String, logger: Logger) {
        do {
            let shown = try SlurmSteps.capture(scontrol, ["show", "job", "--oneliner", job.id])
            guard shown.code == 0 else {
                logger.warning("not requeued: `scontrol show job \(job.id)` failed (\(shown.code)): \(shown.output.prefix(300))")
                return
            }
            let decision = SlurmJob.requeueDecision(try SlurmJob.Record(scontrolOneLiner: shown.output))
            guard decision.requeue else {
                logger.notice("job \(job.id) not requeued: \(decision.reason)")
                return
            }
            // Slurm answers a requeue with SIGTERM to this batch step. The run is over and
            // written; nothing is left for that signal to interrupt.
            signal(SIGTERM, SIG_IGN)
            let result = try SlurmSteps.capture(scontrol, ["requeue", job.id])
            if result.code == 0 {
                logger.notice("requeued job \(job.id): when Slurm starts it again it continues from the newest verified checkpoint")
            } else {
                logger.warning("`scontrol requeue \(job.id)` failed (\(result.code)): \(result.output.prefix(300))")
            }
        } catch {
            logger.warning("job \(job.id) not requeued: \(error)")
        }
    }
}
