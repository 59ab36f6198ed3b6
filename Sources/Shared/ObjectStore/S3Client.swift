import Core
import Foundation

/// An S3 bucket over HTTP(S), every request signed with Signature V4.
///
/// Requests that fail for a reason that may pass — no answer, a 5xx, S3's `SlowDown` — are sent
/// again up to `attempts` times with growing pauses; a 4xx is final at once and its error names
/// the request, the status, and S3's own code and message.
public final class S3Client: ObjectStorage {
    public let bucket: String
    public let environment: AWSEnvironment
    let transport: any HTTPTransport
    let clock: @Sendable () -> Date
    /// Tries per request (1 = no retry).
    public let attempts: Int

    public init(bucket: String, environment: AWSEnvironment, transport: any HTTPTransport = URLSessionTransport(),
                attempts: Int = 4, clock: @escaping @Sendable () -> Date = { Date() }) {
        self.bucket = bucket
        self.attempts = attempts
        self.environment = environment
        self.transport = transport
        self.clock = clock
    }

    public var name: String { "s3://\(bucket)" }

    // MARK: ObjectStorage

    public func put(_ key: String, _ bytes: [UInt8]) throws {
        _ = try send("PUT", key: key, body: bytes)
    }

    public func get(_ key: String, range: Range<Int>?) throws -> [UInt8]? {
        var headers: [(String, String)] = []
        if let range {
            if range.isEmpty { return [] }
            headers.append(("Range", "bytes=\(range.lowerBound)-\(range.upperBound - 1)"))
        }
        let response = try send("GET", key: key, headers: headers, allowNotFound: true)
        if response.status == 404 { return nil }
        if let range, response.body.count != range.count {
            throw ObjectStoreError(.badResponse, "GET \(describe(key)) bytes \(range): answered \(response.body.count) bytes")
        }
        return response.body
    }

    public func list(prefix: String) throws -> [ObjectInfo] {
        var found: [ObjectInfo] = []
        var token: String?
        repeat {
            var query = [("list-type", "2"), ("prefix", prefix)]
            if let token { query.append(("continuation-token", token)) }
            let response = try send("GET", key: nil, query: query)
            let text = String(decoding: response.body, as: UTF8.self)
            for entry in text.components(separatedBy: "<Contents>").dropFirst() {
                guard let key = XMLText.first("Key", in: entry), let size = XMLText.first("Size", in: entry).flatMap({ Int($0) }) else {
                    throw ObjectStoreError(.badResponse, "listing \(name)/\(prefix): an entry without Key or Size")
                }
                found.append(ObjectInfo(key: key, size: size))
            }
            token = XMLText.first("IsTruncated", in: text) == "true" ? XMLText.first("NextContinuationToken", in: text) : nil
        } while token != nil
        return found.sorted { $0.key < $1.key }
    }

    public func delete(_ key: String) throws {
        _ = try send("DELETE", key: key, allowNotFound: true)
    }

    public func startMultipart(_ key: String) throws -> String {
        let response = try send("POST", key: key, query: [("uploads", "")])
        guard let id = XMLText.first("UploadId", in: String(decoding: response.body, as: UTF8.self)), !id.isEmpty else {
            throw ObjectStoreError(.badResponse, "starting a multipart upload of \(describe(key)): no UploadId in the answer")
        }
        return id
    }

    public func putPart(_ key: String, uploadID: String, number: Int, _ bytes: [UInt8]) throws -> String {
        let response = try send("PUT", key: key, query: [("partNumber", String(number)), ("uploadId", uploadID)], body: bytes)
        guard let etag = response.headers["etag"], !etag.isEmpty else {
            throw ObjectStoreError(.badResponse, "part \(number) of \(describe(key)): no ETag in the answer")
        }
        return etag
    }

    public func completeMultipart(_ key: String, uploadID: String, parts: [(number: Int, etag: String)]) throws {
        var body = "<CompleteMultipartUpload xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
        for part in parts {
            body += "<Part><PartNumber>\(part.number)</PartNumber><ETag>\(XMLText.escape(part.etag))</ETag></Part>"
        }
        body += "</CompleteMultipartUpload>"
        let response = try send("POST", key: key, query: [("uploadId", uploadID)], body: Array(body.utf8))
        // S3 may answer 200 and still report a failure in the body.
        let text = String(decoding: response.body, as: UTF8.self)
        if text.contains("<Error>") {
            throw serverError("POST", key: key, status: response.status, body: response.body)
        }
    }

