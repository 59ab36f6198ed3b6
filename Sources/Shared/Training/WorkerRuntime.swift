import Collective
import Config
import Coordination
import Core
import Dataset
import Foundation
import Logging
import Model
import Optim
import Preemption
import Transport
import Wire

/// The worker process: joins a coordinator, then runs every lease it is dealt — forward and
/// backward over its micro-batches, the ring all-reduce with the other members, the optimizer
/// update — and reports, until the run ends.
public final class WorkerRuntime {
    public struct Settings: Sendable {
        public var coordinator: String
        /// Overrides `workers.bind` of the run's configuration when set.
        public var bindHost: String?
        /// The host announced to peers for this worker's ring socket (`worker --advertise`); nil:
        /// the bound address, or for a wildcard bind the address this host routes to the
        /// coordinator from.
        public var advertiseHost: String?
        /// How long to wait for the coordinator's first answer (`worker --connect-timeout`).
        public var connectTimeout: Duration = .seconds(30)
        /// Where fetched files are kept (`--cache-dir`), and how many bytes at most (`--cache-mib`).
        public var cacheDirectory = WorkerRuntime.defaultCacheDirectory()
        public var cacheMaxBytes = 4096 << 20
        /// CurveZMQ with the worker's key (`--key`), or none.
        public var security: TransportSecurity = .none
        /// `--insecure`: the ring may bind beyond loopback without a key.
        public var insecure = false
        public init(coordinator: String, bindHost: String? = nil) {
            self.coordinator = coordinator
            self.bindHost = bindHost
        }
    }

    /// How a worker's life ended.
    public enum Outcome: Equatable, Sendable {
        case finished
        /// The coordinator stopped before the run's end; the run can be resumed.
        case coordinatorStopped(String)
        /// The coordinator ended the run as failed (a loss that is not finite, a sample that
        /// cannot be read); starting this worker again would not help.
        case runFailed(String)
        case rejected(String)
        case coordinatorLost
        /// A preemption notice arrived; the worker finished its step and left.
        case preempted(PreemptionNotice)
        /// A second signal: the worker left at once.
        case stopped(String)
    }

    let settings: Settings
    let logger: Logger
    let incarnation = Incarnation.random()
    let loop: SocketLoop
    /// The ring members' keys the coordinator announced for `ringKeysGeneration` (CURVE runs).
    var ringKeys: [WorkerID: CurveKey] = [:]
    var ringKeysGeneration = Generation(0)
    /// The key the next lease's ring frames are sealed under, from the `ringKeys` that came
    /// before it (keyed runs with a coordinator of minor 7 or later).
    var leaseRingKey: [UInt8]?
    /// Whether this worker's ring runs on plain sockets with sealed frames (`SealedRingLink`)
    /// rather than over CurveZMQ: decided once, at the join, by the coordinator's protocol.
    var ringSealed = false
    var id = WorkerID(0)
    var generation = Generation(0)
    /// The protocol's decisions: which lease to run, which to refuse, what to do with a state.
    var instance: WorkerInstance!
    var runSettings: RunSettings!
    var setup: RunSetup!
    /// The run's step plan, to predict this worker's next lease.
    var plan: StepPlan?
    /// The predicted next lease, already being read and decoded.
    var nextLease: (step: Step, prepared: SampleSet.PreparedLease)?
    var replica: Replica?
    var allReduceSettings = AllReduceSettings()
    /// How the gradient is cut for a sum that overlaps the backward pass (`reduce.bucket_kib`);
    /// nil: one sum after the backward pass.
    var overlapBuckets: GradientBuckets?
    /// The coordinator's minor protocol version, from its runConfig: spans go only to minor 1+.
    var coordinatorMinor: UInt8 = 0
    /// Messages of an older generation, dropped.
    var staleMessages = 0
    let heartbeatStep = Locked<UInt64>(0)
    var monitor: PreemptionMonitor?
    /// The coordinator has been told this worker is leaving.
    var drainAnnounced = false
    /// The coordinator's files, when this worker fetches them.
    var remote: RemoteDataset?
    /// Serves this replica's committed state to joiners and the coordinator (its own socket and
    /// thread); published after every install and commit.
    var stateServer: StateServer?
    /// A fetched state already checked and built, for the `install` that follows.
    var fetched: Replica?
    /// The step whose state the coordinator will fetch after it commits (the lease said so).
    var retainStep: Step?

