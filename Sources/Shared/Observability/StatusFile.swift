import Core
import Foundation

/// `status.json` in a run directory: where the live coordinator of that run serves its status
/// (`{"url": "http://127.0.0.1:40117", "pid": 4242, "run": "canopy"}`), so that
/// `coordinator status --run-dir DIR` finds it without anyone copying the address from a log.
///
/// Written when the status server starts and removed when the run finishes; a coordinator killed
/// with SIGKILL leaves it behind, so readers check that `pid` still owns the run directory.
public struct StatusFile: Sendable {
    public static let fileName = "status.json"

    public let path: String

    public init(directory: String) {
        path = directory + "/" + Self.fileName
    }

    /// What the file says.
    public struct Contents: Sendable, Equatable {
        public var url: String
        public var pid: Int32
        public var run: String
    }

    public func write(url: String, run: String, pid: Int32 = getpid()) throws {
        let text = "{\"url\": \(JSONQuoting.quoted(url)), \"pid\": \(pid), \"run\": \(JSONQuoting.quoted(run))}\n"
        do {
            try text.write(toFile: path, atomically: true, encoding: .utf8)
        } catch {
            throw ObservabilityError(.io, "cannot write \(path): \(error.localizedDescription)")
        }
    }

    /// The contents, or nil when there is no file; throws when it exists but is not one.
    public func read() throws -> Contents? {
        guard let data = FileManager.default.contents(atPath: path) else { return nil }
        guard let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
              let url = object["url"] as? String, let pid = (object["pid"] as? NSNumber)?.int32Value else {
            throw ObservabilityError(.io, "\(path) is not a status file (expected url, pid and run)")
        }
        return Contents(url: url, pid: pid, run: object["run"] as? String ?? "")
    }

    public func remove() {
        try? FileManager.default.removeItem(atPath: path)
    }

    /// `status.token` beside `status.json`: the bearer token of a status server bound beyond
    /// loopback, readable by its owner only.
    public static let tokenFileName = "status.token"

    /// Writes the token file afresh with mode 0600 (a new token each start).
    public static func writeToken(_ token: String, directory: String) throws {
        let path = directory + "/" + tokenFileName
        unlink(path)
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw ObservabilityError(.io, "cannot create \(path): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        _ = fchmod(fd, 0o600)
        do {
            try FileHandle(fileDescriptor: fd, closeOnDealloc: false).write(contentsOf: Data((token + "\n").utf8))
        } catch {
            throw ObservabilityError(.io, "cannot write \(path): \(error.localizedDescription)")
        }
    }

    /// The token of the run in `directory`, if its status server requires one.
    public static func readToken(directory: String) -> String? {
        let path = directory + "/" + tokenFileName
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return nil }
        return text.split(separator: "\n").first.map(String.init)
    }
}
