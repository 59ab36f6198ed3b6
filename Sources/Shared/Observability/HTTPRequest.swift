/// A parsed HTTP/1.x request head. The status server reads only the head: GET and HEAD carry no
/// body, and anything else is refused before a body would be read.
public struct HTTPRequest: Sendable, Equatable {
    public var method: String
    /// The request target as sent, e.g. `/status?pretty=1`.
    public var target: String
    /// `target` without its query string.
    public var path: String
    /// The part of `target` after `?`, or empty.
    public var query: String
    /// `HTTP/1.1` or `HTTP/1.0`.
    public var version: String
    /// Header fields with lower-cased names, in arrival order.
    public var headers: [(name: String, value: String)]

    public static func == (a: HTTPRequest, b: HTTPRequest) -> Bool {
        a.method == b.method && a.target == b.target && a.version == b.version
            && a.headers.map(\.name) == b.headers.map(\.name) && a.headers.map(\.value) == b.headers.map(\.value)
    }

    /// The first value of header `name` (case-insensitive), if present.
    public func header(_ name: String) -> String? {
        let lower = name.lowercased()
        return headers.first { $0.name == lower }?.value
    }

    public enum ParseResult: Sendable, Equatable {
        /// The head is not complete yet: read more bytes.
        case incomplete
        /// A complete head; `consumed` bytes of the input belong to it.
        case complete(HTTPRequest, consumed: Int)
        /// Not an HTTP/1.x request head; the reason names the offending part.
        case invalid(String)
    }

    /// Parses the head at the start of `bytes` (request line and header fields up to the empty
    /// line). Pure: the server calls it after every read until it is no longer `.incomplete`.
    public static func parse(_ bytes: [UInt8]) -> ParseResult {
        guard let end = headEnd(bytes) else {
            // A head whose first line is already wrong need not wait for more bytes.
            if let firstLineEnd = bytes.firstIndex(of: 0x0A), case .invalid(let reason) = requestLine(withoutCR(bytes[..<firstLineEnd])) {
                return .invalid(reason)
            }
            return .incomplete
        }
        // Lines are split on bytes: as Characters, "\r\n" is one grapheme and never ends in "\r".
        let lines = bytes[..<end.head].split(separator: 0x0A, omittingEmptySubsequences: false).map(withoutCR)
        guard let first = lines.first else { return .invalid("empty request") }
        var request: HTTPRequest
        switch requestLine(first) {
        case .complete(let parsed, _): request = parsed
        case .invalid(let reason): return .invalid(reason)
        case .incomplete: return .invalid("bad request line")
        }
        for bytes in lines.dropFirst() where !bytes.isEmpty {
            guard let line = String(validating: bytes, as: UTF8.self) else { return .invalid("a header line is not UTF-8") }
            guard let colon = line.firstIndex(of: ":") else {
                return .invalid("header line '\(line.prefix(40))' has no colon")
            }
            let name = line[..<colon]
            guard !name.isEmpty, !name.contains(" "), !name.contains("\t") else {
                return .invalid("header name '\(name.prefix(40))' is empty or contains whitespace")
            }
            let value = line[line.index(after: colon)...].trimmingCharacters(in: " \t")
            request.headers.append((name.lowercased(), value))
        }
        return .complete(request, consumed: end.consumed)
    }

    /// The offsets of the head's end: where its text stops, and where the bytes after the empty
    /// line begin. Accepts bare LF line ends, as RFC 9112 allows a server to.
    private static func headEnd(_ bytes: [UInt8]) -> (head: Int, consumed: Int)? {
        var index = 0
        while index < bytes.count {
            if bytes[index] == 0x0A {
                if index + 1 < bytes.count, bytes[index + 1] == 0x0A { return (index, index + 2) }
                if index + 2 < bytes.count, bytes[index + 1] == 0x0D, bytes[index + 2] == 0x0A { return (index, index + 3) }
            }
            index += 1
        }
        return nil
    }

    /// A line without the CR of its CRLF: one CR, so that a stray one before it stays and is refused.
    private static func withoutCR(_ line: ArraySlice<UInt8>) -> ArraySlice<UInt8> {
        line.last == 0x0D ? line.dropLast() : line
    }

    /// The request line, without its line end.
    private static func requestLine(_ line: ArraySlice<UInt8>) -> ParseResult {
        guard let text = String(validating: line, as: UTF8.self) else { return .invalid("the request line is not UTF-8") }
        let parts = text.split(separator: " ", omittingEmptySubsequences: false)
        guard parts.count == 3 else {
            return .invalid("request line '\(text.prefix(60))' is not 'METHOD target HTTP/1.x'")
        }
        let method = String(parts[0]), target = String(parts[1]), version = String(parts[2])
        guard !method.isEmpty, method.unicodeScalars.allSatisfy({ ("A"..."Z").contains($0) }) else {
            return .invalid("method '\(method.prefix(20))' is not an upper-case token")
        }
        guard target.hasPrefix("/") else { return .invalid("request target '\(target.prefix(60))' does not start with /") }
        guard version == "HTTP/1.1" || version == "HTTP/1.0" else {
            return .invalid("version '\(version.prefix(20))' is not HTTP/1.0 or HTTP/1.1")
        }
        let query = target.firstIndex(of: "?")
        let request = HTTPRequest(
            method: method, target: target, path: String(target[..<(query ?? target.endIndex)]),
            query: query.map { String(target[target.index(after: $0)...]) } ?? "", version: version, headers: [])
        return .complete(request, consumed: line.count)
    }
}

extension Substring {
    fileprivate func trimmingCharacters(in set: String) -> String {
        var slice = self[...]
        while let first = slice.first, set.contains(first) { slice = slice.dropFirst() }
        while let last = slice.last, set.contains(last) { slice = slice.dropLast() }
        return String(slice)
    }
}
