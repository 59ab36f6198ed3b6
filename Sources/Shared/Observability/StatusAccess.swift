import Core
import Foundation

/// Who may read the status server: with no tokens, anyone who reaches it (a loopback bind); with
/// tokens, a request must carry `Authorization: Bearer TOKEN` — the status token for every route,
/// or the metrics token for `/metrics` only (a Prometheus scraper that need not see the rest).
///
/// A refused request gets 401 and the words "not authorized", nothing about the run.
public struct StatusAccess: Sendable, Equatable {
    public var statusToken: String
    public var metricsToken: String?

    public init(statusToken: String, metricsToken: String? = nil) {
        self.statusToken = statusToken
        self.metricsToken = metricsToken
    }

    /// A fresh random token: 32 bytes from the system's generator, as 64 hex digits.
    public static func newToken() -> String {
        var generator = SystemRandomNumberGenerator()
        return (0..<32).map { _ in String(format: "%02x", UInt8.random(in: .min ... .max, using: &generator)) }.joined()
    }

    /// Whether `request` may read `path`.
    public func allows(_ request: HTTPRequest) -> Bool {
        guard let header = request.header("authorization"), header.count > 7, header.prefix(7).lowercased() == "bearer " else {
            return false
        }
        let presented = Array(header.dropFirst(7).trimmingCharacters(in: .whitespaces).utf8)
        if Self.same(presented, Array(statusToken.utf8)) { return true }
        if request.path == "/metrics", let metricsToken, Self.same(presented, Array(metricsToken.utf8)) { return true }
        return false
    }

    /// Compares without stopping at the first difference, so that timing does not tell an
    /// attacker how much of a guess was right.
    static func same(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count, !b.isEmpty else { return false }
        var difference: UInt8 = 0
        for index in a.indices { difference |= a[index] ^ b[index] }
        return difference == 0
    }

    /// Reads a token file: refused unless only its owner may read it; the token is its first line.
    public static func readToken(path: String, origin: String) throws(ObservabilityError) -> String {
        var info = stat()
        guard stat(path, &info) == 0 else {
            throw ObservabilityError(.invalidSetting, "\(path) (\(origin)): cannot read it: \(String(cString: strerror(errno)))")
        }
        guard info.st_mode & 0o077 == 0 else {
            throw ObservabilityError(.invalidSetting, "\(path) (\(origin)) has mode \(String(info.st_mode & 0o777, radix: 8)): a token others may read is refused; run `chmod 600 \(path)`")
        }
        let text = (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
        let token = text.split(separator: "\n").first.map { $0.trimmingCharacters(in: .whitespaces) } ?? ""
        guard token.count >= 16 else {
            throw ObservabilityError(.invalidSetting, "\(path) (\(origin)): the token is shorter than 16 characters")
        }
        return token
    }
}
