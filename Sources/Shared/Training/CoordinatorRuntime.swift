import Checkpoint
import Config
import Coordination
import Dataset
import Core
import Foundation
import Logging
import Model
import Observability
import Optim
import Transport
import Wire

/// The coordinator process: a shell around `CoordinatorInstance`. It pumps control frames into
/// the instance, reads the clock for it, and carries out what it decides — sends, commits,
/// checkpoints, evaluations — and writes the run directory. Every protocol decision (who is
/// admitted, who is down or ejected, when a step commits or is dealt again, when the run stops)
/// lives in the instance.
///
/// One thread runs the loop below; the socket thread, the checkpoint writer and the evaluation
/// queue run beside it.
public final class CoordinatorRuntime {
    public struct Settings: Sendable {
        public var config: ClusterConfig
        /// Start over even if the run directory holds checkpoints (they are deleted).
        public var fromScratch = false
        /// The worker executable for `workers.local`; nil for the one beside this executable.
        public var workerExecutable: String?
        /// Called once the control socket is bound, with the endpoint workers dial: a launcher
        /// that starts its own workers (`coordinator slurm`) starts them here. An error ends the run.
        public var onListening: (@Sendable (Endpoint) throws -> Void)?
        public init(config: ClusterConfig) { self.config = config }
    }

    let settings: Settings
    let config: ClusterConfig
    let logger: Logger
    let directory: RunDirectory
    let incarnation = Incarnation.random()
    let loop: SocketLoop
    /// CurveZMQ with the cluster's keys, or plaintext (loopback, or `security.insecure`).
    let security: TransportSecurity
    /// The public key each member's control connection proved at its join (CURVE only): what
    /// `ringKeys` announces.
    var peerKeys: [[UInt8]: CurveKey] = [:]
    /// The ring key of the attempt being dealt (CURVE only).
    var ringKeys = AttemptRingKeys()
    let setup: RunSetup
    let runSettings: RunSettings
    var core: CoordinatorInstance!
    var plan: StepPlan
    /// The newest state the coordinator holds, and the step it belongs to.
    var state: Replica
    var firstLoss: Double?
    var lastLoss = Double.nan
    var resumedFrom: Int?
    /// The checkpoint this run started from (`training.init_from`), when this invocation loaded it.
    var initialState: InitialState?
    var lastCheckpoint: String?
    let started = ContinuousClock.now
    /// CPU time of this invocation only: a baseline of this process, plus each local worker's own.
    let cpuAccount = CPUAccount()
    var observer: RunObserver!
    var writer: BackgroundCheckpointWriter!
    /// The copy in object storage (`checkpoint.remote`), and what uploads to it.
    let remote: RemoteCheckpoints?
    var uploader: BackgroundUploader?
    var metrics: JSONLinesWriter!
    /// `redone.jsonl`: each attempt thrown away, with its cause.
    var redoneLog: JSONLinesWriter?
    /// Per-sample losses not yet written back to the catalog (manifest runs).
    var pendingLosses: [(sampleID: String, loss: Double, step: Int)] = []
    /// The newest evaluation on the held-out samples and its step.
    var lastValidation: (step: Int, report: ValidationReport)?
    var evaluations: EvaluationQueue
    /// Committed steps whose records wait for their evaluation, in step order.
    var pendingRecords: [PendingStepRecord] = []
    /// Training samples left out of their step as unreadable (`dataset.on_corrupt: quarantine`).
    var quarantinedSamples: [String] = []
    /// The worker processes this coordinator started (`workers.local`).
    var localWorkers: LocalWorkers?
    var stopReason: CoordinatorInstance.StopReason?
    var lastPublished = ContinuousClock.now
    /// Where workers without the files fetch them; announced in the run configuration.
    var sampleChannel: Wire.SampleChannel?
    /// Serves the state this coordinator holds to joiners when no member holds it (the first
    /// start, a resume); its own socket and thread.
    var stateServer: StateServer?
    /// The endpoint workers reach `stateServer` at.
    var stateEndpoint = ""
    /// The generation the state server checks requests against, kept by the event loop.
    let currentGeneration = Locked<UInt64>(0)
    /// States streamed from members, handed from the fetching threads to the event loop.
    let fetchedStates = Locked<[StateFetchOutcome]>([])

