import Foundation
import Testing
@testable import ObjectStore

/// Signature V4 against AWS's published examples. The expected signatures are AWS's, not
/// computed here:
/// - S3: "Signature Calculations for the Authorization Header: Transferring Payload in a Single
///   Chunk", section "Examples: Signature Calculations" (Amazon S3 API Reference,
///   https://docs.aws.amazon.com/AmazonS3/latest/API/sig-v4-header-based-auth.html) — GET Object,
///   PUT Object, GET Bucket Lifecycle and GET Bucket (List Objects) for `examplebucket`.
/// - The generic SigV4 test suite (https://docs.aws.amazon.com/general/latest/gr/signature-v4-test-suite.html,
///   as shipped in awslabs/aws-c-auth `tests/aws-signing-test-suite/v4/<case>/header-signed-request.txt`):
///   get-vanilla, get-vanilla-query-order-key-case, get-utf8, get-vanilla-with-session-token.
@Suite struct SignatureV4Tests {
    static let s3Example = SignatureV4(
        credentials: AWSCredentials(accessKeyID: "AKIAIOSFODNN7EXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"),
        region: "us-east-1")
    /// 2013-05-24T00:00:00Z
    static let s3Date = Date(timeIntervalSince1970: 1_369_353_600)
    static let suiteCredentials = AWSCredentials(accessKeyID: "AKIDEXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")
    /// 2015-08-30T12:36:00Z
    static let suiteDate = Date(timeIntervalSince1970: 1_440_938_160)

    static func header(_ name: String, in headers: [(String, String)]) -> String? {
        headers.first { $0.0.lowercased() == name.lowercased() }?.1
    }

    static func signature(_ headers: [(String, String)]) -> String? {
        header("Authorization", in: headers)?.components(separatedBy: "Signature=").last
    }