    public func abortMultipart(_ key: String, uploadID: String) throws {
        _ = try send("DELETE", key: key, query: [("uploadId", uploadID)], allowNotFound: true)
    }

    /// Creates the bucket (tests and first-time setup); no error if this account already owns it.
    public func createBucket() throws {
        var body: [UInt8] = []
        if environment.region != "us-east-1" {
            body = Array(("<CreateBucketConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><LocationConstraint>"
                          + environment.region + "</LocationConstraint></CreateBucketConfiguration>").utf8)
        }
        do {
            _ = try send("PUT", key: nil, body: body)
        } catch let error as ObjectStoreError where error.status == 409 && error.message.contains("BucketAlreadyOwnedByYou") {
            return
        }
    }

    // MARK: Requests

    func describe(_ key: String?) -> String { key.map { "\(name)/\($0)" } ?? name }

    /// Sends one signed request, retrying what may pass; returns a 2xx answer (or a 404 when
    /// `allowNotFound`), else throws.
    func send(_ method: String, key: String?, query: [(String, String)] = [], headers: [(String, String)] = [],
              body: [UInt8] = [], allowNotFound: Bool = false) throws -> HTTPResponse {
        let payloadHash = SHA256.hex(body)
        var lastError: ObjectStoreError?
        for attempt in 0..<max(1, attempts) {
            if attempt > 0 { Thread.sleep(forTimeInterval: 0.25 * Double(1 << (2 * (attempt - 1)))) }
            let request = signedRequest(method, key: key, query: query, headers: headers, body: body, payloadHash: payloadHash)
            let response: HTTPResponse
            do {
                response = try transport.send(request)
            } catch let error as ObjectStoreError {
                lastError = error
                continue
            }
            let code = XMLText.first("Code", in: String(decoding: response.body.prefix(4096), as: UTF8.self))
            // A missing key is an answer; a missing bucket is a mistake to report.
            if (200..<300).contains(response.status) || (allowNotFound && response.status == 404 && key != nil && code != "NoSuchBucket") {
                return response
            }
            let error = serverError(method, key: key, status: response.status, body: response.body)
            if response.status >= 500 || code == "SlowDown" || code == "RequestTimeout" {
                lastError = error
                continue
            }
            throw error
        }
        throw lastError!
    }

    func signedRequest(_ method: String, key: String?, query: [(String, String)], headers: [(String, String)],
                       body: [UInt8], payloadHash: String) -> HTTPRequest {
        let endpoint = environment.endpoint
        let scheme = endpoint.scheme!.lowercased()
        var host = endpoint.host!
        if let port = endpoint.port, !(scheme == "http" && port == 80), !(scheme == "https" && port == 443) {
            host += ":\(port)"
        }
        let path: String
        // A dotted bucket name as a host name would not match S3's wildcard TLS certificate.
        if environment.pathStyle || bucket.contains(".") {
            path = "/" + bucket + (key.map { "/" + $0 } ?? "")
        } else {
            host = bucket + "." + host
            path = "/" + (key ?? "")
        }
        let signer = SignatureV4(credentials: environment.credentials, region: environment.region)
        let signing = signer.sign(SignatureV4.Request(method: method, host: host, path: path, query: query,
                                                      headers: headers, payloadHash: payloadHash), date: clock())
        let queryText = SignatureV4.canonicalQuery(query)
        let url = URL(string: "\(scheme)://\(host)\(SignatureV4.encodePath(path))\(queryText.isEmpty ? "" : "?" + queryText)")!
        var all = headers + signing
        if !body.isEmpty { all.append(("Content-Type", "application/octet-stream")) }
        return HTTPRequest(method: method, url: url, headers: all, body: body)
    }

    func serverError(_ method: String, key: String?, status: Int, body: [UInt8]) -> ObjectStoreError {
        let text = String(decoding: body.prefix(4096), as: UTF8.self)
        let code = XMLText.first("Code", in: text)
        let message = XMLText.first("Message", in: text)
        var detail = "\(status)"
        if let code { detail += " \(code)" }
        if let message, !message.isEmpty { detail += ": \(message)" }
        if status == 403 { detail += " (credentials: \(environment.credentials))" }
        return ObjectStoreError(.server, "\(method) \(describe(key)) at \(environment.endpoint.absoluteString): \(detail)", status: status)
    }
}
