import Checkpoint
import Config
import Coordination
import Core
import Dataset
import Foundation
import Logging
import Observability
import Wire

/// A committed step's records, held back while its held-out evaluation runs (records are written
/// in step order, and the evaluated step's line carries its validation).
struct PendingStepRecord {
    var metrics: StepMetrics
    var record: StepRecord
    var dealtAt: ContinuousClock.Instant
    var committedAt: ContinuousClock.Instant
    var phases: [(worker: WorkerID, phases: [(name: String, seconds: Double)])]
    var spans: [(worker: WorkerID, leaseSent: ContinuousClock.Instant, spans: [WorkerSpan])]
    /// Waiting for the evaluation of this step.
    var awaitingEvaluation: Bool
}

extension CoordinatorRuntime {
    // MARK: Events

    func report(_ event: CoordinatorInstance.Event) {
        switch event {
        case .joined(let id, let host, let pid, let rejoinOf, let waitsUntil):
            if let earlier = rejoinOf { logger.notice("\(id) is \(earlier) rejoining as a new incarnation (\(host) pid \(pid))") }
            logger.info("\(id) joined from \(host) (pid \(pid))")
            if let until = waitsUntil {
                logger.notice("\(id) was ejected recently; it enters the ring in \(String(format: "%.0f", ContinuousClock.now.duration(to: until).inSeconds)) s")
            }
        case .refused(let host, let reason):
            logger.warning("refused a worker from \(host): \(LogText.escape(reason, limit: 400))")
        case .down(let id, let reason):
            observer.trace.marker(name: "\(id) down", category: "failure", track: .coordinator, at: .now)
            logger.warning("\(id) is down: \(reason)")
        case .left(let id, let reason, let text):
            if reason == .drain { observer.trace.marker(name: "\(id) drained", category: "drain", track: .coordinator, at: .now) }
            let level: Logger.Level = reason == .error ? .warning : .notice
            logger.log(level: level, "\(id) left\(reason == .error ? " with an error" : ""): \(LogText.escape(text, limit: 400))")
        case .ejected(let id, let reason):
            observer.trace.marker(name: "\(id) ejected", category: "failure", track: .coordinator, at: .now)
            logger.warning("\(id) ejected: \(reason)")
        case .generation(let generation, let ring):
            var counts: [String: Int] = [:]
            for member in core.table.members.values { counts["\(member.status)", default: 0] += 1 }
            observer.membershipChanged(workers: counts, generation: generation.rawValue,
                                       note: "generation \(generation.rawValue): \(ring.count) in the ring")
            publishMembers(now: .now)
            logger.info("generation \(generation.rawValue): \(ring.map { "\($0)" }.joined(separator: ", "))")
        case .abandoned(let attempt):
            let cause = RedoneWork.Cause(attempt.cause)
            logger.warning("step \(attempt.step) will be dealt again (\(cause.rawValue))")
            let work = RedoneWork(step: attempt.step.ordinal, cause: cause, generation: attempt.generation.rawValue,
                                  microBatches: plan.microBatchesPerStep, samples: config.training.globalBatch,
                                  wallSeconds: attempt.dealtAt.duration(to: .now).inSeconds, workers: attempt.members)
            do { try redoneLog?.append(work) } catch { logger.warning("could not record redone work: \(error)") }
        case .toldDown(let id):
            logger.notice("\(id) speaks again after its membership ended; telling it to join again")
        case .paused(let ready, let needed, let wait):
            logger.warning("paused: \(ready) workers up, workers.min is \(needed); waiting up to \(wait) s")
        case .stateRequested(let step, let from):
            logger.info("asking \(from) for the state after step \(step)")
        case .stateRejected(let id, let reason):
            logger.warning("the state \(id) sent was refused: \(reason)")
        case .stateFetchFailed(let id, let step, let reason):
            logger.warning("no state after step \(step) could be fetched (last tried \(id)): \(LogText.escape(reason, limit: 400))")
        case .stopping(let why):
            logger.notice("stopping: \(why)")
        }
    }

    // MARK: Commits

