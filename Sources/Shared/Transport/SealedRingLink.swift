import CCryptoBoringSSL
import Collective
import Core
import Crypto
import Foundation

/// A ring link whose every frame is sealed with AES-256-GCM under a key of one lease: the
/// secured ring of a run with keys (docs/security.md, "The ring").
///
/// The members share a 32-byte ring key, made fresh by the coordinator for every attempt at a
/// step and handed out over the authenticated control channel (`ringKeys`). Each link derives its
/// own subkey from it with HKDF-SHA-256 over the generation and the collective's `epoch` (the
/// step), so a frame of another attempt, generation or step does not authenticate here. A sealed
/// frame is
///
/// ```
/// head count u32 | head | sender rank u32 | counter u64 | ciphertext of the body | tag (16)
/// ```
///
/// The collective's frame header (`head`) travels in the clear but authenticated; the body (the
/// gradient values) is encrypted. The rank that sealed the frame and its counter are the GCM
/// nonce: unique because each member counts its own frames under a subkey used for one collective
/// of one attempt only. A receiver accepts a frame only from another member of the ring and only
/// with a counter above the last one it accepted from that member, so a frame replayed within a
/// collective is refused too. A frame that does not open
/// (a flipped bit, a stranger's frame, another attempt's) is dropped and counted (`rejected`, and
/// the inner link's `droppedFrames`), never summed; the collective waits for the next one as for
/// any late frame.
///
/// The cipher is BoringSSL's, from swift-crypto, whose AES-GCM uses the CPU's vector AES and
/// carry-less multiply (several GB/s per core where libsodium's managed under one). It is called
/// through BoringSSL's `EVP_AEAD` interface rather than `Crypto.AES.GCM`, whose results are fresh
/// `Data` values: sealing writes the ciphertext straight into the frame that goes on the wire,
/// opening writes the plaintext straight into a recycled buffer, one pass over the bytes each
/// (docs/benchmarks.md, "The secured ring"). A frame the all-gather forwards unchanged goes on as
/// it was sealed, by the member that sealed it, so only the members that change a chunk seal it.
/// Not thread-safe, like the collective that uses it: one thread.
public final class SealedRingLink: ClosableRingLink, @unchecked Sendable {
    public let rank: Int
    public let worldSize: Int
    public let inner: any ClosableRingLink
    /// Frames that did not open, or came from the wrong sender or out of order.
    public private(set) var rejected = 0
    /// Why the last of them was refused.
    public private(set) var lastRejection: String?
    /// Frames opened straight into the collective's result (`receiveFrame(until:placing:)`).
    public private(set) var placed = 0
    /// Frames sent as sealed ahead on another thread (`prepareSends`).
    public private(set) var sentAhead = 0
    private let context: UnsafeMutablePointer<EVP_AEAD_CTX>
    private var sent: UInt64 = 0
    /// The last counter accepted from each member, by rank.
    private var lastReceived: [UInt64]
    /// The sealed frame each opened frame came from, while the opened one lives: what `forward`
    /// sends on.
    private let sealedOrigins = Locked<[ObjectIdentifier: ReceivedFrame]>([:])
    /// Buffers for opened frames, back from the collective once it is done with a frame.
    private let opened = FrameBufferPool(limit: 8)
    /// The announced sends being sealed ahead on another thread (`prepareSends`), if any.
    private var ahead: SealedAhead?

    /// Bytes a sealed frame adds to the head and body: the head count, the nonce and the tag.
    public static let overhead = 4 + nonceBytes + tagBytes
    static let nonceBytes = 12
    static let tagBytes = 16
    public static let keyBytes = 32

    /// Whether this machine can seal ring frames. BoringSSL runs AES-GCM on any CPU (fast with
    /// AES instructions, constant-time without them), so always.
    public static var isAvailable: Bool { true }

    /// A fresh random ring key.
    public static func newKey() -> [UInt8] {
        SymmetricKey(size: .bits256).withUnsafeBytes { Array($0) }
    }

