import Checkpoint
import Config
import Coordination
import Core
import Foundation
import Observability
import Wire

extension CoordinatorRuntime {
    func makeInstanceSettings() -> CoordinatorInstance.Settings {
        // Workers must see the same samples: pin the hash this coordinator computed.
        var pinned = config
        pinned.dataset.expectSha256 = setup.datasetHash
        var admission = Admission.Settings(schemaHash: setup.model.schemaHash, schemaName: setup.model.schemaName)
        admission.sealedRing = security.isCurve
        return CoordinatorInstance.Settings(
            runConfig: Wire.RunConfig(runName: config.run.name, configYAML: pinned.rendered(), samples: sampleChannel),
            members: MemberTable.Settings(heartbeatInterval: runSettings.heartbeatInterval, missedHeartbeats: runSettings.missedHeartbeats,
                                          maxMembers: config.workers.max),
            admission: admission,
            policy: runSettings.policy(config: config, hasValidation: !setup.validation.isEmpty),
            plan: plan)
    }

    func makeObserver() throws -> RunObserver {
        var settings = RunObserver.Settings()
        settings.tensorBoard = config.logging.tensorboard
        settings.trace = config.logging.timeline
        settings.statusPort = config.logging.statusPort >= 0 ? UInt16(config.logging.statusPort) : nil
        settings.statusHost = config.logging.statusBind
        settings.progressEvery = config.logging.progressEvery
        settings.pricePerWorkerHour = config.logging.pricePerWorkerHour > 0 ? config.logging.pricePerWorkerHour : nil
        if settings.statusPort != nil, !SecuritySetup.isLoopback(config.logging.statusBind) {
            // Beyond loopback the status server answers only a bearer token: a fresh one each
            // start, in the run directory for its owner (`coordinator status --run-dir` reads it).
            let metrics = config.security.metricsTokenFile.isEmpty ? nil
                : try StatusAccess.readToken(path: config.security.metricsTokenFile, origin: "security.metrics_token_file")
            settings.statusAccess = StatusAccess(statusToken: StatusAccess.newToken(), metricsToken: metrics)
            let logger = self.logger
            settings.onRefusedRequest = { address, unlogged in
                logger.warning("refused a status request from \(address) without a valid token\(unlogged > 0 ? " (\(unlogged) more since the last line)" : "")")
            }
        }
        return try RunObserver(run: config.run.name, directory: directory.path, totalSteps: totalSteps, settings: settings,
                               origin: started)
    }

    func prepareDirectory() throws {
        try directory.create()
        if settings.fromScratch {
            try? FileManager.default.removeItem(atPath: directory.checkpoints)
            try? FileManager.default.removeItem(atPath: directory.metrics)
            try? FileManager.default.removeItem(atPath: directory.redone)
            for output in directory.readableOutputs { try? FileManager.default.removeItem(atPath: output) }
            try directory.create()
            if let remote {
                try remote.removeAll()
                logger.notice("started over: removed the checkpoints in \(config.checkpoint.remote)")
            }
        }
        if let (checkpoint, info, damaged) = try newestCheckpoint() {
            for report in damaged { logger.warning("skipped a damaged checkpoint: \(report)") }
            guard checkpoint.metadata.datasetManifestHash == setup.datasetHash else {
                throw TrainingError(code: "resume.dataset",
                                    "checkpoint \(info.path) was trained on dataset \(checkpoint.metadata.datasetManifestHash.prefix(12)), "
                                    + "but \(config.dataset.path) now gives \(setup.datasetHash.prefix(12)); refusing to resume on other data")
            }
            state = try Replica(layout: setup.model.layout, tensors: checkpoint.tensors,
                                optimizer: try makeOptimizer(setup, totalSteps: totalSteps), committedStep: checkpoint.metadata.step)
            resumedFrom = checkpoint.metadata.step
            lastCheckpoint = info.path
            if checkpoint.metadata.step < totalSteps {
                recordRedone(after: checkpoint.metadata.step, cause: .coordinatorRestart)
                try directory.truncateMetrics(after: checkpoint.metadata.step)
            }
            logger.notice("resuming from checkpoint \(info.path)",
                          metadata: ["step": "\(checkpoint.metadata.step)", "weights_sha256": "\(state.weightsHash)"])
        } else {
            try? FileManager.default.removeItem(atPath: directory.metrics)
            try? FileManager.default.removeItem(atPath: directory.redone)
            try initializeFromCheckpoint()
        }
        if state.committedStep < totalSteps {
            try config.rendered().write(toFile: directory.config, atomically: true, encoding: .utf8)
        }
    }

