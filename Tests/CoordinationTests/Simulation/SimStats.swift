import Coordination

/// What a schedule (or a campaign of them) injected and what the coordinator did about it.
struct SimStats {
    private(set) var counts: [String: Int] = [:]
    private(set) var maxima: [String: Int] = [:]

    mutating func record(max kind: String, _ value: Int) {
        maxima[kind] = Swift.max(maxima[kind] ?? value, value)
    }

    mutating func count(_ kind: String, _ n: Int = 1) {
        guard n != 0 else { return }
        counts[kind, default: 0] += n
    }

    mutating func absorb(_ network: SimNetwork.Counters, _ coordinator: CoordinatorInstance.Counters) {
        count("messages sent", network.sent)
        count("messages lost to partitions", network.partitionDrops)
        count("messages dropped (hostile)", network.hostileDrops)
        count("messages duplicated (hostile)", network.duplicates)
        count("messages delayed/reordered (hostile)", network.delays)
        count("coordinator: ejections", coordinator.ejections)
        count("coordinator: steps dealt again", coordinator.redealtSteps)
        count("coordinator: rejoins", coordinator.rejoins)
        count("coordinator: rollbacks", coordinator.rollbacks)
        count("coordinator: stale messages", coordinator.staleMessages)
    }

    mutating func merge(_ other: SimStats) {
        for (kind, n) in other.counts { counts[kind, default: 0] += n }
        for (kind, n) in other.maxima { record(max: kind, n) }
    }

    var report: String {
        (counts.sorted { $0.key < $1.key }.map { "  \($0.key): \($0.value)" }
            + maxima.sorted { $0.key < $1.key }.map { "  max \($0.key): \($0.value)" }).joined(separator: "\n")
    }
}
