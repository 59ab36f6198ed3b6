import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif
@testable import Observability

/// The progress line's text, its terminal and log forms, and the ETA arithmetic.
@Suite struct ProgressLineTests {
    static let snapshot = ProgressLine.Snapshot(step: 40, totalSteps: 100, samplesPerSecond: 312.5, loss: 0.43124,
                                                workers: 2, generation: 3, etaSeconds: 12.4)

    @Test func formatsEveryField() {
        #expect(ProgressLine.format(Self.snapshot) == "step 40/100  312.5 samples/s  loss 0.4312  workers 2  gen 3  ETA 0:12")
        let early = ProgressLine.Snapshot(step: 0, totalSteps: 100, samplesPerSecond: nil, loss: nil, workers: 0, generation: 0, etaSeconds: nil)
        #expect(ProgressLine.format(early) == "step 0/100  - samples/s  loss -  workers 0  gen 0  ETA -")
        var diverged = Self.snapshot
        diverged.loss = .nan
        #expect(ProgressLine.format(diverged).contains("loss nan"))
    }

    @Test func formatsDurations() {
        #expect(ProgressLine.duration(0) == "0:00")
        #expect(ProgressLine.duration(59.6) == "1:00")
        #expect(ProgressLine.duration(754) == "12:34")
        #expect(ProgressLine.duration(3600 * 26 + 61) == "26:01:01")
        #expect(ProgressLine.duration(-1) == "-")
        #expect(ProgressLine.duration(.infinity) == "-")
    }

    @Test func estimatesTheRemainingTimeFromTheAveragePace() {
        #expect(ProgressLine.eta(remainingSteps: 60, stepsDone: 40, elapsedSeconds: 20) == 30)
        #expect(ProgressLine.eta(remainingSteps: 60, stepsDone: 0, elapsedSeconds: 20) == nil)
        #expect(ProgressLine.eta(remainingSteps: 0, stepsDone: 0, elapsedSeconds: 0) == 0)
    }

    @Test func redrawsInPlaceOnATerminalAndLogsEveryNStepsOtherwise() {
        let terminal = ProgressLine.output(for: Self.snapshot, isTerminal: true, logEvery: 10)
        #expect(terminal == "\r" + ProgressLine.format(Self.snapshot) + "\u{1B}[K")
        let logged = (1...100).filter { step in
            var s = Self.snapshot
            s.step = step
            return ProgressLine.output(for: s, isTerminal: false, logEvery: 25) != nil
        }
        #expect(logged == [1, 25, 50, 75, 100])
        var last = Self.snapshot
        last.step = 37
        last.totalSteps = 37
        #expect(ProgressLine.output(for: last, isTerminal: false, logEvery: 25)?.hasSuffix("\n") == true)
    }

    @Test func writesToItsDescriptorAndEndsTheLine() throws {
        var fds: [Int32] = [0, 0]
        try #require(pipe(&fds) == 0)
        defer { close(fds[0]) }
        let line = ProgressLine(fileDescriptor: fds[1], logEvery: 10)
        #expect(!line.isTerminal)
        let terminal = ProgressLine(fileDescriptor: fds[1], isTerminal: true)
        terminal.update(Self.snapshot)
        terminal.finish()
        terminal.finish()
        var plain = Self.snapshot
        plain.step = 41
        line.update(plain)
        plain.step = 50
        line.update(plain)
        close(fds[1])
        let text = String(decoding: FileHandle(fileDescriptor: fds[0]).readDataToEndOfFile(), as: UTF8.self)
        #expect(text == "\r" + ProgressLine.format(Self.snapshot) + "\u{1B}[K\n" + ProgressLine.format(plain) + "\n")
    }
}