    /// - Parameters:
    ///   - key: the ring key the members share (32 bytes).
    ///   - generation, epoch: what the subkey is bound to: the generation and the collective
    ///     (a run passes the step).
    public init(_ inner: any ClosableRingLink, key: [UInt8], generation: UInt64, epoch: UInt64) throws(SecurityError) {
        guard key.count == Self.keyBytes else {
            throw SecurityError(code: "security.ring-key", "a ring key is \(Self.keyBytes) bytes, not \(key.count)")
        }
        var info = Array("grove ring frame v2".utf8)
        withUnsafeBytes(of: generation.littleEndian) { info += $0 }
        withUnsafeBytes(of: epoch.littleEndian) { info += $0 }
        let subkey = HKDF<Crypto.SHA256>.deriveKey(inputKeyMaterial: SymmetricKey(data: key), info: info, outputByteCount: Self.keyBytes)
        let made = subkey.withUnsafeBytes { bytes in
            CCryptoBoringSSL_EVP_AEAD_CTX_new(CCryptoBoringSSL_EVP_aead_aes_256_gcm(), bytes.baseAddress!.assumingMemoryBound(to: UInt8.self),
                                              Self.keyBytes, Self.tagBytes)
        }
        guard let made else { throw SecurityError(code: "security.ring-key", "BoringSSL could not set up AES-256-GCM") }
        context = made
        self.inner = inner
        rank = inner.rank
        worldSize = inner.worldSize
        lastReceived = Array(repeating: 0, count: inner.worldSize)
    }

    deinit { CCryptoBoringSSL_EVP_AEAD_CTX_free(context) }

    // MARK: Sealing

    /// `head` and `body` sealed into one frame, in an array from the inner link's storage.
    func seal(head: UnsafeRawBufferPointer, body: UnsafeRawBufferPointer) -> [UInt8] {
        sent += 1
        return seal(head: head, body: body, counter: sent)
    }

    /// `seal` under a given counter: safe to call from any thread (BoringSSL's sealing does not
    /// change the context).
    private func seal(head: UnsafeRawBufferPointer, body: UnsafeRawBufferPointer, counter: UInt64) -> [UInt8] {
        seal(head: head, bodyCount: body.count, counter: counter, from: body.baseAddress, writing: nil)
    }

    /// `seal` of a body that `write` puts where the ciphertext goes, sealed there in place.
    private func seal(head: UnsafeRawBufferPointer, bodyCount: Int, counter: UInt64,
                      writing write: @escaping (UnsafeMutableRawBufferPointer) -> Void) -> [UInt8] {
        seal(head: head, bodyCount: bodyCount, counter: counter, from: nil, writing: write)
    }

    private func seal(head: UnsafeRawBufferPointer, bodyCount: Int, counter: UInt64, from body: UnsafeRawPointer?,
                      writing write: ((UnsafeMutableRawBufferPointer) -> Void)?) -> [UInt8] {
        let clearCount = 4 + head.count
        var frame = inner.frameStorage(count: Self.overhead + head.count + bodyCount)
        let (rank, counter) = (UInt32(self.rank).littleEndian, counter.littleEndian)
        let sealed = frame.withUnsafeMutableBytes { out -> Int32 in
            let base = out.baseAddress!.assumingMemoryBound(to: UInt8.self)
            withUnsafeBytes(of: UInt32(head.count).littleEndian) { UnsafeMutableRawPointer(base).copyMemory(from: $0.baseAddress!, byteCount: 4) }
            if !head.isEmpty { UnsafeMutableRawPointer(base + 4).copyMemory(from: head.baseAddress!, byteCount: head.count) }
            let nonce = base + clearCount
            withUnsafeBytes(of: rank) { UnsafeMutableRawPointer(nonce).copyMemory(from: $0.baseAddress!, byteCount: 4) }
            withUnsafeBytes(of: counter) { UnsafeMutableRawPointer(nonce + 4).copyMemory(from: $0.baseAddress!, byteCount: 8) }
            // The ciphertext goes where the frame's body lies, the tag right after it: one pass.
            let text = nonce + Self.nonceBytes
            // A written body is put there first and sealed in place (BoringSSL allows exactly
            // that aliasing).
            write?(UnsafeMutableRawBufferPointer(start: text, count: bodyCount))
            let plain = body?.assumingMemoryBound(to: UInt8.self) ?? UnsafePointer(text)
            var tagCount = 0
            return CCryptoBoringSSL_EVP_AEAD_CTX_seal_scatter(
                context, text, text + bodyCount, &tagCount, Self.tagBytes, nonce, Self.nonceBytes,
                plain, bodyCount, nil, 0, base, clearCount)
        }
        // Only a wrong nonce or tag size, or a body beyond GCM's 64 GiB, makes sealing fail.
        precondition(sealed == 1, "AES-256-GCM refused to seal a \(bodyCount)-byte frame")
        return frame
    }

