/// The driver's bookkeeping, as a pure state machine: it takes the rank processes' messages and
/// returns what to send and what to report. The shell (`PerfDriver`) owns the sockets and clocks.
///
/// Three jobs: the rendezvous (once every rank has said hello, each learns its next rank's ring
/// endpoint), the barrier before every iteration (opened when all ranks wait at the same
/// iteration of the same run), and collecting each run's times from every rank.
struct DriverState {
    enum Directive: Equatable {
        case send(PerfMessage, to: [UInt8])
        /// All ranks reported run `run`: `times[rank][iteration]` in seconds.
        case report(run: Int, times: [[Double]])
        /// Every rank finished and was told to leave.
        case finished
    }

    let worldSize: Int
    private var ranks: [[UInt8]: Int] = [:]
    private var peers: [[UInt8]?]
    private var endpoints: [String?]
    private var barrier: (run: Int, iteration: Int)?
    private var waiting = 0
    private var times: [Int: [[Double]?]] = [:]
    private var done = 0

    init(worldSize: Int) {
        self.worldSize = worldSize
        peers = Array(repeating: nil, count: worldSize)
        endpoints = Array(repeating: nil, count: worldSize)
    }

    /// Whether every rank has said hello.
    var joined: Bool { ranks.count == worldSize }

    /// - Throws: when a rank reports a failure or breaks the protocol (a duplicate rank, a
    ///   barrier for another iteration than the others', a message before its hello).
    mutating func on(_ message: PerfMessage, from peer: [UInt8]) throws(PerfError) -> [Directive] {
        if case .hello(let rank, let ring) = message { return try onHello(rank: rank, ring: ring, peer: peer) }
        if case .failed(let rank, let reason) = message {
            throw PerfError(code: "perf.rank-failed", "rank \(rank) failed: \(reason)")
        }
        guard let rank = ranks[peer] else {
            throw PerfError(code: "perf.protocol", "a \(message) message came from a process that never said hello")
        }
        switch message {
        case .ready(let run, let iteration):
            if let barrier, barrier != (run, iteration) {
                throw PerfError(code: "perf.protocol",
                                "rank \(rank) waits before iteration \(iteration) of run \(run), others before iteration \(barrier.iteration) of run \(barrier.run)")
            }
            barrier = (run, iteration)
            waiting += 1
            guard waiting == worldSize else { return [] }
            barrier = nil
            waiting = 0
            return broadcast(.go)
        case .times(let run, let seconds):
            var slots = times[run] ?? Array(repeating: nil, count: worldSize)
            guard slots[rank] == nil else {
                throw PerfError(code: "perf.protocol", "rank \(rank) reported run \(run) twice")
            }
            slots[rank] = seconds
            let complete = slots.compactMap { $0 }
            if complete.count < worldSize {
                times[run] = slots
                return []
            }
            times[run] = nil
            return [.report(run: run, times: complete)]
        case .done:
            done += 1
            return done == worldSize ? broadcast(.bye) + [.finished] : []
        case .hello, .failed, .ring, .go, .bye:
            throw PerfError(code: "perf.protocol", "rank \(rank) sent \(message), which only the driver sends")
        }
    }

    private mutating func onHello(rank: Int, ring: String, peer: [UInt8]) throws(PerfError) -> [Directive] {
        guard (0..<worldSize).contains(rank) else {
            throw PerfError(code: "perf.protocol", "hello from rank \(rank), outside a ring of \(worldSize)")
        }
        guard peers[rank] == nil, ranks[peer] == nil else {
            throw PerfError(code: "perf.protocol", "rank \(rank) said hello twice (ring endpoint \(ring))")
        }
        ranks[peer] = rank
        peers[rank] = peer
        endpoints[rank] = ring
        guard joined else { return [] }
        return (0..<worldSize).map { r in .send(.ring(next: endpoints[(r + 1) % worldSize]!), to: peers[r]!) }
    }

    private func broadcast(_ message: PerfMessage) -> [Directive] {
        peers.map { .send(message, to: $0!) }
    }
}
