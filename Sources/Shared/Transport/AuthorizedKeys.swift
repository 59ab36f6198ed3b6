import Core
import Foundation

/// The public keys a coordinator admits, read from an authorized-keys file and read again when
/// the file changes, so that a key removed from it is refused from then on (a revocation during a
/// run).
///
/// One key per line, then optionally a name; a line that starts with `#` and no key is a comment
/// (Z85 keys may contain `#`, so there are no comments after a key):
///
/// ```
/// rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7 fleet
/// ```
///
/// The file is checked at most once per `checkInterval` (its size, modification time and inode),
/// so asking on every handshake costs a `stat` now and then. A file that becomes unreadable or
/// malformed fails closed: no key is admitted until it reads again, and `onProblem` says why.
///
/// Thread-safe: the ZAP handler and the coordinator's loop both ask.
public final class AuthorizedKeys: @unchecked Sendable {
    public struct Entry: Sendable, Equatable {
        public var key: CurveKey
        public var name: String
        public init(key: CurveKey, name: String) {
            self.key = key
            self.name = name
        }
    }

    public let path: String
    public let checkInterval: Duration
    private let onProblem: @Sendable (String) -> Void
    private let onReload: @Sendable ([Entry]) -> Void
    // Guarded by `lock`.
    private let lock = NSLock()
    private var entries: [CurveKey: String] = [:]
    private var signature: [Int64] = []
    private var lastCheck: ContinuousClock.Instant?

    /// Reads the file once; throws naming it when it cannot be read or parsed (a coordinator must
    /// not start on a file it cannot read).
    public init(path: String, checkInterval: Duration = .seconds(1), onProblem: @escaping @Sendable (String) -> Void = { _ in },
                onReload: @escaping @Sendable ([Entry]) -> Void = { _ in }) throws(SecurityError) {
        self.path = path
        self.checkInterval = checkInterval
        self.onProblem = onProblem
        self.onReload = onReload
        let (parsed, signature) = try Self.read(path: path)
        entries = Dictionary(parsed.map { ($0.key, $0.name) }, uniquingKeysWith: { first, _ in first })
        self.signature = signature
        lastCheck = .now
    }

    /// Whether `key` is admitted now (after reading the file again if it changed).
    public func allows(_ key: CurveKey, now: ContinuousClock.Instant = .now) -> Bool {
        refreshIfDue(now: now)
        return lock.withLock { entries[key] != nil }
    }

    /// The name given to `key` in the file, if it is admitted.
    public func name(of key: CurveKey) -> String? {
        lock.withLock { entries[key] }
    }

    public var count: Int { lock.withLock { entries.count } }

    /// Reads the file again if `checkInterval` has passed since the last look and it changed.
    public func refreshIfDue(now: ContinuousClock.Instant = .now) {
        let due: Bool = lock.withLock {
            if let lastCheck, lastCheck.duration(to: now) < checkInterval { return false }
            lastCheck = now
            return true
        }
        guard due else { return }
        let current = Self.signature(path: path)
        guard current != lock.withLock({ signature }) else { return }
        do {
            let (parsed, signature) = try Self.read(path: path)
            lock.withLock {
                entries = Dictionary(parsed.map { ($0.key, $0.name) }, uniquingKeysWith: { first, _ in first })
                self.signature = signature
            }
            onReload(parsed)
        } catch {
            lock.withLock {
                entries = [:]
                signature = current
            }
            onProblem("\(error.message); no worker key is admitted until it reads again")
        }
    }

    /// Parses the file's text; `source` names it in errors.
    public static func parse(_ text: String, source: String) throws(SecurityError) -> [Entry] {
        var result: [Entry] = []
        for (index, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            // Only whole lines are comments, and a key may itself start with `#` (one of Z85's
            // characters): a first word that is a key is a key.
            let words = raw.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\r" })
            guard let first = words.first else { continue }
            let key = CurveKey(z85: String(first))
            if key == nil && first.hasPrefix("#") { continue }
            guard let key else {
                throw SecurityError(code: "security.authorized-keys",
                                    "\(source) line \(index + 1): \(LogText.escape(String(first), limit: 60)) is not a public key (expected 40 Z85 characters)")
            }
            result.append(Entry(key: key, name: words.dropFirst().joined(separator: " ")))
        }
        return result
    }

    private static func read(path: String) throws(SecurityError) -> ([Entry], [Int64]) {
        var info = stat()
        guard stat(path, &info) == 0 else {
            throw SecurityError(code: "security.authorized-keys", "authorized keys \(path): cannot read it: \(String(cString: strerror(errno)))")
        }
        // Anyone who can write the list can admit themselves.
        guard info.st_mode & 0o022 == 0 else {
            throw SecurityError(code: "security.authorized-keys",
                                "authorized keys \(path) has mode \(String(info.st_mode & 0o777, radix: 8)): others may write it; run `chmod 600 \(path)`")
        }
        guard let data = FileManager.default.contents(atPath: path), data.count <= 16 << 20 else {
            throw SecurityError(code: "security.authorized-keys", "authorized keys \(path): cannot read it")
        }
        return (try parse(String(decoding: data, as: UTF8.self), source: "authorized keys \(path)"), signature(path: path))
    }

    private static func signature(path: String) -> [Int64] {
        var info = stat()
        guard stat(path, &info) == 0 else { return [] }
        return [Int64(info.st_ino), Int64(info.st_size), Int64(info.st_mtim.tv_sec), Int64(info.st_mtim.tv_nsec), Int64(info.st_mode)]
    }
}