    /// A prepared frame sealed under `counter`: a lent payload read where it lies, a written one
    /// written into the frame and sealed in place.
    private func seal(_ frame: PreparedSend, counter: UInt64) -> [UInt8] {
        switch frame.payload {
        case .lent(let payload):
            return frame.header.withUnsafeBytes { seal(head: $0, body: payload, counter: counter) }
        case .written(let count, let write):
            return frame.header.withUnsafeBytes { seal(head: $0, bodyCount: count, counter: counter, writing: write) }
        }
    }

    /// The plaintext of a sealed frame as a frame (head, then body), or nil and why when it must
    /// be refused. With a `placement` whose head and size the frame matches, the body is opened
    /// straight into the placement's destination and the frame returned holds the head alone.
    func open(_ frame: ReceivedFrame, placing placement: PayloadPlacement? = nil) -> (frame: ReceivedFrame?, refusal: String?) {
        guard frame.count >= Self.overhead else { return (nil, "a \(frame.count)-byte frame is shorter than a sealed one") }
        let headCount = frame.withHead(size: 4) { first, _ in Int(UInt32(littleEndian: first.loadUnaligned(as: UInt32.self))) } ?? 0
        guard headCount <= frame.count - Self.overhead else {
            return (nil, "a frame whose head of \(headCount) bytes does not fit in its \(frame.count) bytes")
        }
        let bodyCount = frame.count - Self.overhead - headCount
        // The head is authenticated only with the body, but it says where the body belongs: a
        // frame whose head is not the expected one opens into a buffer of its own, as any other.
        let destination: UnsafeMutableRawBufferPointer? = placement.flatMap { placement in
            guard headCount == placement.headBytes, bodyCount == placement.destination.count else { return nil }
            let expected = frame.withHead(size: 4 + headCount) { clear, _ in placement.accepts(UnsafeRawBufferPointer(rebasing: clear[4...])) }
            return expected == true ? placement.destination : nil
        }
        var plain = destination == nil ? opened.take(count: bodyCount) : []
        let verdict: String? = frame.withHead(size: 4 + headCount) { clear, rest in
            let sender = UInt32(littleEndian: rest.loadUnaligned(as: UInt32.self))
            let counter = UInt64(littleEndian: rest.loadUnaligned(fromByteOffset: 4, as: UInt64.self))
            guard sender < worldSize, sender != rank else {
                return "a frame sealed by rank \(sender), not by another member of this ring of \(worldSize)"
            }
            guard counter > lastReceived[Int(sender)] else {
                return "frame \(counter) of rank \(sender) again (the last accepted was \(lastReceived[Int(sender)]))"
            }
            let nonce = rest.baseAddress!.assumingMemoryBound(to: UInt8.self)
            let text = nonce + Self.nonceBytes
            func openInto(_ out: UnsafeMutableRawBufferPointer) -> Bool {
                CCryptoBoringSSL_EVP_AEAD_CTX_open_gather(
                    context, out.baseAddress?.assumingMemoryBound(to: UInt8.self) ?? UnsafeMutablePointer(mutating: text), nonce, Self.nonceBytes, text, bodyCount,
                    text + bodyCount, Self.tagBytes, clear.baseAddress!.assumingMemoryBound(to: UInt8.self), clear.count) == 1
            }
            let ok = destination.map(openInto) ?? plain.withUnsafeMutableBytes(openInto)
            guard ok else { return "a frame that does not authenticate under this attempt's ring key (tampered, a stranger's, or another step's)" }
            lastReceived[Int(sender)] = counter
            return nil
        } ?? "a frame shorter than its head"
        if let verdict {
            opened.give(plain)
            return (nil, verdict)
        }
        let head = frame.withHead(size: 4 + headCount) { clear, _ in Array(UnsafeRawBufferPointer(rebasing: clear[4...])) } ?? []
        // The buffer goes back to the pool once the collective lets go of the frame, and the
        // sealed frame with it.
        let (pool, origins, slot) = (opened, sealedOrigins, OriginSlot())
        let forget = { if let id = slot.id { origins.update { $0[id] = nil } } }
        let opened: ReceivedFrame
        if destination != nil {
            placed += 1
            opened = ReceivedFrame(head: head, placedPayloadBytes: bodyCount, release: forget)
        } else {
            let bytes = plain.withUnsafeBytes { $0 }
            opened = ReceivedFrame(head: head, lending: bytes) {
                pool.give(plain)
                forget()
            }
        }
        slot.id = ObjectIdentifier(opened)
        sealedOrigins.update { $0[ObjectIdentifier(opened)] = frame }
        return (opened, nil)
    }