    public init(settings: Settings, logger: Logger) throws {
        self.settings = settings
        config = settings.config
        self.logger = logger
        security = try SecuritySetup.coordinator(config, logger: logger)
        loop = SocketLoop(security: security, onRefused: CoordinatorRuntime.refusalLogger(logger))
        directory = RunDirectory(path: config.run.directory, checkpointDirectory: config.checkpoint.directory)
        setup = try RunSetup(config: config)
        runSettings = try RunSettings(config)
        plan = setup.makeStepPlan()
        let optimizer = try makeOptimizer(setup, totalSteps: runSettings.totalSteps)
        state = Replica(layout: setup.model.layout, parameters: setup.model.initialParameters(seed: config.training.seed),
                        optimizer: optimizer, committedStep: 0)
        evaluations = EvaluationQueue(setup: setup)
        remote = try RemoteCheckpoints.configured(by: config)
    }

    var store: CheckpointStore { CheckpointStore(directory: directory.checkpoints, keep: config.checkpoint.keep) }
    var totalSteps: Int { runSettings.totalSteps }

    /// Runs the whole job; returns its summary (also written to `summary.json`).
    public func run() throws -> RunSummary {
        // One coordinator per run directory, and a finished run is left untouched.
        let lock = try RunDirectoryLock(directory: directory.path)
        defer { lock.release() }
        if !settings.fromScratch, let done = try directory.completedRun(totalSteps: totalSteps, store: store) {
            logger.notice("run \(config.run.name) is already complete at step \(done.steps) of \(totalSteps); raise training.steps to train further, or add --from-scratch to start over")
            return done
        }
        try prepareDirectory()
        observer = try makeObserver()
        let mode = SecuritySetup.describe(security, insecure: config.security.insecure)
        if config.security.insecure && !security.isCurve {
            logger.warning("INSECURE MODE: connections are neither authenticated nor encrypted (security.insecure); anyone who reaches these ports can join the run, read its configuration and change its weights")
        } else {
            logger.info("security: \(mode)")
        }
        observer.board.update { $0.security = mode }
        if let url = observer.statusURL {
            let token = observer.settings.statusAccess == nil ? "" : " (bearer token in \(directory.path)/\(StatusFile.tokenFileName))"
            logger.notice("status page at \(url)\(token)")
        }
        uploader = remote.map { remote in
            BackgroundUploader(
                remote: remote,
                onUploaded: { [logger] report in
                    let megabytes = Double(report.bytes) / 1_048_576
                    logger.notice("checkpoint of step \(report.step) uploaded to \(remote.storage.name)/\(remote.location.prefix)",
                                  metadata: ["MiB": "\(String(format: "%.2f", megabytes))", "seconds": "\(String(format: "%.3f", report.seconds))",
                                             "removed": "\(report.removed)"])
                },
                onError: { [logger] step, error in
                    logger.error("upload of the checkpoint of step \(step) failed (the remote keeps its earlier ones): \(error)")
                })
        }
        // Runs after the writer's close below: its last checkpoint is uploaded before the exit.
        defer { uploader?.close(timeout: config.faultTolerance.drainTimeout + 60) }
        writer = BackgroundCheckpointWriter(
            store: store,
            onWritten: { [logger, observer, uploader] info in
                observer?.checkpointWritten(step: info.step)
                logger.debug("checkpoint \(info.path) written", metadata: ["step": "\(info.step)"])
                uploader?.submit(info)
            },
            onError: { [logger] step, error in logger.error("checkpoint of step \(step) failed: \(error)") })
        defer { writer.close() }
        metrics = try JSONLinesWriter(path: directory.metrics)
        defer { metrics.close() }
        let redone = try JSONLinesWriter(path: directory.redone)
        redoneLog = redone
        defer { redone.close() }
        // After the control socket, so that a bad coordinator.bind is named with the control port.
        var samples: (server: ReplyServer, channel: Wire.SampleChannel)?
        defer { samples?.server.close() }
        let local = LocalWorkers(logger: logger)
        localWorkers = local
        defer {
            stateServer?.close()
            loop.close()
        }
        let signals = StopSignals(onSecond: { [logger] name in
            logger.critical("a second signal (\(name)): stopping at once")
            local.killAll()
            exit(130)
        })
        do {
            let endpoint = try loop.bindControl(Endpoint(host: config.coordinator.bind, port: UInt16(config.coordinator.port)).description,
                                                origin: "coordinator.bind and coordinator.port")
            logger.info("coordinator listening on \(endpoint)", metadata: ["run": "\(config.run.name)"])
            let advertised = try Self.advertisedEndpoint(bound: endpoint, advertise: config.coordinator.advertise)
            if config.workers.local == 0 || advertised.description != endpoint {
                logger.notice("workers join with: worker --coordinator \(advertised)")
            }
            observer.board.update { $0.coordinator = advertised.description }
            samples = try startSampleServer()
            sampleChannel = samples?.channel
            core = CoordinatorInstance(settings: makeInstanceSettings(), committed: state.committedStep)
            try startStateServer(advertisedHost: advertised.host)
            try settings.onListening?(advertised)
            if config.workers.local > 0 {
                let port = endpoint.split(separator: ":").last.map(String.init) ?? "\(config.coordinator.port)"
                let bind = config.coordinator.bind
                let host = AdvertisedAddress.isWildcard(bind) ? (bind.contains(":") ? "::1" : "127.0.0.1") : bind
                let options = try SecuritySetup.localWorkerOptions(config, security: security)
                try local.start(count: config.workers.local, executable: settings.workerExecutable ?? LocalWorkers.defaultExecutable(),
                                coordinator: Endpoint(host: host, port: UInt16(port)).description, logDirectory: directory.logs,
                                arguments: options.arguments, environment: options.environment)
            }
            try eventLoop(signals: signals)
        } catch {
            local.killAll()
            writer.waitUntilIdle()
            try? observer.finish(phase: .failed, metricsPath: directory.metrics)
            throw error
        }
        return try finish(local: local)
    }

