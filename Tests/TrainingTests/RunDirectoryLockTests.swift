import Foundation
import Testing
@testable import Training

@Suite struct RunDirectoryLockTests {
    func scratch() -> String {
        let path = NSTemporaryDirectory() + "grove-lock-" + UUID().uuidString
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    @Test func aSecondOwnerIsRefusedNamingTheFirstOnesPid() throws {
        let directory = scratch()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let first = try RunDirectoryLock(directory: directory)
        #expect(try String(contentsOfFile: first.path, encoding: .utf8) == "\(getpid())\n")
        #expect(RunDirectoryLock.liveOwner(of: directory) == getpid())
        // flock locks belong to an open file description: a second open in this process
        // conflicts exactly as another process's would.
        do {
            _ = try RunDirectoryLock(directory: directory)
            Issue.record("locked twice")
        } catch let error as TrainingError {
            #expect(error.code == "run.locked")
            #expect(error.message.contains("pid \(getpid())"), "\(error.message)")
            #expect(error.message.contains(directory), "\(error.message)")
        }
        // The refused attempt must not have rewritten the owner's pid.
        #expect(try String(contentsOfFile: first.path, encoding: .utf8) == "\(getpid())\n")
        first.release()
        #expect(RunDirectoryLock.liveOwner(of: directory) == nil)
        let again = try RunDirectoryLock(directory: directory)
        again.release()
    }

    @Test func aDirectoryNeverLockedHasNoOwner() {
        let directory = scratch()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        #expect(RunDirectoryLock.liveOwner(of: directory) == nil)
    }
}