    @Test func hmacMatchesRFC4231() {
        // RFC 4231 test cases 2 and 6 (a key longer than the block).
        #expect(HMAC.sha256(key: Array("Jefe".utf8), "what do ya want for nothing?").hexString
                == "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
        #expect(HMAC.sha256(key: [UInt8](repeating: 0xaa, count: 131), "Test Using Larger Than Block-Size Key - Hash Key First").hexString
                == "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54")
    }

    @Test func s3GetObjectWithRange() {
        let request = SignatureV4.Request(method: "GET", host: "examplebucket.s3.amazonaws.com", path: "/test.txt",
                                          headers: [("Range", "bytes=0-9")], payloadHash: SignatureV4.emptyPayloadHash)
        let headers = Self.s3Example.sign(request, date: Self.s3Date)
        #expect(Self.header("Authorization", in: headers) ==
                "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, "
                + "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, "
                + "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41")
        #expect(Self.header("x-amz-date", in: headers) == "20130524T000000Z")
        #expect(Self.header("x-amz-content-sha256", in: headers) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        // The documented intermediate value: the hash of the canonical request.
        let (canonical, _) = Self.s3Example.canonicalRequest(request, extraHeaders: [
            ("x-amz-date", "20130524T000000Z"), ("x-amz-content-sha256", SignatureV4.emptyPayloadHash)])
        #expect(SignatureV4.hexHash(canonical) == "7344ae5b7ee6c3e7e6b0fe0640412a37625d1fbfff95c48bbb2dc43964946972")
    }

    @Test func s3PutObjectEncodesTheDollarInTheKey() {
        let body = Array("Welcome to Amazon S3.".utf8)
        let hash = SignatureV4.hexHash(body)
        #expect(hash == "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072")
        let request = SignatureV4.Request(method: "PUT", host: "examplebucket.s3.amazonaws.com", path: "/test$file.text",
                                          headers: [("Date", "Fri, 24 May 2013 00:00:00 GMT"), ("x-amz-storage-class", "REDUCED_REDUNDANCY")],
                                          payloadHash: hash)
        let headers = Self.s3Example.sign(request, date: Self.s3Date)
        #expect(Self.header("Authorization", in: headers)?.contains("SignedHeaders=date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class,") == true)
        #expect(Self.signature(headers) == "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd")
        #expect(SignatureV4.encodePath("/test$file.text") == "/test%24file.text")
    }

    @Test func s3GetBucketLifecycleSignsAParameterWithoutValue() {
        let request = SignatureV4.Request(method: "GET", host: "examplebucket.s3.amazonaws.com", path: "/",
                                          query: [("lifecycle", "")], payloadHash: SignatureV4.emptyPayloadHash)
        #expect(Self.signature(Self.s3Example.sign(request, date: Self.s3Date)) == "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543")
    }

    @Test func s3ListObjectsSortsTheQuery() {
        let request = SignatureV4.Request(method: "GET", host: "examplebucket.s3.amazonaws.com", path: "/",
                                          query: [("prefix", "J"), ("max-keys", "2")], payloadHash: SignatureV4.emptyPayloadHash)
        #expect(Self.signature(Self.s3Example.sign(request, date: Self.s3Date)) == "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7")
    }

    /// The generic suite signs only `host` and `x-amz-date` (no content hash header: not S3).
    static func suiteSignature(path: String, query: [(String, String)] = [], token: String? = nil) -> [(String, String)] {
        var credentials = suiteCredentials
        credentials.sessionToken = token
        let signer = SignatureV4(credentials: credentials, region: "us-east-1", service: "service")
        let request = SignatureV4.Request(method: "GET", host: "example.amazonaws.com", path: path, query: query,
                                          payloadHash: SignatureV4.emptyPayloadHash)
        return signer.sign(request, date: suiteDate, includeContentHash: false)
    }

    @Test func suiteGetVanilla() {
        #expect(Self.header("Authorization", in: Self.suiteSignature(path: "/")) ==
                "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, "
                + "Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31")
    }

    @Test func suiteGetVanillaQueryOrderKeyCase() {
        let headers = Self.suiteSignature(path: "/", query: [("Param2", "value2"), ("Param1", "value1")])
        #expect(Self.signature(headers) == "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500")
    }

    @Test func suiteGetUTF8Path() {
        #expect(Self.signature(Self.suiteSignature(path: "/\u{1234}")) == "8318018e0b0f223aa2bbf98705b62bb787dc9c0e678f255a891fd03141be5d85")
    }

    @Test func suiteGetVanillaWithSessionToken() {
        let token = "6e86291e8372ff2a2260956d9b8aae1d763fbf315fa00fa31553b73ebf194267"
        let headers = Self.suiteSignature(path: "/", token: token)
        #expect(Self.header("Authorization", in: headers)?.contains("SignedHeaders=host;x-amz-date;x-amz-security-token,") == true)
        #expect(Self.signature(headers) == "07ec1639c89043aa0e3e2de82b96708f198cceab042d4a97044c66dd9f74e7f8")
        #expect(Self.header("x-amz-security-token", in: headers) == token)
    }

    @Test func encodingKeepsOnlyUnreservedCharacters() {
        #expect(SignatureV4.encode("AZaz09-_.~") == "AZaz09-_.~")
        #expect(SignatureV4.encode("a b+c/=&é") == "a%20b%2Bc%2F%3D%26%C3%A9")
        #expect(SignatureV4.encodePath("/bucket/a b//c") == "/bucket/a%20b//c")
        #expect(SignatureV4.timestamp(Date(timeIntervalSince1970: 0)) == "19700101T000000Z")
    }

    @Test func changingAnySignedPartChangesTheSignature() {
        let base = SignatureV4.Request(method: "GET", host: "h", path: "/k", payloadHash: SignatureV4.emptyPayloadHash)
        let reference = Self.signature(Self.s3Example.sign(base, date: Self.s3Date))
        var variants: [SignatureV4.Request] = []
        var other = base; other.method = "PUT"; variants.append(other)
        other = base; other.host = "h2"; variants.append(other)
        other = base; other.path = "/k2"; variants.append(other)
        other = base; other.query = [("a", "b")]; variants.append(other)
        other = base; other.payloadHash = "UNSIGNED-PAYLOAD"; variants.append(other)
        for variant in variants {
            #expect(Self.signature(Self.s3Example.sign(variant, date: Self.s3Date)) != reference)
        }
        #expect(Self.signature(Self.s3Example.sign(base, date: Self.s3Date.addingTimeInterval(1))) != reference)
    }
}
