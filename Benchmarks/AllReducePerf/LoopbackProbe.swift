import Foundation
import Collective
import Core
import Transport

/// The reference every all-reduce figure is divided by: how fast one stream of 4 MiB messages
/// goes over tcp://127.0.0.1 through the same transport (`ZeroMQRingLink`s, PUSH to PULL), from a
/// sending thread to a receiving thread of this process.
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
        let sender: ZeroMQRingLink, receiver: ZeroMQRingLink
        do {
            let endpoint = try sink.bindRing(host: "127.0.0.1")
            let back = try source.bindRing(host: "127.0.0.1")
            sender = try ZeroMQRingLink(loop: source, generation: Generation(1), rank: 0, worldSize: 2, next: endpoint, stallTimeout: timeout)
            receiver = try ZeroMQRingLink(loop: sink, generation: Generation(1), rank: 1, worldSize: 2, next: back)
        } catch {
            throw PerfError(code: "perf.socket", "the loopback probe could not open its sockets: \(error)")
        }
        let payload = [UInt8](repeating: 0x5A, count: messageBytes)
        // The sender runs on its own thread, as a ring's previous member would.
        let sending = Thread {
            for _ in 0...(trials * messages + messages) {
                do { try sender.send(payload) } catch { return }
            }
        }
        sending.start()
        var rates: [Double] = []
        for trial in 0...trials {
            let start = ContinuousClock.now
            for index in 0..<messages {
                let frame: ReceivedFrame
                do {
                    frame = try receiver.receiveFrame(until: .now + timeout)
                } catch {
                    throw PerfError(code: "perf.timeout", "the loopback probe's message \(index) of trial \(trial) did not arrive: \(error)")
                }
                guard frame.count == messageBytes else {
                    throw PerfError(code: "perf.loopback", "the loopback probe received \(frame.count) bytes, expected \(messageBytes)")
                }
            }
            if trial > 0 { rates.append(Double(messages * messageBytes) / start.duration(to: .now).inSeconds) }
        }
        let sorted = rates.sorted()
        return Figure(bytesPerSecond: Statistics.median(sorted), slowest: sorted[0], fastest: sorted[sorted.count - 1],
                      trials: trials, messageBytes: messageBytes, messagesPerTrial: messages)
    }
}

/// The kernel's own limit for one stream on this machine: plain TCP sockets over 127.0.0.1,
/// one thread writing 4 MiB buffers and another reading them, no messaging library. What is left
/// between this and `LoopbackProbe` is the transport's cost (libzmq's I/O thread, framing, its
/// allocation of every message, the socket thread's hand-offs).
enum PlainTCPProbe {
    static func measure(chunkBytes: Int = 4 << 20, chunks: Int = 48, trials: Int = 5) throws(PerfError) -> LoopbackProbe.Figure {
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard listener >= 0 else { throw PerfError(code: "perf.socket", "the plain TCP probe could not open a socket: errno \(errno)") }
        defer { close(listener) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(listener, $0, length) == 0 && listen(listener, 1) == 0 && getsockname(listener, $0, &length) == 0 }
        }
        guard bound else { throw PerfError(code: "perf.socket", "the plain TCP probe could not listen on 127.0.0.1: errno \(errno)") }
        let sender = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard sender >= 0 else { throw PerfError(code: "perf.socket", "the plain TCP probe could not open a socket: errno \(errno)") }
        defer { close(sender) }
        let connected = withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(sender, $0, length) == 0 }
        }
        let receiver = accept(listener, nil, nil)
        guard connected && receiver >= 0 else { throw PerfError(code: "perf.socket", "the plain TCP probe could not connect over 127.0.0.1: errno \(errno)") }
        defer { close(receiver) }

        let bytesPerTrial = chunkBytes * chunks
        let writer = Thread {
            let buffer = [UInt8](repeating: 0x5A, count: chunkBytes)
            buffer.withUnsafeBytes { raw in
                for _ in 0...trials {
                    for _ in 0..<chunks {
                        var offset = 0
                        while offset < chunkBytes {
                            let written = send(sender, raw.baseAddress! + offset, chunkBytes - offset, 0)
                            if written <= 0 { return }
                            offset += written
                        }
                    }
                }
            }
        }
        writer.start()
        var buffer = [UInt8](repeating: 0, count: chunkBytes)
        var rates: [Double] = []
        for trial in 0...trials {
            let start = ContinuousClock.now
            var left = bytesPerTrial
            let complete = buffer.withUnsafeMutableBytes { raw -> Bool in
                while left > 0 {
                    let got = recv(receiver, raw.baseAddress!, min(left, chunkBytes), 0)
                    if got <= 0 { return false }
                    left -= got
                }
                return true
            }
            guard complete else { throw PerfError(code: "perf.loopback", "the plain TCP probe's stream ended early: errno \(errno)") }
            // The first trial only warms the connection up.
            if trial > 0 { rates.append(Double(bytesPerTrial) / start.duration(to: .now).inSeconds) }
        }
        let sorted = rates.sorted()
        return LoopbackProbe.Figure(bytesPerSecond: Statistics.median(sorted), slowest: sorted[0], fastest: sorted[sorted.count - 1],
                                    trials: trials, messageBytes: chunkBytes, messagesPerTrial: chunks)
    }
}