    /// What workers on other hosts dial: `coordinator.advertise` (a host, keeping the bound port,
    /// or a whole `tcp://HOST:PORT` for a mapped port), or the bound endpoint, with a wildcard
    /// bind replaced by this host's first non-loopback address.
    static func advertisedEndpoint(bound: String, advertise: String) throws -> Endpoint {
        if advertise.hasPrefix("tcp://") {
            return try Endpoint.parse(advertise, origin: "coordinator.advertise")
        }
        return try AdvertisedAddress.endpoint(bound: bound, advertise: advertise.isEmpty ? nil : advertise, peer: nil)
    }

    // MARK: Loop

    func eventLoop(signals: StopSignals) throws {
        let tick = Duration.seconds(min(config.faultTolerance.heartbeatInterval / 4, 0.25))
        var signalled = false
        while !core.isFinished {
            // Installing a fetched state can hold this loop for seconds (a large model), so it
            // comes first: the messages that queued meanwhile, heartbeats among them, are all read
            // before the tick judges anyone's silence.
            takeFetchedStates()
            var next = loop.control.pop(until: .now + tick)
            while case .item(let frame) = next {
                handle(frame)
                next = loop.control.pop(until: .now)
            }
            let now = ContinuousClock.now
            if !signalled, let name = signals.stopRequested {
                signalled = true
                logger.notice("\(name) received: finishing the step in flight (up to \(config.faultTolerance.drainTimeout) s), then a checkpoint of the last commit; a second signal stops at once")
                carry(core.onStopRequested("\(name) received", now: now))
            }
            carry(core.onTick(now: now))
            takeEvaluations()
            if lastPublished.duration(to: now) >= .seconds(1) {
                lastPublished = now
                publishMembers(now: now)
            }
            if core.table.ring.isEmpty, core.counters.workersMax == 0, let failure = localWorkers?.failedBeforeJoining() {
                throw TrainingError(code: "run.workers-failed", failure)
            }
        }
    }

    func handle(_ frame: ControlFrame) {
        let now = ContinuousClock.now
        if let authorized = security.curve?.authorized {
            // The handshake admitted the key; the file may have dropped it since (a revocation
            // during the run). Its messages are dropped from then on, so a revoked member falls
            // silent and is declared down like any other.
            guard let key = frame.key, authorized.allows(key, now: now) else {
                let name = frame.key.map { "key \($0.z85)" } ?? "a connection without a key"
                let unlogged = loop.refusals.update { $0.onRefused(peer: name, reason: "revoked key", now: now) }
                if let unlogged {
                    logger.warning("dropped a control message from \(name): no longer in the authorized keys\(unlogged > 0 ? " (\(unlogged) more since the last line)" : "")")
                }
                return
            }
        }
        do {
            let (envelope, message) = try Wire.decode(frame.bytes)
            if case .join = message, let key = frame.key { peerKeys[frame.peer] = key }
            carry(core.onMessage(message, envelope: envelope, from: frame.peer, now: now))
        } catch {
            logger.warning("dropped a malformed control frame: \(error)")
            carry(core.onUndecodable(from: frame.peer, code: error.code, text: error.message))
        }
    }

