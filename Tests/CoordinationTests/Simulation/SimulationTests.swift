import Coordination
import Core
import Foundation
import Testing

/// The deterministic simulation tier: many seeded schedules of a whole run (coordinator and
/// workers in one process on a manual clock, faults from a seeded plan), invariants checked after
/// every event. `GROVE_SIM_SCHEDULES` sets the campaign's size (10,000 by default),
/// `GROVE_SIM_FIRST_SEED` where it starts, and `GROVE_SIM_SEED` replays one seed with its trace.
@Suite struct SimulationTests {
    static let environment = ProcessInfo.processInfo.environment

    /// Runs `seeds`, in two halves at once; returns the failures (with a trace replayed for each)
    /// and the campaign's statistics.
    static func campaign(_ seeds: [UInt64]) async -> (failures: [Simulator.Outcome], stats: SimStats, outcomes: [String: Int]) {
        let halves = [Array(seeds[..<(seeds.count / 2)]), Array(seeds[(seeds.count / 2)...])]
        let parts = await withTaskGroup(of: ([Simulator.Outcome], SimStats, [String: Int]).self) { group in
            for half in halves {
                group.addTask {
                    var failures: [Simulator.Outcome] = []
                    var stats = SimStats()
                    var outcomes: [String: Int] = [:]
                    for seed in half {
                        let outcome = Simulator(plan: FaultPlan(seed: seed)).run()
                        stats.merge(outcome.stats)
                        if let slowest = outcome.stats.maxima["ms from the faults' end to the finish"] {
                            stats.record(max: "seed of the slowest recovery (ms × 1e6 + seed % 1e6)", slowest * 1_000_000 + Int(seed % 1_000_000))
                        }
                        outcomes["\(outcome.stop.map { "\($0)".prefix(while: { $0 != "(" }) } ?? "unfinished")", default: 0] += 1
                        if outcome.violation != nil, failures.count < 5 {
                            failures.append(Simulator(plan: FaultPlan(seed: seed), tracing: true).run())
                        }
                    }
                    return (failures, stats, outcomes)
                }
            }
            var all: [([Simulator.Outcome], SimStats, [String: Int])] = []
            for await part in group { all.append(part) }
            return all
        }
        var stats = SimStats()
        var outcomes: [String: Int] = [:]
        for part in parts {
            stats.merge(part.1)
            for (k, v) in part.2 { outcomes[k, default: 0] += v }
        }
        return (parts.flatMap(\.0).sorted { $0.seed < $1.seed }, stats, outcomes)
    }

    static func describe(_ failure: Simulator.Outcome) -> String {
        """
        simulation seed \(failure.seed) broke an invariant: \(failure.violation ?? "?")
        replay: GROVE_SIM_SEED=\(failure.seed) swift test --filter SimulationTests
        \(FaultPlan(seed: failure.seed))
        last events:
        \(failure.trace.suffix(40).joined(separator: "\n"))
        """
    }

    @Test func seededCampaignKeepsEveryInvariant() async throws {
        let count = Int(Self.environment["GROVE_SIM_SCHEDULES"] ?? "") ?? 10_000
        let first = UInt64(Self.environment["GROVE_SIM_FIRST_SEED"] ?? "") ?? 1
        let started = ContinuousClock.now
        let (failures, stats, outcomes) = await Self.campaign((0..<UInt64(count)).map { first &+ $0 })
        let seconds = started.duration(to: .now).inSeconds
        print("simulation: \(count) schedules (seeds \(first)...\(first &+ UInt64(count) &- 1)) in "
            + "\(String(format: "%.1f", seconds)) s, \(failures.count) failing shown\noutcomes: \(outcomes)\n\(stats.report)")
        for failure in failures { Issue.record("\(Self.describe(failure))") }
        // The campaign must actually inject what it claims to test.
        for kind in ["crash", "pause", "partition worker–worker", "partition coordinator–worker", "drain", "join",
                     "corrupt member", "messages duplicated (hostile)", "messages delayed/reordered (hostile)",
                     "coordinator: ejections", "finished ok"] where count >= 1_000 {
            #expect(stats.counts[kind, default: 0] > 0, "the campaign injected no \(kind)")
        }
    }

    @Test func replaysOneSeed() throws {
        guard let text = Self.environment["GROVE_SIM_SEED"], let seed = UInt64(text) else { return }
        let simulator = Simulator(plan: FaultPlan(seed: seed), tracing: true)
        simulator.traceLimit = 1_000_000
        let outcome = simulator.run()
        print(FaultPlan(seed: seed))
        print(outcome.trace.joined(separator: "\n"))
        print("stop: \(outcome.stop.map { "\($0)" } ?? "none") after \(outcome.simulatedMillis) ms\n\(outcome.stats.report)")
        if outcome.violation != nil { Issue.record("\(Self.describe(outcome))") }
    }

    @Test func aSeedReplaysExactly() {
        for seed: UInt64 in [3, 77, 1_234] {
            let a = Simulator(plan: FaultPlan(seed: seed), tracing: true).run()
            let b = Simulator(plan: FaultPlan(seed: seed), tracing: true).run()
            #expect(a.trace == b.trace && a.simulatedMillis == b.simulatedMillis, "seed \(seed) did not replay exactly")
            #expect(!a.trace.isEmpty)
        }
    }
}
