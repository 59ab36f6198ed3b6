import ArgumentParser
import Core
import Foundation
import Observability
import Training
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

struct StatusCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Prints a run's status for people: a live coordinator's (GET /status of its status server) or a finished run's summary.",
        discussion: "Exit codes: 0 printed; 1 the run directory has neither a live coordinator nor a summary, or the server did not answer."
    )

    @Option(name: .long, help: "The status server, e.g. http://127.0.0.1:41377 (logged by the coordinator at start).")
    var endpoint: String?

    @Option(name: .customLong("run-dir"), help: "A run directory: its live coordinator (status.json) or, once finished, its summary.json.")
    var runDirectory: String?

    @Flag(name: .long, help: "Print the raw JSON.")
    var json = false

    @Option(name: .customLong("token-file"), help: "A file holding the status server's bearer token (a run's status.token); --run-dir finds it by itself.")
    var tokenFile: String?

    func validate() throws {
        if (endpoint == nil) == (runDirectory == nil) {
            throw ValidationError("give exactly one of --endpoint and --run-dir")
        }
    }

    func run() throws {
        if let endpoint {
            try show(endpoint: endpoint, token: try tokenFile.map { try StatusAccess.readToken(path: $0, origin: "--token-file") })
            return
        }
        let directory = runDirectory!
        if let owner = RunDirectoryLock.liveOwner(of: directory) {
            let file = StatusFile(directory: directory)
            guard let status = try file.read(), status.pid == owner else {
                print("run directory \(directory) is in use by the coordinator with pid \(owner), which serves no status page "
                      + "(logging.status_port is -1, or it has not started it yet)")
                return
            }
            if !json { print("live: coordinator pid \(owner), status page \(status.url.escapedForLog)") }
            try show(endpoint: status.url, token: StatusFile.readToken(directory: directory))
            return
        }
        let summaryPath = directory + "/summary.json"
        guard FileManager.default.fileExists(atPath: summaryPath) else {
            FileHandle.standardError.write(Data("error: no coordinator is running in \(directory) and it has no summary.json\n".utf8))
            throw ExitCode(1)
        }
        if json {
            print(try String(contentsOfFile: summaryPath, encoding: .utf8))
            return
        }
        let summary = try RunSummary.read(from: summaryPath)
        print("finished: no coordinator is running in \(directory)")
        print(SummaryText.render(summary, runDirectory: directory))
    }

    func show(endpoint: String, token: String?) throws {
        let base = endpoint.hasSuffix("/") ? String(endpoint.dropLast()) : endpoint
        guard let url = URL(string: base + "/status"), url.scheme == "http" else {
            throw ValidationError("'\(endpoint.escapedForLog)' is not an http:// URL")
        }
        let body = try Self.fetch(url, token: token)
        if json {
            print(String(decoding: body, as: UTF8.self))
            return
        }
        guard let status = try? JSONSerialization.jsonObject(with: body) as? [String: Any] else {
            throw ValidationError("\(url) did not answer with a JSON object")
        }
        print(Self.render(status))
    }

    static func fetch(_ url: URL, token: String? = nil) throws -> Data {
        let done = DispatchSemaphore(value: 0)
        nonisolated(unsafe) var result: Result<Data, Error> = .failure(ValidationError("no answer from \(url) within 10 s"))
        var request = URLRequest(url: url)
        request.timeoutInterval = 10
        if let token { request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization") }
        URLSession.shared.dataTask(with: request) { data, response, error in
            if let error {
                result = .failure(ValidationError("cannot reach \(url): \(error.localizedDescription)"))
            } else if let http = response as? HTTPURLResponse, http.statusCode != 200 {
                let hint = http.statusCode == 401 ? " (not authorized: give --token-file RUN/status.token)" : ""
                result = .failure(ValidationError("\(url) answered HTTP \(http.statusCode)\(hint)"))
            } else {
                result = .success(data ?? Data())
            }
            done.signal()
        }.resume()
        _ = done.wait(timeout: .now() + 12)
        return try result.get()
    }

    /// The status as lines for a terminal. Every value comes from a server (and host names and
    /// ids from its workers), so each is escaped before it reaches the terminal.
    static func render(_ status: [String: Any]) -> String {
        let s = status.mapValues { value -> Any in (value as? String)?.escapedForLog ?? value }
        func number(_ key: String, _ format: String) -> String {
            (s[key] as? Double).map { String(format: format, $0) } ?? "-"
        }
        var lines = [
            "run \(s["run"] ?? "?"): \(s["phase"] ?? "?"), step \(s["step"] ?? 0)/\(s["total_steps"] ?? "?"), "
                + "\(s["samples"] ?? 0) samples, generation \(s["generation"] ?? 0)",
            "loss \(number("loss", "%.4f")), \(number("samples_per_second", "%.1f")) samples/s, "
                + "elapsed \(number("elapsed_seconds", "%.0f")) s, ETA \(number("eta_seconds", "%.0f")) s, "
                + "last checkpoint at step \((s["checkpoint_step"] as? Int).map(String.init) ?? "none")",
        ]
        for raw in s["members"] as? [[String: Any]] ?? [] {
            let member = raw.mapValues { value -> Any in (value as? String)?.escapedForLog ?? value }
            let heard = (member["last_heard_seconds_ago"] as? Double).map { String(format: "%.1f s ago", $0) } ?? "?"
            lines.append("  \(member["id"] ?? "?")  \(member["status"] ?? "?")  on \(member["host"] ?? "?"), heard \(heard)")
        }
        return lines.joined(separator: "\n")
    }
}
