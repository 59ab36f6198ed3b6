import Foundation
import Transport

/// A cluster's keys in one directory, as `coordinator keys` makes and changes them:
///
/// - `coordinator.key`: the coordinator's key pair (mode 0600; never leaves the coordinator);
/// - `worker.key`: the worker key pair shared by a fleet (spot workers that come and go), with
///   the coordinator's public key in it — all a worker needs (also what local workers use);
/// - `worker-NAME.key`: a key pair of one machine, made by `add`;
/// - `authorized_keys`: the worker public keys the coordinator admits, one per line with its
///   name. Deleting a line (`revoke`) refuses that key from then on, during a run too.
///
/// Every file is written with mode 0600, and no key file is ever overwritten.
public struct KeyDirectory {
    public let path: String
    public static let fleetName = "fleet"

    public init(path: String) { self.path = path }

    public var coordinatorKeyPath: String { path + "/coordinator.key" }
    public var authorizedKeysPath: String { path + "/authorized_keys" }
    public func workerKeyPath(name: String) -> String {
        name == Self.fleetName ? path + "/worker.key" : path + "/worker-\(name).key"
    }

    /// Creates the directory (mode 0700) with a coordinator key pair, the fleet's worker key and
    /// one key per name in `machines`, all of them authorized. Returns the files written.
    public func create(machines: [String] = []) throws -> [String] {
        for name in machines { try Self.checkName(name) }
        if FileManager.default.fileExists(atPath: coordinatorKeyPath) {
            throw SecurityError(code: "security.key-write", "\(coordinatorKeyPath) exists already: keys are never overwritten (add a worker with `coordinator keys add`)")
        }
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let coordinator = KeyFile(name: "coordinator", keyPair: try CurveKeyPair.generate())
        try coordinator.write(to: coordinatorKeyPath)
        var written = [coordinatorKeyPath]
        var authorized: [AuthorizedKeys.Entry] = []
        for name in [Self.fleetName] + machines {
            let worker = KeyFile(name: name, keyPair: try CurveKeyPair.generate(), coordinatorKey: coordinator.keyPair.publicKey)
            try worker.write(to: workerKeyPath(name: name))
            written.append(workerKeyPath(name: name))
            authorized.append(AuthorizedKeys.Entry(key: worker.keyPair.publicKey, name: name))
        }
        try writeAuthorized(authorized)
        written.append(authorizedKeysPath)
        return written
    }

    /// Makes a key pair for one more machine and authorizes it; returns its file.
    public func add(name: String) throws -> String {
        try Self.checkName(name)
        let coordinator = try KeyFile.load(path: coordinatorKeyPath, origin: "coordinator keys --dir")
        var entries = try readAuthorized()
        guard !entries.contains(where: { $0.name == name }) else {
            throw SecurityError(code: "security.key-write", "\(authorizedKeysPath) already has a key named \(name)")
        }
        let worker = KeyFile(name: name, keyPair: try CurveKeyPair.generate(), coordinatorKey: coordinator.keyPair.publicKey)
        try worker.write(to: workerKeyPath(name: name))
        entries.append(AuthorizedKeys.Entry(key: worker.keyPair.publicKey, name: name))
        try writeAuthorized(entries)
        return workerKeyPath(name: name)
    }

    /// Removes every key named `name` from the authorized keys; a running coordinator refuses
    /// it within a second. Returns how many keys were removed.
    public func revoke(name: String) throws -> Int {
        let entries = try readAuthorized()
        let kept = entries.filter { $0.name != name }
        guard kept.count < entries.count else {
            throw SecurityError(code: "security.no-such-key", "\(authorizedKeysPath) has no key named \(name)")
        }
        try writeAuthorized(kept)
        return entries.count - kept.count
    }

    public func readAuthorized() throws -> [AuthorizedKeys.Entry] {
        guard let text = try? String(contentsOfFile: authorizedKeysPath, encoding: .utf8) else {
            throw SecurityError(code: "security.authorized-keys", "cannot read \(authorizedKeysPath)")
        }
        return try AuthorizedKeys.parse(text, source: authorizedKeysPath)
    }

    /// Writes the list whole to a new file and renames it into place: a coordinator reading it
    /// meanwhile sees the old list or the new one, never half of one.
    func writeAuthorized(_ entries: [AuthorizedKeys.Entry]) throws {
        let text = "# Worker keys this coordinator admits: KEY NAME. Delete a line to revoke a key, during a run too.\n"
            + entries.map { "\($0.key.z85) \($0.name)\n" }.joined()
        let temporary = authorizedKeysPath + ".new"
        unlink(temporary)
        try PrivateFile.create(path: temporary, contents: text)
        guard rename(temporary, authorizedKeysPath) == 0 else {
            throw SecurityError(code: "security.key-write", "cannot replace \(authorizedKeysPath): \(String(cString: strerror(errno)))")
        }
    }

    static func checkName(_ name: String) throws {
        guard !name.isEmpty, name.count <= 64, name != fleetName,
              name.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" || $0 == ".") }) else {
            throw SecurityError(code: "security.key-name", "worker key name '\(name.escapedForLog)': use 1 to 64 letters, digits, '-', '_' or '.' (and not '\(fleetName)')")
        }
    }
}