    /// A new run with `training.init_from` starts from that checkpoint's weights (and, with
    /// `init_optimizer: checkpoint`, its optimizer state) instead of the seeded initialisation.
    /// Only a run without checkpoints of its own comes here: a resume continues from those.
    func initializeFromCheckpoint() throws {
        let training = config.training
        guard !training.initFrom.isEmpty else { return }
        guard let choice = InitialState.OptimizerChoice(rawValue: training.initOptimizer) else {
            throw TrainingError(code: "init_from.optimizer",
                                "training.init_optimizer '\(training.initOptimizer)' is not fresh or checkpoint (training.init_from '\(training.initFrom)')")
        }
        let initial = try InitialState.load(path: training.initFrom, optimizer: choice, layout: setup.model.layout,
                                            optimizerTemplate: try makeOptimizer(setup, totalSteps: totalSteps))
        state = initial.replica
        initialState = initial
        logger.notice("starting from the weights of checkpoint \(training.initFrom) (run \(initial.runName), step \(initial.step)), optimizer state \(choice.rawValue)",
                      metadata: ["weights_sha256": "\(initial.weightsSHA256)"])
    }

    /// The newest verified checkpoint: the local store's, or — when the local store has none that
    /// verifies and `checkpoint.remote` is set — the newest remote one that verifies, downloaded
    /// into the local store first (a resume on a new machine).
    func newestCheckpoint() throws -> (checkpoint: Checkpoint, info: CheckpointInfo, damaged: [DamageReport])? {
        guard let remote, !settings.fromScratch else { return try store.loadNewestVerified() }
        do {
            if let local = try store.loadNewestVerified() { return local }
        } catch let error as CheckpointError where error.kind == .noVerifiedCheckpoint {
            logger.warning("\(error.message); looking in \(config.checkpoint.remote)")
        }
        let started = ContinuousClock.now
        guard let restored = try remote.restoreNewestVerified(into: store) else {
            logger.notice("no checkpoint in \(config.checkpoint.remote) either: starting from step 0")
            return nil
        }
        for report in restored.damaged { logger.warning("skipped a damaged remote checkpoint: \(report)") }
        let elapsed = started.duration(to: .now)
        logger.notice("downloaded and verified the checkpoint of step \(restored.info.step) from \(config.checkpoint.remote)",
                      metadata: ["seconds": "\(String(format: "%.3f", Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18))"])
        return restored
    }

    /// The steps after `step` that were committed and will be run again (a coordinator restart,
    /// or a rollback to the coordinator's own copy of the state).
    func recordRedone(after step: Int, cause: RedoneWork.Cause) {
        let lines = directory.metricsLines(after: step)
        guard !lines.isEmpty else { return }
        do {
            let log = try JSONLinesWriter(path: directory.redone)
            defer { log.close() }
            for line in lines {
                try log.append(RedoneWork(
                    step: (line["step"] as? NSNumber)?.intValue ?? 0, cause: cause,
                    generation: (line["generation"] as? NSNumber)?.uint64Value ?? 0,
                    microBatches: plan.microBatchesPerStep, samples: config.training.globalBatch,
                    wallSeconds: (line["step_seconds"] as? NSNumber)?.doubleValue ?? 0,
                    workers: (line["workers"] as? NSNumber)?.intValue ?? 0))
            }
        } catch {
            logger.warning("could not record redone work: \(error)")
        }
        logger.notice("\(lines.count) committed steps after step \(step) will be run again")
    }
}
