import Core
import Transport

/// The reference every all-reduce figure is divided by: how fast one stream of 4 MiB messages
/// goes over tcp://127.0.0.1 through the same transport (`SocketLoop` ring sockets, PUSH to
/// PULL), between two socket threads of this process.
///
/// A ring all-reduce moves `2 (N - 1) / N` of the vector over every link, and every link is
/// such a stream, so bus bandwidth divided by this figure says how close the collective gets to
/// what the transport can carry on this machine (above 1 is possible: the ring's N links run
/// concurrently while the probe measures one).
enum LoopbackProbe {
    struct Figure {
        /// Median over trials, bytes per second.
        var bytesPerSecond: Double
        var slowest: Double
        var fastest: Double
        var trials: Int
        var messageBytes: Int
        var messagesPerTrial: Int
    }

    /// Streams `messages` messages per trial after one unmeasured trial that connects the
    /// sockets. The sender queues a whole trial at once; the sockets' high-water marks hold it
    /// back, as they do for the all-reduce.
    static func measure(messageBytes: Int = 4 << 20, messages: Int = 48, trials: Int = 5,
                        timeout: Duration = .seconds(30)) throws(PerfError) -> Figure {
        let sink = SocketLoop()
        let source = SocketLoop()
        defer {
            source.close()
            sink.close()
        }
        do {
            let endpoint = try sink.bindRing(host: "127.0.0.1")
            try source.connectRing(next: endpoint)
        } catch {
            throw PerfError(code: "perf.socket", "the loopback probe could not open its sockets: \(error)")
        }
        let payload = [UInt8](repeating: 0x5A, count: messageBytes)
        var rates: [Double] = []
        for trial in 0...trials {
            let start = ContinuousClock.now
            for _ in 0..<messages { source.sendRing(payload, generation: 1) }
            for index in 0..<messages {
                guard case .item(let frame) = sink.ring.pop(until: .now + timeout) else {
                    throw PerfError(code: "perf.timeout", "the loopback probe's message \(index) of trial \(trial) did not arrive within \(timeout)")
                }
                guard frame.payload.count == messageBytes else {
                    throw PerfError(code: "perf.loopback", "the loopback probe received \(frame.payload.count) bytes, expected \(messageBytes)")
                }
            }
            if trial > 0 { rates.append(Double(messages * messageBytes) / start.duration(to: .now).inSeconds) }
        }
        let sorted = rates.sorted()
        return Figure(bytesPerSecond: Statistics.median(sorted), slowest: sorted[0], fastest: sorted[sorted.count - 1],
                      trials: trials, messageBytes: messageBytes, messagesPerTrial: messages)
    }
}
