import Foundation
import Testing
@testable import ObjectStore

@Suite struct AWSEnvironmentTests {
    /// A home directory with the given `.aws/credentials` and `.aws/config`.
    static func home(credentials: String? = nil, config: String? = nil) -> String {
        let home = FileManager.default.temporaryDirectory.appendingPathComponent("grove-aws-\(UUID().uuidString)").path
        try? FileManager.default.createDirectory(atPath: home + "/.aws", withIntermediateDirectories: true)
        if let credentials { #expect(FileManager.default.createFile(atPath: home + "/.aws/credentials", contents: Data(credentials.utf8))) }
        if let config { #expect(FileManager.default.createFile(atPath: home + "/.aws/config", contents: Data(config.utf8))) }
        return home
    }

    @Test func theEnvironmentComesFirst() throws {
        let home = Self.home(credentials: "[default]\naws_access_key_id = FILEKEY\naws_secret_access_key = filesecret\n")
        defer { try? FileManager.default.removeItem(atPath: home) }
        let resolved = try AWSEnvironment.resolve(environment: [
            "HOME": home, "AWS_ACCESS_KEY_ID": "ENVKEY", "AWS_SECRET_ACCESS_KEY": "envsecret", "AWS_SESSION_TOKEN": "tok",
            "AWS_REGION": "eu-west-3", "AWS_DEFAULT_REGION": "us-west-2", "AWS_ENDPOINT_URL": "http://127.0.0.1:9000",
            "AWS_ENDPOINT_URL_S3": "http://127.0.0.1:9001/"])
        #expect(resolved.credentials == AWSCredentials(accessKeyID: "ENVKEY", secretAccessKey: "envsecret", sessionToken: "tok", source: "the environment"))
        #expect(resolved.region == "eu-west-3")
        #expect(resolved.endpoint.absoluteString == "http://127.0.0.1:9001")
        #expect(resolved.pathStyle)
        #expect(!resolved.credentials.description.contains("envsecret"), "the secret is never shown")
    }

    @Test func aProfileIsReadFromTheCredentialsAndConfigFiles() throws {
        let home = Self.home(
            credentials: "# comment\n[default]\naws_access_key_id=DEFAULTKEY\naws_secret_access_key=d\n\n[ci]\naws_access_key_id = CIKEY\naws_secret_access_key = cisecret\n",
            config: "[default]\nregion = us-east-2\n[profile ci]\nregion = ap-south-1\nendpoint_url = https://s3.example.net\n")
        defer { try? FileManager.default.removeItem(atPath: home) }
        let ci = try AWSEnvironment.resolve(environment: ["HOME": home, "AWS_PROFILE": "ci"])
        #expect(ci.credentials.accessKeyID == "CIKEY")
        #expect(ci.credentials.secretAccessKey == "cisecret")
        #expect(ci.credentials.source.hasSuffix(".aws/credentials [ci]"))
        #expect(ci.region == "ap-south-1")
        #expect(ci.endpoint.absoluteString == "https://s3.example.net")
        let standard = try AWSEnvironment.resolve(environment: ["HOME": home, "AWS_DEFAULT_REGION": "sa-east-1"])
        #expect(standard.credentials.accessKeyID == "DEFAULTKEY")
        #expect(standard.region == "sa-east-1")
        #expect(standard.endpoint.absoluteString == "https://s3.sa-east-1.amazonaws.com")
        #expect(!standard.pathStyle)
    }

    @Test func credentialsMayLiveInTheConfigFile() throws {
        let home = Self.home(config: "[profile other]\naws_access_key_id = CFGKEY\naws_secret_access_key = s\n")
        defer { try? FileManager.default.removeItem(atPath: home) }
        let resolved = try AWSEnvironment.resolve(environment: ["HOME": home, "AWS_PROFILE": "other"])
        #expect(resolved.credentials.accessKeyID == "CFGKEY")
        #expect(resolved.region == "us-east-1")
    }

    @Test func missingCredentialsSayWhereItLooked() {
        let home = Self.home()
        defer { try? FileManager.default.removeItem(atPath: home) }
        do {
            _ = try AWSEnvironment.resolve(environment: ["HOME": home, "AWS_PROFILE": "nobody"])
            Issue.record("resolved without credentials")
        } catch {
            #expect(error.kind == .credentials)
            #expect(error.message.contains("AWS_ACCESS_KEY_ID is not set"))
            #expect(error.message.contains(home + "/.aws/credentials"))
            #expect(error.message.contains("profile nobody"))
        }
        do {
            _ = try AWSEnvironment.resolve(environment: ["HOME": home, "AWS_ACCESS_KEY_ID": "K"])
            Issue.record("resolved without a secret")
        } catch {
            #expect(error.message == "AWS_ACCESS_KEY_ID is set (K) but AWS_SECRET_ACCESS_KEY is not")
        }
    }

    @Test func aBadEndpointNamesItsVariable() {
        for bad in ["127.0.0.1:9000", "ftp://host", "http://host/path", "http://"] {
            do {
                _ = try AWSEnvironment.resolve(environment: ["HOME": "/nonexistent", "AWS_ACCESS_KEY_ID": "K", "AWS_SECRET_ACCESS_KEY": "S",
                                                            "AWS_ENDPOINT_URL_S3": bad])
                Issue.record("\(bad) accepted")
            } catch {
                #expect(error.kind == .badLocation)
                #expect(error.message.contains("AWS_ENDPOINT_URL_S3: \"\(bad)\""), "\(error.message)")
            }
        }
    }
}