    func record(_ commit: CoordinatorInstance.CommitRecord) {
        let step = commit.step
        let losses = commit.results.values.flatMap(\.losses)
        if config.dataset.quarantinesCorruptSamples { countQuarantined(step: step, reported: losses) }
        for sample in losses {
            if let id = setup.training.catalogID(at: Int(sample.sample)) {
                pendingLosses.append((id, Double(sample.loss), step.ordinal))
            }
        }
        if pendingLosses.count >= 1024 || step.ordinal == totalSteps { flushLosses() }
        // A step whose samples were all left out has no loss: recorded as none, not as NaN.
        let loss: Double? = losses.isEmpty ? nil : losses.reduce(0.0) { $0 + Double($1.loss) } / Double(losses.count)
        if let loss {
            if firstLoss == nil { firstLoss = loss }
            lastLoss = loss
        }
        let now = ContinuousClock.now
        let seconds = commit.dealtAt.duration(to: now).inSeconds
        let results = Array(commit.results.values)
        let line = StepMetrics(
            step: step.ordinal, dataEpoch: plan.ledger(afterCommitted: step.index).dataEpoch, samples: step.ordinal * config.training.globalBatch,
            loss: loss, learningRate: state.optimizer.learningRate(at: step), workers: commit.members.count,
            generation: commit.generation.rawValue,
            stepSeconds: seconds, samplesPerSecond: Double(config.training.globalBatch) / max(seconds, 1e-9),
            dataSeconds: Double(results.map(\.dataNanos).max() ?? 0) / 1e9,
            computeSeconds: Double(results.map(\.computeNanos).max() ?? 0) / 1e9,
            allReduceSeconds: Double(results.map(\.reduceNanos).max() ?? 0) / 1e9,
            allReduceBytes: results.map(\.reduceBytes).reduce(0, +),
            weightsSha256: commit.hash.hexString, replicasAgreeing: commit.results.count,
            wallSeconds: started.duration(to: now).inSeconds, validation: nil)
        let record = StepRecord(
            step: line.step, samples: line.samples, loss: loss, learningRate: line.learningRate,
            workers: line.workers, generation: line.generation, stepSeconds: line.stepSeconds, samplesPerSecond: line.samplesPerSecond,
            dataSeconds: line.dataSeconds, computeSeconds: line.computeSeconds, allReduceSeconds: line.allReduceSeconds,
            wallSeconds: line.wallSeconds, allReduceBytes: Double(line.allReduceBytes), evaluationScalars: nil)
        // A worker's own spans when it sent them; otherwise its phase totals laid end to end.
        let ordered = commit.results.sorted { $0.key < $1.key }
        let phases = ordered.filter { $0.value.spans == nil }.map { id, result in
            (worker: id, phases: [(name: "data", seconds: Double(result.dataNanos) / 1e9),
                                  (name: "compute", seconds: Double(result.computeNanos) / 1e9),
                                  (name: "all-reduce", seconds: Double(result.reduceNanos) / 1e9)])
        }
        let spans = ordered.compactMap { id, result in
            result.spans.map { (worker: id, leaseSent: commit.leaseSent[id] ?? commit.dealtAt, spans: $0.map(\.traceSpan)) }
        }
        pendingRecords.append(PendingStepRecord(
            metrics: line, record: record, dealtAt: commit.dealtAt, committedAt: now, phases: phases, spans: spans,
            awaitingEvaluation: core.policy.evaluationDue(step.ordinal)))
        flushRecords()
    }

    /// Evaluations that completed: logged, and their steps' records released.
    func takeEvaluations() {
        for (step, report) in evaluations.finished() {
            if let report {
                lastValidation = (step, report)
                let trees = report.trees.map { String(format: ", tree F1 %.3f", $0.f1) } ?? ""
                logger.info("step \(step): held-out loss \(String(format: "%.4f", report.loss))\(report.canopyIou.map { String(format: ", canopy IoU %.3f", $0) } ?? "")\(trees)")
            }
            if let index = pendingRecords.firstIndex(where: { $0.metrics.step == step }) {
                pendingRecords[index].metrics.validation = report
                pendingRecords[index].record.evaluationScalars = report.map(Self.evaluationScalars)
                pendingRecords[index].awaitingEvaluation = false
            }
        }
        flushRecords()
    }

