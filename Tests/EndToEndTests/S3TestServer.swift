import Foundation
import ObjectStore

/// A local S3-compatible server for one test: `scripts/s3-test-server.py` (moto on 127.0.0.1),
/// stopped by `stop()`. With `authenticating`, moto checks every signature as S3 does, but also
/// refuses correctly signed requests for keys or listing prefixes with characters that need
/// encoding (see the script), so only tests that avoid those turn it on.
final class S3TestServer {
    static let script = Grove.root + "/scripts/s3-test-server.py"

    /// Whether moto can run here; the tests that need it are skipped, saying so, when not.
    static let available: Bool = {
        let probe = Process()
        probe.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        probe.arguments = ["python3", "-c", "import moto.server, boto3"]
        probe.standardOutput = FileHandle.nullDevice
        probe.standardError = FileHandle.nullDevice
        guard (try? probe.run()) != nil else { return false }
        probe.waitUntilExit()
        return probe.terminationStatus == 0
    }()

    static let unavailable = "moto[server] is not installed (pip install 'moto[server]'; scripts/test.sh installs it)"

    let process = Process()
    private let input = Pipe()
    let endpoint: String
    let accessKeyID: String
    let secretAccessKey: String
    /// moto's own process, killed too if the script has to be.
    let serverPID: Int32
    /// A home directory without `.aws`, so that the machine's own AWS files play no part.
    let home: String

    init(authenticating: Bool = false) throws {
        let output = Pipe()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", Self.script] + (authenticating ? ["--auth"] : [])
        process.standardInput = input
        process.standardOutput = output
        process.standardError = FileHandle.standardError
        try process.run()
        var line = Data()
        while !line.contains(0x0A) {
            let chunk = output.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            line.append(chunk)
        }
        guard let object = try? JSONSerialization.jsonObject(with: line.prefix { $0 != 0x0A }) as? [String: Any],
              let endpoint = object["endpoint"] as? String, let key = object["access_key_id"] as? String,
              let secret = object["secret_access_key"] as? String else {
            process.terminate()
            throw TestFailure("\(Self.script) did not start a server: \(String(decoding: line, as: UTF8.self))")
        }
        self.endpoint = endpoint
        accessKeyID = key
        secretAccessKey = secret
        serverPID = (object["pid"] as? NSNumber)?.int32Value ?? 0
        home = Grove.temporaryDirectory("s3-home")
    }

    /// What a Grove process needs to reach the server.
    var environment: [String: String] {
        ["AWS_ENDPOINT_URL_S3": endpoint, "AWS_ACCESS_KEY_ID": accessKeyID, "AWS_SECRET_ACCESS_KEY": secretAccessKey,
         "AWS_REGION": "us-east-1", "HOME": home, "AWS_PROFILE": "", "AWS_SESSION_TOKEN": ""]
    }

    func client(bucket: String, secret: String? = nil) throws -> S3Client {
        var environment = self.environment
        if let secret { environment["AWS_SECRET_ACCESS_KEY"] = secret }
        return S3Client(bucket: bucket, environment: try AWSEnvironment.resolve(environment: environment))
    }

    func stop() {
        try? input.fileHandleForWriting.close()
        let deadline = ContinuousClock.now + .seconds(15)
        while process.isRunning && ContinuousClock.now < deadline { Thread.sleep(forTimeInterval: 0.05) }
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            if serverPID > 0 { kill(serverPID, SIGKILL) }
        }
        process.waitUntilExit()
        try? FileManager.default.removeItem(atPath: home)
    }
}