    /// Where an opened frame finds its entry in `sealedOrigins` when it is freed.
    private final class OriginSlot: @unchecked Sendable {
        var id: ObjectIdentifier?
    }

    // MARK: RingLink

    public func send(_ frame: [UInt8]) throws(CollectiveError) {
        try refuseAheadOfPrepared()
        let sealed = frame.withUnsafeBytes { seal(head: UnsafeRawBufferPointer(start: nil, count: 0), body: $0) }
        try inner.send(sealed)
    }

    public func send(header: [UInt8], lending payload: UnsafeRawBufferPointer) throws(CollectiveError) {
        try refuseAheadOfPrepared()
        // Sealing reads the payload once: nothing of the caller's stays lent after this returns.
        let sealed = header.withUnsafeBytes { seal(head: $0, body: payload) }
        try inner.send(sealed)
    }

    /// Takes the frames and seals them on another thread, in order, under the next counters,
    /// while the collective receives and sums: a member's own chunk is known before anything
    /// comes in, so its sealing need not wait in line with the opening of what does.
    public func prepareSends(_ frames: [PreparedSend]) -> Bool {
        guard ahead?.isTaken ?? true, frames.count > 1 else { return false }
        let first = sent + 1
        sent += UInt64(frames.count)
        let batch = SealedAhead(count: frames.count)
        ahead = batch
        DispatchQueue.global(qos: .userInitiated).async { [self] in
            for (i, frame) in frames.enumerated() {
                // A few frames ahead of the sends, not the whole chunk: the sealed frames' arrays
                // are then the inner link's recycled ones, warm in the cache.
                batch.waitForRoom(before: i)
                batch.complete(i, seal(frame, counter: first + UInt64(i)))
            }
        }
        return true
    }

    public func sendPrepared() throws(CollectiveError) {
        guard let frame = ahead?.takeNext() else { throw .malformed("a prepared send, but no prepared frame is left") }
        sentAhead += 1
        try inner.send(frame)
    }

    /// A frame taken by `prepareSends` that is not yet sent holds a lower counter than any
    /// frame sealed now: sent after this one, it would be refused as a replay.
    private func refuseAheadOfPrepared() throws(CollectiveError) {
        if let ahead, !ahead.isTaken { throw .malformed("a send ahead of frames prepared before it") }
    }

    public func forward(_ frame: ReceivedFrame) throws(CollectiveError) {
        try refuseAheadOfPrepared()
        // A frame this link opened goes on as it came: sealed by the member that made it.
        if let sealed = sealedOrigins.update({ $0.removeValue(forKey: ObjectIdentifier(frame)) }) {
            try inner.forward(sealed)
            return
        }
        // Any other keeps its head apart: sealed from both pieces where they lie.
        let sealed = frame.head.isEmpty ? frame.withUnsafeBytes { seal(head: UnsafeRawBufferPointer(start: nil, count: 0), body: $0) }
            : frame.head.withUnsafeBytes { seal(head: $0, body: frame.stableBytes) }
        try inner.send(sealed)
    }

