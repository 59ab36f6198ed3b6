import Core
import Foundation

/// AWS Signature Version 4 for requests signed in the `Authorization` header.
///
/// Pure: it takes the request's parts and a time and returns the headers to add; it reads no
/// clock and sends nothing. S3 rules apply to the path: each segment is URI-encoded once and
/// never normalised (`a//b` and `a/./b` are different keys). The signed headers are `host`,
/// `x-amz-content-sha256`, `x-amz-date`, `x-amz-security-token` with a session token, and any
/// extra header the caller passes in `headers` — nothing an HTTP library might add or rewrite.
public struct SignatureV4: Sendable {
    public var credentials: AWSCredentials
    public var region: String
    public var service: String

    public init(credentials: AWSCredentials, region: String, service: String = "s3") {
        self.credentials = credentials
        self.region = region
        self.service = service
    }

    /// The SHA-256 of an empty body, as S3 expects it in `x-amz-content-sha256`.
    public static let emptyPayloadHash = SHA256.hex([UInt8]())

    /// Lower-case hex SHA-256, as SigV4 writes every hash.
    public static func hexHash(_ bytes: [UInt8]) -> String { SHA256.hex(bytes) }
    static func hexHash(_ text: String) -> String { SHA256.hex(Array(text.utf8)) }

    /// A request to sign.
    public struct Request: Sendable {
        public var method: String
        /// The host header's value: `host` or `host:port` when the port is not the scheme's default.
        public var host: String
        /// The path as the server sees it before decoding, e.g. `/bucket/key`; not yet encoded.
        public var path: String
        /// Query parameters, not yet encoded; order does not matter.
        public var query: [(String, String)]
        /// Further headers to sign (names in any case).
        public var headers: [(String, String)]
        /// Lower-case hex SHA-256 of the body, or `UNSIGNED-PAYLOAD`.
        public var payloadHash: String

        public init(method: String, host: String, path: String, query: [(String, String)] = [],
                    headers: [(String, String)] = [], payloadHash: String) {
            self.method = method
            self.host = host
            self.path = path
            self.query = query
            self.headers = headers
            self.payloadHash = payloadHash
        }
    }

    /// The headers that sign `request` at `date`: `Authorization`, `x-amz-date`,
    /// `x-amz-content-sha256` and, with a session token, `x-amz-security-token`.
    ///
    /// - Parameter includeContentHash: false for services other than S3, which do not expect the
    ///   content hash header (the generic SigV4 test suite signs without it).
    public func sign(_ request: Request, date: Date, includeContentHash: Bool = true) -> [(String, String)] {
        let stamp = Self.timestamp(date)
        var added: [(String, String)] = [("x-amz-date", stamp)]
        if includeContentHash { added.append(("x-amz-content-sha256", request.payloadHash)) }
        if let token = credentials.sessionToken { added.append(("x-amz-security-token", token)) }
        let (canonical, signedHeaders) = canonicalRequest(request, extraHeaders: added)
        let scope = "\(stamp.prefix(8))/\(region)/\(service)/aws4_request"
        let stringToSign = "AWS4-HMAC-SHA256\n\(stamp)\n\(scope)\n\(SHA256.hex(Array(canonical.utf8)))"
        let signature = HMAC.sha256(key: signingKey(day: String(stamp.prefix(8))), stringToSign).hexString
        let authorization = "AWS4-HMAC-SHA256 Credential=\(credentials.accessKeyID)/\(scope), "
            + "SignedHeaders=\(signedHeaders), Signature=\(signature)"
        return [("Authorization", authorization)] + added
    }

    /// The canonical request and the `SignedHeaders` list.
    func canonicalRequest(_ request: Request, extraHeaders: [(String, String)]) -> (String, String) {
        var headers: [String: String] = ["host": request.host]
        for (name, value) in request.headers + extraHeaders {
            let trimmed = value.split(whereSeparator: { $0 == " " || $0 == "\t" }).joined(separator: " ")
            let key = name.lowercased()
            headers[key] = headers[key].map { $0 + "," + trimmed } ?? trimmed
        }
        let names = headers.keys.sorted()
        let canonicalHeaders = names.map { "\($0):\(headers[$0]!)\n" }.joined()
        let signed = names.joined(separator: ";")
        let text = [
            request.method,
            Self.encodePath(request.path),
            Self.canonicalQuery(request.query),
            canonicalHeaders,
            signed,
            request.payloadHash,
        ].joined(separator: "\n")
        return (text, signed)
    }

    func signingKey(day: String) -> [UInt8] {
        let dated = HMAC.sha256(key: Array(("AWS4" + credentials.secretAccessKey).utf8), day)
        let regional = HMAC.sha256(key: dated, region)
        let serviced = HMAC.sha256(key: regional, service)
        return HMAC.sha256(key: serviced, "aws4_request")
    }

    /// `20130524T000000Z`, UTC.
    public static func timestamp(_ date: Date) -> String {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let c = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second], from: date)
        func two(_ n: Int?) -> String { let s = String(n ?? 0); return s.count < 2 ? "0" + s : s }
        return "\(c.year ?? 0)\(two(c.month))\(two(c.day))T\(two(c.hour))\(two(c.minute))\(two(c.second))Z"
    }

    /// Sorted by encoded name, then value; `name=value` pairs joined by `&` (`lifecycle=` for a
    /// parameter without a value).
    public static func canonicalQuery(_ query: [(String, String)]) -> String {
        let encoded: [(name: String, value: String)] = query.map { (encode($0.0), encode($0.1)) }
        let sorted = encoded.sorted { (a: (name: String, value: String), b: (name: String, value: String)) -> Bool in
            a.name == b.name ? a.value < b.value : a.name < b.name
        }
        return sorted.map { $0.name + "=" + $0.value }.joined(separator: "&")
    }

    /// Each segment URI-encoded, slashes kept.
    public static func encodePath(_ path: String) -> String {
        path.split(separator: "/", omittingEmptySubsequences: false).map { encode(String($0)) }.joined(separator: "/")
    }

    /// RFC 3986 encoding as SigV4 wants it: unreserved characters kept, every other byte of the
    /// UTF-8 as `%XX` in upper-case hex.
    public static func encode(_ text: String) -> String {
        var out = ""
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                 UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."), UInt8(ascii: "~"):
                out.unicodeScalars.append(Unicode.Scalar(byte))
            default:
                let hex = Array("0123456789ABCDEF".unicodeScalars)
                out += "%" + String(hex[Int(byte >> 4)]) + String(hex[Int(byte & 15)])
            }
        }
        return out
    }
}
