import Config
import Core
import Foundation
import Observability
import Testing
import Transport
@testable import Training
import Wire

/// Real worker processes dealt one step by a coordinator played by the test: what their step
/// results carry with the timeline on and off.
@Suite(.serialized) struct WorkerTimelineTests {
    static let root: String = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url = url.deletingLastPathComponent() }
        return url.path
    }()

    /// Where `swift build` put the `worker` executable: beside the test bundle.
    static let buildFolder: String = {
        let me = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        var url = URL(fileURLWithPath: me).deletingLastPathComponent()
        while url.path.contains(".xctest") { url = url.deletingLastPathComponent() }
        return url.path
    }()

    static func config(timeline: Bool) throws -> ClusterConfig {
        try ClusterConfig.load(path: root + "/cluster.yaml", overrides: [
            "model.name=pixel-mlp", "model.pixels_per_tile=256", "dataset.path=\(root)/data/aerial-sample",
            "logging.timeline=\(timeline)", "reduce.mode=exact", "dataset.decode_threads=1",
            // The leases below: two micro-batches of four samples per worker, two workers. A
            // worker refuses a lease that does not fit the run's plan.
            "training.micro_batch=4", "training.global_batch=16",
        ])
    }

    /// Plays the coordinator for `workers` workers over one step of two micro-batches each and
    /// returns their step results by worker id. `coordinatorMinor` is the minor version the
    /// coordinator's frames announce.
    static func oneStep(timeline: Bool, workers: Int = 2, coordinatorMinor: UInt8 = Wire.minor) throws -> [UInt32: Wire.StepResult] {
        let config = try config(timeline: timeline)
        let setup = try RunSetup(config: config)
        let loop = SocketLoop()
        defer { loop.close() }
        let endpoint = try loop.bindControl("tcp://127.0.0.1:*")
        let incarnation = Incarnation.random()
        func send(_ message: Wire.Message, to peer: [UInt8], generation: Generation = .none) {
            var bytes = Wire.encode(message, generation: generation, sender: WorkerID(0), incarnation: incarnation)
            bytes[5] = coordinatorMinor
            loop.sendControl(bytes, to: peer)
        }
        var processes: [Process] = []
        defer { for process in processes where process.isRunning { kill(process.processIdentifier, SIGKILL) } }
        for _ in 0..<workers {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: buildFolder + "/worker")
            process.arguments = ["--coordinator", endpoint]
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            try process.run()
            processes.append(process)
        }
        func ended() -> String {
            processes.map { $0.isRunning ? "running" : "exited \($0.terminationStatus)" }.joined(separator: ", ")
        }
        func next(_ kind: Wire.Kind) throws -> (ControlFrame, Wire.Message) {
            let deadline = ContinuousClock.now + .seconds(20)
            while case .item(let frame) = loop.control.pop(until: deadline) {
                let (envelope, message) = try Wire.decode(frame.bytes)
                if envelope.kind == kind { return (frame, message) }
            }
            throw TestFailure("no \(kind) from a worker within 20 s; workers: \(ended())")
        }
        var peers: [[UInt8]] = []
        var ring: [Wire.Member] = []
        // Workers start together: answer hellos and joins in whatever order they come.
        while ring.count < workers {
            let deadline = ContinuousClock.now + .seconds(20)
            guard case .item(let frame) = loop.control.pop(until: deadline) else {
                throw TestFailure("\(ring.count) of \(workers) workers joined within 20 s; workers: \(ended())")
            }
            switch try Wire.decode(frame.bytes).1 {
            case .hello:
                send(.runConfig(Wire.RunConfig(runName: "timeline-test", configYAML: config.rendered())), to: frame.peer)
            case .join(let join):
                let id = WorkerID(UInt32(ring.count + 1))
                send(.welcome(Wire.Welcome(worker: id, heartbeatIntervalMillis: 200)), to: frame.peer)
                peers.append(frame.peer)
                ring.append(Wire.Member(worker: id, ringEndpoint: join.ringEndpoint))
            default:
                continue
            }
        }
        let replica = Replica(layout: setup.model.layout, parameters: setup.model.initialParameters(seed: config.training.seed),
                              optimizer: try makeOptimizer(setup), committedStep: 0)
        let generation = Generation(1)
        for (index, peer) in peers.enumerated() {
            send(.state(replica.wireState), to: peer, generation: generation)
            let batches = (0..<2).map { b in
                let first = UInt32(4 * (2 * index + b))
                return Wire.MicroBatch(id: MicroBatchID(UInt32(2 * index + b)), samples: [first, first + 1, first + 2, first + 3])
            }
            send(.lease(Wire.Lease(step: 1, ring: ring, microBatches: batches, totalMicroBatches: UInt32(2 * workers),
                                   globalBatch: UInt32(8 * workers), wantState: false)), to: peer, generation: generation)
        }
        var results: [UInt32: Wire.StepResult] = [:]
        while results.count < workers {
            let (frame, message) = try next(.stepResult)
            guard case .stepResult(let result) = message else { continue }
            let sender = try Wire.decode(frame.bytes).0.sender
            results[sender.rawValue] = result
        }
        for peer in peers { send(.leave(Wire.Leave(reason: .runFinished, text: "done")), to: peer, generation: generation) }
        let deadline = ContinuousClock.now + .seconds(30)
        while processes.contains(where: \.isRunning) && ContinuousClock.now < deadline { Thread.sleep(forTimeInterval: 0.02) }
        #expect(processes.allSatisfy { !$0.isRunning && $0.terminationStatus == 0 }, "\(ended())")
        return results
    }

    @Test func withTheTimelineOffNoSpansAreSent() throws {
        let results = try Self.oneStep(timeline: false)
        #expect(results.count == 2)
        #expect(results.values.allSatisfy { $0.spans == nil })
    }

    /// A coordinator of protocol 1.0 cannot decode spans: the worker leaves them out.
    @Test func aCoordinatorOfMinorZeroGetsNoSpans() throws {
        let results = try Self.oneStep(timeline: true, coordinatorMinor: 0)
        #expect(results.count == 2)
        #expect(results.values.allSatisfy { $0.spans == nil })
    }

    @Test func withTheTimelineOnEveryPhaseIsTimedInOrder() throws {
        let results = try Self.oneStep(timeline: true)
        #expect(results.count == 2)
        for (worker, result) in results {
            let spans = try #require(result.spans, "worker \(worker) sent no spans")
            let phases = spans.map(\.phase)
            // Two micro-batches: data wait, forward, backward each; a ring of two has one step per
            // phase, for the exponents and the values; then the update and the report.
            for phase in [Wire.SpanPhase.dataWait, .forward, .backward] {
                #expect(spans.filter { $0.phase == phase }.map(\.index) == [0, 1], "\(phase) of worker \(worker)")
            }
            for phase in [Wire.SpanPhase.exponentReduceScatter, .exponentAllGather, .reduceScatter, .allGather] {
                #expect(spans.filter { $0.phase == phase }.map(\.index) == [0], "\(phase) of worker \(worker)")
            }
            #expect(phases.filter { $0 == .encode }.count == 2, "exact mode encodes exponents, then fixed point")
            // The ring decodes each chunk as it becomes final: no decode pass after it.
            #expect(phases.filter { $0 == .decode }.isEmpty)
            #expect(phases.suffix(2) == [.optimizer, .report])
            // Recorded as they end. The ring's steps stream into each other and may overlap; every
            // other span starts where or after the last one ended, and the ring's lie between the
            // first encoding and the update.
            let ringPhases: Set<Wire.SpanPhase> = [.exponentReduceScatter, .exponentAllGather, .reduceScatter, .allGather]
            let sequential = spans.filter { !ringPhases.contains($0.phase) }
            for (a, b) in zip(sequential, sequential.dropFirst()) {
                #expect(b.startNanos >= a.startNanos + a.durationNanos, "\(b.phase) starts before \(a.phase) ends")
            }
            let firstEncode = try #require(spans.first { $0.phase == .encode })
            let update = try #require(spans.first { $0.phase == .optimizer })
            for span in spans where ringPhases.contains(span.phase) {
                #expect(span.startNanos >= firstEncode.startNanos && span.startNanos + span.durationNanos <= update.startNanos,
                        "\(span.phase) outside the all-reduce")
            }
            // The spans account for the reported phase totals.
            let reduce = spans.filter { $0.phase.traceCategory == "allreduce" }.map(\.durationNanos).reduce(0, +)
            #expect(reduce <= result.reduceNanos)
        }
    }

    /// The coordinator's side: spans of two workers placed on their lanes parse as a trace, each
    /// inside its worker's step span.
    @Test func spansBecomeNestedTraceEvents() throws {
        let results = try Self.oneStep(timeline: true)
        let trace = TraceRecorder(processName: "test")
        let dealt = ContinuousClock.now
        for (worker, result) in results.sorted(by: { $0.key < $1.key }) {
            trace.workerSpans(1, worker: WorkerID(worker), generation: 1, leaseSent: dealt,
                              spans: try #require(result.spans).map(\.traceSpan))
        }
        let object = try #require(try JSONSerialization.jsonObject(with: Data(trace.json().utf8)) as? [String: Any])
        let events = (object["traceEvents"] as? [[String: Any]] ?? []).filter { $0["ph"] as? String == "X" }
        for worker in results.keys {
            let lane = events.filter { $0["tid"] as? Int == Int(worker) + 1 }
            let step = try #require(lane.first { $0["name"] as? String == "step 1" })
            let stepStart = try #require(step["ts"] as? Double), stepEnd = stepStart + (try #require(step["dur"] as? Double))
            let names = Set(lane.compactMap { $0["name"] as? String })
            #expect(names == ["step 1", "data-wait", "forward", "backward", "encode", "exponents reduce-scatter",
                              "exponents all-gather", "reduce-scatter", "all-gather", "optimizer", "report"])
            for event in lane {
                let ts = try #require(event["ts"] as? Double), dur = try #require(event["dur"] as? Double)
                #expect(dur >= 0)
                #expect(ts >= stepStart && ts + dur <= stepEnd + 0.001, "\(event["name"] ?? "") outside its step")
            }
        }
    }
}

struct TestFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
