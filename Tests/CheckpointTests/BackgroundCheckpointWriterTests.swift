import Foundation
import Testing
@testable import Checkpoint

/// Collects callback results from the writer thread.
final class Recorder: @unchecked Sendable {
    private let lock = NSLock()
    private var _written: [Int] = []
    private var _failed: [(step: Int, message: String)] = []

    func wrote(_ info: CheckpointInfo) { lock.withLock { _written.append(info.step) } }
    func failed(_ step: Int, _ error: any Error) { lock.withLock { _failed.append((step, "\(error)")) } }
    var written: [Int] { lock.withLock { _written } }
    var failed: [(step: Int, message: String)] { lock.withLock { _failed } }
}

@Suite struct BackgroundCheckpointWriterTests {
    @Test func writesEverySubmittedSnapshotInOrder() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.remove() }
        let store = CheckpointStore(directory: scratch.path, keep: 100)
        let recorder = Recorder()
        let writer = BackgroundCheckpointWriter(store: store, onWritten: recorder.wrote, onError: recorder.failed)
        let steps = Array(1...12)
        for step in steps { writer.submit(Fixtures.checkpoint(step: step)) }
        writer.waitUntilIdle()

        #expect(recorder.written == steps)
        #expect(recorder.failed.isEmpty)
        #expect(try store.list().map(\.step) == steps)
        for step in [1, 12] {
            let (loaded, _) = try store.load(path: scratch.path + "/" + CheckpointStore.directoryName(step: step))
            #expect(loaded == Fixtures.checkpoint(step: step))
        }
        writer.close()
    }

    @Test func reportsEveryFailureAndKeepsGoing() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.remove() }
        // The store's directory is an existing regular file, so every write fails.
        let blocker = scratch.path + "/not-a-directory"
        try Fixtures.write([0], to: blocker)
        let recorder = Recorder()
        let writer = BackgroundCheckpointWriter(
            store: CheckpointStore(directory: blocker, keep: 1), onWritten: recorder.wrote, onError: recorder.failed
        )
        writer.submit(Fixtures.checkpoint(step: 4))
        writer.submit(Fixtures.checkpoint(step: 5))
        writer.close()

        #expect(recorder.written.isEmpty)
        #expect(recorder.failed.map(\.step) == [4, 5])
        #expect(recorder.failed.allSatisfy { $0.message.contains("not-a-directory") })
    }

    @Test func closeWritesWhatIsQueuedAndRefusesLaterSnapshots() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.remove() }
        let recorder = Recorder()
        let writer = BackgroundCheckpointWriter(
            store: CheckpointStore(directory: scratch.path, keep: 5), maxPending: 3,
            onWritten: recorder.wrote, onError: recorder.failed
        )
        for step in 1...3 { writer.submit(Fixtures.checkpoint(step: step)) }
        writer.close()
        #expect(recorder.written == [1, 2, 3])

        writer.submit(Fixtures.checkpoint(step: 9))
        writer.close()
        #expect(recorder.failed.map(\.step) == [9])
        #expect(recorder.failed.first?.message.contains("after the writer was closed") == true)
        #expect(scratch.entries() == ["step-000001", "step-000002", "step-000003"])
    }
}
