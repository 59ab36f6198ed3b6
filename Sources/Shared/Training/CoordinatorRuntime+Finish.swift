import Checkpoint
import Config
import Coordination
import Core
import Foundation
import Observability
import Optim
import Wire

extension CoordinatorRuntime {
    /// The end of a run, completed or stopped: every evaluation and checkpoint finished, the
    /// members told, the reports and the summary written. A stop that is a failure (a non-finite
    /// loss, too few workers) throws after the summary is written; a requested stop returns the
    /// summary with `stopped` set.
    func finish(local: LocalWorkers) throws -> RunSummary {
        let reason = stopReason ?? .completed
        evaluations.waitUntilIdle(until: .now + runSettings.drainTimeout + .seconds(60))
        takeEvaluations()
        flushRecords()
        writer.waitUntilIdle()
        if let uploader, !uploader.waitUntilIdle(timeout: config.faultTolerance.drainTimeout + 60) {
            logger.warning("the last checkpoint's upload to \(config.checkpoint.remote) has not finished; it goes on while the run closes")
        }
        flushLosses()
        let committed = core.committed
        let text: String
        switch reason {
        case .completed: text = "run \(config.run.name) finished after \(committed) steps"
        case .requested(let why): text = "run \(config.run.name) stopped after \(committed) steps: \(why)"
        case .nonFinite(let step, let detail): text = "run \(config.run.name) failed at step \(step): the loss is not finite (\(detail))"
        case .noWorkers(let why): text = "run \(config.run.name) stopped: \(why)"
        case .dataFault(let what): text = "run \(config.run.name) failed: a sample cannot be read (\(what)); fix or remove it, or set dataset.on_corrupt: quarantine"
        }
        // Workers tell their supervisors: done (0), start me again for the resumed run (75), or
        // the run failed in a way a restart would meet again (1).
        let leaveReason: Wire.Leave.Reason = switch reason {
        case .completed: .runFinished
        case .requested, .noWorkers: .shutdown
        case .nonFinite, .dataFault: .error
        }
        let leave = Wire.Leave(reason: leaveReason, text: text)
        let bytes = encode(.leave(leave))
        for member in core.table.live { loop.sendControl(bytes, to: member.peer) }
        let codes = local.waitForExit(timeout: .seconds(15))
        if !codes.isEmpty { logger.notice("local workers exited with codes \(codes)") }
        let cpu = cpuAccount.seconds(plusChildren: local.cpuSeconds)
        let phase: RunStatus.Phase = switch reason {
        case .completed: .finished
        case .requested: .stopped
        case .nonFinite, .noWorkers, .dataFault: .failed
        }
        do {
            try observer.finish(phase: phase, metricsPath: directory.metrics, cpuSeconds: cpu,
                                cpuSamples: (committed - (resumedFrom ?? 0)) * config.training.globalBatch,
                                // summary.json's count, so that the report says the same.
                                generationsStarted: core.table.generationsStarted, extraReportHTML: validationSheetHTML())
            try writeLossCurve()
        } catch {
            logger.warning("could not finish the run's reports: \(error)")
        }
        var summary = makeSummary(cpuSeconds: cpu)
        if reason != .completed { summary.stopped = text }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        encoder.keyEncodingStrategy = .convertToSnakeCase
        // No step ran in this invocation (resumed at the last step, summary lost): no losses.
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        try encoder.encode(summary).write(to: URL(fileURLWithPath: directory.summary))
        if let code = reason.failureCode { throw TrainingError(code: code, text) }
        if case .requested = reason { logger.notice("\(text); `coordinator resume --run-dir \(directory.path)` continues from step \(state.committedStep)") }
        return summary
    }

    /// `loss.svg`: the training loss of every committed step (this run's and, after a resume, the
    /// earlier ones kept in `metrics.jsonl`).
    func writeLossCurve() throws {
        let text = (try? String(contentsOfFile: directory.metrics, encoding: .utf8)) ?? ""
        let points: [(x: Double, y: Double)] = text.split(separator: "\n").compactMap { line in
            guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                  let step = object["step"] as? Int, let loss = object["loss"] as? Double else { return nil }
            return (Double(step), loss)
        }
        let svg = SVGPlot.lines(series: [(name: "training loss", points: points)], title: "\(config.run.name): loss",
                                xLabel: "step", yLabel: "loss (mean over the step's samples)")
        try svg.write(toFile: directory.lossCurve, atomically: true, encoding: .utf8)
    }

