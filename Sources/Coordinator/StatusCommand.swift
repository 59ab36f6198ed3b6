import ArgumentParser
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

struct StatusCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Prints a running coordinator's status for people (GET /status of its status server)."
    )

    @Option(name: .long, help: "The status server, e.g. http://127.0.0.1:41377 (logged by the coordinator at start).")
    var endpoint: String

    @Flag(name: .long, help: "Print the raw JSON.")
    var json = false

    func run() throws {
        let base = endpoint.hasSuffix("/") ? String(endpoint.dropLast()) : endpoint
        guard let url = URL(string: base + "/status"), url.scheme == "http" else {
            throw ValidationError("--endpoint '\(endpoint)' is not an http:// URL")
        }
        let body = try Self.fetch(url)
        if json {
            print(String(decoding: body, as: UTF8.self))
            return
        }
        guard let status = try? JSONSerialization.jsonObject(with: body) as? [String: Any] else {
            throw ValidationError("\(url) did not answer with a JSON object")
        }
        print(Self.render(status))
    }

    static func fetch(_ url: URL) throws -> Data {
        let done = DispatchSemaphore(value: 0)
        nonisolated(unsafe) var result: Result<Data, Error> = .failure(ValidationError("no answer from \(url) within 10 s"))
        var request = URLRequest(url: url)
        request.timeoutInterval = 10
        URLSession.shared.dataTask(with: request) { data, response, error in
            if let error {
                result = .failure(ValidationError("cannot reach \(url): \(error.localizedDescription)"))
            } else if let http = response as? HTTPURLResponse, http.statusCode != 200 {
                result = .failure(ValidationError("\(url) answered HTTP \(http.statusCode)"))
            } else {
                result = .success(data ?? Data())
            }
            done.signal()
        }.resume()
        _ = done.wait(timeout: .now() + 12)
        return try result.get()
    }

    static func render(_ s: [String: Any]) -> String {
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
        for member in s["members"] as? [[String: Any]] ?? [] {
            let heard = (member["last_heard_seconds_ago"] as? Double).map { String(format: "%.1f s ago", $0) } ?? "?"
            lines.append("  \(member["id"] ?? "?")  \(member["status"] ?? "?")  on \(member["host"] ?? "?"), heard \(heard)")
        }
        return lines.joined(separator: "\n")
    }
}
