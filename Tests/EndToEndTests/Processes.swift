import Foundation
import Testing

/// Runs Grove's executables from the same build folder as the test bundle.
enum Grove {
    /// The folder holding the test bundle, where `swift build` also puts `coordinator` and `worker`.
    static let buildFolder: String = {
        let me = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        var url = URL(fileURLWithPath: me).deletingLastPathComponent()
        // Inside an .xctest bundle on some layouts the binary sits one level deeper.
        while url.path.contains(".xctest") { url = url.deletingLastPathComponent() }
        return url.path
    }()

    static func executable(_ name: String) -> String { buildFolder + "/" + name }

    /// The repository root (for the vendored data and cluster.yaml).
    static let root: String = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url = url.deletingLastPathComponent() }
        return url.path
    }()

    struct Result {
        var status: Int32
        var output: String
    }

    /// Runs `name` with `arguments` in the repository root; kills it after `timeout`.
    static func run(_ name: String, _ arguments: [String], timeout: Duration = .seconds(180)) throws -> Result {
        let path = executable(name)
        guard FileManager.default.isExecutableFile(atPath: path) else {
            throw TestFailure("\(path) does not exist: build the package (swift build) before running these tests")
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = arguments
        process.currentDirectoryURL = URL(fileURLWithPath: root)
        let log = FileManager.default.temporaryDirectory.appendingPathComponent("grove-\(UUID().uuidString).log")
        FileManager.default.createFile(atPath: log.path, contents: nil)
        let handle = try FileHandle(forWritingTo: log)
        process.standardOutput = handle
        process.standardError = handle
        try process.run()
        let deadline = ContinuousClock.now + timeout
        while process.isRunning && ContinuousClock.now < deadline { Thread.sleep(forTimeInterval: 0.05) }
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            throw TestFailure("\(name) \(arguments.joined(separator: " ")) did not finish in \(timeout)")
        }
        process.waitUntilExit()
        try handle.close()
        let output = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
        try? FileManager.default.removeItem(at: log)
        return Result(status: process.terminationStatus, output: output)
    }

    /// Runs `python3` with `arguments` in the repository root (a script of `scripts/`, or `-c`),
    /// its output and errors together.
    static func python(_ arguments: [String]) throws -> Result {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3"] + arguments
        process.currentDirectoryURL = URL(fileURLWithPath: root)
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Result(status: process.terminationStatus, output: String(decoding: data, as: UTF8.self))
    }

    /// A process started in the background, its output going to a file.
    final class Background {
        let process = Process()
        let log: String

        /// - Parameters:
        ///   - environment: variables added to this process's environment.
        ///   - directory: the working directory (default: the repository root).
        convenience init(_ name: String, _ arguments: [String], environment: [String: String] = [:], directory: String = Grove.root) throws {
            try self.init(path: Grove.executable(name), arguments, directory: directory, environment: environment)
        }

        /// Any executable, started in `directory`.
        init(path: String, _ arguments: [String], directory: String = Grove.root, environment: [String: String] = [:]) throws {
            log = Grove.temporaryDirectory("bg") + "/output.log"
            FileManager.default.createFile(atPath: log, contents: nil)
            let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
            process.executableURL = URL(fileURLWithPath: path)
            process.arguments = arguments
            if !environment.isEmpty {
                process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
            }
            process.currentDirectoryURL = URL(fileURLWithPath: directory)
            process.standardOutput = handle
            process.standardError = handle
            try process.run()
        }

        /// Waits for the process to end; its exit status, or nil (and the process killed) after `timeout`.
        func waitForExit(timeout: Duration = .seconds(180)) -> Int32? {
            let deadline = ContinuousClock.now + timeout
            while process.isRunning && ContinuousClock.now < deadline { Thread.sleep(forTimeInterval: 0.05) }
            if process.isRunning {
                stop()
                return nil
            }
            return process.terminationStatus
        }

        var output: String { (try? String(contentsOfFile: log, encoding: .utf8)) ?? "" }

        /// Waits until the output contains `text` followed by a token; returns that token.
        func waitFor(_ text: String, timeout: Duration = .seconds(60)) throws -> String {
            let deadline = ContinuousClock.now + timeout
            while ContinuousClock.now < deadline {
                if let range = output.range(of: text) {
                    let rest = output[range.upperBound...].prefix { !$0.isWhitespace }
                    if !rest.isEmpty { return String(rest) }
                }
                if !process.isRunning { break }
                Thread.sleep(forTimeInterval: 0.02)
            }
            throw TestFailure("no '\(text)' in the output:\n\(output)")
        }

        func stop() {
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
            process.waitUntilExit()
        }
    }

    static func temporaryDirectory(_ label: String) -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("grove-\(label)-\(UUID().uuidString)").path
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }
}

struct TestFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// Reads `summary.json` and `metrics.jsonl` of a run directory.
struct RunFiles {
    let directory: String

    var summary: [String: Any] {
        get throws {
            let data = try Data(contentsOf: URL(fileURLWithPath: directory + "/summary.json"))
            guard let object = try JSONSerialization.jsonObject(with: data) as? [String: Any] else { throw TestFailure("summary.json is not an object") }
            return object
        }
    }

    var metrics: [[String: Any]] {
        get throws {
            let text = try String(contentsOfFile: directory + "/metrics.jsonl", encoding: .utf8)
            return try text.split(separator: "\n").map { line in
                guard let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else {
                    throw TestFailure("a metrics line is not an object: \(line)")
                }
                return object
            }
        }
    }
}
