import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// One HTTP exchange, as the S3 client needs it.
public struct HTTPRequest: Sendable {
    public var method: String
    public var url: URL
    public var headers: [(String, String)]
    public var body: [UInt8]

    public init(method: String, url: URL, headers: [(String, String)], body: [UInt8] = []) {
        self.method = method
        self.url = url
        self.headers = headers
        self.body = body
    }
}

public struct HTTPResponse: Sendable {
    public var status: Int
    /// Header names in lower case.
    public var headers: [String: String]
    public var body: [UInt8]

    public init(status: Int, headers: [String: String], body: [UInt8]) {
        self.status = status
        self.headers = headers
        self.body = body
    }
}

/// Sends one request and waits for its whole answer. Errors are `ObjectStoreError.transport`.
public protocol HTTPTransport: Sendable {
    func send(_ request: HTTPRequest) throws -> HTTPResponse
}

/// HTTP and HTTPS through Foundation's `URLSession` (libcurl on Linux, which the coordinator
/// already loads for `coordinator status`): TLS with the system's certificate store, proxies
/// from the usual variables, keep-alive between requests of one client.
///
/// Every request has a deadline (`timeout`, seconds without progress); the caller's thread
/// blocks until the answer or the deadline.
public final class URLSessionTransport: HTTPTransport {
    private let session: URLSession

    public init(timeout: Double = 60) {
        let configuration = URLSessionConfiguration.ephemeral
        configuration.timeoutIntervalForRequest = timeout
        configuration.timeoutIntervalForResource = max(timeout * 20, 600)
        configuration.httpMaximumConnectionsPerHost = 2
        configuration.requestCachePolicy = .reloadIgnoringLocalCacheData
        configuration.urlCache = nil
        session = URLSession(configuration: configuration)
    }

    deinit { session.finishTasksAndInvalidate() }

    public func send(_ request: HTTPRequest) throws -> HTTPResponse {
        var urlRequest = URLRequest(url: request.url)
        urlRequest.httpMethod = request.method
        for (name, value) in request.headers { urlRequest.setValue(value, forHTTPHeaderField: name) }
        if !request.body.isEmpty || request.method == "PUT" || request.method == "POST" {
            urlRequest.httpBody = Data(request.body)
        }
        let box = ResultBox()
        let done = DispatchSemaphore(value: 0)
        let task = session.dataTask(with: urlRequest) { data, response, error in
            if let error {
                box.result = .failure(ObjectStoreError(.transport, "\(request.method) \(request.url.absoluteString): \(error.localizedDescription)"))
            } else if let http = response as? HTTPURLResponse {
                var headers: [String: String] = [:]
                for (name, value) in http.allHeaderFields {
                    if let name = name as? String, let value = value as? String { headers[name.lowercased()] = value }
                }
                box.result = .success(HTTPResponse(status: http.statusCode, headers: headers, body: [UInt8](data ?? Data())))
            } else {
                box.result = .failure(ObjectStoreError(.transport, "\(request.method) \(request.url.absoluteString): no HTTP response"))
            }
            done.signal()
        }
        task.resume()
        done.wait()
        return try box.result!.get()
    }
}

/// `@unchecked Sendable`: written once by the completion handler before the semaphore is
/// signalled, read by the waiting thread after it.
private final class ResultBox: @unchecked Sendable {
    var result: Result<HTTPResponse, ObjectStoreError>?
}
