import Core
import Foundation

/// A key file written by `coordinator keys create`: a name, a CurveZMQ key pair and, in a worker's
/// file, the coordinator's public key (the one key a worker must know to dial it).
///
/// ```
/// # Grove key pair: keep this file private (mode 0600)
/// name = fleet
/// public = <40 Z85 characters>
/// secret = <40 Z85 characters>
/// coordinator = <40 Z85 characters>
/// ```
///
/// A file holding a secret is refused when its group or others may read or write it: a key that
/// has been readable by others is no longer a secret.
public struct KeyFile: Sendable, Equatable {
    public var name: String
    public var keyPair: CurveKeyPair
    /// The coordinator's public key (in a worker's file).
    public var coordinatorKey: CurveKey?

    public init(name: String, keyPair: CurveKeyPair, coordinatorKey: CurveKey? = nil) {
        self.name = name
        self.keyPair = keyPair
        self.coordinatorKey = coordinatorKey
    }

    /// The file's text.
    public var text: String {
        var lines = ["# Grove key pair: keep this file private (mode 0600). Its public key goes into the",
                     "# coordinator's authorized_keys; the secret never leaves this file.",
                     "name = \(name)", "public = \(keyPair.publicKey.z85)", "secret = \(keyPair.secretKey.z85)"]
        if let coordinatorKey { lines.append("coordinator = \(coordinatorKey.z85)") }
        return lines.joined(separator: "\n") + "\n"
    }

    /// Parses a key file's text. `source` names it in errors (a path, or an environment variable).
    public static func parse(_ text: String, source: String) throws(SecurityError) -> KeyFile {
        var fields: [String: String] = [:]
        for (index, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") { continue }
            guard let equals = line.firstIndex(of: "=") else {
                throw SecurityError(code: "security.key-file", "\(source) line \(index + 1): expected `name = value` (the line is not shown: it may hold a secret)")
            }
            let key = line[..<equals].trimmingCharacters(in: .whitespaces)
            guard ["name", "public", "secret", "coordinator"].contains(key) else {
                throw SecurityError(code: "security.key-file", "\(source) line \(index + 1): unknown field \(LogText.escape(key, limit: 40)) (expected name, public, secret, coordinator)")
            }
            guard fields[key] == nil else {
                throw SecurityError(code: "security.key-file", "\(source) line \(index + 1): \(key) given twice")
            }
            fields[key] = line[line.index(after: equals)...].trimmingCharacters(in: .whitespaces)
        }
        func key(_ field: String) throws(SecurityError) -> CurveKey {
            guard let text = fields[field] else {
                throw SecurityError(code: "security.key-file", "\(source): no `\(field) = …` line")
            }
            guard let key = CurveKey(z85: text) else {
                throw SecurityError(code: "security.key-file", "\(source): \(field) is not a key (expected 40 Z85 characters, found \(text.count) characters)")
            }
            return key
        }
        let pair = CurveKeyPair(publicKey: try key("public"), secretKey: try key("secret"))
        guard pair.isConsistent else {
            throw SecurityError(code: "security.key-file", "\(source): the public key is not the secret key's (a pair from two files?)")
        }
        let coordinator: CurveKey? = fields["coordinator"] == nil ? nil : try key("coordinator")
        return KeyFile(name: fields["name"] ?? "", keyPair: pair, coordinatorKey: coordinator)
    }

    /// Reads and parses the file at `path`, refusing it when group or others may access it.
    ///
    /// - Parameter origin: the option or setting that named the file (`--key`, `security.keys`).
    public static func load(path: String, origin: String) throws(SecurityError) -> KeyFile {
        try PrivateFile.checkPrivate(path: path, origin: origin)
        return try parse(try PrivateFile.read(path: path, origin: origin), source: "\(path) (\(origin))")
    }

    /// Writes the file at `path` with mode 0600, refusing to overwrite one.
    public func write(to path: String) throws(SecurityError) {
        try PrivateFile.create(path: path, contents: text)
    }
}

/// Files that hold secrets: created 0600, and read only when nobody else may read them.
public enum PrivateFile {
    /// Refuses a file that is missing, not a regular file, or accessible by group or others.
    public static func checkPrivate(path: String, origin: String) throws(SecurityError) {
        var info = stat()
        guard stat(path, &info) == 0 else {
            throw SecurityError(code: "security.key-missing", "\(path) (\(origin)): cannot read it: \(String(cString: strerror(errno)))")
        }
        guard (info.st_mode & S_IFMT) == S_IFREG else {
            throw SecurityError(code: "security.key-file", "\(path) (\(origin)) is not a regular file")
        }
        let mode = info.st_mode & 0o777
        guard mode & 0o077 == 0 else {
            throw SecurityError(code: "security.key-permissions",
                                "\(path) (\(origin)) has mode \(String(mode, radix: 8)): a secret others may read is refused; run `chmod 600 \(path)` if nobody else has read it, or create new keys")
        }
    }

    static func read(path: String, origin: String) throws(SecurityError) -> String {
        guard let data = FileManager.default.contents(atPath: path), data.count <= 1 << 20 else {
            throw SecurityError(code: "security.key-missing", "\(path) (\(origin)): cannot read it")
        }
        return String(decoding: data, as: UTF8.self)
    }

    /// Creates `path` with mode 0600 (never wider, whatever the umask) and writes `contents`.
    public static func create(path: String, contents: String, replace: Bool = false) throws(SecurityError) {
        let flags = O_WRONLY | O_CREAT | O_CLOEXEC | (replace ? O_TRUNC : O_EXCL)
        let fd = open(path, flags, 0o600)
        guard fd >= 0 else {
            let reason = errno == EEXIST ? "it exists already (keys are never overwritten)" : String(cString: strerror(errno))
            throw SecurityError(code: "security.key-write", "cannot create \(path): \(reason)")
        }
        defer { close(fd) }
        _ = fchmod(fd, 0o600)
        do {
            let handle = FileHandle(fileDescriptor: fd, closeOnDealloc: false)
            try handle.write(contentsOf: Data(contents.utf8))
            try handle.synchronize()
        } catch {
            throw SecurityError(code: "security.key-write", "cannot write \(path): \(error.localizedDescription)")
        }
    }
}
