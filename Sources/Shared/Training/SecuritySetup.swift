import Config
import Core
import Foundation
import Logging
import Transport

/// How a coordinator or worker secures its connections, decided once at start from its settings:
/// CurveZMQ with keys, plaintext on loopback, or plaintext beyond loopback only when explicitly
/// allowed. Everything else refuses to start, naming the setting that would allow it.
public enum SecuritySetup {
    /// Environment variables a worker reads its key from: a path, or the key file's text itself.
    public static let keyFileVariable = "GROVE_KEY_FILE"
    public static let keyVariable = "GROVE_KEY"

    /// The mode's one-line description for logs and `/status`.
    public static func describe(_ security: TransportSecurity, insecure: Bool) -> String {
        if let curve = security.curve {
            return "curve (CurveZMQ, key \(curve.identity.publicKey.z85)\(curve.authorized.map { ", \($0.count) authorized keys" } ?? ""))"
        }
        return insecure ? "insecure (no authentication, no encryption: security.insecure)" : "loopback only (no keys)"
    }

    /// Whether `host` is a loopback address (or a name that only resolves to one here).
    public static func isLoopback(_ host: String) -> Bool {
        let bare = host.hasPrefix("[") && host.hasSuffix("]") ? String(host.dropFirst().dropLast()) : host
        if bare == "localhost" || bare == "::1" { return true }
        let octets = bare.split(separator: ".")
        return octets.count == 4 && octets.first == "127" && octets.allSatisfy { UInt8($0) != nil }
    }

    /// The coordinator's security from `security.*`: keys from `security.keys`, or none, which is
    /// refused when a bind goes beyond loopback and `security.insecure` is off.
    ///
    /// - Parameter logger: where changes of `authorized_keys` and problems reading it are said.
    public static func coordinator(_ config: ClusterConfig, logger: Logger) throws -> TransportSecurity {
        let keys = config.security.keys
        guard !keys.isEmpty else {
            let beyond = [("coordinator.bind", config.coordinator.bind), ("workers.bind", config.workers.bind)]
                .filter { !isLoopback($0.1) }
            if let (setting, host) = beyond.first, !config.security.insecure {
                throw SecurityError(code: "security.keys-required",
                                    "\(setting) is \(host), beyond loopback, and security.keys is empty: anyone who reaches the port could join the run. Create keys with `coordinator keys create --dir KEYS` and set security.keys=KEYS, or set security.insecure=true to run without authentication on a private network")
            }
            return .none
        }
        if config.security.insecure {
            throw SecurityError(code: "security.conflict", "security.keys (\(keys)) and security.insecure are both set: choose one")
        }
        let identity = try KeyFile.load(path: "\(keys)/coordinator.key", origin: "security.keys")
        let authorized = try AuthorizedKeys(
            path: "\(keys)/authorized_keys",
            onProblem: { problem in logger.error("authorized keys: \(problem)") },
            onReload: { entries in logger.notice("authorized keys read again: \(entries.count) keys (\(entries.map { $0.name.isEmpty ? String($0.key.z85.prefix(8)) : $0.name }.joined(separator: ", ")))") })
        return .curve(CurveSettings(identity: identity.keyPair, authorized: authorized))
    }

    /// The key file local workers get (`GROVE_KEY_FILE`), or `--insecure`, for a coordinator's
    /// security.
    public static func localWorkerOptions(_ config: ClusterConfig, security: TransportSecurity) throws -> (arguments: [String], environment: [String: String]) {
        if security.isCurve {
            let path = "\(config.security.keys)/worker.key"
            // Checked here, so that the run fails naming the file rather than workers failing one by one.
            let file = try KeyFile.load(path: path, origin: "security.keys, for workers.local")
            guard let curve = security.curve, file.coordinatorKey == curve.identity.publicKey else {
                throw SecurityError(code: "security.key-mismatch", "\(path) names another coordinator key than \(config.security.keys)/coordinator.key")
            }
            return ([], [keyFileVariable: path])
        }
        return (config.security.insecure ? ["--insecure"] : [], [:])
    }

    /// A worker's key: `--key FILE`, else `GROVE_KEY_FILE`, else the text of `GROVE_KEY`; nil when
    /// none is given.
    public static func workerKey(option: String?, environment: [String: String] = ProcessInfo.processInfo.environment) throws -> KeyFile? {
        if let option { return try KeyFile.load(path: option, origin: "--key") }
        if let path = environment[keyFileVariable], !path.isEmpty { return try KeyFile.load(path: path, origin: keyFileVariable) }
        if let text = environment[keyVariable], !text.isEmpty { return try KeyFile.parse(text, source: "the environment variable \(keyVariable)") }
        return nil
    }

    /// A worker's security from its key (or none); a key file without the coordinator's key is refused.
    public static func worker(key: KeyFile?) throws -> TransportSecurity {
        guard let key else { return .none }
        guard let coordinatorKey = key.coordinatorKey else {
            throw SecurityError(code: "security.key-file", "the worker's key file has no `coordinator = …` line: the worker cannot tell its coordinator from an impostor")
        }
        return .curve(CurveSettings(identity: key.keyPair, serverKey: coordinatorKey))
    }

    /// Refuses a worker's ring bind beyond loopback without keys unless `--insecure` allows it.
    public static func checkWorkerBind(host: String, origin: String, security: TransportSecurity, insecure: Bool) throws {
        guard !security.isCurve, !insecure, !isLoopback(host) else { return }
        throw SecurityError(code: "security.keys-required",
                            "\(origin) is \(host), beyond loopback, and this worker has no key: anyone who reaches the ring port could push frames into the ring. Give the worker its key (--key FILE, or \(keyFileVariable)), or pass --insecure to run without authentication on a private network")
    }
}
