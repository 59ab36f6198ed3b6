import Foundation
import Testing
@testable import Training

@Suite struct CPUAccountTests {
    /// Spins for about `seconds` of CPU time.
    func spin(_ seconds: Double) {
        let start = CPUAccount.processSeconds()
        var x = 0.0
        while CPUAccount.processSeconds() - start < seconds { for i in 0..<10_000 { x += Double(i).squareRoot() } }
        #expect(x > 0)
    }

    /// Other tests run on other threads of this process meanwhile, so the bounds are one-sided:
    /// what came before the account is never billed, and what came after always is.
    @Test func onlyWhatThisProcessDidSinceTheBaselineCounts() {
        spin(0.3)
        let beforeAccount = CPUAccount.processSeconds()
        let account = CPUAccount()
        #expect(account.baseline >= beforeAccount)
        spin(0.2)
        let billed = account.seconds(plusChildren: 0)
        let total = CPUAccount.processSeconds()
        #expect(billed >= 0.2, "\(billed)")
        #expect(billed <= total - beforeAccount + 1e-6, "billed \(billed) of \(total - beforeAccount) since the account opened")
        #expect(account.seconds(plusChildren: 10) - account.seconds(plusChildren: 0) > 9.9)
    }

    @Test func aChildsOwnCPUTimeIsMeasuredWhenItIsReaped() throws {
        let log = NSTemporaryDirectory() + "grove-child-\(UUID().uuidString).log"
        defer { try? FileManager.default.removeItem(atPath: log) }
        // About half a second of CPU in the child, then exit 3.
        let child = try ChildProcess(executable: "/bin/sh", arguments: ["-c", "i=0; while [ $i -lt 400000 ]; do i=$((i+1)); done; echo done; exit 3"],
                                     environment: ["PATH": "/usr/bin:/bin"], outputPath: log)
        child.waitUntilExit()
        #expect(child.exitCode == 3)
        #expect(!child.wasSignalled)
        #expect(child.cpuSeconds > 0.05, "\(child.cpuSeconds)")
        #expect(try String(contentsOfFile: log, encoding: .utf8) == "done\n")
    }

    @Test func aChildInheritsNoDescriptorButItsStandardOnes() throws {
        let log = NSTemporaryDirectory() + "grove-fds-\(UUID().uuidString).log"
        defer { try? FileManager.default.removeItem(atPath: log) }
        let open = Foundation.open("/dev/null", O_RDONLY)  // without O_CLOEXEC, as FileHandle opens files
        defer { close(open) }
        let child = try ChildProcess(executable: "/bin/ls", arguments: ["/proc/self/fd"], environment: [:], outputPath: log)
        child.waitUntilExit()
        #expect(child.exitCode == 0)
        // 0, 1, 2 and the directory ls itself opened to list them.
        let listed = try String(contentsOfFile: log, encoding: .utf8).split(separator: "\n").compactMap { Int32($0) }
        #expect(!listed.contains(open), "the child inherited descriptor \(open): \(listed)")
        #expect(listed.filter { $0 > 2 }.count <= 1, "\(listed)")
    }

    @Test func aKilledChildReportsItsSignal() throws {
        let child = try ChildProcess(executable: "/bin/sleep", arguments: ["30"], environment: [:], outputPath: "/dev/null")
        #expect(child.isRunning)
        child.kill(SIGKILL)
        child.waitUntilExit()
        #expect(!child.isRunning)
        #expect(child.wasSignalled)
        #expect(child.exitCode == 128 + SIGKILL)
    }
}
