import Foundation

/// The bytes of one received frame, lent by the link that received them: valid while this object
/// lives and never mutated. A transport can hand over its own receive buffer this way (ZeroMQ
/// lends the message libzmq received into) instead of copying every frame into a fresh array.
///
/// `@unchecked Sendable`: the bytes are immutable for the object's whole life, and `release` runs
/// once, in `deinit`.
public final class ReceivedFrame: @unchecked Sendable {
    private let array: [UInt8]
    private let lent: UnsafeRawBufferPointer?
    private let release: (() -> Void)?
    /// The bytes, valid for as long as this object lives (the array's storage does not move
    /// while it is held and never mutated): what a transport needs to send the frame on
    /// without copying it, keeping the object alive until it is done.
    public let stableBytes: UnsafeRawBufferPointer

    /// A frame held in an array.
    public init(_ array: [UInt8]) {
        self.array = array
        self.lent = nil
        self.release = nil
        self.stableBytes = array.withUnsafeBytes { $0 }
    }

    /// A frame in memory owned by someone else: `bytes` must stay valid and unchanged until
    /// `release` is called, which happens once, when the frame is freed.
    public init(lending bytes: UnsafeRawBufferPointer, release: @escaping () -> Void) {
        self.array = []
        self.lent = bytes
        self.release = release
        self.stableBytes = bytes
    }

    deinit { release?() }

    /// Bytes in the frame.
    public var count: Int { lent?.count ?? array.count }

    /// Calls `body` with the frame's bytes, which must not escape it.
    public func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) -> R) -> R {
        if let lent { return body(lent) }
        return array.withUnsafeBytes(body)
    }

    /// A copy of the bytes (none when the frame is held in an array already).
    public var bytes: [UInt8] {
        if let lent { return Array(lent) }
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
