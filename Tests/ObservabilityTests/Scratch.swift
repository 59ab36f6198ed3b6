import Foundation

/// A fresh directory under the system's temporary directory, removed by `remove()`.
struct ScratchDirectory {
    let path: String

    init() throws {
        path = NSTemporaryDirectory() + "grove-observability-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    func remove() { try? FileManager.default.removeItem(atPath: path) }
}

/// Runs `python3` with the reference readers (TensorBoard, prometheus_client) on Grove's output.
/// Tests that need it are skipped, with the reason, when python3 or the package is missing.
enum Python {
    static func has(_ module: String) -> Bool {
        (try? run(["-c", "import \(module)"]).status) == 0
    }

    static let hasTensorBoard = has("tensorboard.backend.event_processing.event_accumulator")
    static let hasPrometheusClient = has("prometheus_client.parser")

    static func run(_ arguments: [String], stdin: String? = nil) throws -> (status: Int32, output: Data, errors: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3"] + arguments
        let output = Pipe(), errors = Pipe(), input = Pipe()
        process.standardOutput = output
        process.standardError = errors
        process.standardInput = input
        try process.run()
        if let stdin { input.fileHandleForWriting.write(Data(stdin.utf8)) }
        try? input.fileHandleForWriting.close()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        let errorText = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        return (process.terminationStatus, data, errorText)
    }
}
