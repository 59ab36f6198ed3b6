import CSodium
import Collective
import Core
import Foundation

/// A ring link whose every frame is sealed with AES-256-GCM (libsodium, AES-NI) under a key of one
/// generation and one collective: the fast alternative to CurveZMQ for the ring's bulk frames.
///
/// The members share a 32-byte ring key (for a run: made per generation by the coordinator and
/// handed out over the authenticated control channel). Each link derives its own subkey from it
/// with keyed BLAKE2b over the generation and the collective's `epoch` (the step), so a frame of
/// another generation or another step does not authenticate here. A sealed frame is
///
/// ```
/// sender rank u32 | counter u64 | ciphertext | tag (16)
/// ```
///
/// The first 12 bytes are the GCM nonce: unique because each sender counts its own frames under a
/// subkey used for one collective only. A receiver accepts frames only from its previous rank and
/// only with a counter above the last one it accepted, so a frame replayed within a collective is
/// refused too. A frame that does not open (a flipped bit, a stranger's frame, another
/// generation's) is dropped and counted (`rejected`, and the inner link's `droppedFrames`), never
/// summed; the collective waits for the next one as for any late frame.
///
/// Forwarded frames (the all-gather) are opened and sealed again by each member: a frame always
/// comes from the previous rank. Not thread-safe, like the collective that uses it: one thread.
public final class SealedRingLink: ClosableRingLink, @unchecked Sendable {
    public let rank: Int
    public let worldSize: Int
    public let inner: any ClosableRingLink
    /// Frames that did not open, or came from the wrong sender or out of order.
    public private(set) var rejected = 0
    /// Why the last of them was refused.
    public private(set) var lastRejection: String?
    private let state: UnsafeMutableRawPointer
    private var sent: UInt64 = 0
    private var lastReceived: UInt64 = 0
    private let previous: UInt32

    /// Bytes a sealed frame adds: the nonce and the tag.
    public static let overhead = 12 + 16
    public static let keyBytes = 32

    /// Whether this machine's libsodium can run AES-256-GCM (it needs AES-NI and PCLMUL).
    public static var isAvailable: Bool {
        sodium_init() >= 0 && crypto_aead_aes256gcm_is_available() != 0
    }

    /// A fresh random ring key.
    public static func newKey() -> [UInt8] {
        _ = sodium_init()
        var key = [UInt8](repeating: 0, count: keyBytes)
        key.withUnsafeMutableBytes { randombytes_buf($0.baseAddress!, keyBytes) }
        return key
    }

    /// - Parameters:
    ///   - key: the ring key the members share (32 bytes).
    ///   - generation, epoch: what the subkey is bound to: the generation and the collective
    ///     (a run passes the step).
    public init(_ inner: any ClosableRingLink, key: [UInt8], generation: UInt64, epoch: UInt64) throws(SecurityError) {
        guard Self.isAvailable else {
            throw SecurityError(code: "security.no-aes", "this CPU or libsodium has no AES-256-GCM (AES-NI and PCLMUL are needed)")
        }
        guard key.count == Self.keyBytes else {
            throw SecurityError(code: "security.ring-key", "a ring key is \(Self.keyBytes) bytes, not \(key.count)")
        }
        self.inner = inner
        rank = inner.rank
        worldSize = inner.worldSize
        previous = UInt32((inner.rank - 1 + inner.worldSize) % inner.worldSize)
        state = UnsafeMutableRawPointer.allocate(byteCount: crypto_aead_aes256gcm_statebytes(), alignment: 64)
        var context = Array("grove ring frame v1".utf8)
        withUnsafeBytes(of: generation.littleEndian) { context += $0 }
        withUnsafeBytes(of: epoch.littleEndian) { context += $0 }
        var subkey = [UInt8](repeating: 0, count: Self.keyBytes)
        subkey.withUnsafeMutableBytes { out in
            key.withUnsafeBytes { k in
                _ = crypto_generichash(out.baseAddress!.assumingMemoryBound(to: UInt8.self), Self.keyBytes, context, UInt64(context.count),
                                       k.baseAddress!.assumingMemoryBound(to: UInt8.self), Self.keyBytes)
            }
        }
        _ = subkey.withUnsafeBytes {
            crypto_aead_aes256gcm_beforenm(state.assumingMemoryBound(to: crypto_aead_aes256gcm_state.self), $0.baseAddress!.assumingMemoryBound(to: UInt8.self))
        }
        subkey.withUnsafeMutableBytes { sodium_memzero($0.baseAddress!, $0.count) }
    }

    deinit {
        sodium_memzero(state, crypto_aead_aes256gcm_statebytes())
        state.deallocate()
    }

    // MARK: Sealing

