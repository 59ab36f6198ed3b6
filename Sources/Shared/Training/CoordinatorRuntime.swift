import Checkpoint
import Config
import Dataset
import Core
import Foundation
import Logging
import Membership
import Model
import Observability
import Optim
import Transport
import Wire

/// The coordinator process: admits workers, deals each step's micro-batches, commits a step once
/// every member has applied the same update, checkpoints, and writes the run directory.
///
/// One thread runs the loop below; the socket thread and the checkpoint writer run beside it.
public final class CoordinatorRuntime {
    public struct Settings: Sendable {
        public var config: ClusterConfig
        /// Start over even if the run directory holds checkpoints (they are deleted).
        public var fromScratch = false
        /// The worker executable for `workers.local`; nil for the one beside this executable.
        public var workerExecutable: String?
        public init(config: ClusterConfig) { self.config = config }
    }

    let settings: Settings
    let config: ClusterConfig
    let logger: Logger
    let directory: RunDirectory
    let incarnation = Incarnation.random()
    let loop = SocketLoop()
    var membership: Membership
    let setup: RunSetup
    var plan: StepPlan
    /// The newest state the coordinator holds, and the step it belongs to.
    var state: Replica
    var committed: Int
    let totalSteps: Int
    var inflight: InflightStep?
    var staleMessages = 0
    /// Workers that left after a preemption notice, and workers declared down.
    var drains = 0
    var failures = 0
    /// Steps dealt again because the ring changed under them.
    var redealtSteps = 0
    var workersMax = 0
    var firstLoss: Double?
    var lastLoss = Double.nan
    var resumedFrom: Int?
    var lastCheckpoint: String?
    let started = ContinuousClock.now
    /// CPU time of this invocation only (issue 12: honest CPU accounting).
    let cpuAccount = CPUAccount()
    var observer: RunObserver!
    /// Per-sample losses not yet written back to the catalog (manifest runs).
    var pendingLosses: [(sampleID: String, loss: Double, step: Int)] = []
    /// The newest evaluation on the held-out samples and its step.
    var lastValidation: (step: Int, report: ValidationReport)?
    var lastHeartbeatSent = ContinuousClock.now
    /// Training samples left out of their step as unreadable (`dataset.on_corrupt: quarantine`).
    var quarantinedSamples: [String] = []
    /// The worker processes this coordinator started (`workers.local`).
    var localWorkers: LocalWorkers?
    /// `redone.jsonl`: each attempt thrown away, with its cause.
    var redoneLog: JSONLinesWriter?
    /// Why the next generation starts, set by the event that ends the current one.
    var generationCause: RedoneWork.Cause?
    /// Step results dropped because their attempt or generation was abandoned.
    var staleResults = 0
    /// Workers declared down that came back and joined again.
    var rejoins = 0
    /// When each former member was last told that it was declared down (once per heartbeat
    /// interval is enough; it keeps talking until it hears).
    var toldDown: [[UInt8]: ContinuousClock.Instant] = [:]
    /// Host and process id of every member, to recognise a returning process.
    var processes: [WorkerID: String] = [:]
    /// Members declared down (not those that left: they said goodbye and are gone).
    var declaredDown: Set<WorkerID> = []

    /// A step that has been dealt and not yet committed.
    struct InflightStep {
        var step: Int
        var generation: Generation
        var members: [WorkerID]
        var results: [WorkerID: Wire.StepResult] = [:]
        var started: ContinuousClock.Instant
        var wantState: Bool
        /// When each member's lease went out: its own spans are placed from there.
        var leaseSent: [WorkerID: ContinuousClock.Instant] = [:]
    }

