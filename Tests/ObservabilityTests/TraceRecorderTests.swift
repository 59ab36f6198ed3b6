import Core
import Foundation
import Testing
@testable import Observability

/// The recorder's JSON against the Trace Event Format: parsed back with JSONSerialization and
/// checked field by field, as chrome://tracing and Perfetto read it.
@Suite struct TraceRecorderTests {
    typealias Object = [String: Any]

    static func parse(_ recorder: TraceRecorder) throws -> (metadata: [Object], events: [Object], root: Object) {
        let root = try #require(try JSONSerialization.jsonObject(with: Data(recorder.json().utf8)) as? Object)
        let all = try #require(root["traceEvents"] as? [Object])
        return (all.filter { $0["ph"] as? String == "M" }, all.filter { $0["ph"] as? String != "M" }, root)
    }

    @Test func writesSpansMarkersAndTrackNames() throws {
        let origin = ContinuousClock.now
        let recorder = TraceRecorder(processName: "run \"canopy\"", origin: origin)
        let w3 = TraceTrack.worker(WorkerID(3))
        recorder.span(name: "compute", category: "compute", track: w3, start: origin + .milliseconds(10),
                      end: origin + .milliseconds(35), args: ["step": 4, "micro_batches": "mb0,mb1", "loss": 0.25])
        recorder.span(name: "commit", track: .coordinator, start: origin + .milliseconds(2), end: origin + .milliseconds(3))
        recorder.marker(name: "generation 2", track: .coordinator, at: origin + .microseconds(1500))

        let (metadata, events, root) = try Self.parse(recorder)
        #expect(root["displayTimeUnit"] as? String == "ms")
        #expect(events.map { $0["name"] as? String } == ["generation 2", "commit", "compute"])

        let compute = try #require(events.first { $0["name"] as? String == "compute" })
        #expect(compute["ph"] as? String == "X")
        #expect(compute["cat"] as? String == "compute")
        #expect(compute["ts"] as? Double == 10_000)
        #expect(compute["dur"] as? Double == 25_000)
        #expect(compute["pid"] as? Int == 1)
        #expect(compute["tid"] as? Int == 4)
        let args = try #require(compute["args"] as? Object)
        #expect(args["step"] as? Int == 4)
        #expect(args["micro_batches"] as? String == "mb0,mb1")
        #expect(args["loss"] as? Double == 0.25)

        let marker = try #require(events.first { $0["ph"] as? String == "i" })
        #expect(marker["ts"] as? Double == 1500)
        #expect(marker["tid"] as? Int == 0)
        #expect(marker["s"] as? String == "t")

        let threadNames = metadata.filter { $0["name"] as? String == "thread_name" }
            .map { ($0["tid"] as? Int ?? -1, ($0["args"] as? Object)?["name"] as? String ?? "") }
        #expect(threadNames.map(\.0) == [0, 4])
        #expect(threadNames.map(\.1) == ["coordinator", "worker w3"])
        let process = try #require(metadata.first { $0["name"] as? String == "process_name" })
        #expect((process["args"] as? Object)?["name"] as? String == "run \"canopy\"")
    }

    /// Spans a worker timed itself are placed from its lease, under a step span that ends with
    /// the last of them; a slower worker's step visibly ends later.
    @Test func workerSpansArePlacedFromTheLeaseUnderTheirStep() throws {
        let origin = ContinuousClock.now
        let recorder = TraceRecorder(origin: origin)
        let lease = origin + .milliseconds(100)
        recorder.workerSpans(7, worker: WorkerID(1), generation: 2, leaseSent: lease, spans: [
            WorkerSpan(name: "forward", category: "compute", offset: 0.001, seconds: 0.004, args: ["micro_batch": 0]),
            WorkerSpan(name: "report", category: "report", offset: 0.010, seconds: 0.002),
        ])
        recorder.workerSpans(7, worker: WorkerID(2), generation: 2, leaseSent: lease, spans: [
            WorkerSpan(name: "forward", category: "compute", offset: 0.001, seconds: 0.030),
            // Nonsense from a peer is clamped, not drawn before the lease or backwards.
            WorkerSpan(name: "report", category: "report", offset: -1, seconds: .nan),
        ])
        let (_, events, _) = try Self.parse(recorder)
        func event(_ name: String, tid: Int) throws -> Object {
            try #require(events.first { $0["name"] as? String == name && $0["tid"] as? Int == tid })
        }
        #expect(try event("forward", tid: 2)["ts"] as? Double == 101_000)
        #expect(try event("forward", tid: 2)["dur"] as? Double == 4_000)
        #expect(try event("forward", tid: 2)["cat"] as? String == "compute")
        #expect((try event("forward", tid: 2)["args"] as? Object)?["micro_batch"] as? Int == 0)
        #expect((try event("forward", tid: 2)["args"] as? Object)?["step"] as? Int == 7)
        #expect(try event("step 7", tid: 2)["ts"] as? Double == 100_000)
        #expect(try event("step 7", tid: 2)["dur"] as? Double == 12_000)
        #expect(try event("step 7", tid: 3)["dur"] as? Double == 31_000, "the slower worker's step ends later")
        #expect(try event("report", tid: 3)["ts"] as? Double == 100_000)
        #expect(try event("report", tid: 3)["dur"] as? Double == 0)
    }