    /// Seals `head` followed by `body` into one frame from the inner link's storage.
    func seal(head: UnsafeRawBufferPointer, body: UnsafeRawBufferPointer) -> [UInt8] {
        sent += 1
        let count = head.count + body.count
        var frame = inner.frameStorage(count: Self.overhead + count)
        let (rank, counter) = (UInt32(self.rank).littleEndian, sent.littleEndian)
        frame.withUnsafeMutableBytes { out in
            let base = out.baseAddress!
            withUnsafeBytes(of: rank) { base.copyMemory(from: $0.baseAddress!, byteCount: 4) }
            withUnsafeBytes(of: counter) { (base + 4).copyMemory(from: $0.baseAddress!, byteCount: 8) }
            // Copied in place first, then encrypted where it lies: one pass over the bytes
            // besides the cipher's own.
            if !head.isEmpty { (base + 12).copyMemory(from: head.baseAddress!, byteCount: head.count) }
            if !body.isEmpty { (base + 12 + head.count).copyMemory(from: body.baseAddress!, byteCount: body.count) }
            let text = (base + 12).assumingMemoryBound(to: UInt8.self)
            _ = crypto_aead_aes256gcm_encrypt_detached_afternm(
                text, text + count, nil, text, UInt64(count), nil, 0, nil, base.assumingMemoryBound(to: UInt8.self),
                state.assumingMemoryBound(to: crypto_aead_aes256gcm_state.self))
        }
        return frame
    }

    /// The plaintext of a sealed frame, or nil (and why) when it must be refused.
    func open(_ sealed: UnsafeRawBufferPointer) -> (bytes: [UInt8]?, refusal: String?) {
        guard sealed.count >= Self.overhead else { return (nil, "a \(sealed.count)-byte frame is shorter than a sealed one") }
        let sender = UInt32(littleEndian: sealed.loadUnaligned(as: UInt32.self))
        let counter = UInt64(littleEndian: sealed.loadUnaligned(fromByteOffset: 4, as: UInt64.self))
        guard sender == previous else { return (nil, "a frame sealed by rank \(sender), not the previous rank \(previous)") }
        guard counter > lastReceived else { return (nil, "frame \(counter) of rank \(sender) again (the last accepted was \(lastReceived))") }
        let count = sealed.count - Self.overhead
        let base = sealed.baseAddress!.assumingMemoryBound(to: UInt8.self)
        var ok = false
        let plain = [UInt8](unsafeUninitializedCapacity: count) { out, initialized in
            ok = crypto_aead_aes256gcm_decrypt_detached_afternm(
                out.baseAddress, nil, base + 12, UInt64(count), base + 12 + count, nil, 0, base,
                state.assumingMemoryBound(to: crypto_aead_aes256gcm_state.self)) == 0
            initialized = count
        }
        guard ok else { return (nil, "a frame that does not authenticate under this generation's key (tampered, a stranger's, or another step's)") }
        lastReceived = counter
        return (plain, nil)
    }

    // MARK: RingLink

    public func send(_ frame: [UInt8]) throws(CollectiveError) {
        let sealed = frame.withUnsafeBytes { seal(head: UnsafeRawBufferPointer(start: nil, count: 0), body: $0) }
        try inner.send(sealed)
    }

    public func send(header: [UInt8], lending payload: UnsafeRawBufferPointer) throws(CollectiveError) {
        // Sealing copies the payload: nothing stays lent after this returns.
        let sealed = header.withUnsafeBytes { seal(head: $0, body: payload) }
        try inner.send(sealed)
    }

    public func forward(_ frame: ReceivedFrame) throws(CollectiveError) {
        let sealed = frame.withUnsafeBytes { seal(head: UnsafeRawBufferPointer(start: nil, count: 0), body: $0) }
        try inner.send(sealed)
    }

    public func receive(until deadline: ContinuousClock.Instant) throws(CollectiveError) -> [UInt8] {
        try receiveFrame(until: deadline).bytes
    }

    public func receiveFrame(until deadline: ContinuousClock.Instant) throws(CollectiveError) -> ReceivedFrame {
        while true {
            let frame = try inner.receiveFrame(until: deadline)
            let (plain, refusal) = frame.withUnsafeBytes { open($0) }
            if let plain { return ReceivedFrame(plain) }
            rejected += 1
            lastRejection = refusal
            inner.dropUndecodable(frame, reason: refusal ?? "refused")
        }
    }

    public func settle(until deadline: ContinuousClock.Instant) -> Bool { inner.settle(until: deadline) }

    public func keepUntilSettled(_ storage: Any) { inner.keepUntilSettled(storage) }

    public func dropUndecodable(_ frame: ReceivedFrame, reason: String) { inner.dropUndecodable(frame, reason: reason) }

    public var droppedFrames: Int { inner.droppedFrames }

    public func close() { inner.close() }
}