    public init(settings: Settings, logger: Logger) throws {
        self.settings = settings
        config = settings.config
        self.logger = logger
        directory = RunDirectory(path: config.run.directory, checkpointDirectory: config.checkpoint.directory)
        membership = Membership(settings: Membership.Settings(
            heartbeatInterval: .seconds(config.faultTolerance.heartbeatInterval),
            missedHeartbeats: config.faultTolerance.missedHeartbeats, maxMembers: config.workers.max))
        setup = try RunSetup(config: config)
        plan = setup.makeStepPlan()
        var steps = config.training.steps
        if config.training.samples > 0 {
            steps = min(steps, (config.training.samples + config.training.globalBatch - 1) / config.training.globalBatch)
        }
        totalSteps = steps
        let optimizer = try makeOptimizer(setup)
        state = Replica(layout: setup.model.layout, parameters: setup.model.initialParameters(seed: config.training.seed),
                        optimizer: optimizer, committedStep: 0)
        committed = 0
    }

    var store: CheckpointStore { CheckpointStore(directory: directory.checkpoints, keep: config.checkpoint.keep) }

    /// Runs the whole job; returns its summary (also written to `summary.json`).
    public func run() throws -> RunSummary {
        // Issue 12: one coordinator per run directory, and a finished run is left untouched.
        let lock = try RunDirectoryLock(directory: directory.path)
        defer { lock.release() }
        if !settings.fromScratch, let done = try directory.completedRun(totalSteps: totalSteps, store: store) {
            logger.notice("run \(config.run.name) is already complete at step \(done.steps) of \(totalSteps); raise training.steps to train further, or add --from-scratch to start over")
            return done
        }
        try prepareDirectory()
        if committed >= totalSteps, let previous = try? RunSummary.read(from: directory.summary), previous.steps == committed {
            // Running a finished run again (the quick start, twice): nothing to train.
            logger.notice("run \(config.run.name) is already complete at step \(committed) of \(totalSteps); raise training.steps to train further, or add --from-scratch to start over")
            return previous
        }
        observer = try makeObserver()
        if let url = observer.statusURL { logger.notice("status page at \(url)") }
        let writer = BackgroundCheckpointWriter(
            store: store,
            onWritten: { [logger, observer] info in
                observer?.checkpointWritten(step: info.step)
                logger.debug("checkpoint \(info.path) written", metadata: ["step": "\(info.step)"])
            },
            onError: { [logger] step, error in logger.error("checkpoint of step \(step) failed: \(error)") })
        defer { writer.close() }
        let metrics = try JSONLinesWriter(path: directory.metrics)
        defer { metrics.close() }
        let redone = try JSONLinesWriter(path: directory.redone)
        redoneLog = redone
        defer { redone.close() }
        let local = LocalWorkers(logger: logger)
        localWorkers = local
        defer { loop.close() }
        do {
            let endpoint = try loop.bindControl(Endpoint(host: config.coordinator.bind, port: UInt16(config.coordinator.port)).description,
                                                origin: "coordinator.bind and coordinator.port")
            logger.info("coordinator listening on \(endpoint)", metadata: ["run": "\(config.run.name)"])
            if config.workers.local > 0 && committed < totalSteps {
                let port = endpoint.split(separator: ":").last.map(String.init) ?? "\(config.coordinator.port)"
                let host = config.coordinator.bind == "0.0.0.0" ? "127.0.0.1" : config.coordinator.bind
                try local.start(count: config.workers.local, executable: settings.workerExecutable ?? LocalWorkers.defaultExecutable(),
                                coordinator: Endpoint(host: host, port: UInt16(port)).description, logDirectory: directory.logs)
            }
            try trainLoop(writer: writer, metrics: metrics)
        } catch {
            local.killAll()
            writer.waitUntilIdle()
            try? observer.finish(phase: .failed, metricsPath: directory.metrics)
            throw error
        }
        writer.waitUntilIdle()
        broadcast(.leave(Wire.Leave(reason: .runFinished, text: "run \(config.run.name) finished after \(committed) steps")))
        let codes = local.waitForExit(timeout: .seconds(15))
        if !codes.isEmpty { logger.notice("local workers exited with codes \(codes)") }
        let cpu = cpuAccount.seconds(plusChildren: local.cpuSeconds)
        do {
            try observer.finish(phase: .finished, metricsPath: directory.metrics, cpuSeconds: cpu,
                                cpuSamples: (committed - (resumedFrom ?? 0)) * config.training.globalBatch)
            try writeLossCurve()
        } catch {
            logger.warning("could not finish the run's reports: \(error)")
        }
        let summary = makeSummary(cpuSeconds: cpu)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        encoder.keyEncodingStrategy = .convertToSnakeCase
        // No step ran in this invocation (resumed at the last step, summary lost): no losses.
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        try encoder.encode(summary).write(to: URL(fileURLWithPath: directory.summary))
        return summary
    }