    // MARK: Directives

    func carry(_ directives: [CoordinatorInstance.Directive]) {
        for directive in directives { carry(directive) }
    }

    func carry(_ directive: CoordinatorInstance.Directive) {
        switch directive {
        case .send(let message, let peer):
            if case .lease(let lease) = message, security.isCurve {
                // Announced first: the members' keys (their state servers admit exactly these),
                // and the key this attempt's ring frames are sealed under.
                let keys = lease.ring.compactMap { member in
                    core.table.members[member.worker].flatMap { peerKeys[$0.peer] }.map { Wire.RingKeys.Entry(worker: member.worker, key: $0.bytes) }
                }
                loop.sendControl(encode(.ringKeys(Wire.RingKeys(members: keys, ringKey: ringKeys.key(for: core.attempt, step: lease.step)))), to: peer)
            }
            loop.sendControl(encode(message), to: peer)
        case .broadcast(let message):
            let bytes = encode(message)
            for member in core.table.live { loop.sendControl(bytes, to: member.peer) }
        case .sendState(let peers, let step, let hash, let sources):
            sendStateSource(to: peers, step: step, hash: hash, sources: sources)
        case .commit(let commit):
            FaultPoint.reached(.coordinatorBeforeCommit, step: commit.step.ordinal)
            // In the attempt's generation: a member commits only the attempt it ran, and ejecting
            // a dissenter may already have started the next generation.
            let bytes = Wire.encode(.commit(Wire.Commit(step: commit.step.wire)), generation: commit.generation,
                                    sender: WorkerID(0), incarnation: incarnation)
            // A member that drained during the attempt is out of the table's live set by now, but
            // waits for this commit before it leaves.
            let drained = commit.members.compactMap { core.table.members[$0] }.filter { $0.downReason == "drained" }
            for member in core.table.live + drained { loop.sendControl(bytes, to: member.peer) }
            record(commit)
        case .fetchState(let step, let hash, let sources):
            fetchState(step: step, hash: hash, sources: sources)
        case .checkpoint(let step):
            checkpoint(step: step)
        case .evaluate(let step):
            evaluations.submit(step: step, state: state)
        case .rollback(let from, let to):
            logger.warning("no live worker holds the state of step \(from): going back to step \(to), the newest state this coordinator holds; steps \(Step(after: to))...\(from) are trained again")
            recordRedone(after: to, cause: .rollback)
            pendingRecords.removeAll { $0.metrics.step > to }
            do {
                try metrics.truncate(afterStep: to, in: directory)
            } catch {
                logger.error("could not drop the records of the steps after \(to) from \(directory.metrics): \(error)")
            }
        case .event(let event):
            report(event)
        case .finish(let reason):
            stopReason = reason
        }
    }

    func checkpoint(step: Int) {
        guard state.committedStep == step else { return }
        let (epoch, position) = plan.ledger(afterCommitted: step)
        let metadata = CheckpointMetadata(runName: config.run.name, step: step, dataEpoch: epoch, ledgerPosition: position,
                                          seed: config.training.seed, datasetManifestHash: setup.datasetHash,
                                          configurationHash: config.canonicalHash)
        writer.submit(Checkpoint(metadata: metadata, tensors: state.tensors))
        lastCheckpoint = directory.checkpoints + "/" + CheckpointStore.directoryName(step: step)
    }

    /// Logs a refused handshake (the ZAP handler calls it at most once per address a minute).
    static func refusalLogger(_ logger: Logger) -> @Sendable (String, String, String, Int) -> Void {
        { address, domain, reason, unlogged in
            logger.warning("refused a \(domain) connection from \(address.escapedForLog): \(reason)\(unlogged > 0 ? " (\(unlogged) more since the last line)" : "")")
        }
    }

    func encode(_ message: Wire.Message) -> [UInt8] {
        currentGeneration.value = core.generation.rawValue
        return Wire.encode(message, generation: core.generation, sender: WorkerID(0), incarnation: incarnation)
    }
}
