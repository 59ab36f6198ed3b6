// coordination-bench: what the pure coordination core costs, with no I/O.
//
// 1. Whole schedules per second: a coordinator and 4 workers (real `CoordinatorInstance` and
//    `WorkerInstance`s, messages handed over directly, the ring modelled as succeeding) train 8
//    steps — the shape of one simulation schedule without faults, so it bounds how many seeded
//    schedules a second the simulation tier can run.
// 2. The coordinator's decision cost per message at 8, 64 and 512 members: a `heartbeat`, a
//    `stepResult` (the verdict is re-evaluated on every one), and a tick. Each is reported per
//    message and per message per member, with the ratio to the 8-member cost as the reference:
//    a ratio near 1 per member means linear work per message.
//
// Results are printed, never asserted. Figures are medians of several runs.

import Coordination
import Core
import Foundation
import Wire

let t0 = ContinuousClock.now

func machine() -> String {
    var info = utsname()
    uname(&info)
    let arch = withUnsafeBytes(of: &info.machine) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
    return "\(arch), \(ProcessInfo.processInfo.activeProcessorCount) cores"
}

func median(_ values: [Double]) -> Double { values.sorted()[values.count / 2] }

func seconds(_ body: () -> Void) -> Double {
    let start = ContinuousClock.now
    body()
    return start.duration(to: .now).inSeconds
}

func coordinator(members: Int, steps: Int, microBatches: Int) -> CoordinatorInstance {
    let policy = RunPolicy(totalSteps: steps, checkpointInterval: 0, evaluationInterval: 0, hasValidation: false, workersMin: 1,
                           startQuorum: members, waitForWorkers: .seconds(60), collectiveTimeout: .seconds(1),
                           heartbeatTimeout: .seconds(3), stepTimeout: .seconds(30), drainTimeout: .seconds(3))
    return CoordinatorInstance(settings: CoordinatorInstance.Settings(
        runConfig: Wire.RunConfig(runName: "bench", configYAML: ""),
        members: MemberTable.Settings(heartbeatInterval: .seconds(1), missedHeartbeats: 3, maxMembers: members + 1),
        admission: Admission.Settings(schemaHash: 1, schemaName: "bench"), policy: policy,
        plan: StepPlan(sampleCount: 4096, globalBatch: microBatches * 2, microBatch: 2, seed: 7)))
}

func envelope(_ kind: Wire.Kind, _ generation: Generation, _ sender: WorkerID, _ n: Int) -> Wire.Envelope {
    Wire.Envelope(kind: kind, generation: generation, sender: sender, incarnation: Incarnation(UInt64(n + 1)))
}

func peer(_ n: Int) -> [UInt8] { [UInt8(n >> 8), UInt8(n & 0xFF)] }

/// A coordinator with `n` members up in its ring, at `now`.
func cluster(_ n: Int, steps: Int = 1_000_000) -> (CoordinatorInstance, [WorkerID]) {
    var c = coordinator(members: n, steps: steps, microBatches: max(n, 8))
    var ids: [WorkerID] = []
    for i in 0..<n {
        let join = Wire.Join(schemaHash: 1, ringEndpoint: "tcp://h\(i):4000", host: "h\(i)", pid: UInt32(i), stateEndpoint: "tcp://h\(i):4001")
        for d in c.onMessage(.join(join), envelope: envelope(.join, .none, WorkerID(0), i), from: peer(i), now: t0) {
            if case .send(.welcome(let w), _) = d { ids.append(w.worker) }
        }
    }
    _ = c.onStateStored(step: 0, now: t0)
    return (c, ids)
}

// MARK: 1. Whole schedules