    public func receive(until deadline: ContinuousClock.Instant) throws(CollectiveError) -> [UInt8] {
        try receiveFrame(until: deadline).bytes
    }

    public func receiveFrame(until deadline: ContinuousClock.Instant) throws(CollectiveError) -> ReceivedFrame {
        try receiveOpened(until: deadline, placing: nil)
    }

    /// The all-gather's frames open straight into the result, skipping a copy of every gathered
    /// byte (docs/benchmarks.md, "The secured ring").
    public func receiveFrame(until deadline: ContinuousClock.Instant, placing placement: PayloadPlacement) throws(CollectiveError) -> ReceivedFrame {
        try receiveOpened(until: deadline, placing: placement)
    }

    private func receiveOpened(until deadline: ContinuousClock.Instant, placing placement: PayloadPlacement?) throws(CollectiveError) -> ReceivedFrame {
        let started = ContinuousClock.now
        while true {
            let frame = try inner.receiveFrame(until: deadline)
            let (plain, refusal) = open(frame, placing: placement)
            if let plain { return plain }
            rejected += 1
            lastRejection = refusal
            inner.dropUndecodable(frame, reason: refusal ?? "refused")
            // A stream of frames that do not open must not hold the wait past its deadline.
            if ContinuousClock.now >= deadline { throw .timeout(rank: rank, waited: started.duration(to: .now)) }
        }
    }

    public func settle(until deadline: ContinuousClock.Instant) -> Bool {
        // Payloads sealed ahead are read until their sealing is done.
        (ahead?.settle(until: deadline) ?? true) && inner.settle(until: deadline)
    }

    public func keepUntilSettled(_ storage: Any) {
        ahead?.keep(storage)
        inner.keepUntilSettled(storage)
    }

    public func dropUndecodable(_ frame: ReceivedFrame, reason: String) { inner.dropUndecodable(frame, reason: reason) }

    public var droppedFrames: Int { inner.droppedFrames }

    public func close() { inner.close() }
}

/// Frames a `SealedRingLink` seals ahead of their sends: filled in order by the sealing thread,
/// taken in order by the collective's.
private final class SealedAhead: @unchecked Sendable {
    // Invariant: `sealed`, `next`, `done` and `kept` are touched only while `condition` is locked.
    private let condition = NSCondition()
    private var sealed: [[UInt8]?]
    private var next = 0
    private var done = 0
    private var kept: [Any] = []

    init(count: Int) {
        sealed = Array(repeating: nil, count: count)
    }

    /// Frames sealed but not yet taken, at most.
    static let depth = 3

    /// Whether every frame has been taken.
    var isTaken: Bool {
        condition.lock()
        defer { condition.unlock() }
        return next == sealed.count
    }

    /// Waits until frame `index` is at most `depth` frames ahead of the next send.
    func waitForRoom(before index: Int) {
        condition.lock()
        while index >= next + Self.depth { condition.wait() }
        condition.unlock()
    }

    func complete(_ index: Int, _ frame: [UInt8]) {
        condition.lock()
        sealed[index] = frame
        done += 1
        if done == sealed.count { kept = [] }
        condition.broadcast()
        condition.unlock()
    }

    /// The next frame, once sealed; nil when all are taken.
    func takeNext() -> [UInt8]? {
        condition.lock()
        defer { condition.unlock() }
        guard next < sealed.count else { return nil }
        while sealed[next] == nil { condition.wait() }
        defer {
            sealed[next] = nil
            next += 1
            condition.broadcast()
        }
        return sealed[next]!
    }

    /// Waits until the sealing thread no longer reads what the frames are made from.
    func settle(until deadline: ContinuousClock.Instant) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        while done < sealed.count {
            let left = ContinuousClock.now.duration(to: deadline)
            if left <= .zero { return false }
            _ = condition.wait(until: Date().addingTimeInterval(min(left.inSeconds, 3600)))
        }
        return true
    }

    /// Keeps `storage` alive until the sealing thread is done with it.
    func keep(_ storage: Any) {
        condition.lock()
        if done < sealed.count { kept.append(storage) }
        condition.unlock()
    }
}