    // MARK: Start

    func makeObserver() throws -> RunObserver {
        var settings = RunObserver.Settings()
        settings.tensorBoard = config.logging.tensorboard
        settings.trace = config.logging.timeline
        settings.statusPort = config.logging.statusPort >= 0 ? UInt16(config.logging.statusPort) : nil
        settings.statusHost = config.logging.statusBind
        settings.progressEvery = config.logging.progressEvery
        settings.pricePerWorkerHour = config.logging.pricePerWorkerHour > 0 ? config.logging.pricePerWorkerHour : nil
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
        }
        if let (checkpoint, info, damaged) = try store.loadNewestVerified() {
            for report in damaged { logger.warning("skipped a damaged checkpoint: \(report)") }
            guard checkpoint.metadata.datasetManifestHash == setup.datasetHash else {
                throw TrainingError(code: "resume.dataset",
                                    "checkpoint \(info.path) was trained on dataset \(checkpoint.metadata.datasetManifestHash.prefix(12)), "
                                    + "but \(config.dataset.path) now gives \(setup.datasetHash.prefix(12)); refusing to resume on other data")
            }
            state = try Replica(layout: setup.model.layout, tensors: checkpoint.tensors, optimizer: try makeOptimizer(setup),
                                committedStep: checkpoint.metadata.step)
            committed = checkpoint.metadata.step
            resumedFrom = committed
            lastCheckpoint = info.path
            try recordRestartRedone(after: committed)
            try directory.truncateMetrics(after: committed)
            logger.notice("resuming from checkpoint \(info.path)",
                          metadata: ["step": "\(committed)", "weights_sha256": "\(state.weightsHash)"])
        } else {
            try? FileManager.default.removeItem(atPath: directory.metrics)
            try? FileManager.default.removeItem(atPath: directory.redone)
        }
        try config.rendered().write(toFile: directory.config, atomically: true, encoding: .utf8)
    }

    /// The steps after `step` that an earlier coordinator committed and this one will run again:
    /// redone because of the coordinator's restart.
    func recordRestartRedone(after step: Int) throws {
        let lines = directory.metricsLines(after: step)
        guard !lines.isEmpty else { return }
        let log = try JSONLinesWriter(path: directory.redone)
        defer { log.close() }
        for line in lines {
            try log.append(RedoneWork(
                step: (line["step"] as? NSNumber)?.intValue ?? 0, cause: .coordinatorRestart,
                generation: (line["generation"] as? NSNumber)?.uint64Value ?? 0,
                microBatches: plan.microBatchesPerStep, samples: config.training.globalBatch,
                wallSeconds: (line["step_seconds"] as? NSNumber)?.doubleValue ?? 0,
                workers: (line["workers"] as? NSNumber)?.intValue ?? 0))
        }
        logger.notice("\(lines.count) committed steps after the checkpoint will be run again")
    }

    // MARK: Loop

    func trainLoop(writer: BackgroundCheckpointWriter, metrics: JSONLinesWriter) throws {
        let tick = Duration.seconds(config.faultTolerance.heartbeatInterval / 4)
        var waitingSince: ContinuousClock.Instant? = .now
        let initialWorkers = max(config.workers.min, min(config.workers.local, config.workers.max))
        var startedTraining = false
        while committed < totalSteps {
            var next = loop.control.pop(until: .now + tick)
            while case .item(let frame) = next {
                try handle(frame)
                // A step is committed as soon as its last result is in, before anything after it
                // (a drain notice, say) can change the ring.
                if let step = inflight, step.results.count == step.members.count {
                    FaultPoint.reached(.coordinatorBeforeCommit, step: step.step)
                    try commit(step, writer: writer, metrics: metrics)
                    inflight = nil
                }
                next = loop.control.pop(until: .now)
            }
            let now = ContinuousClock.now
            for directive in membership.onTick(now: now) { onDirective(directive) }
            if lastHeartbeatSent.duration(to: now) >= .seconds(config.faultTolerance.heartbeatInterval) {
                broadcast(.heartbeat(Wire.Heartbeat(committedStep: UInt64(committed))))
                lastHeartbeatSent = now
                publishMembers(now: now)
            }
            guard inflight == nil else { continue }
            admitJoiners()
            let ready = membership.ring.count
            // At the start, wait for the local workers too, so that the first steps are not run by
            // whoever joined first; later, workers.min is enough.
            let enough = startedTraining ? ready >= config.workers.min : ready >= initialWorkers
            if enough {
                startedTraining = true
                waitingSince = nil
                deal(step: committed + 1)
                continue
            }
            if waitingSince == nil {
                waitingSince = now
                if startedTraining {
                    logger.warning("paused: \(ready) workers up, workers.min is \(config.workers.min); waiting up to \(config.faultTolerance.waitForWorkers) s")
                }
            }
            // Local workers that all died before the first step (a configuration they refuse, a
            // missing library) will not come back: say why now rather than after the wait.
            if !startedTraining, ready < config.workers.min, let failure = localWorkers?.failedBeforeJoining() {
                throw TrainingError(code: "run.workers-failed", failure)
            }
            guard let since = waitingSince, since.duration(to: now) > .seconds(config.faultTolerance.waitForWorkers) else { continue }
            if !startedTraining && ready >= config.workers.min {
                startedTraining = true
                waitingSince = nil
                deal(step: committed + 1)
            } else {
                throw TrainingError(code: "run.no-workers",
                                    "only \(ready) of workers.min = \(config.workers.min) workers were up for \(config.faultTolerance.waitForWorkers) s (fault_tolerance.wait_for_workers)")
            }
        }
    }

    func handle(_ frame: ControlFrame) throws {
        let envelope: Wire.Envelope, message: Wire.Message
        do { (envelope, message) = try Wire.decode(frame.bytes) } catch {
            staleMessages += 1
            logger.warning("dropped a malformed control frame: \(error)")
            if error.code == "wire.version" {
                loop.sendControl(encode(.reject(Wire.Reject(reason: .protocolVersion, text: error.message))), to: frame.peer)
            }
            return
        }
        let now = ContinuousClock.now
        if let member = membership.member(peer: frame.peer) {
            _ = membership.onHeard(from: member.id, incarnation: member.incarnation, now: now)
        } else if let former = membership.formerMember(peer: frame.peer) {
            switch message {
            case .hello, .join:
                break  // joining again: handled below like any newcomer
            default:
                // Its membership is over, but it does not know: tell it, so that it joins again
                // as a new incarnation instead of waiting for a silence timeout.
                staleMessages += 1
                if case .stepResult = message { staleResults += 1 }
                if case .leave = message { return }
                guard declaredDown.contains(former.id) else { return }  // it left: a last heartbeat
                if toldDown[frame.peer].map({ $0.duration(to: now) >= .seconds(config.faultTolerance.heartbeatInterval) }) ?? true {
                    toldDown[frame.peer] = now
                    logger.notice("\(former.id) speaks again after it was declared down; telling it to join again")
                    let text = "\(former.id) was declared down; join again as a new worker"
                    loop.sendControl(encode(.reject(Wire.Reject(reason: .declaredDown, text: text))), to: frame.peer)
                }
                return
            }
        }
        switch message {
        case .hello:
            // Workers must see the same samples: pin the hash this coordinator computed.
            var pinned = config
            pinned.dataset.expectSha256 = setup.datasetHash
            loop.sendControl(encode(.runConfig(Wire.RunConfig(runName: config.run.name, configYAML: pinned.rendered()))), to: frame.peer)
        case .join(let join):
            onJoin(join, envelope: envelope, peer: frame.peer, now: now)
        case .stepResult(let result):
            guard var step = inflight, envelope.generation == step.generation, result.step == UInt64(step.step),
                  let member = membership.member(peer: frame.peer), step.members.contains(member.id) else {
                staleMessages += 1
                staleResults += 1
                return
            }
            step.results[member.id] = result
            inflight = step
        case .leave(let leave):
            if let member = membership.member(peer: frame.peer) {
                logger.notice("\(member.id) left: \(leave.text)")
                if leave.reason == .error {
                    throw TrainingError(code: "run.worker-failed", "\(member.id) on \(member.host) failed: \(leave.text)")
                }
                if leave.reason == .drain {
                    drains += 1
                    observer?.trace.marker(name: "\(member.id) drained", category: "drain", track: .coordinator, at: .now)
                }
                generationCause = leave.reason == .drain ? .drain : .leave
                for directive in membership.onLeave(member.id) { onDirective(directive) }
            }
        case .heartbeat:
            break
        case .runConfig, .welcome, .reject, .lease, .state, .commit:
            staleMessages += 1
        }
    }

    func onJoin(_ join: Wire.Join, envelope: Wire.Envelope, peer: [UInt8], now: ContinuousClock.Instant) {
        let ours = setup.model.schemaHash
        guard join.major == Wire.major else {
            let text = "worker speaks protocol \(join.major).\(join.minor), the coordinator \(Wire.major).\(Wire.minor)"
            loop.sendControl(encode(.reject(Wire.Reject(reason: .protocolVersion, text: text))), to: peer)
            return
        }
        guard join.minor >= Wire.ringMinor else {
            let text = "worker speaks protocol \(join.major).\(join.minor); the ring of protocol \(Wire.major).\(Wire.ringMinor) and later "
                + "sends frames the worker cannot read: run the same Grove build on every machine"
            logger.warning("refused a worker from \(join.host): \(text)")
            loop.sendControl(encode(.reject(Wire.Reject(reason: .protocolVersion, text: text))), to: peer)
            return
        }
        guard join.schemaHash == ours else {
            let text = "worker's model schema \(String(join.schemaHash, radix: 16)) differs from the coordinator's "
                + "\(String(ours, radix: 16)) (\(setup.model.schemaName))"
            logger.warning("refused a worker from \(join.host): \(text)")
            loop.sendControl(encode(.reject(Wire.Reject(reason: .modelSchema, text: text))), to: peer)
            return
        }
        guard let id = membership.onJoin(incarnation: envelope.incarnation, peer: peer, ringEndpoint: join.ringEndpoint,
                                         host: join.host, now: now) else {
            loop.sendControl(encode(.reject(Wire.Reject(reason: .full, text: "the run already has workers.max = \(config.workers.max) workers"))), to: peer)
            return
        }
        let process = "\(join.host) pid \(join.pid)"
        if let earlier = processes.filter({ $0.value == process && declaredDown.contains($0.key) }).keys.max() {
            rejoins += 1
            logger.notice("\(id) is \(earlier) rejoining as a new incarnation (\(process))")
        }
        processes[id] = process
        logger.info("\(id) joined from \(join.host) (pid \(join.pid))")
        let millis = UInt32(config.faultTolerance.heartbeatInterval * 1000)
        loop.sendControl(encode(.welcome(Wire.Welcome(worker: id, heartbeatIntervalMillis: millis))), to: peer)
    }

    /// Joiners get the exact current state and enter the ring at this step boundary, when the
    /// coordinator holds the state of the last committed step. Otherwise the next step asks for it.
    func admitJoiners() {
        let joining = membership.joining
        guard !joining.isEmpty, state.committedStep == committed else { return }
        let message = encode(.state(state.wireState))
        for member in joining { loop.sendControl(message, to: member.peer) }
        for directive in membership.admit(joining.map(\.id)) { onDirective(directive) }
    }

    func onDirective(_ directive: Membership.Directive) {
        switch directive {
        case .down(let id, let reason):
            failures += 1
            declaredDown.insert(id)
            generationCause = .failure
            observer?.trace.marker(name: "\(id) down", category: "failure", track: .coordinator, at: .now)
            logger.warning("\(id) is down: \(reason)")
        case .newGeneration(let generation):
            var counts: [String: Int] = [:]
            for member in membership.members.values { counts["\(member.status)", default: 0] += 1 }
            observer?.membershipChanged(workers: counts, generation: generation.rawValue,
                                        note: "generation \(generation.rawValue): \(membership.ring.count) in the ring")
            if observer != nil { publishMembers(now: .now) }
            logger.info("generation \(generation.rawValue): \(membership.ring.map { "\($0.id)" }.joined(separator: ", "))")
            if let step = inflight {
                redealtSteps += 1
                let cause = generationCause ?? .leave
                logger.warning("step \(step.step) will be dealt again in generation \(generation.rawValue) (\(cause.rawValue))")
                let work = RedoneWork(step: step.step, cause: cause, generation: step.generation.rawValue,
                                      microBatches: plan.microBatchesPerStep, samples: config.training.globalBatch,
                                      wallSeconds: step.started.duration(to: .now).inSeconds, workers: step.members.count)
                do { try redoneLog?.append(work) } catch { logger.warning("could not record redone work: \(error)") }
                inflight = nil
            }
            generationCause = nil
        }
    }

    func deal(step: Int) {
        let ring = membership.ring
        let generation = membership.generation
        let due = step == totalSteps || (config.checkpoint.interval > 0 && step % config.checkpoint.interval == 0)
        let wantState = due || evaluationDue(step) || !membership.joining.isEmpty
        let members = ring.map { Wire.Member(worker: $0.id, ringEndpoint: $0.ringEndpoint) }
        let perStep = plan.microBatchesPerStep
        let shares = StepPlan.deal(microBatches: perStep, members: ring.count)
        var leaseSent: [WorkerID: ContinuousClock.Instant] = [:]
        for (member, share) in zip(ring, shares) {
            let batches = share.map { index in
                Wire.MicroBatch(id: MicroBatchID(UInt32(index)), samples: plan.microBatch(index, ofStep: step - 1).map { UInt32($0) })
            }
            let lease = Wire.Lease(step: UInt64(step), ring: members, microBatches: batches, totalMicroBatches: UInt32(perStep),
                                   globalBatch: UInt32(config.training.globalBatch), wantState: wantState)
            leaseSent[member.id] = .now
            loop.sendControl(encode(.lease(lease)), to: member.peer)
        }
        workersMax = max(workersMax, ring.count)
        inflight = InflightStep(step: step, generation: generation, members: ring.map(\.id), started: .now, wantState: wantState,
                                leaseSent: leaseSent)
    }

    func commit(_ step: InflightStep, writer: BackgroundCheckpointWriter, metrics: JSONLinesWriter) throws {
        let hashes = Set(step.results.values.map { $0.weightsHash })
        guard hashes.count == 1, let hash = hashes.first else {
            let detail = step.results.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value.weightsHash.hexString.prefix(12))" }
            throw TrainingError(code: "run.diverged", "replicas disagree after step \(step.step): \(detail.joined(separator: ", "))")
        }
        committed = step.step
        broadcast(.commit(Wire.Commit(step: UInt64(step.step))))
        if let received = step.results.values.first(where: { $0.state != nil })?.state {
            state = try Replica(layout: setup.model.layout, wire: received, optimizer: try makeOptimizer(setup))
            guard state.weightsHash == hash.hexString else {
                throw TrainingError(code: "run.state", "state received for step \(step.step) does not match its weights hash")
            }
        }
        let losses = step.results.values.flatMap(\.losses)
        if config.dataset.quarantinesCorruptSamples { countQuarantined(step: step.step, reported: losses) }
        for sample in losses {
            if let id = setup.training.catalogID(at: Int(sample.sample)) {
                pendingLosses.append((id, Double(sample.loss), step.step))
            }
        }
        if pendingLosses.count >= 1024 || step.step == totalSteps { flushLosses() }
        let loss = losses.isEmpty ? .nan : losses.reduce(0.0) { $0 + Double($1.loss) } / Double(losses.count)
        if firstLoss == nil { firstLoss = loss }
        lastLoss = loss
        let seconds = step.started.duration(to: .now).inSeconds
        let results = Array(step.results.values)
        let line = StepMetrics(
            step: step.step, dataEpoch: plan.ledger(afterCommitted: step.step - 1).dataEpoch, samples: step.step * config.training.globalBatch,
            loss: loss, learningRate: state.optimizer.learningRate(atStep: step.step - 1), workers: step.members.count, generation: step.generation.rawValue,
            stepSeconds: seconds, samplesPerSecond: Double(config.training.globalBatch) / max(seconds, 1e-9),
            dataSeconds: Double(results.map(\.dataNanos).max() ?? 0) / 1e9,
            computeSeconds: Double(results.map(\.computeNanos).max() ?? 0) / 1e9,
            allReduceSeconds: Double(results.map(\.reduceNanos).max() ?? 0) / 1e9,
            allReduceBytes: results.map(\.reduceBytes).reduce(0, +),
            weightsSha256: hash.hexString, replicasAgreeing: step.results.count, wallSeconds: started.duration(to: .now).inSeconds,
            validation: (evaluationDue(step.step) || step.step == totalSteps) && state.committedStep == step.step
                ? Validation.measure(setup: setup, state: state) : nil)
        if let v = line.validation { lastValidation = (step.step, v) }
        if let v = line.validation {
            let trees = v.trees.map { String(format: ", tree F1 %.3f", $0.f1) } ?? ""
            logger.info("step \(step.step): held-out loss \(String(format: "%.4f", v.loss))\(v.canopyIou.map { String(format: ", canopy IoU %.3f", $0) } ?? "")\(trees)")
        }
        try metrics.append(line)
        publishMembers(now: .now)
        let record = StepRecord(
            step: line.step, samples: line.samples, loss: loss.isFinite ? loss : nil, learningRate: line.learningRate,
            workers: line.workers, generation: line.generation, stepSeconds: line.stepSeconds, samplesPerSecond: line.samplesPerSecond,
            dataSeconds: line.dataSeconds, computeSeconds: line.computeSeconds, allReduceSeconds: line.allReduceSeconds,
            wallSeconds: line.wallSeconds, allReduceBytes: Double(line.allReduceBytes),
            evaluationScalars: line.validation.map(Self.evaluationScalars))
        // A worker's own spans when it sent them; otherwise its phase totals laid end to end.
        let ordered = step.results.sorted { $0.key < $1.key }
        let phases = ordered.filter { $0.value.spans == nil }.map { id, result in
            (worker: id, phases: [(name: "data", seconds: Double(result.dataNanos) / 1e9),
                                  (name: "compute", seconds: Double(result.computeNanos) / 1e9),
                                  (name: "all-reduce", seconds: Double(result.reduceNanos) / 1e9)])
        }
        let spans = ordered.compactMap { id, result in
            result.spans.map { (worker: id, leaseSent: step.leaseSent[id] ?? step.started, spans: $0.map(\.traceSpan)) }
        }
        try observer.stepCommitted(record, dealtAt: step.started, workerPhases: phases, workerSpans: spans,
                                   stepsThisRun: step.step - (resumedFrom ?? 0))
        let due = step.step == totalSteps || (config.checkpoint.interval > 0 && step.step % config.checkpoint.interval == 0)
        if due && state.committedStep == step.step {
            let (epoch, position) = plan.ledger(afterCommitted: step.step)
            let metadata = CheckpointMetadata(runName: config.run.name, step: step.step, dataEpoch: epoch, ledgerPosition: position,
                                              seed: config.training.seed, datasetManifestHash: setup.datasetHash,
                                              configurationHash: config.canonicalHash)
            writer.submit(Checkpoint(metadata: metadata, tensors: state.tensors))
            lastCheckpoint = directory.checkpoints + "/" + CheckpointStore.directoryName(step: step.step)
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
        return scalars
    }

    /// Workers leave a sample they could not read out of the gradient and out of their losses:
    /// every dealt sample without a loss was quarantined.
    func countQuarantined(step: Int, reported: [Wire.SampleLoss]) {
        var missing: [Int: Int] = [:]
        for index in 0..<plan.microBatchesPerStep {
            for sample in plan.microBatch(index, ofStep: step - 1) { missing[sample, default: 0] += 1 }
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

    /// Whether `step` is evaluated on the held-out samples (the last step is, for the summary).
    func evaluationDue(_ step: Int) -> Bool {
        config.training.evalEvery > 0 && step % config.training.evalEvery == 0 && !setup.validation.isEmpty
    }

    /// Puts every member's health on the status board (`/status`).
    func publishMembers(now: ContinuousClock.Instant) {
        let members = membership.members.values.sorted { $0.id < $1.id }.map {
            RunStatus.Member(id: "\($0.id)", host: $0.host, status: "\($0.status)", lastHeardSecondsAgo: $0.lastHeard.duration(to: now).inSeconds)
        }
        var counts: [String: Int] = [:]
        for member in members { counts[member.status, default: 0] += 1 }
        observer.board.update { status in
            status.members = members
            status.workers = counts
            status.generation = membership.generation.rawValue
            status.staleMessages = staleMessages
            if status.phase == .waiting && committed > 0 { status.phase = .training }
        }
    }

    func broadcast(_ message: Wire.Message) {
        let bytes = encode(message)
        for member in membership.members.values where member.status < .down { loop.sendControl(bytes, to: member.peer) }
    }

    func encode(_ message: Wire.Message) -> [UInt8] {
        Wire.encode(message, generation: membership.generation, sender: WorkerID(0), incarnation: incarnation)
    }

    /// User plus system CPU time of this process and of its reaped children (the local workers).
    static func cpuSeconds() -> Double {
        var total = 0.0
        for who in [RUSAGE_SELF, RUSAGE_CHILDREN] {
            var usage = rusage()
            guard getrusage(__rusage_who_t(who.rawValue), &usage) == 0 else { continue }
            for time in [usage.ru_utime, usage.ru_stime] { total += Double(time.tv_sec) + Double(time.tv_usec) / 1e6 }
        }
        return total
    }

    func makeGoodput(cpuSeconds: Double) -> Goodput {
        let price = config.logging.pricePerWorkerHour > 0 ? config.logging.pricePerWorkerHour : nil
        let report = (try? RunReport.load(run: config.run.name, metricsPath: directory.metrics, pricePerWorkerHour: price,
                                          cpuSeconds: cpuSeconds,
                                          cpuSamples: (committed - (resumedFrom ?? 0)) * config.training.globalBatch))
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
            goodput: s.goodput, redone: byCause, staleResults: staleResults, cpuSeconds: cpuSeconds,
            cpuSecondsPerSample: s.cpuSecondsPerSample, costPerSample: s.costPerSample,
            price: price.map { "\($0) per worker-hour" } ?? "price not configured")
    }

    func makeSummary(cpuSeconds: Double) -> RunSummary {
        RunSummary(
            run: config.run.name, steps: committed, samples: committed * config.training.globalBatch,
            lossFirst: firstLoss ?? .nan, lossLast: lastLoss, weightsSha256: state.weightsHash, workersMax: workersMax,
            generations: membership.generationsStarted, wallSeconds: started.duration(to: .now).inSeconds,
            reduceMode: config.reduce.mode, model: setup.model.schemaName, parameters: setup.model.layout.count,
            datasetHash: setup.datasetHash, configHash: config.canonicalHash, resumedFromStep: resumedFrom,
            checkpoint: lastCheckpoint, staleMessages: staleMessages,
            drains: drains, failures: failures, redealtSteps: redealtSteps, quarantinedSamples: quarantinedSamples, rejoins: rejoins,
            goodput: makeGoodput(cpuSeconds: cpuSeconds), validation: lastValidation?.step == committed && state.committedStep == committed
                ? lastValidation?.report : Validation.measure(setup: setup, state: state))
    }
}

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
