import CZeroMQ
import Foundation
import Testing
@testable import Transport

/// A stranger pushes garbage into a worker's ring socket, tagged with the current generation: the
/// worker drops and counts it, the sum goes on, and the run ends on the reference weights.
@Suite(.serialized) struct RingGarbageEndToEndTests {
    /// Long enough that the garbage lands while the workers still sum.
    static let settings = FaultEndToEndTests.settings.map { $0 == "training.steps=40" ? "training.steps=200" : $0 }

    @Test func garbageRingFramesAreDroppedAndTheRunGoesOn() throws {
        let expected = try FaultEndToEndTests.reference(workers: 2, settings: Self.settings)
        try DisturbedRun.with("ring-garbage", localWorkers: 2, settings: Self.settings) { run in
            try run.waitForStep(10)
            let log = try String(contentsOfFile: run.directory + "/logs/worker-0.log", encoding: .utf8)
            let ring = try #require(log.range(of: #"ring=tcp://[^\s]+"#, options: .regularExpression).map { String(log[$0].dropFirst(5)) },
                                    "no ring endpoint in the worker's log: \(log)")
            let generations = run.output.matches(of: /generation (\d+):/).compactMap { UInt64($0.1) }
            let generation = try #require(generations.last, "\(run.output)")

            let context = ZMQContext()
            let socket = try ZMQSocket(context, kind: ZMQ_PUSH, lingerMillis: 500, highWaterMark: 16, maxMessageBytes: 1 << 20)
            try socket.connect(ring)
            var generator = SystemRandomNumberGenerator()
            var tag = [UInt8](repeating: 0, count: 8)
            withUnsafeBytes(of: generation.littleEndian) { tag = Array($0) }
            for _ in 0..<5 {
                let garbage = (0..<100).map { _ in UInt8.random(in: 0...255, using: &generator) }
                let deadline = ContinuousClock.now + .seconds(5)
                while try !socket.trySend([tag, garbage]) && ContinuousClock.now < deadline { Thread.sleep(forTimeInterval: 0.01) }
                Thread.sleep(forTimeInterval: 0.02)
            }
            socket.close()
            context.terminate()

            try run.waitForEnd(within: .seconds(120))
            try run.expectWeights(expected, "garbage ring frames changed the weights")
            #expect(try run.summary["ejections"] as? Int == 0, "garbage from a stranger costs no member: \(run.output)")
            let after = try String(contentsOfFile: run.directory + "/logs/worker-0.log", encoding: .utf8)
            #expect(after.contains("ring frames that could not be decoded"), "\(after)")
        }
    }
}
