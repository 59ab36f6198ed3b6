import Foundation

/// The bytes of one received frame, lent by the link that received them: valid while this object
/// lives and never mutated. A transport can hand over its own receive buffer this way (ZeroMQ
/// lends the message libzmq received into) instead of copying every frame into a fresh array.
///
/// `@unchecked Sendable`: the bytes are immutable for the object's whole life, and `release` runs
/// once, in `deinit`.
///
/// A frame may also arrive in two pieces, a small `head` copied out of the transport and the lent
/// rest (a frame sent with `RingLink.send(header:lending:)`); it is still one frame, whose bytes
/// are the head followed by the rest.
public final class ReceivedFrame: @unchecked Sendable {
    private let array: [UInt8]
    private let lent: UnsafeRawBufferPointer?
    private let release: (() -> Void)?
    /// The frame's first bytes, when it came in two pieces; empty otherwise.
    public let head: [UInt8]
    /// The bytes, valid for as long as this object lives (the array's storage does not move
    /// while it is held and never mutated): what a transport needs to send the frame on
    /// without copying it, keeping the object alive until it is done.
    public let stableBytes: UnsafeRawBufferPointer
    /// Bytes of payload the link wrote straight to the receiver's destination
    /// (`RingLink.receiveFrame(until:placing:)`): the frame then holds its head alone. 0 otherwise.
    public let placedPayloadBytes: Int

    /// A frame held in an array.
    public init(_ array: [UInt8]) {
        self.array = array
        self.lent = nil
        self.release = nil
        self.head = []
        self.stableBytes = array.withUnsafeBytes { $0 }
        self.placedPayloadBytes = 0
    }

    /// A frame in memory owned by someone else: `bytes` must stay valid and unchanged until
    /// `release` is called, which happens once, when the frame is freed.
    /// `head` (copied, possibly empty) followed by `bytes` is the frame.
    public init(head: [UInt8] = [], lending bytes: UnsafeRawBufferPointer, release: @escaping () -> Void) {
        self.array = []
        self.lent = bytes
        self.release = release
        self.head = head
        self.stableBytes = bytes
        self.placedPayloadBytes = 0
    }

    /// A frame whose `placedPayloadBytes` of payload the link wrote to the receiver's destination:
    /// only its `head` is here. `release` is called once, when the frame is freed.
    public init(head: [UInt8], placedPayloadBytes: Int, release: @escaping () -> Void) {
        self.array = []
        self.lent = UnsafeRawBufferPointer(start: nil, count: 0)
        self.release = release
        self.head = head
        self.stableBytes = UnsafeRawBufferPointer(start: nil, count: 0)
        self.placedPayloadBytes = placedPayloadBytes
    }

    deinit { release?() }

    /// This frame's bytes with `head` in front, as one frame: the same lent bytes, released when
    /// the new frame is freed (this one is kept alive by it).
    public func withHeadOf(_ head: [UInt8]) -> ReceivedFrame {
        ReceivedFrame(head: head, lending: stableBytes) { _ = self }
    }

    /// Bytes in the frame.
    public var count: Int { head.count + (lent?.count ?? array.count) }

    /// Calls `body` with the frame's bytes, which must not escape it. A frame in two pieces is
    /// put together in a copy first; `withHead` reads it without one.
    public func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) -> R) -> R {
        if !head.isEmpty { return bytes.withUnsafeBytes(body) }
        if let lent { return body(lent) }
        return array.withUnsafeBytes(body)
    }

    /// Calls `body` with the frame's first `size` bytes and the rest, without copying either when
    /// the frame came in two pieces split there, or in one piece. Nil when the frame is shorter.
    public func withHead<R>(size: Int, _ body: (UnsafeRawBufferPointer, UnsafeRawBufferPointer) -> R) -> R? {
        guard count >= size else { return nil }
        if head.count == size, let lent {
            return head.withUnsafeBytes { body($0, lent) }
        }
        return withUnsafeBytes { raw in
            body(UnsafeRawBufferPointer(rebasing: raw[..<size]), UnsafeRawBufferPointer(rebasing: raw[size...]))
        }
    }

    /// A copy of the bytes (none when the frame is held in an array already).
    public var bytes: [UInt8] {
        if let lent { return head + Array(lent) }
        return array
    }
}

/// Frame arrays handed back by the transport once it has sent them, kept for the next frames of
/// the same size: a fresh 1 MiB array per frame costs an allocation that glibc often serves with
/// pages the kernel must fault in and zero again, which on this workload cost about as much as
/// the copy into the frame itself. Bounded: it keeps at most `limit` arrays.
///
/// `@unchecked Sendable`: `free` is touched only while `lock` is held.
public final class FrameBufferPool: @unchecked Sendable {
    private let lock = NSLock()
    private var free: [[UInt8]] = []
    public let limit: Int

    public init(limit: Int = 16) { self.limit = limit }

    /// An array of `count` bytes with unspecified contents: a returned one of that size if there
    /// is one, else a new one. If the transport still holds a reference to it, the first write
    /// copies it (copy on write), so a frame in flight is never changed.
    public func take(count: Int) -> [UInt8] {
        lock.lock()
        let index = free.lastIndex { $0.count == count }
        let reused = index.map { free.remove(at: $0) }
        lock.unlock()
        if let reused { return reused }
        return [UInt8](unsafeUninitializedCapacity: count) { _, initialized in initialized = count }
    }

    /// Keeps `array` for a later `take`, dropping the oldest kept array when there are `limit`.
    public func give(_ array: [UInt8]) {
        guard !array.isEmpty else { return }
        lock.lock()
        if free.count >= limit { free.removeFirst() }
        free.append(array)
        lock.unlock()
    }

    /// Arrays kept now.
    public var kept: Int {
        lock.lock()
        defer { lock.unlock() }
        return free.count
    }
}