    /// Writes the records at the front of the queue whose evaluations are done.
    func flushRecords() {
        while let first = pendingRecords.first, !first.awaitingEvaluation || stopReason != nil && evaluations.pending == 0 {
            pendingRecords.removeFirst()
            do {
                try metrics.append(first.metrics)
                try observer.stepCommitted(first.record, dealtAt: first.dealtAt, committedAt: first.committedAt,
                                           workerPhases: first.phases, workerSpans: first.spans,
                                           stepsThisRun: first.metrics.step - (resumedFrom ?? 0))
            } catch {
                logger.warning("could not record step \(first.metrics.step): \(error)")
            }
        }
    }

    /// The held-out evaluation as TensorBoard scalars (`eval/<name>`).
    static func evaluationScalars(_ report: ValidationReport) -> [String: Double] {
        var scalars = ["loss": report.loss]
        if let iou = report.canopyIou { scalars["canopy_iou"] = iou }
        if let trees = report.trees {
            scalars["tree_f1"] = trees.f1
            scalars["tree_precision"] = trees.precision
            scalars["tree_recall"] = trees.recall
            scalars["count_mae"] = trees.countMeanAbsoluteError
            scalars["canopy_area_error"] = trees.relativeCanopyAreaError
        }
        // Each held-out manifest on its own, beside predicting all canopy.
        for split in report.splits ?? [] {
            scalars["\(split.name)/loss"] = split.loss
            if let iou = split.canopyIou { scalars["\(split.name)/canopy_iou"] = iou }
            scalars["\(split.name)/all_canopy_iou"] = split.allCanopyIou
            if let f1 = split.trees?.f1 { scalars["\(split.name)/tree_f1"] = f1 }
        }
        return scalars
    }

    /// Workers leave a sample they could not read out of the gradient and out of their losses:
    /// every dealt sample without a loss was quarantined.
    func countQuarantined(step: Step, reported: [Wire.SampleLoss]) {
        var missing: [Int: Int] = [:]
        for index in 0..<plan.microBatchesPerStep {
            for sample in plan.microBatch(index, ofStep: step) { missing[sample, default: 0] += 1 }
        }
        for loss in reported { missing[Int(loss.sample), default: 0] -= 1 }
        for (sample, count) in missing.sorted(by: { $0.key < $1.key }) where count > 0 {
            let name = setup.training.catalogID(at: sample) ?? "#\(sample)"
            quarantinedSamples.append(name)
            logger.warning("step \(step) left out sample \(name): a worker could not read it (dataset.on_corrupt: quarantine)")
        }
    }

    /// Writes the samples' latest losses back to the catalog in one transaction, so that the next
    /// freeze can select hard cases (`ORDER BY last_loss DESC`). A catalog that cannot be written
    /// costs the curation data, not the run: it is logged.
    func flushLosses() {
        guard !pendingLosses.isEmpty, !config.dataset.manifest.isEmpty else { return }
        do {
            let catalog = try Catalog(directory: Manifest.catalogDirectory(ofManifestAt: config.dataset.manifest), create: false)
            try catalog.recordLosses(pendingLosses)
            logger.debug("recorded \(pendingLosses.count) sample losses in the catalog")
        } catch {
            logger.warning("could not record sample losses in the catalog: \(error)")
        }
        pendingLosses.removeAll()
    }

    /// Puts every member's health on the status board (`/status`).
    func publishMembers(now: ContinuousClock.Instant) {
        let members = core.table.members.values.sorted { $0.id < $1.id }.map {
            RunStatus.Member(id: "\($0.id)", host: $0.host, status: "\($0.status)", lastHeardSecondsAgo: $0.lastHeard.duration(to: now).inSeconds)
        }
        var counts: [String: Int] = [:]
        for member in members { counts[member.status, default: 0] += 1 }
        let generation = core.generation.rawValue, stale = core.counters.staleMessages, committed = core.committed
        let refused = loop.refusals.value.total + observer.refusedStatusRequests
        observer.board.update { status in
            status.refusedConnections = refused
            status.members = members
            status.workers = counts
            status.generation = generation
            status.staleMessages = stale
            if status.phase == .waiting && committed > 0 { status.phase = .training }
        }
    }
}

extension RedoneWork.Cause {
    init(_ cause: RedoCause) {
        switch cause {
        case .failure: self = .failure
        case .drain: self = .drain
        case .leave: self = .leave
        case .stall: self = .stall
        case .linkFault: self = .linkFault
        case .disagreement: self = .disagreement
        case .memberFault: self = .memberFault
        case .stop: self = .stop
        }
    }
}
