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
}
