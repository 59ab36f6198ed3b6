/// A response of the status server. Every response closes its connection (`Connection: close`)
/// and forbids caching, so a polling page always sees fresh numbers.
public struct HTTPResponse: Sendable, Equatable {
    public var status: Int
    public var contentType: String
    public var body: [UInt8]
    /// Extra header fields (`Allow` on a 405, for instance).
    public var headers: [String: String]

    public init(status: Int = 200, contentType: String, body: [UInt8], headers: [String: String] = [:]) {
        self.status = status
        self.contentType = contentType
        self.body = body
        self.headers = headers
    }

    public init(status: Int = 200, contentType: String, text: String, headers: [String: String] = [:]) {
        self.init(status: status, contentType: contentType, body: Array(text.utf8), headers: headers)
    }

    /// The content type Prometheus expects from a text-format scrape.
    public static let prometheusContentType = "text/plain; version=0.0.4; charset=utf-8"

    public static func json(_ text: String, status: Int = 200) -> HTTPResponse {
        HTTPResponse(status: status, contentType: "application/json", text: text)
    }

    public static func html(_ text: String) -> HTTPResponse {
        HTTPResponse(contentType: "text/html; charset=utf-8", text: text)
    }

    public static func plain(_ text: String, status: Int = 200) -> HTTPResponse {
        HTTPResponse(status: status, contentType: "text/plain; charset=utf-8", text: text + "\n")
    }

    /// The reason phrase of the codes this server sends.
    public static func reason(_ status: Int) -> String {
        switch status {
        case 200: "OK"
        case 400: "Bad Request"
        case 401: "Unauthorized"
        case 404: "Not Found"
        case 405: "Method Not Allowed"
        case 408: "Request Timeout"
        case 431: "Request Header Fields Too Large"
        case 500: "Internal Server Error"
        case 503: "Service Unavailable"
        default: "Status \(status)"
        }
    }

    /// The bytes on the wire. `includeBody` is false for HEAD: same headers, no body.
    public func serialized(includeBody: Bool = true) -> [UInt8] {
        var head = "HTTP/1.1 \(status) \(Self.reason(status))\r\n"
        head += "Content-Type: \(contentType)\r\n"
        head += "Content-Length: \(body.count)\r\n"
        head += "Connection: close\r\n"
        head += "Cache-Control: no-store\r\n"
        for (name, value) in headers.sorted(by: { $0.key < $1.key }) { head += "\(name): \(value)\r\n" }
        head += "\r\n"
        return Array(head.utf8) + (includeBody ? body : [])
    }
}