func schedule(workers: Int, steps: Int) -> Int {
    var c = coordinator(members: workers, steps: steps, microBatches: 8)
    let settings = WorkerInstance.Settings(sampleCount: 4096, microBatchesPerStep: 8, microBatch: 2, globalBatch: 16, lossScaled: false,
                                           lossScaleTensor: "l")
    var ws = (0..<workers).map { _ in WorkerInstance(settings: settings) }
    var messages = 0
    var now = t0
    var inbox: [(Int, Wire.Message, Wire.Envelope)] = []
    func carry(_ ds: [CoordinatorInstance.Directive]) {
        for d in ds {
            switch d {
            case .send(let m, let to): inbox.append((Int(to[0]) << 8 | Int(to[1]), m, envelope(m.kind, c.generation, WorkerID(0), 0)))
            case .broadcast(let m): for i in 0..<workers { inbox.append((i, m, envelope(m.kind, c.generation, WorkerID(0), 0))) }
            case .sendState(let to, let step, _, _):
                for p in to { inbox.append((Int(p[0]) << 8 | Int(p[1]), .state(Wire.State(step: UInt64(step), tensors: [])), envelope(.state, c.generation, WorkerID(0), 0))) }
            case .commit(let record):
                for i in 0..<workers {
                    inbox.append((i, .commit(Wire.Commit(step: record.step.wire)), envelope(.commit, record.generation, WorkerID(0), 0)))
                }
            case .fetchState(let step, _, _): carry(c.onStateStored(step: step, now: now))
            default: break
            }
        }
    }
    for i in 0..<workers {
        let join = Wire.Join(schemaHash: 1, ringEndpoint: "tcp://h\(i):4000", host: "h\(i)", pid: UInt32(i), stateEndpoint: "tcp://h\(i):4001")
        carry(c.onMessage(.join(join), envelope: envelope(.join, .none, WorkerID(0), i), from: peer(i), now: now))
    }
    while !c.isFinished {
        now += .milliseconds(100)
        carry(c.onTick(now: now))
        while !inbox.isEmpty {
            let (to, message, env) = inbox.removeFirst()
            messages += 1
            if case .welcome(let w) = message { ws[to].onWelcome(w); continue }
            for d in ws[to].onMessage(message, envelope: env) {
                if case .report(let failure) = d {
                    carry(c.onMessage(.stepFailed(failure), envelope: envelope(.stepFailed, ws[to].generation, ws[to].id, to), from: peer(to), now: now))
                }
                guard case .run(let order) = d else { continue }
                let result = Wire.StepResult(step: order.step.wire, losses: [], weightsHash: [UInt8(order.step.ordinal & 0xFF)], dataNanos: 0,
                                             computeNanos: 0, reduceNanos: 0, reduceBytes: 0,
                                             state: order.attachState ? Wire.State(step: order.step.wire, tensors: []) : nil)
                carry(c.onMessage(.stepResult(result), envelope: envelope(.stepResult, order.generation, ws[to].id, to), from: peer(to), now: now))
            }
        }
    }
    precondition(c.committed == steps && c.counters.redealtSteps == 0, "the benchmark's schedule must run clean")
    return messages
}

print("coordination-bench on \(machine())")
var perSchedule: [Double] = []
var messagesPerSchedule = 0
for _ in 0..<5 {
    let runs = 2_000
    perSchedule.append(seconds { for _ in 0..<runs { messagesPerSchedule = schedule(workers: 4, steps: 8) } } / Double(runs))
}
let scheduleSeconds = median(perSchedule)
print(String(format: "whole schedules (4 workers, 8 steps, %d messages, no faults): %.0f per second (%.1f µs each)",
             messagesPerSchedule, 1 / scheduleSeconds, scheduleSeconds * 1e6))

// MARK: 2. Decision cost per message

struct Cost { var heartbeat: Double; var result: Double; var tick: Double }

func measure(_ n: Int) -> Cost {
    var hb: [Double] = [], rs: [Double] = [], tk: [Double] = []
    for _ in 0..<5 {
        var (c, ids) = cluster(n)
        var now = t0 + .milliseconds(10)
        _ = c.onTick(now: now)  // admits everyone and deals step 1
        let rounds = max(1, 4096 / n)
        hb.append(seconds {
            for r in 0..<rounds {
                for i in 0..<n {
                    _ = c.onMessage(.heartbeat(Wire.Heartbeat(committedStep: 0)), envelope: envelope(.heartbeat, c.generation, ids[i], i),
                                    from: peer(i), now: now + .microseconds(r))
                }
            }
        } / Double(rounds * n))
        var resultTime = 0.0, results = 0
        for _ in 0..<max(1, 64 / n + 1) {
            guard let attempt = c.attempt else { break }
            let generation = attempt.generation, step = attempt.step
            resultTime += seconds {
                for i in 0..<n {
                    let r = Wire.StepResult(step: step.wire, losses: [], weightsHash: [1], dataNanos: 0, computeNanos: 0, reduceNanos: 0,
                                            reduceBytes: 0, state: nil)
                    _ = c.onMessage(.stepResult(r), envelope: envelope(.stepResult, generation, ids[i], i), from: peer(i), now: now)
                }
            }
            results += n
            now += .milliseconds(10)
            _ = c.onTick(now: now)  // deals the next step
        }
        rs.append(resultTime / Double(results))
        tk.append(seconds { for k in 0..<200 { _ = c.onTick(now: now + .microseconds(k)) } } / 200)
    }
    return Cost(heartbeat: median(hb), result: median(rs), tick: median(tk))
}

let sizes = [8, 64, 512]
let costs = sizes.map(measure)
let reference = costs[0]
print("decision cost per message (pure core, median of 5); ratio = cost per member relative to 8 members:")
print("members   heartbeat          stepResult         tick")
for (n, cost) in zip(sizes, costs) {
    func cell(_ value: Double, _ ref: Double) -> String {
        String(format: "%8.2f µs (×%.2f)", value * 1e6, (value / Double(n)) / (ref / 8))
    }
    print(String(format: "%7d", n) + "  " + cell(cost.heartbeat, reference.heartbeat) + "  " + cell(cost.result, reference.result)
        + "  " + cell(cost.tick, reference.tick))
}
