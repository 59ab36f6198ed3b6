import Collective
@testable import Transport

/// Ring frames sealed with AES-256-GCM (`SealedRingLink.open`): what a run with keys reads from
/// its plain ring socket, where anyone who reaches the port can write.
///
/// Input: one frame as it arrives, in one piece. The receiver is rank 1 of a ring of three under a
/// fixed key, generation and step; the seeds are frames rank 0 and rank 2 sealed under them.
/// Oracle: only a seed may open (anything else would be a forgery under a key the input never
/// saw), an opened frame holds exactly the bytes the seal covered, and a refusal says why.
let sealedRingFrameTarget = FuzzTarget(
    name: "sealed-ring-frame",
    summary: "ring frames sealed with AES-256-GCM (Transport/SealedRingLink.swift)",
    run: { data in
        let bytes = Array(data)
        let receiver = try! SealedRingFixture.link(rank: 1)
        let (opened, refusal) = receiver.open(ReceivedFrame(bytes))
        guard let opened else {
            if (refusal ?? "").isEmpty { finding("a refused frame without a reason") }
            return
        }
        guard SealedRingFixture.seeds.contains(where: { $0.bytes == bytes }) else {
            finding("a frame that no member sealed opened")
        }
        if opened.count != bytes.count - SealedRingLink.overhead {
            finding("a \(bytes.count)-byte frame opened to \(opened.count) bytes")
        }
    },
    seeds: { SealedRingFixture.seeds }
)

enum SealedRingFixture {
    static let key = [UInt8](1...32)

    static func link(rank: Int) throws -> SealedRingLink {
        try SealedRingLink(InProcessRing.make(worldSize: 3)[rank], key: key, generation: 3, epoch: 9)
    }

    /// Frames of ranks 0 and 2, with and without a head, empty and not.
    static let seeds: [(name: String, bytes: [UInt8])] = {
        let previous = try! link(rank: 0), other = try! link(rank: 2)
        func sealed(_ link: SealedRingLink, head: [UInt8], body: [UInt8]) -> [UInt8] {
            head.withUnsafeBytes { h in body.withUnsafeBytes { link.seal(head: h, body: $0) } }
        }
        return [
            (name: "values", bytes: sealed(previous, head: Array(repeating: 7, count: 48), body: (0..<256).map { UInt8($0 & 255) })),
            (name: "whole", bytes: sealed(previous, head: [], body: [1, 2, 3, 4, 5, 6, 7, 8])),
            (name: "empty", bytes: sealed(previous, head: [], body: [])),
            (name: "forwarded", bytes: sealed(other, head: [9, 9, 9], body: Array(repeating: 0x42, count: 64))),
        ]
    }()
}