    public init(settings: Settings, logger: Logger) {
        self.settings = settings
        self.logger = logger
        loop = SocketLoop(security: settings.security, onRefused: { address, domain, reason, unlogged in
            logger.warning("refused a \(domain) connection from \(address.escapedForLog): \(reason)\(unlogged > 0 ? " (\(unlogged) more since the last line)" : "")")
        })
    }

    /// Runs until the run ends for this worker. A worker the coordinator declared down while it
    /// could not answer (stopped, cut off) and that then speaks again is told so; it then joins
    /// again from the start — new incarnation, new socket, new member id — and is admitted at a
    /// step boundary with the exact state, like any newcomer.
    public func run() throws -> Outcome {
        var current = self
        while true {
            do {
                return try current.runIncarnation()
            } catch let down as DeclaredDown {
                logger.notice("joining again as a new incarnation: \(down.text)")
                current = WorkerRuntime(settings: settings, logger: logger)
            }
        }
    }

    /// The coordinator declared this incarnation down.
    struct DeclaredDown: Error { var text: String }

    func runIncarnation() throws -> Outcome {
        defer {
            stateServer?.close()
            loop.close()
        }
        logger.notice("connecting to \(settings.coordinator)")
        try loop.connectControl(settings.coordinator, origin: "--coordinator")
        send(.hello(Wire.Hello()))
        let first = try awaitMessage(kind: .runConfig, timeout: settings.connectTimeout)
        guard case .runConfig(let runConfig)? = first else {
            if case .reject(let reject)? = first { return .rejected(reject.text) }
            throw CoordinatorUnreachable(endpoint: settings.coordinator, waited: settings.connectTimeout)
        }
        let config = try ClusterConfig.parse(yaml: runConfig.configYAML, source: "configuration from \(settings.coordinator)")
        setup = try makeSetup(config, samples: runConfig.samples)
        runSettings = try RunSettings(config)
        allReduceSettings = try makeAllReduceSettings(config)
        overlapBuckets = makeOverlapBuckets(config, model: setup.model)
        instance = WorkerInstance(settings: WorkerInstance.Settings(
            sampleCount: setup.training.count, microBatchesPerStep: config.training.globalBatch / config.training.microBatch,
            microBatch: config.training.microBatch, globalBatch: config.training.globalBatch,
            lossScaled: allReduceSettings.mode == .fp16, lossScaleTensor: Replica.lossScaleTensor))
        let ringHost = settings.bindHost ?? config.workers.bind
        try SecuritySetup.checkWorkerBind(host: ringHost, origin: settings.bindHost != nil ? "--bind" : "workers.bind of the run",
                                          security: settings.security, insecure: settings.insecure)
        if settings.security.isCurve {
            logger.info("security: \(SecuritySetup.describe(settings.security, insecure: false))")
        } else if settings.insecure || config.security.insecure {
            logger.warning("INSECURE MODE: this worker's connections are neither authenticated nor encrypted (\(settings.insecure ? "--insecure" : "the run's security.insecure"))")
        }
        // With keys, ring frames are sealed under a key per lease when the coordinator hands one
        // out (protocol 1.7): the ring's sockets then carry no CurveZMQ of their own.
        ringSealed = settings.security.isCurve && coordinatorMinor >= Wire.sealedRingMinor
        let bound = try loop.bindRing(host: ringHost, sealed: ringSealed)
        if ringSealed { logger.info("ring: frames sealed with AES-256-GCM under a fresh key for every step attempt") }
        let coordinatorEndpoint = try Endpoint.parse(settings.coordinator, origin: "--coordinator")
        let ringEndpoint = try AdvertisedAddress.endpoint(bound: bound, advertise: settings.advertiseHost,
                                                          peer: (coordinatorEndpoint.host, coordinatorEndpoint.port ?? 0)).description
        if ringEndpoint != bound {
            logger.info("ring socket listens on \(bound); peers are told \(ringEndpoint)")
        }
        let generations = loop.newestControlGeneration
        // Under CURVE the state server encrypts every chunk and admits any client with a key: what
        // it serves is bound to a grant's token, which only the coordinator hands out, over the
        // authenticated control channel. (A joiner's key cannot be announced in time: this
        // worker may be inside a step when the joiner dials, and libzmq does not dial again after
        // a refused handshake.)
        let server = try StateServer(host: settings.bindHost ?? config.workers.bind, origin: "the state server's address (workers.bind or --bind)",
                                     security: settings.security, admits: { _ in true },
                                     refusals: loop.refusals, currentGeneration: { generations.value })
        stateServer = server
        let stateEndpoint = try AdvertisedAddress.endpoint(bound: server.endpoint, advertise: settings.advertiseHost,
                                                           peer: (coordinatorEndpoint.host, coordinatorEndpoint.port ?? 0)).description
        send(.join(Wire.Join(schemaHash: setup.model.schemaHash, ringEndpoint: ringEndpoint,
                             host: ProcessInfo.processInfo.hostName, pid: UInt32(getpid()), stateEndpoint: stateEndpoint)))
        switch try awaitMessage(kind: .welcome, timeout: settings.connectTimeout) {
        case .welcome(let welcome)?:
            id = welcome.worker
            instance.onWelcome(welcome)
            startHeartbeats(every: .milliseconds(Int(welcome.heartbeatIntervalMillis)))
        case .reject(let reject)? where reject.reason == .full || reject.reason == .declaredDown:
            // Places free up as silent members are declared down: a worker restarted after a
            // crash, refused while its dead predecessor still counts, tries again shortly.
            Thread.sleep(forTimeInterval: min(config.faultTolerance.heartbeatInterval, 5))
            throw DeclaredDown(text: reject.text)
        case .reject(let reject)?:
            return .rejected(reject.text)
        default:
            return .coordinatorLost
        }
        var log = logger
        log[metadataKey: "worker"] = "\(id)"
        log.info("joined \(runConfig.runName) as \(id)", metadata: ["ring": "\(ringEndpoint)"])
        let monitor = try startPreemptionMonitor(config, logger: log)
        self.monitor = monitor
        defer { monitor.stop() }
        do {
            return try serve(logger: log)
        } catch let down as DeclaredDown {
            throw down
        } catch {
            // Tell the coordinator why, so that it can stop the run with the reason instead of
            // waiting for heartbeats to go missing.
            send(.leave(Wire.Leave(reason: .error, text: "\(error)")))
            throw error
        }
    }

    /// Watches SIGTERM and the configured cloud metadata services for a preemption notice.
    func startPreemptionMonitor(_ config: ClusterConfig, logger: Logger) throws -> PreemptionMonitor {
        var settings = PreemptionSettings()
        settings.aws = config.faultTolerance.spotAws
        settings.gcp = config.faultTolerance.spotGcp
        settings.azure = config.faultTolerance.spotAzure
        settings.pollInterval = .seconds(config.faultTolerance.spotPollInterval)
        settings.grace = .seconds(config.faultTolerance.drainTimeout)
        let monitor = PreemptionMonitor(settings: settings, onProblem: { source, problem in
            logger.warning("preemption watcher \(source): \(problem.message)")
        })
        try monitor.start()
        return monitor
    }

    /// Leaves the run because of a notice; the coordinator counts a drain, not a failure. A worker
    /// whose result for the step in flight is in waits (within half the time the notice leaves,
    /// at most `drain_timeout`) for that step's commit: the coordinator then commits it with this
    /// worker's share and deals the next step without it, so nothing is computed twice.
    func drain(_ notice: PreemptionNotice, logger: Logger) -> Outcome {
        let left = notice.secondsLeft(now: .now)
        if !drainAnnounced { announceDrain(notice) }
        guard let step = instance.awaitingCommit else {
            logger.notice("draining after a \(notice.source) notice with \(String(format: "%.1f", left)) s left")
            return .preempted(notice)
        }
        logger.notice("draining after a \(notice.source) notice with \(String(format: "%.1f", left)) s left; waiting for the commit of step \(step)")
        let deadline = ContinuousClock.now + .seconds(max(0, min(left / 2, setup.config.faultTolerance.drainTimeout)))
        while instance.awaitingCommit == step, ContinuousClock.now < deadline, monitor?.stopRequested != true {
            guard case .item(let frame) = loop.control.pop(until: min(deadline, .now + .milliseconds(200))),
                  let (envelope, message) = decode(frame) else { continue }
            // Only a commit matters now; leases, state requests and the rest are for the ring
            // this worker is leaving.
            guard case .commit = message else { continue }
            for directive in instance.onMessage(message, envelope: envelope) {
                if case .commit(let committed) = directive {
                    replica?.commit(step: committed)
                    logger.notice("step \(committed) committed with this worker's share; leaving")
                }
            }
        }
        return .preempted(notice)
    }

    /// Tells the coordinator this worker is leaving (once).
    func announceDrain(_ notice: PreemptionNotice) {
        drainAnnounced = true
        let left = notice.secondsLeft(now: .now)
        send(.leave(Wire.Leave(reason: .drain, text: "preempted (\(notice.source)): \(notice.detail); \(String(format: "%.0f", left)) s left")))
    }

    /// The main loop: one control message at a time, until the coordinator says the run is over or
    /// goes silent for longer than the failure timeout allows.
    func serve(logger: Logger) throws -> Outcome {
        let silence = Duration.seconds(setup.config.faultTolerance.heartbeatInterval * Double(setup.config.faultTolerance.missedHeartbeats)) * 4
            + .seconds(setup.config.faultTolerance.collectiveTimeout)
        var lastHeard = ContinuousClock.now
        while true {
            if let monitor {
                if monitor.stopRequested { return .stopped("a second signal") }
                if let notice = monitor.notice { return drain(notice, logger: logger) }
            }
            // Wait in slices so that a preemption notice is acted on within a fraction of a second.
            let frame: ControlFrame
            switch loop.control.pop(until: .now + .milliseconds(200)) {
            case .item(let received):
                frame = received
                lastHeard = .now
            case .timedOut:
                if lastHeard.duration(to: .now) > silence { return .coordinatorLost }
                continue
            case .closed:
                return .coordinatorLost
            }
            guard let (envelope, message) = decode(frame) else { continue }
            if case .ringKeys(let announced) = message {
                admitRing(announced, generation: envelope.generation)
                continue
            }
            for directive in instance.onMessage(message, envelope: envelope) {
                if let outcome = try carry(directive, logger: logger) { return outcome }
            }
        }
    }

    /// Carries out one of the instance's directives; an outcome ends this worker's life.
    func carry(_ directive: WorkerInstance.Directive, logger: Logger) throws -> Outcome? {
        switch directive {
        case .install(let state, let lossScale):
            var received: Replica
            if let fetched, fetched.committedStep == Int(state.step) {
                received = fetched
            } else {
                received = try Replica(layout: setup.model.layout, wire: state, optimizer: try makeOptimizer(setup, totalSteps: runSettings.totalSteps))
            }
            fetched = nil
            switch lossScale {
            case .restored: break
            case .startDefault: received.lossScale = DynamicLossScale()
            case .none: received.lossScale = nil
            }
            replica = received
            stateServer?.publish(received.image)
            heartbeatStep.value = state.step
            logger.info("received state after step \(state.step)")
        case .run(let order):
            generation = max(generation, order.generation)
            retainStep = order.retainState ? order.step : nil
            try runLease(order, logger: logger)
        case .commit(let step):
            replica?.commit(step: step)
            if let replica { stateServer?.publish(replica.image, keep: retainStep == step) }
            heartbeatStep.value = step.wire
            FaultPoint.reached(.afterCommit, step: step.ordinal)
        case .sendState(let step):
            guard let replica else { return nil }
            logger.info("sending the state after step \(step) to the coordinator")
            send(.state(replica.committedWireState))
        case .fetch(let source, let generation):
            guard let state = fetchState(source, generation: generation, logger: logger) else { return nil }
            for next in instance.onStateFetched(state) {
                if let outcome = try carry(next, logger: logger) { return outcome }
            }
        case .serve(let step, let token, let generation):
            stateServer?.grant(token: token, step: UInt64(step), generation: generation.rawValue)
            logger.debug("serving the state after step \(step) in \(generation)")
        case .report(let failure):
            logger.warning("step \(failure.step) failed here: \(failure.text)")
            send(.stepFailed(failure))
        case .drop(let why):
            staleMessages += 1
            logger.debug("dropped \(why)")
        case .rejoin(let text):
            throw DeclaredDown(text: text)
        case .exit(.finished(let text)):
            logDatasetStatistics(logger)
            logger.info("the coordinator ended the run: \(LogText.escape(text, limit: 400))", metadata: ["stale_messages_dropped": "\(staleMessages)"])
            return .finished
        case .exit(.coordinatorStopped(let text)):
            logDatasetStatistics(logger)
            logger.notice("the coordinator stopped before the run's end: \(LogText.escape(text, limit: 400))", metadata: ["stale_messages_dropped": "\(staleMessages)"])
            return .coordinatorStopped(text)
        case .exit(.runFailed(let text)):
            logDatasetStatistics(logger)
            logger.error("the run failed: \(LogText.escape(text, limit: 400))", metadata: ["stale_messages_dropped": "\(staleMessages)"])
            return .runFailed(text)
        case .exit(.rejected(let text)):
            return .rejected(text)
        }
        return nil
    }

    /// Whether step results carry this worker's spans: the run records a timeline and the
    /// coordinator can decode them.
    var sendsSpans: Bool { setup.config.logging.timeline && coordinatorMinor >= 1 }

    func runLease(_ order: WorkerInstance.StepOrder, logger: Logger) throws {
        let clock = ContinuousClock()
        let timeline = sendsSpans ? StepTimeline(leaseReceived: clock.now) : nil
        guard var replica else { return }  // the instance refuses leases before the state
        let step = order.step, rank = order.rank
        FaultPoint.reached(.beforeLease, step: step.ordinal)
        replica.prepare(step: step)

        // The ring is ready before the compute: when the sum overlaps the backward pass, the last
        // micro-batch's backward starts it.
        let nextMember = order.ring[(rank + 1) % order.ring.count]
        let next = nextMember.ringEndpoint
        // Under CURVE the next member is dialled expecting the key the coordinator announced for
        // it in this generation (`ringKeys`); a member without one is not dialled at all.
        // A sealed ring dials plainly and seals every frame under the key announced with this
        // lease instead.
        let nextKey = settings.security.isCurve && !ringSealed && ringKeysGeneration == generation ? ringKeys[nextMember.worker] : nil
        // A coordinator older than the three-part ring frames may have admitted workers that
        // cannot read them: then every frame goes in one piece.
        let zmqLink = try ZeroMQRingLink(loop: loop, generation: generation, rank: rank, worldSize: order.ring.count, next: next,
                                         nextKey: nextKey, lendsPayloads: coordinatorMinor >= Wire.ringMinor,
                                         stallTimeout: allReduceSettings.timeout, trustsGenerationTags: !ringSealed)
        let sealed = try sealedLink(zmqLink, step: step)
        let link = WatchedRingLink(sealed ?? zmqLink)
        link.discardsSends = FaultPoint.active(.cutRing, at: .beforeLease, step: step.ordinal)
        // A ring of one has nothing to overlap: its sum is local.
        let buckets = order.ring.count > 1 ? overlapBuckets : nil
        let reducer = try RingAllReduce(link: link, settings: allReduceSettings,
                                        firstSequence: buckets == nil ? step.wire : RingAllReduce.firstBucketSequence(step: step.wire))
        if timeline != nil || FaultPoint.armed?.point == .midAllReduce {
            var transfers = 0
            reducer.observer = { event in
                timeline?.record(event)
                if case .transfer = event {
                    transfers += 1
                    // The first ring step is done (its frames sent and received); the sum is not.
                    if transfers == 1 { FaultPoint.reached(.midAllReduce, step: step.ordinal) }
                }
            }
        }
        let count = replica.parameters.count, lossScale = replica.lossScale?.scale ?? 1
        // The overlapped sum, on the ring's thread from the last micro-batch's backward pass on.
        var pending: PendingSum?
        let startOverlap: (([[Float]], FinishingGradient) -> Void)? = buckets.map { buckets in
            { earlier, last in
                pending = reducer.startSum(buckets: buckets, complete: earlier, finishing: last, count: count,
                                           totalMicroBatches: order.totalMicroBatches, lossScale: lossScale)
            }
        }

        let computeStart = clock.now
        // The end of the previous micro-batch: the next one's data wait starts there.
        var previousEnd = computeStart
        // Samples are read and decoded ahead on their own threads while the model computes.
        let prepared = nextLease?.step == step ? nextLease?.prepared : nil
        nextLease = nil
        let computed: StepExecutor.Output
        do {
            computed = try StepExecutor(setup: setup).gradients(
                order.microBatches.map { $0.samples.map(Int.init) }, parameters: replica.parameters,
                dataEpochs: setup.dataEpochs(ofStep: step, microBatches: order.microBatches.map(\.id)), prepared: prepared,
                onQuarantine: { position, error in
                    // Left out of the gradient and of the reported losses; the coordinator sees
                    // it missing and counts it.
                    logger.warning("quarantined sample \(setup.training.catalogID(at: position) ?? "\(position)") of step \(step): \(error)")
                },
                onForwardEnded: { index in
                    if index == 0 {
                        FaultPoint.reached(.midForward, step: step.ordinal)
                        // The model marks only the boundary: the backward pass starts here.
                        FaultPoint.reached(.midBackward, step: step.ordinal)
                    }
                },
                onMicroBatch: { timing in
                    guard let timeline else { return }
                    timeline.record(.dataWait, index: timing.index, start: previousEnd, end: timing.dataReady)
                    timeline.record(.forward, index: timing.index, start: timing.dataReady, end: timing.forwardEnded)
                    timeline.record(.backward, index: timing.index, start: timing.forwardEnded, end: timing.ended)
                    previousEnd = timing.ended
                },
                onLastMicroBatch: startOverlap)
        } catch {
            // The ring's thread may be waiting for the rest of the gradient (abandoned now) or
            // for a neighbour: closing the link ends it within one receive.
            if let pending {
                zmqLink.close()
                _ = pending.wait()
            }
            guard let error = error as? DatasetError else { throw error }
            // A sample this worker cannot read: the coordinator decides whether the data or this
            // worker is at fault (a second member that cannot read it either stops the run).
            send(.stepFailed(Wire.StepFailed(code: error.code, step: step.wire, text: error.message, suspect: WorkerID(0),
                                             framesFromSuspect: 0)))
            logger.error("step \(step): \(error)")
            return
        }
        let gradients = computed.gradients, losses = computed.losses, waited = computed.waited
        let reduceStart = clock.now
        prepareNextLease(after: step, rank: rank, members: order.ring.count, microBatches: order.totalMicroBatches)
        let outcome: ReduceOutcome
        do {
            if let pending {
                outcome = try pending.wait().get()
            } else if let buckets {
                // No micro-batch here (or none left to overlap): every bucket is summed now, in
                // step with the members that overlap.
                outcome = try reducer.sum(buckets: buckets, complete: gradients, finishing: nil, count: count,
                                          totalMicroBatches: order.totalMicroBatches, lossScale: lossScale)
            } else {
                outcome = try reducer.sum(microBatches: gradients, count: count, totalMicroBatches: order.totalMicroBatches,
                                          lossScale: lossScale)
            }
        } catch {
            // A member is gone or stalled, or a link between two members failed: say which
            // neighbour stopped, so that the coordinator can find the member at fault.
            logger.warning("all-reduce of step \(step) failed: \(error)")
            var superseded = loop.newestControlGeneration.value > order.generation.rawValue
            if case .superseded = error { superseded = true }
            reportCollectiveFailure(error, order: order, link: link, superseded: superseded)
            noteDroppedFrames(zmqLink, step: step, logger: logger)
            return
        }
        noteDroppedFrames(zmqLink, step: step, logger: logger)
        let reduceEnd = clock.now
        switch outcome {
        case .sum(let sum):
            replica.apply(sum: sum, globalBatch: order.globalBatch, step: step)
        case .overflow where replica.lossScale != nil:
            // fp16: every replica saw the overflow; all skip the update and lower the scale.
            let scale = replica.lossScale?.scale ?? 1
            replica.skip(step: step)
            logger.notice("step \(step): the fp16 gradient sum overflowed at loss scale \(scale); update skipped, scale now \(replica.lossScale?.scale ?? 1)")
        case .overflow:
            throw TrainingError(code: "worker.overflow", "step \(step): the gradient sum overflowed")
        }
        self.replica = replica
        let reportStart = clock.now
        timeline?.record(.optimizer, start: reduceEnd, end: reportStart)
        var weightsHash = hexBytes(replica.weightsHash)
        if FaultPoint.active(.lie, at: .beforeCommit, step: step.ordinal) { weightsHash[0] ^= 0xFF }
        let state = order.attachState ? Wire.State(step: step.wire, tensors: replica.wireState.tensors) : nil
        timeline?.record(.report, start: reportStart, end: clock.now)
        // A notice that came during the step is announced before its result, so that the
        // coordinator deals the next step without this worker instead of finding out after.
        if let notice = monitor?.notice, !drainAnnounced { announceDrain(notice) }
        send(.stepResult(Wire.StepResult(
            step: step.wire, losses: losses, weightsHash: weightsHash,
            dataNanos: UInt64(waited.inSeconds * 1e9), computeNanos: UInt64(max(0, (computeStart.duration(to: reduceStart) - waited).inSeconds * 1e9)),
            reduceNanos: nanos(reduceStart, reduceEnd), reduceBytes: UInt64(zmqLink.bytesSent),
            state: state, spans: timeline?.spans)))
        FaultPoint.reached(.beforeCommit, step: step.ordinal)
    }

    /// Tells the coordinator that this attempt's collective failed here, naming the neighbour it
    /// stopped hearing from (a receive that timed out) or that stopped taking frames (a send
    /// that stalled). Nothing is sent when a newer generation ended the attempt: the coordinator
    /// already knows.
    func reportCollectiveFailure(_ error: Error, order: WorkerInstance.StepOrder, link: WatchedRingLink, superseded: Bool) {
        guard !superseded else { return }
        let size = order.ring.count
        let neighbour = link.failedDirection == .send ? (order.rank + 1) % size : (order.rank - 1 + size) % size
        let suspect = size > 1 ? order.ring[neighbour].worker : WorkerID(0)
        let code = (error as? CollectiveError)?.code ?? "collective.failed"
        send(.stepFailed(Wire.StepFailed(
            code: code, step: order.step.wire, text: "\(error)", suspect: suspect,
            framesFromSuspect: UInt32(clamping: link.failedDirection == .send ? Int(UInt32.max) : link.framesReceived))))
    }

    /// The ring link of this lease sealed under the key announced with it, or nil for a ring
    /// without sealed frames. The key is taken once: the next lease brings its own.
    func sealedLink(_ link: ZeroMQRingLink, step: Step) throws -> SealedRingLink? {
        guard ringSealed else { return nil }
        guard let key = leaseRingKey, ringKeysGeneration == generation else {
            throw TrainingError(code: "worker.ring-key", "step \(step): the coordinator dealt a lease of generation \(generation) "
                + "without its ring key (the last ring keys were of generation \(ringKeysGeneration))")
        }
        leaseRingKey = nil
        return try SealedRingLink(link, key: key, generation: generation.rawValue, epoch: step.wire)
    }

    /// Ring frames that could not be decoded were dropped (garbage from a stranger, a broken
    /// peer): the sum went on without them; the operator should know.
    func noteDroppedFrames(_ link: ZeroMQRingLink, step: Step, logger: Logger) {
        if link.stale > 0 {
            // Late frames of a previous ring, or replayed ones: fenced by generation, never summed.
            logger.notice("step \(step): dropped \(link.stale) ring frames of older generations")
        }
        guard link.droppedFrames > 0 else { return }
        logger.warning("step \(step): dropped \(link.droppedFrames) ring frames that could not be decoded (last: \(link.lastDropReason ?? "unknown"))")
    }

    /// Starts reading the samples this worker will most likely be dealt for the next step: with
    /// the same ring the coordinator deals it the same share of the next step's micro-batches.
    /// A wrong guess (the ring changed) costs only the reads; the lease that comes decides.
    func prepareNextLease(after step: Step, rank: Int, members: Int, microBatches: Int) {
        let config = setup.config
        var plan = self.plan ?? setup.makeStepPlan()
        guard plan.microBatchesPerStep == microBatches else { return }
        let share = StepPlan.deal(microBatches: microBatches, members: members)[rank]
        let batches = share.map { plan.microBatch($0, ofStep: step.next) }
        self.plan = plan
        if let prepared = try? setup.training.prepare(batches, threads: config.dataset.decodeThreads, prefetch: config.dataset.prefetch) {
            nextLease = (step.next, prepared)
        }
    }

    /// Fetches the state a `stateSource` names from the first of its servers that serves one
    /// that verifies (its stream's SHA-256, then its weights against the committed hash); nil when
    /// none does — the lease that follows is then answered `worker.no-state`, and the coordinator
    /// lets this worker join again.
    func fetchState(_ source: Wire.StateSource, generation: Generation, logger: Logger) -> Wire.State? {
        let optimizer: Optimizer
        do { optimizer = try makeOptimizer(setup, totalSteps: runSettings.totalSteps) } catch {
            logger.error("cannot build the optimizer for the state: \(error)")
            return nil
        }
        let fetcher = StateFetcher(sender: id, incarnation: incarnation, security: settings.security)
        for server in source.sources {
            let origin = server.worker == WorkerID(0) ? "the coordinator's state server" : "\(server.worker)'s state server"
            do {
                let got = try fetcher.fetch(from: server.ringEndpoint, origin: "\(origin) (\(LogText.escape(server.ringEndpoint)))",
                                            step: source.step, token: source.token, generation: generation,
                                            maxValues: Replica.valueBudget(layout: setup.model.layout, optimizer: optimizer),
                                            serverKey: server.worker == WorkerID(0) ? settings.security.curve?.serverKey : ringKeys[server.worker])
                let replica = try Replica(layout: setup.model.layout, wire: got.state, optimizer: optimizer)
                if !source.weightsHash.isEmpty, replica.weightsHash != source.weightsHash.hexString {
                    logger.warning("refused the state after step \(source.step) from \(origin): its weights hash \(replica.weightsHash.prefix(12)) is not the committed \(source.weightsHash.hexString.prefix(12))")
                    continue
                }
                let rate = Double(got.bytes) / max(got.seconds, 1e-9) / 1e9
                logger.info("fetched the state after step \(source.step) from \(origin): \(got.bytes) bytes in \(String(format: "%.2f", got.seconds)) s (\(String(format: "%.2f", rate)) GB/s)")
                fetched = replica
                return got.state
            } catch {
                logger.warning("could not fetch the state after step \(source.step) from \(origin): \(error)")
            }
        }
        logger.error("no server served the state after step \(source.step); the coordinator will let this worker join again")
        return nil
    }

    // MARK: Helpers

    func send(_ message: Wire.Message) {
        loop.sendControl(Wire.encode(message, generation: generation, sender: id, incarnation: incarnation))
    }

    /// The coordinator's announcement of a generation's ring keys: from now on the ring socket
    /// admits exactly these members (an older generation's announcement changes nothing).
    func admitRing(_ announced: Wire.RingKeys, generation: Generation) {
        guard generation >= ringKeysGeneration else { return }
        var keys: [WorkerID: CurveKey] = [:]
        for entry in announced.members {
            if let key = CurveKey(bytes: entry.key) { keys[entry.worker] = key }
        }
        ringKeys = keys
        ringKeysGeneration = generation
        leaseRingKey = announced.ringKey
        loop.admitRing(keys: Set(keys.values))
    }

    func decode(_ frame: ControlFrame) -> (Wire.Envelope, Wire.Message)? {
        do { return try Wire.decode(frame.bytes) } catch {
            logger.warning("dropped a control frame: \(error)")
            return nil
        }
    }

    /// Waits for a message of `kind` (or a reject), dropping anything else.
    func awaitMessage(kind: Wire.Kind, timeout: Duration) throws -> Wire.Message? {
        let deadline = ContinuousClock.now + timeout
        while case .item(let frame) = loop.control.pop(until: deadline) {
            guard let (envelope, message) = decode(frame) else { continue }
            if envelope.kind == .runConfig { coordinatorMinor = envelope.minor }
            if envelope.kind == kind || envelope.kind == .reject { return message }
        }
        return nil
    }

    func startHeartbeats(every interval: Duration) {
        let loop = self.loop, step = heartbeatStep, incarnation = self.incarnation, id = self.id
        let thread = Thread {
            while !loop.control.isClosed {
                let frame = Wire.encode(.heartbeat(Wire.Heartbeat(committedStep: step.value)),
                                        generation: .none, sender: id, incarnation: incarnation)
                loop.sendControl(frame)
                Thread.sleep(forTimeInterval: interval.inSeconds)
            }
        }
        thread.name = "grove-heartbeat"
        thread.start()
    }
}

func nanos(_ a: ContinuousClock.Instant, _ b: ContinuousClock.Instant) -> UInt64 {
    UInt64(max(0, a.duration(to: b).inSeconds * 1e9))
}

func hexBytes(_ hex: String) -> [UInt8] {
    var bytes: [UInt8] = []
    var iterator = hex.utf8.makeIterator()
    while let hi = iterator.next(), let lo = iterator.next() {
        func nibble(_ c: UInt8) -> UInt8 { c >= 97 ? c - 87 : c - 48 }
        bytes.append(nibble(hi) << 4 | nibble(lo))
    }
    return bytes
}

/// The buckets of a sum that overlaps the backward pass, from the model's order of completion;
/// nil when `reduce.bucket_kib` is 0.
func makeOverlapBuckets(_ config: ClusterConfig, model: any TrainableModel) -> GradientBuckets? {
    guard config.reduce.bucketKiB > 0 else { return nil }
    return GradientBuckets(count: model.layout.count, finalSuffixes: model.gradientSuffixes,
                           minimumElements: config.reduce.bucketKiB * 1024 / MemoryLayout<Float>.size)
}

func makeAllReduceSettings(_ config: ClusterConfig) throws -> AllReduceSettings {
    guard let mode = ReduceMode(rawValue: config.reduce.mode) else {
        throw TrainingError(code: "reduce.mode", "reduce.mode '\(config.reduce.mode)' is not one of exact, fp32, fp16")
    }
    let settings = AllReduceSettings(mode: mode, frameBytes: config.reduce.chunkKiB * 1024,
                                     timeout: .seconds(config.faultTolerance.collectiveTimeout))
    try settings.validate()
    return settings
}
