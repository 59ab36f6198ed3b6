import ArgumentParser
import Core
import Foundation
import Preemption
import Training
import Transport
import Wire

@main
struct WorkerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "worker",
        abstract: "Joins a Grove coordinator and trains until the run ends.",
        discussion: """
            Exit codes: 0 the run finished; 1 failure, here or of the run (a loss that is not \
            finite, a sample that cannot be read: starting again would not help); 3 refused by the coordinator; 4 the \
            coordinator went silent, or nobody answered at its address within --connect-timeout, \
            or the coordinator that started this worker died; 75 start me again: preempted \
            (SIGTERM or a cloud notice: the worker finished its step and left cleanly), or the \
            coordinator stopped before the run's end (it can be resumed); 130 stopped at once by \
            a second signal; 2 a malformed option.
            """,
        version: "worker \(GroveVersion.string) (wire protocol \(Wire.major).\(Wire.minor))"
    )

    @Option(name: .long, help: "The coordinator's control endpoint, e.g. tcp://10.0.0.2:7070.")
    var coordinator: String

    @Option(name: .long, help: "Address this worker's ring socket binds to (default: workers.bind of the run).")
    var bind: String?

    @Option(name: .long, help: ArgumentHelp(
        "Host or address the other workers dial to reach this worker's ring socket (default: the bound address; for 0.0.0.0 or ::, the address this host routes to the coordinator from).",
        valueName: "host"))
    var advertise: String?

    @Option(name: .customLong("connect-timeout"),
            help: "Seconds to wait for the coordinator's first answer before giving up (0.1...86400).")
    var connectTimeout: Double = 30

    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error or critical.")
    var logLevel = "info"

    @Option(name: .customLong("cache-dir"),
            help: "Where samples fetched from the coordinator are kept (default: GROVE_CACHE_DIR, else $XDG_CACHE_HOME/grove/samples or ~/.cache/grove/samples).")
    var cacheDirectory: String?

    @Option(name: .long, help: ArgumentHelp(
        "This worker's key file from `coordinator keys create` (mode 0600; default: GROVE_KEY_FILE, else the file's text in GROVE_KEY). With a key every connection uses CurveZMQ.",
        valueName: "file"))
    var key: String?

    @Flag(name: .long, help: "Let the ring bind beyond loopback without a key (a private network only: anyone who reaches the port can push frames into the ring).")
    var insecure = false

    @Option(name: .customLong("cache-mib"),
            help: "The most MiB the sample cache holds before it evicts the least recently used (1...16777216; default: GROVE_CACHE_MIB, else 4096).")
    var cacheMiB: Int?

    func run() throws {
        let logger = GroveLogging.bootstrap(label: "grove.worker", level: logLevel)
        // Refused here, before any socket exists: a malformed address used to leave the worker
        // silent forever.
        do throws(EndpointError) {
            _ = try Endpoint.parse(coordinator, origin: "--coordinator")
            if let bind { _ = try Endpoint(host: bind, port: nil) }
        } catch {
            let shown = error.origin == "host" ? EndpointError(value: error.value, origin: "--bind", problem: error.problem) : error
            logger.critical("\(shown)")
            throw ExitCode(2)
        }
        if let advertise {
            guard Endpoint.isValidHost(advertise), !AdvertisedAddress.isWildcard(advertise) else {
                logger.critical("--advertise: '\(advertise.escapedForLog)' is not an address or host name other workers can dial (0.0.0.0, :: and * name no host)")
                throw ExitCode(2)
            }
        }
        guard connectTimeout.isFinite, (0.1...86400).contains(connectTimeout) else {
            logger.critical("--connect-timeout: \(connectTimeout) is not a number of seconds in 0.1...86400")
            throw ExitCode(2)
        }
        let environment = ProcessInfo.processInfo.environment
        let cacheDirectory = self.cacheDirectory ?? environment["GROVE_CACHE_DIR"] ?? WorkerRuntime.defaultCacheDirectory()
        let cacheOrigin = self.cacheMiB != nil ? "--cache-mib" : "GROVE_CACHE_MIB"
        let cacheText = self.cacheMiB.map(String.init) ?? environment["GROVE_CACHE_MIB"] ?? "4096"
        guard let cacheMiB = Int(cacheText), (1...(1 << 24)).contains(cacheMiB) else {
            logger.critical("\(cacheOrigin): '\(cacheText.escapedForLog)' is not a number of MiB in 1...16777216")
            throw ExitCode(2)
        }
        guard !cacheDirectory.isEmpty else {
            logger.critical("--cache-dir (or GROVE_CACHE_DIR) is empty; name a directory")
            throw ExitCode(2)
        }
        ParentWatch.startIfRequested { parent in
            logger.error("the coordinator that started this worker (pid \(parent)) is gone; exiting")
        }
        var settings = WorkerRuntime.Settings(coordinator: coordinator, bindHost: bind)
        do {
            let keyFile = try SecuritySetup.workerKey(option: key)
            if keyFile != nil && insecure {
                logger.critical("--insecure and a key (--key, GROVE_KEY_FILE or GROVE_KEY) are both given: choose one")
                throw ExitCode(2)
            }
            settings.security = try SecuritySetup.worker(key: keyFile)
        } catch let error as SecurityError {
            logger.critical("\(error)")
            throw ExitCode(2)
        }
        settings.insecure = insecure
        if let bind {
            // Refused before connecting; a bind that comes from the run's workers.bind is checked
            // once the run's configuration has arrived.
            do {
                try SecuritySetup.checkWorkerBind(host: bind, origin: "--bind", security: settings.security, insecure: insecure)
            } catch {
                logger.critical("\(error)")
                throw ExitCode(2)
            }
        }
        settings.advertiseHost = advertise
        settings.connectTimeout = .seconds(connectTimeout)
        settings.cacheDirectory = cacheDirectory
        settings.cacheMaxBytes = cacheMiB << 20
        let runtime = WorkerRuntime(settings: settings, logger: logger)
        do {
            switch try runtime.run() {
            case .finished:
                return
            case .coordinatorStopped:
                // Nothing is wrong here: a supervisor (a Kubernetes Job, systemd) should start this
                // worker again, and not count it as done, so that it rejoins the resumed run.
                logger.notice("left the run: the coordinator stopped before its end; start this worker again to rejoin it when it resumes")
                throw ExitCode(PreemptionExit.code)
            case .runFailed:
                // Logged by the runtime; a supervisor should count this, not retry it forever.
                throw ExitCode(1)
            case .rejected(let reason):
                logger.error("the coordinator refused this worker: \(reason.escapedForLog)")
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
        } catch let error as CoordinatorUnreachable {
            logger.error("\(error)")
            throw ExitCode(4)
        } catch {
            logger.critical("worker failed: \(error)")
            throw ExitCode(1)
        }
    }
}
