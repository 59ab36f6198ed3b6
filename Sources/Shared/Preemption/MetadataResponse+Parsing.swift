import Core
import Foundation

/// HTTP/1.1 response parsing, kept apart from the socket so it can be tested byte by byte.
extension MetadataResponse {
    /// Parses `raw` as one HTTP/1.1 response.
    ///
    /// Returns nil while the bytes are a valid but incomplete response and the peer has not
    /// closed (`atEOF == false`); the caller then reads more. A body is delimited by
    /// `Content-Length`, by chunked transfer encoding, or (neither given) by the end of the
    /// connection. `origin` names the endpoint for error messages.
    public static func parse(_ raw: [UInt8], atEOF: Bool, origin: String) throws(PreemptionError) -> MetadataResponse? {
        guard let headerEnd = find(crlfcrlf, in: raw, from: 0) else {
            if atEOF {
                throw PreemptionError(code: "preempt.malformed",
                                      "\(origin) closed the connection after \(raw.count) bytes, before the end of the response headers")
            }
            return nil
        }
        let head = String(decoding: raw[..<headerEnd], as: UTF8.self)
        var lines = head.split(separator: "\r\n", omittingEmptySubsequences: false)
        let statusLine = lines.removeFirst()
        let parts = statusLine.split(separator: " ", maxSplits: 2)
        guard parts.count >= 2, parts[0].hasPrefix("HTTP/1."), let status = Int(parts[1]), (100...999).contains(status) else {
            throw PreemptionError(code: "preempt.malformed", "\(origin) sent the status line '\(String(statusLine.prefix(80)).escapedForLog)', not HTTP/1.x")
        }
        var headers: [String: String] = [:]
        for line in lines where !line.isEmpty {
            guard let colon = line.firstIndex(of: ":") else {
                throw PreemptionError(code: "preempt.malformed", "\(origin) sent the header line '\(String(line.prefix(80)).escapedForLog)' without a colon")
            }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        let bodyStart = headerEnd + 4
        if headers["transfer-encoding"]?.lowercased().contains("chunked") == true {
            guard let body = try dechunk(raw, from: bodyStart, origin: origin) else {
                if atEOF {
                    throw PreemptionError(code: "preempt.malformed", "\(origin) closed the connection inside a chunked body")
                }
                return nil
            }
            return MetadataResponse(status: status, headers: headers, body: body)
        }
        if let lengthText = headers["content-length"] {
            guard let length = Int(lengthText), length >= 0 else {
                throw PreemptionError(code: "preempt.malformed", "\(origin) sent Content-Length '\(String(lengthText).escapedForLog)', not a byte count")
            }
            guard raw.count - bodyStart >= length else {
                if atEOF {
                    throw PreemptionError(code: "preempt.malformed",
                                          "\(origin) announced \(length) body bytes but closed after \(raw.count - bodyStart)")
                }
                return nil
            }
            return MetadataResponse(status: status, headers: headers, body: Array(raw[bodyStart..<(bodyStart + length)]))
        }
        // No length at all: the body runs to the end of the connection.
        return atEOF ? MetadataResponse(status: status, headers: headers, body: Array(raw[bodyStart...])) : nil
    }

    private static let crlfcrlf: [UInt8] = [13, 10, 13, 10]
    private static let crlf: [UInt8] = [13, 10]

    private static func find(_ needle: [UInt8], in haystack: [UInt8], from start: Int) -> Int? {
        guard haystack.count >= needle.count, start <= haystack.count - needle.count else { return nil }
        for i in start...(haystack.count - needle.count) where haystack[i] == needle[0] {
            if haystack[i..<(i + needle.count)].elementsEqual(needle) { return i }
        }
        return nil
    }

    /// The body of a chunked response starting at `start`, or nil if it is not complete yet.
    private static func dechunk(_ raw: [UInt8], from start: Int, origin: String) throws(PreemptionError) -> [UInt8]? {
        var body: [UInt8] = []
        var at = start
        while true {
            guard let lineEnd = find(crlf, in: raw, from: at) else { return nil }
            let sizeText = String(decoding: raw[at..<lineEnd], as: UTF8.self)
            let sizeField = sizeText.split(separator: ";", maxSplits: 1).first.map(String.init) ?? ""
            guard let size = Int(sizeField.trimmingCharacters(in: .whitespaces), radix: 16), size >= 0 else {
                throw PreemptionError(code: "preempt.malformed", "\(origin) sent the chunk size '\(String(sizeText.prefix(40)).escapedForLog)', not hexadecimal")
            }
            at = lineEnd + 2
            if size == 0 { return body }  // trailers, if any, are not needed
            // The size is the peer's claim (up to Int.max): compare it with what is left, never add
            // it to an offset, which can overflow.
            guard raw.count - at >= size, raw.count - at - size >= 2 else { return nil }
            body.append(contentsOf: raw[at..<(at + size)])
            at += size + 2
        }
    }
}
