import Foundation
import Testing
@testable import ObjectStore

/// The client's requests and its handling of answers, against a scripted transport.
@Suite struct S3ClientTests {
    final class Scripted: HTTPTransport, @unchecked Sendable {
        let lock = NSLock()
        var answers: [HTTPResponse]
        var sent: [HTTPRequest] = []
        init(_ answers: [HTTPResponse]) { self.answers = answers }
        func send(_ request: HTTPRequest) throws -> HTTPResponse {
            lock.lock()
            defer { lock.unlock() }
            sent.append(request)
            guard !answers.isEmpty else { throw ObjectStoreError(.transport, "no answer scripted") }
            return answers.removeFirst()
        }
    }

    static func client(_ transport: Scripted, endpoint: String = "http://127.0.0.1:9000", pathStyle: Bool = true) -> S3Client {
        let environment = AWSEnvironment(credentials: AWSCredentials(accessKeyID: "AKID", secretAccessKey: "secret"),
                                         region: "us-east-1", endpoint: URL(string: endpoint)!, pathStyle: pathStyle)
        return S3Client(bucket: "runs", environment: environment, transport: transport, attempts: 3, clock: { Date(timeIntervalSince1970: 0) })
    }

    static func ok(_ body: String = "", headers: [String: String] = [:]) -> HTTPResponse {
        HTTPResponse(status: 200, headers: headers, body: Array(body.utf8))
    }

    @Test func pathStyleAndVirtualHostedURLs() throws {
        let transport = Scripted([Self.ok(), Self.ok(), Self.ok()])
        try Self.client(transport).put("p/step-000010/a b.bin", [1, 2])
        #expect(transport.sent[0].url.absoluteString == "http://127.0.0.1:9000/runs/p/step-000010/a%20b.bin")
        #expect(transport.sent[0].method == "PUT")
        #expect(transport.sent[0].body == [1, 2])
        let auth = transport.sent[0].headers.first { $0.0 == "Authorization" }?.1 ?? ""
        #expect(auth.hasPrefix("AWS4-HMAC-SHA256 Credential=AKID/19700101/us-east-1/s3/aws4_request, SignedHeaders=host;x-amz-content-sha256;x-amz-date, "))
        try Self.client(transport, endpoint: "https://s3.us-east-1.amazonaws.com", pathStyle: false).put("k", [])
        #expect(transport.sent[1].url.absoluteString == "https://runs.s3.us-east-1.amazonaws.com/k")
        let aws = AWSEnvironment(credentials: AWSCredentials(accessKeyID: "AKID", secretAccessKey: "secret"), region: "us-east-1",
                                 endpoint: URL(string: "https://s3.us-east-1.amazonaws.com")!, pathStyle: false)
        try S3Client(bucket: "runs.example", environment: aws, transport: transport).put("k", [])
        #expect(transport.sent[2].url.absoluteString == "https://s3.us-east-1.amazonaws.com/runs.example/k",
                "a dotted bucket goes path-style, or TLS would not match the certificate")
    }

    @Test func aRefusalNamesTheRequestStatusCodeAndServerMessage() {
        let denied = HTTPResponse(status: 403, headers: [:], body: Array(
            "<?xml version=\"1.0\"?><Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>".utf8))
        let transport = Scripted([denied])
        do {
            try Self.client(transport).put("k", [1])
            Issue.record("a 403 was taken as success")
        } catch let error as ObjectStoreError {
            #expect(error.status == 403)
            #expect(error.message == "PUT s3://runs/k at http://127.0.0.1:9000: 403 AccessDenied: Access Denied (credentials: access key AKID from given)")
            #expect(transport.sent.count == 1, "a 4xx is not retried")
        } catch {
            Issue.record("\(error)")
        }
    }

    @Test func serverErrorsAndLostConnectionsAreRetried() throws {
        let busy = HTTPResponse(status: 503, headers: [:], body: Array("<Error><Code>SlowDown</Code></Error>".utf8))
        let transport = Scripted([busy, Self.ok("abc")])
        #expect(try Self.client(transport).get("k", range: nil) == Array("abc".utf8))
        #expect(transport.sent.count == 2)
        let failing = Scripted([busy, busy, busy])
        #expect(throws: ObjectStoreError.self) { _ = try Self.client(failing).get("k", range: nil) }
        #expect(failing.sent.count == 3, "gives up after its attempts")
    }

    @Test func aMissingKeyIsNilAndARangeIsAsked() throws {
        let transport = Scripted([HTTPResponse(status: 404, headers: [:], body: []), Self.ok("bcd")])
        let client = Self.client(transport)
        #expect(try client.get("gone", range: nil) == nil)
        #expect(try client.get("k", range: 1..<4) == Array("bcd".utf8))
        #expect(transport.sent[1].headers.contains { $0.0 == "Range" && $0.1 == "bytes=1-3" })
    }

    @Test func listingFollowsContinuationTokensAndDecodesKeys() throws {
        let page1 = "<ListBucketResult><IsTruncated>true</IsTruncated><NextContinuationToken>t/2+</NextContinuationToken>"
            + "<Contents><Key>p/b&amp;c</Key><Size>3</Size></Contents></ListBucketResult>"
        let page2 = "<ListBucketResult><IsTruncated>false</IsTruncated><Contents><Key>p/a</Key><Size>1</Size></Contents></ListBucketResult>"
        let transport = Scripted([Self.ok(page1), Self.ok(page2)])
        #expect(try Self.client(transport).list(prefix: "p/") == [ObjectInfo(key: "p/a", size: 1), ObjectInfo(key: "p/b&c", size: 3)])
        #expect(transport.sent[0].url.absoluteString == "http://127.0.0.1:9000/runs?list-type=2&prefix=p%2F")
        #expect(transport.sent[1].url.absoluteString == "http://127.0.0.1:9000/runs?continuation-token=t%2F2%2B&list-type=2&prefix=p%2F")
    }

    @Test func aCompletionThatFailsInsideA200IsAnError() {
        let transport = Scripted([Self.ok("<Error><Code>InternalError</Code><Message>try again</Message></Error>")])
        #expect(throws: ObjectStoreError.self) {
            try Self.client(transport).completeMultipart("k", uploadID: "u", parts: [(1, "\"e\"")])
        }
    }
}
