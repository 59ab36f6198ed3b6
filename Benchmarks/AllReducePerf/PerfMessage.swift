/// The messages between the driver and its rank processes, carried by the driver's control ROUTER
/// and each rank's DEALER (`SocketLoop.bindControl` / `connectControl`).
///
/// Layout: 8 bytes of magic, the ring's generation as a little-endian u64, then one line of
/// UTF-8 text (`kind field field ...`). The generation sits at bytes 8..<16 because that is where
/// a worker's `SocketLoop` reads the coordinator's newest generation from every control message;
/// a `ZeroMQRingLink` of an older generation gives up at once, so the benchmark's messages must
/// name exactly the generation of its ring.
enum PerfMessage: Equatable, Sendable {
    /// rank -> driver: joined, with the endpoint of its inbound ring socket.
    case hello(rank: Int, ring: String)
    /// driver -> rank: the inbound ring endpoint of the next rank.
    case ring(next: String)
    /// rank -> driver: waiting at the barrier before iteration `iteration` of run `run`.
    case ready(run: Int, iteration: Int)
    /// driver -> rank: every rank is at the barrier.
    case go
    /// rank -> driver: the seconds of every measured iteration of run `run`.
    case times(run: Int, seconds: [Double])
    /// rank -> driver: this rank stops; `reason` says why.
    case failed(rank: Int, reason: String)
    /// rank -> driver: every run finished.
    case done
    /// driver -> rank: leave.
    case bye

    static let magic: [UInt8] = Array("GRVPERF1".utf8)

    func encoded(generation: UInt64) -> [UInt8] {
        let text: String
        switch self {
        case .hello(let rank, let ring): text = "hello \(rank) \(ring)"
        case .ring(let next): text = "ring \(next)"
        case .ready(let run, let iteration): text = "ready \(run) \(iteration)"
        case .go: text = "go"
        case .times(let run, let seconds): text = (["times", "\(run)"] + seconds.map { "\($0)" }).joined(separator: " ")
        case .failed(let rank, let reason): text = "failed \(rank) \(reason)"
        case .done: text = "done"
        case .bye: text = "bye"
        }
        return Self.magic + withUnsafeBytes(of: generation.littleEndian) { Array($0) } + Array(text.utf8)
    }

    /// Decodes a message; `source` names the sender in the error.
    init(decoding bytes: [UInt8], source: String) throws(PerfError) {
        guard bytes.count >= 16, Array(bytes[0..<8]) == Self.magic else {
            throw PerfError(code: "perf.message", "a \(bytes.count)-byte control message from \(source) does not start with the benchmark's magic")
        }
        let text = String(decoding: bytes[16...], as: UTF8.self)
        let words = text.split(separator: " ", omittingEmptySubsequences: false).map(String.init)
        func bad() -> PerfError { PerfError(code: "perf.message", "malformed message from \(source): \(text.prefix(120))") }
        func int(_ index: Int) throws(PerfError) -> Int {
            guard index < words.count, let value = Int(words[index]) else { throw bad() }
            return value
        }
        switch words.first {
        case "hello" where words.count == 3: self = .hello(rank: try int(1), ring: words[2])
        case "ring" where words.count == 2: self = .ring(next: words[1])
        case "ready" where words.count == 3: self = .ready(run: try int(1), iteration: try int(2))
        case "go" where words.count == 1: self = .go
        case "times" where words.count >= 2:
            var seconds: [Double] = []
            for word in words.dropFirst(2) {
                guard let value = Double(word) else { throw bad() }
                seconds.append(value)
            }
            self = .times(run: try int(1), seconds: seconds)
        case "failed" where words.count >= 2:
            self = .failed(rank: try int(1), reason: words.dropFirst(2).joined(separator: " "))
        case "done" where words.count == 1: self = .done
        case "bye" where words.count == 1: self = .bye
        default: throw bad()
        }
    }
}
