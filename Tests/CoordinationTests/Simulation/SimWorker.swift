import Core
import Coordination
import Wire

/// One simulated worker process: a real `WorkerInstance` plus what the runtime around it holds
/// (the weights, modelled as a hash chain, and the step in flight). Its behaviour lives in
/// `Simulator+Workers.swift`; this is its state.
struct SimWorker {
    enum Timer {
        case heartbeat
        /// No welcome yet: say hello again (a lost handshake must not strand a process).
        case joinRetry
        case computeDone(session: Int)
        case collectiveTimeout(session: Int)
    }

    enum Phase: Equatable {
        /// Said hello, waiting for a welcome.
        case connecting
        case member
        /// Told to leave, refused, or drained: the process has ended.
        case exited
        case crashed
    }

    let slot: Int
    /// A number unique to this process in the run: its connection's routing id and its pid.
    var process: Int
    /// Bumped for every new process or incarnation, so that an earlier one's timers are void.
    var life = 0
    var incarnation: Incarnation
    var instance: WorkerInstance
    var phase = Phase.connecting
    var pausedUntil: Int?
    var slowFactor = 1
    /// Computes corrupt weights (a replica with silent data corruption): its hash disagrees.
    var corrupt = false
    /// The weights after `instance.committed` steps; nil before the first state.
    var weights: UInt64?
    /// An update applied but not yet committed: the step and the weights after it.
    var pending: (step: Int, weights: UInt64)?
    /// The ring session this worker takes part in, and its rank there.
    var session: (id: Int, rank: Int)?
    var lastGeneration = Generation(0)
    /// Protocol points already passed, so a point-triggered fault fires once.
    var passed: Set<Int> = []

    init(slot: Int, process: Int, settings: WorkerInstance.Settings) {
        self.slot = slot
        self.process = process
        incarnation = Incarnation(UInt64(process) << 16 | 1)
        instance = WorkerInstance(settings: settings)
    }

    var peer: [UInt8] { Self.peer(process) }
    var pid: UInt32 { UInt32(1000 + process) }
    var host: String { "h\(slot)" }
    var isRunning: Bool { phase == .connecting || phase == .member }

    static func peer(_ process: Int) -> [UInt8] { [0x50, UInt8(truncatingIfNeeded: process >> 8), UInt8(truncatingIfNeeded: process)] }
    static func process(ofPeer peer: [UInt8]) -> Int? {
        guard peer.count == 3, peer[0] == 0x50 else { return nil }
        return Int(peer[1]) << 8 | Int(peer[2])
    }

    /// A new incarnation of the same process: it joins again from the start.
    mutating func reincarnate() {
        life += 1
        incarnation = Incarnation(incarnation.rawValue + 2)
        instance = WorkerInstance(settings: instance.settings)
        phase = .connecting
        weights = nil
        pending = nil
        session = nil
        lastGeneration = Generation(0)
    }
}
