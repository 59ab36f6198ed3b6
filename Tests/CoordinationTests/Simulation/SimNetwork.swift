import Core
import Wire

/// The simulated network between the coordinator (node -1) and worker processes (node = slot).
///
/// The control channel is TCP: within one connection nothing is lost or reordered unless the
/// connection itself breaks. So the honest faults are partitions, which lose everything sent
/// while a cut lasts (and what was in flight when it began). Single-message drops, duplicates
/// and long delays (which reorder) are hostile behaviour the protocol must survive without
/// breaking an invariant; they are switched on per schedule and only while faults last.
struct SimNetwork {
    struct Packet {
        var from: Int
        var to: Int
        /// The worker process at the worker's end: a packet for a process that has ended is lost.
        var process: Int
        /// Which life of the coordinator the connection belongs to: it dies with the coordinator.
        var epoch: Int
        /// A copy delayed or duplicated by the hostile network: part of the faults, so it is lost
        /// if it is still in flight when they end (the run must then recover on a clean network).
        var hostile = false
        var message: Wire.Message
        var envelope: Wire.Envelope
    }

    struct Counters {
        var sent = 0
        var partitionDrops = 0
        var hostileDrops = 0
        var duplicates = 0
        var delays = 0
    }

    private var rng: SplitMix64
    /// Cut links, by ordered node pair, with the instant each heals.
    private var cuts: [Int: Int] = [:]
    /// When the last in-order message on each connection arrives: TCP delivers in order.
    private var lastArrival: [Int: Int] = [:]
    var counters = Counters()
    var hostile = true
    let dropPerMille: Int
    let duplicatePerMille: Int
    let delayPerMille: Int

    init(seed: UInt64, plan: FaultPlan) {
        rng = SplitMix64(seed: seed, stream: 2)
        dropPerMille = plan.dropPerMille
        duplicatePerMille = plan.duplicatePerMille
        delayPerMille = plan.delayPerMille
    }

    private static func key(_ a: Int, _ b: Int) -> Int { (min(a, b) + 1) << 20 | (max(a, b) + 1) }

    mutating func cut(_ a: Int, _ b: Int, until: Int) {
        cuts[Self.key(a, b)] = max(cuts[Self.key(a, b)] ?? 0, until)
    }

    func isCut(_ a: Int, _ b: Int, now: Int) -> Bool {
        guard let until = cuts[Self.key(a, b)] else { return false }
        return now < until
    }

    mutating func healAll() { cuts.removeAll() }

    /// When `packet`, sent at `now`, arrives: none, once, or twice (a duplicate), and whether
    /// each copy is a hostile one (delayed or duplicated).
    mutating func route(_ packet: Packet, now: Int) -> [(at: Int, hostile: Bool)] {
        counters.sent += 1
        if isCut(packet.from, packet.to, now: now) {
            counters.partitionDrops += 1
            return []
        }
        // A LAN's latency: 1–4 ms, in order on one connection unless a hostile delay reorders.
        let connection = packet.process << 1 | (packet.to == -1 ? 1 : 0)
        var at = max(now + 1 + rng.nextInt(below: 4), lastArrival[connection] ?? 0)
        lastArrival[connection] = at
        guard hostile else { return [(at, false)] }
        if dropPerMille > 0 && rng.nextInt(below: 1000) < dropPerMille {
            counters.hostileDrops += 1
            return []
        }
        var delayed = false
        if delayPerMille > 0 && rng.nextInt(below: 1000) < delayPerMille {
            counters.delays += 1
            at += 20 + rng.nextInt(below: 2_000)
            delayed = true
        }
        if duplicatePerMille > 0 && rng.nextInt(below: 1000) < duplicatePerMille {
            counters.duplicates += 1
            return [(at, delayed), (at + 1 + rng.nextInt(below: 500), true)]
        }
        return [(at, delayed)]
    }
}
