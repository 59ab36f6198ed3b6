import Core
import Wire

/// Identifies one attempt's ring: the lease of a generation and step.
struct SessionKey: Hashable {
    var generation: Generation
    var step: Int
}

/// One attempt's ring all-reduce, modelled abstractly. It succeeds only if every member got its
/// lease and finished computing, every link between consecutive members stayed up, and nobody
/// crashed, paused or gave up during it. Otherwise members time out after the collective timeout
/// and blame the neighbour they stopped hearing from.
struct RingSession {
    let key: SessionKey
    let ring: [WorkerID]
    /// The slot and life of each rank's worker, once it started.
    var member: [(slot: Int, life: Int)?]
    var ready: [Bool]
    /// The rank left the collective (crashed, paused, took a newer lease, timed out).
    var gone: [Bool]
    /// The rank gave up waiting (its collective timed out): it stalled, it is not the fault.
    var timedOut: [Bool]
    /// The link into the rank (from the previous rank) was cut at some point during the session.
    var cutIn: [Bool]
    var samples: [Int] = []
    /// Slots whose replicas compute corrupt weights.
    var corrupt: Set<Int> = []
    /// Rank 0's lease asked it to attach its state to its result.
    var attachState = false
    var succeeded = false
    var completionScheduled = false

    init(key: SessionKey, ring: [WorkerID]) {
        self.key = key
        self.ring = ring
        member = Array(repeating: nil, count: ring.count)
        ready = Array(repeating: false, count: ring.count)
        gone = Array(repeating: false, count: ring.count)
        cutIn = Array(repeating: false, count: ring.count)
        timedOut = Array(repeating: false, count: ring.count)
    }

    func previous(_ rank: Int) -> Int { (rank + ring.count - 1) % ring.count }
}