    func makeGoodput(cpuSeconds: Double) -> Goodput {
        let committed = core.committed
        let price = config.logging.pricePerWorkerHour > 0 ? config.logging.pricePerWorkerHour : nil
        let report = (try? RunReport.load(run: config.run.name, metricsPath: directory.metrics, pricePerWorkerHour: price,
                                          cpuSeconds: cpuSeconds,
                                          cpuSamples: (committed - (resumedFrom ?? 0)) * config.training.globalBatch,
                                // summary.json's count, so that the report says the same.
                                generationsStarted: core.table.generationsStarted))
            ?? RunReport(run: config.run.name, steps: [])
        let s = report.summary
        var byCause: [String: RedoneByCause] = [:]
        for (cause, r) in s.redone {
            byCause[cause.rawValue] = RedoneByCause(attempts: r.attempts, microBatches: r.microBatches, samples: r.samples,
                                                    wallSecondsLost: r.wallSeconds, workerSecondsLost: r.workerSeconds)
        }
        return Goodput(
            committedSteps: committed, committedMicroBatches: committed * plan.microBatchesPerStep,
            committedSamples: committed * config.training.globalBatch,
            redoneMicroBatches: s.redone.values.reduce(0) { $0 + $1.microBatches }, redoneSamples: s.redoneSamples,
            goodput: s.goodput, redone: byCause, staleResults: core.counters.staleResults, cpuSeconds: cpuSeconds,
            cpuSecondsPerSample: s.cpuSecondsPerSample, costPerSample: s.costPerSample,
            price: price.map { "\($0) per worker-hour" } ?? "price not configured")
    }

    func makeSummary(cpuSeconds: Double) -> RunSummary {
        let committed = core.committed, counters = core.counters
        let validation = lastValidation?.step == committed && state.committedStep == committed
            ? lastValidation?.report
            : (state.committedStep == committed ? Validation.measure(setup: setup, state: state) : nil)
        var summary = RunSummary(
            run: config.run.name, steps: committed, samples: committed * config.training.globalBatch,
            lossFirst: firstLoss ?? .nan, lossLast: lastLoss, weightsSha256: state.weightsHash, workersMax: counters.workersMax,
            generations: core.table.generationsStarted, wallSeconds: started.duration(to: .now).inSeconds,
            reduceMode: config.reduce.mode, model: setup.model.schemaName, parameters: setup.model.layout.count,
            datasetHash: setup.datasetHash, configHash: config.canonicalHash, resumedFromStep: resumedFrom,
            checkpoint: lastCheckpoint, staleMessages: counters.staleMessages,
            drains: counters.drains, failures: counters.failures, redealtSteps: counters.redealtSteps,
            quarantinedSamples: quarantinedSamples, rejoins: counters.rejoins,
            goodput: makeGoodput(cpuSeconds: cpuSeconds), validation: validation)
        summary.ejections = counters.ejections
        summary.refusedConnections = loop.refusals.value.total + observer.refusedStatusRequests
        summary.security = observer.board.snapshot.security
        if !config.training.initFrom.isEmpty {
            summary.initializedFrom = InitializedFrom(checkpoint: config.training.initFrom, optimizer: config.training.initOptimizer,
                                                      run: initialState?.runName, step: initialState?.step,
                                                      weightsSha256: initialState?.weightsSHA256)
        }
        if state.committedStep != committed { summary.weightsStep = state.committedStep }
        return summary
    }
}

/// The optimizer of a run, with the schedule keyed to the steps the run really trains.
func makeOptimizer(_ setup: RunSetup, totalSteps: Int? = nil) throws -> Optimizer {
    let t = setup.config.training
    guard let kind = OptimizerKind(rawValue: t.optimizer) else {
        throw TrainingError(code: "training.optimizer", "training.optimizer '\(t.optimizer)' is not sgd, momentum or adam")
    }
    let schedule: LearningRateSchedule = t.schedule == "cosine"
        ? .cosine(peak: t.learningRate, minimum: t.minLearningRate, warmupSteps: t.warmupSteps, totalSteps: max(totalSteps ?? t.steps, 1))
        : .constant(t.learningRate, warmupSteps: t.warmupSteps)
    var settings = OptimizerSettings(kind: kind, schedule: schedule, momentum: t.momentum, weightDecay: t.weightDecay)
    settings.beta2 = t.beta2
    settings.epsilon = t.epsilon
    return try Optimizer(settings: settings, parameterCount: setup.model.layout.count)
}