    @Test func clampsBackwardSpansToZeroDuration() throws {
        let origin = ContinuousClock.now
        let recorder = TraceRecorder(origin: origin)
        recorder.span(name: "odd", track: .coordinator, start: origin + .seconds(2), end: origin + .seconds(1))
        let (_, events, _) = try Self.parse(recorder)
        #expect(events.first?["dur"] as? Double == 0)
        #expect(events.allSatisfy { ($0["dur"] as? Double ?? 0) >= 0 })
    }

    @Test func disabledRecorderStoresNothingAndSkipsArguments() throws {
        let recorder = TraceRecorder(enabled: false)
        var evaluated = false
        func expensiveArgs() -> [String: TraceArgument] {
            evaluated = true
            return ["x": 1]
        }
        recorder.span(name: "a", track: .coordinator, start: .now, end: .now, args: expensiveArgs())
        recorder.marker(name: "b", track: .coordinator, args: expensiveArgs())
        #expect(recorder.measure(name: "c", track: .coordinator) { 41 + 1 } == 42)
        #expect(!evaluated)
        #expect(recorder.events.isEmpty)
        recorder.isEnabled = true
        recorder.marker(name: "b", track: .coordinator, args: expensiveArgs())
        #expect(evaluated)
        #expect(recorder.events.count == 1)
    }

    @Test func boundsStoredEventsAndCountsTheRest() throws {
        let recorder = TraceRecorder(maxEvents: 3)
        for i in 0..<5 { recorder.marker(name: "m\(i)", track: .coordinator) }
        #expect(recorder.events.map(\.name) == ["m0", "m1", "m2"])
        #expect(recorder.dropped == 2)
        let (_, _, root) = try Self.parse(recorder)
        #expect((root["otherData"] as? Object)?["dropped_events"] as? Int == 2)
    }

    @Test func recordsFromManyThreadsWithoutLosingEvents() {
        let recorder = TraceRecorder()
        DispatchQueue.concurrentPerform(iterations: 8) { worker in
            for step in 0..<100 {
                recorder.span(name: "s\(step)", track: .worker(WorkerID(UInt32(worker))), start: .now, end: .now)
            }
        }
        #expect(recorder.events.count == 800)
        #expect(Set(recorder.events.map(\.track)).count == 8)
    }

    @Test func workerStepLaysPhasesOutBackToBack() throws {
        let origin = ContinuousClock.now
        let recorder = TraceRecorder(origin: origin)
        recorder.workerStep(7, worker: WorkerID(1), generation: 2, start: origin + .milliseconds(1),
                            phases: [("data", 0.002), ("compute", 0.010), ("allreduce", 0.003)])
        let (_, events, _) = try Self.parse(recorder)
        let byName = Dictionary(uniqueKeysWithValues: events.map { ($0["name"] as! String, $0) })
        #expect(byName["data"]?["ts"] as? Double == 1000)
        #expect(byName["compute"]?["ts"] as? Double == 3000)
        #expect(byName["allreduce"]?["ts"] as? Double == 13_000)
        #expect(byName["allreduce"]?["dur"] as? Double == 3000)
        #expect(byName["step 7"]?["dur"] as? Double == 15_000)
        #expect(events.allSatisfy { $0["tid"] as? Int == 2 })
    }

    @Test func printsMicrosecondsInFixedPoint() {
        #expect(TraceRecorder.micros(0) == "0.000")
        #expect(TraceRecorder.micros(1.5) == "1.500")
        #expect(TraceRecorder.micros(12_345.6789) == "12345.679")
        #expect(TraceRecorder.micros(0.0004) == "0.000")
        #expect(TraceRecorder.micros(-2.25) == "-2.250")
        #expect(TraceRecorder.micros(3e12) == "3000000000000.000")
        #expect(TraceRecorder.micros(.nan) == "0")
    }

    @Test func escapesNamesThatNeedIt() throws {
        let recorder = TraceRecorder(processName: "tab\there")
        recorder.marker(name: "quote \" back \\ nl \n ctl \u{01}", track: .coordinator)
        let (metadata, events, _) = try Self.parse(recorder)
        #expect(events.first?["name"] as? String == "quote \" back \\ nl \n ctl \u{01}")
        #expect((metadata.first?["args"] as? Object)?["name"] as? String == "tab\there")
    }

    @Test func writesTheFileAtomically() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.remove() }
        let recorder = TraceRecorder()
        recorder.marker(name: "start", track: .coordinator)
        try recorder.write(to: scratch.path + "/trace.json")
        let data = try Data(contentsOf: URL(fileURLWithPath: scratch.path + "/trace.json"))
        #expect(try JSONSerialization.jsonObject(with: data) is [String: Any])
        #expect(throws: ObservabilityError.self) { try recorder.write(to: scratch.path + "/missing/dir/trace.json") }
    }
}
