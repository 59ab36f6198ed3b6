import Foundation
import Testing

/// Local workers do not outlive their coordinator, and the run's CPU time is its own.
@Suite struct LocalWorkersEndToEndTests {
    /// Processes whose parent is `pid`, from /proc.
    static func children(of pid: Int32) -> [Int32] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.compactMap(Int32.init).filter { parent(of: $0) == pid }
    }

    static func parent(of pid: Int32) -> Int32? {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { return nil }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        return fields.count > 1 ? Int32(fields[1]) : nil
    }

    /// Running, as opposed to gone or a zombie waiting for a reaper that may never come.
    static func isAlive(_ pid: Int32) -> Bool {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { return false }
        return !stat[stat.index(after: close)...].hasPrefix(" Z")
    }

    /// A coordinator exec'd by a shell that first waited for a CPU-heavy child (the quick start
    /// ran `swift build` so) inherits that child in RUSAGE_CHILDREN: the run's CPU time must not
    /// include it.
    @Test func theRunsCPUTimeLeavesOutWhatTheShellDidBefore() throws {
        let directory = Grove.temporaryDirectory("cpu")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let burn = "python3 -c 'import time\nwhile time.process_time() < 4: pass'"
        let coordinator = [Grove.executable("coordinator"), "run", "--config", "cluster.yaml", "--run-dir", directory,
                           "--set", "coordinator.port=0", "--set", "workers.local=1", "--set", "model.name=pixel-mlp",
                           "--set", "training.steps=3", "--set", "logging.status_port=-1"].joined(separator: " ")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", "\(burn) && exec \(coordinator)"]
        process.currentDirectoryURL = URL(fileURLWithPath: Grove.root)
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        let deadline = ContinuousClock.now + .seconds(120)
        while process.isRunning && ContinuousClock.now < deadline { Thread.sleep(forTimeInterval: 0.05) }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
        try #require(process.terminationStatus == 0)
        let goodput = try #require(try RunFiles(directory: directory).summary["goodput"] as? [String: Any])
        let cpu = try #require(goodput["cpu_seconds"] as? Double)
        #expect(cpu > 0)
        #expect(cpu < 3.5, "the run was billed \(cpu) CPU-s, including the 4 s its shell spent before it")
    }

    @Test func killingTheCoordinatorEndsItsLocalWorkers() throws {
        let directory = Grove.temporaryDirectory("orphans")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let coordinator = try Grove.Background("coordinator", [
            "run", "--config", "cluster.yaml", "--run-dir", directory, "--set", "coordinator.port=0", "--set", "workers.local=2",
            "--set", "model.name=pixel-mlp", "--set", "training.steps=100000", "--set", "logging.level=notice"])
        defer { coordinator.stop() }
        _ = try coordinator.waitFor("step 10/")
        let workers = Self.children(of: coordinator.process.processIdentifier)
        defer { for pid in workers where Self.isAlive(pid) { kill(pid, SIGKILL) } }
        try #require(workers.count == 2, "local workers: \(workers)")
        kill(coordinator.process.processIdentifier, SIGKILL)
        let deadline = ContinuousClock.now + .seconds(3)
        while workers.contains(where: Self.isAlive) && ContinuousClock.now < deadline { Thread.sleep(forTimeInterval: 0.05) }
        #expect(workers.filter(Self.isAlive).isEmpty, "workers \(workers.filter(Self.isAlive)) outlived their coordinator")
    }
}
