// Moves one training state from a state server to a fetcher over loopback, as a join does, and
// compares it with a plain ZeroMQ copy of the same number of bytes in the same process.
//
//   state-transfer-bench [gigabytes] [repeats]     (default 1.5 GB, 5 repeats; medians printed)
//
// Each repeat publishes the state anew, so the server hashes it again, as it does for every new
// committed state a joiner or the coordinator fetches. Reported, never asserted.

import CZeroMQ
import Core
import Foundation
import Transport
import Wire

let arguments = CommandLine.arguments.dropFirst()
let gigabytes = arguments.first.flatMap(Double.init) ?? 1.5
let repeats = arguments.dropFirst().first.flatMap(Int.init) ?? 5
let values = Int(gigabytes * 1e9 / 12)  // parameters, with two optimizer buffers of the same size (Adam)

func median(_ xs: [Double]) -> Double { xs.sorted()[xs.count / 2] }
func seconds(_ body: () throws -> Void) rethrows -> Double {
    let start = ContinuousClock.now
    try body()
    return start.duration(to: .now).inSeconds
}

print("machine: \(ProcessInfo.processInfo.activeProcessorCount) cores, \(ProcessInfo.processInfo.physicalMemory >> 30) GiB; state of \(values) parameters + Adam (m, v)")
nonisolated(unsafe) let parameters = (0..<values).map { Float($0 % 1000) * 0.001 }
nonisolated(unsafe) let m = parameters.map { $0 * 0.5 }
nonisolated(unsafe) let v = parameters.map { $0 * 0.25 }

nonisolated func image(step: UInt64) -> StateImage {
    StateImage(step: step, segments: [StateImage.Segment(name: "param/w", values: parameters),
                                      StateImage.Segment(name: "optim/adam.m", values: m), StateImage.Segment(name: "optim/adam.v", values: v)])
}
let bytes = image(step: 1).byteCount
let gb = Double(bytes) / 1e9

// The parts on their own.
let hashSeconds = seconds { _ = image(step: 1).sha256() }
var chunk = [UInt8](repeating: 0, count: 4 << 20)
let copySeconds = seconds {
    let img = image(step: 1)
    var offset = 0
    while offset < bytes {
        let n = min(chunk.count, bytes - offset)
        chunk.withUnsafeMutableBytes { img.copy(from: offset, into: UnsafeMutableRawBufferPointer(rebasing: $0[0..<n])) }
        offset += n
    }
}
print(String(format: "sha256 of the state: %.2f s (%.2f GB/s); reading it out in 4 MiB ranges: %.2f s (%.2f GB/s)",
             hashSeconds, gb / hashSeconds, copySeconds, gb / copySeconds))

// Grove: a state server and a fetcher, as a join.
let generation = Locked<UInt64>(1)
let server = try StateServer(host: "127.0.0.1", origin: "bench", currentGeneration: { generation.value })
var fetchTimes: [Double] = []
for r in 0..<repeats {
    let token = (0..<16).map { UInt8(truncatingIfNeeded: $0 &+ r) }
    server.publish(image(step: UInt64(r + 2)))
    server.grant(token: token, step: UInt64(r + 2), generation: 1)
    let fetcher = StateFetcher(sender: WorkerID(1), incarnation: Incarnation(1))
    var got: StateFetcher.Fetched?
    let t = try seconds {
        got = try fetcher.fetch(from: server.endpoint, origin: "bench server", step: UInt64(r + 2), token: token, generation: Generation(1),
                                maxValues: 3 * values)
    }
    precondition(got?.bytes == bytes, "fetched \(got?.bytes ?? 0) bytes of \(bytes)")
    fetchTimes.append(t)
    got = nil
}
server.close()

// Reference: the same bytes through a plain PUSH/PULL pair over tcp loopback, 4 MiB per message.
func rawCopy() -> Double {
    let context = zmq_ctx_new()!
    defer { zmq_ctx_term(context) }
    let pull = zmq_socket(context, ZMQ_PULL)!, push = zmq_socket(context, ZMQ_PUSH)!
    var hwm: Int32 = 4, linger: Int32 = 0
    for s in [pull, push] {
        zmq_setsockopt(s, ZMQ_RCVHWM, &hwm, 4); zmq_setsockopt(s, ZMQ_SNDHWM, &hwm, 4); zmq_setsockopt(s, ZMQ_LINGER, &linger, 4)
    }
    zmq_bind(pull, "tcp://127.0.0.1:*")
    var name = [CChar](repeating: 0, count: 256)
    var size = name.count
    zmq_getsockopt(pull, ZMQ_LAST_ENDPOINT, &name, &size)
    zmq_connect(push, String(cString: name))
    let total = bytes
    nonisolated(unsafe) let outbound = push  // used only by the sender thread until it ends
    let sender = Thread {
        let img = image(step: 1)
        var buffer = [UInt8](repeating: 0, count: 4 << 20)
        var offset = 0
        while offset < total {
            let n = min(buffer.count, total - offset)
            buffer.withUnsafeMutableBytes { raw in
                img.copy(from: offset, into: UnsafeMutableRawBufferPointer(rebasing: raw[0..<n]))
                _ = zmq_send(outbound, raw.baseAddress, n, 0)
            }
            offset += n
        }
    }
    var received = 0
    var buffer = [UInt8](repeating: 0, count: 4 << 20)
    let t = seconds {
        sender.start()
        while received < total {
            let n = buffer.withUnsafeMutableBytes { zmq_recv(pull, $0.baseAddress, $0.count, 0) }
            if n > 0 { received += Int(n) }
        }
    }
    zmq_close(push)
    zmq_close(pull)
    return t
}
let rawTimes = (0..<repeats).map { _ in rawCopy() }

let fetch = median(fetchTimes), raw = median(rawTimes)
print(String(format: "state transfer (server hashes, streams in 4 MiB chunks, window 4; fetcher decodes and verifies): median %.2f s for %.2f GB = %.2f s per GB (%.2f GB/s); runs %@",
             fetch, gb, fetch / gb, gb / fetch, fetchTimes.map { String(format: "%.2f", $0) }.joined(separator: " ")))
print(String(format: "plain ZeroMQ copy of the same bytes (PUSH/PULL, tcp loopback, 4 MiB messages): median %.2f s = %.2f s per GB (%.2f GB/s)",
             raw, raw / gb, gb / raw))
print(String(format: "ratio: the state transfer takes %.1fx the raw copy's time", fetch / raw))
