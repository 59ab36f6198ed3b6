import CZeroMQ
import Collective
import Core
import Foundation

/// The process's libzmq context. Sockets keep a strong reference to it, so it is terminated only
/// after every socket is closed.
final class ZMQContext: @unchecked Sendable {
    // Invariant: only the socket thread terminates it, after every socket is closed. Sockets are
    // created from it on the socket thread (control) and on callers' threads (`RingSockets`):
    // libzmq contexts are thread-safe.
    let handle: UnsafeMutableRawPointer

    init() {
        handle = zmq_ctx_new()!
        // One I/O thread is plenty on 2 cores and keeps the arithmetic threads free.
        zmq_ctx_set(handle, ZMQ_IO_THREADS, 1)
    }

    func terminate() {
        while zmq_ctx_term(handle) == -1 && zmq_errno() == EINTR {}
    }
}

/// One libzmq socket. Not thread-safe: used by one thread at a time — the socket thread (control),
/// or whichever thread holds `RingSockets`'s lock (the ring's two sockets).
final class ZMQSocket {
    let context: ZMQContext
    private(set) var handle: UnsafeMutableRawPointer?
    let kind: Int32
    /// Where arrays sent without a copy go once libzmq has written them (the ring's frames), so
    /// the next frame reuses one instead of allocating; nil drops them.
    var recycle: FrameBufferPool?

    init(_ context: ZMQContext, kind: Int32, lingerMillis: Int32, highWaterMark: Int32, maxMessageBytes: Int64) throws(ZMQError) {
        self.context = context
        self.kind = kind
        guard let socket = zmq_socket(context.handle, kind) else {
            throw ZMQError(errno: zmq_errno(), function: "zmq_socket")
        }
        handle = socket
        do {
            try set(ZMQ_LINGER, lingerMillis)
            try set(ZMQ_SNDHWM, highWaterMark)
            try set(ZMQ_RCVHWM, highWaterMark)
            var limit = maxMessageBytes
            try zmqCall("zmq_setsockopt(ZMQ_MAXMSGSIZE)") { zmq_setsockopt(socket, ZMQ_MAXMSGSIZE, &limit, MemoryLayout<Int64>.size) }
        } catch {
            // A socket left open keeps `zmq_ctx_term` waiting forever: close it on every path.
            close()
            throw error
        }
    }

    /// A new socket bound to `endpoint`, or closed and an error naming the address: a socket left
    /// open after a failed bind would keep the context (and so the process) from ever ending.
    ///
    /// - Parameter origin: where the address came from (`coordinator.bind`, `--bind`...).
    static func bound(_ context: ZMQContext, kind: Int32, endpoint: Endpoint, origin: String, lingerMillis: Int32,
                      highWaterMark: Int32, maxMessageBytes: Int64,
                      configure: (ZMQSocket) throws(ZMQError) -> Void = { _ in }) throws -> (socket: ZMQSocket, bound: String) {
        let socket = try ZMQSocket(context, kind: kind, lingerMillis: lingerMillis, highWaterMark: highWaterMark,
                                   maxMessageBytes: maxMessageBytes)
        do throws(ZMQError) {
            try configure(socket)
        } catch {
            socket.close()
            throw error
        }
        do throws(ZMQError) {
            if endpoint.isIPv6 { try socket.set(ZMQ_IPV6, 1) }
            return (socket, try socket.bind(endpoint.description))
        } catch {
            socket.close()
            throw TransportError.bind(endpoint: endpoint.description, origin: origin, errno: error.errno)
        }
    }

    /// A new socket connecting to `endpoint`, or closed and an error naming the address.
    static func connected(_ context: ZMQContext, kind: Int32, endpoint: Endpoint, origin: String, lingerMillis: Int32,
                          highWaterMark: Int32, maxMessageBytes: Int64,
                          configure: (ZMQSocket) throws(ZMQError) -> Void = { _ in }) throws -> ZMQSocket {
        let socket = try ZMQSocket(context, kind: kind, lingerMillis: lingerMillis, highWaterMark: highWaterMark,
                                   maxMessageBytes: maxMessageBytes)
        do throws(ZMQError) {
            try configure(socket)
        } catch {
            socket.close()
            throw error
        }
        do throws(ZMQError) {
            if endpoint.isIPv6 { try socket.set(ZMQ_IPV6, 1) }
            try socket.connect(endpoint.description)
            return socket
        } catch {
            socket.close()
            throw TransportError.connect(endpoint: endpoint.description, origin: origin, errno: error.errno)
        }
    }

    func set(_ option: Int32, _ value: Int32) throws(ZMQError) {
        var v = value
        try zmqCall("zmq_setsockopt(\(option))") { zmq_setsockopt(handle, option, &v, MemoryLayout<Int32>.size) }
    }

    func setBytes(_ option: Int32, _ value: [UInt8]) throws(ZMQError) {
        try zmqCall("zmq_setsockopt(\(option))") { value.withUnsafeBytes { zmq_setsockopt(handle, option, $0.baseAddress, $0.count) } }
    }

    /// Binds and returns the endpoint actually bound (with the port the system picked for `:*`).
    func bind(_ endpoint: String) throws(ZMQError) -> String {
        try zmqCall("zmq_bind(\(endpoint))") { zmq_bind(handle, endpoint) }
        var buffer = [CChar](repeating: 0, count: 256)
        var size = buffer.count
        try zmqCall("zmq_getsockopt(ZMQ_LAST_ENDPOINT)") { zmq_getsockopt(handle, ZMQ_LAST_ENDPOINT, &buffer, &size) }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    func connect(_ endpoint: String) throws(ZMQError) {
        try zmqCall("zmq_connect(\(endpoint))") { zmq_connect(handle, endpoint) }
    }

    /// Parts at least this long are handed to libzmq without a copy (`sendPinned`); below it a
    /// copy is cheaper than the extra allocation and reference count.
    static let zeroCopyBytes = 64 << 10

    /// Sends a multipart message without blocking; false when the high-water mark is reached
    /// (nothing was sent). libzmq checks the mark on the first part only, so a message is never
    /// half-sent.
    func trySend(_ parts: [[UInt8]]) throws(ZMQError) -> Bool {
        for (index, part) in parts.enumerated() {
            let flags = ZMQ_DONTWAIT | (index + 1 < parts.count ? ZMQ_SNDMORE : 0)
            let rc: Int32?
            if part.count >= Self.zeroCopyBytes {
                rc = try sendPinned(part, flags: flags)
            } else {
                rc = try zmqCall("zmq_send") { part.withUnsafeBytes { Int32(zmq_send(handle, $0.baseAddress, $0.count, flags)) } }
            }
            if rc == nil {
                precondition(index == 0, "libzmq refused a later part of a multipart message")
                return false
            }
        }
        return true
    }

    /// Sends `head` (copied) and then `frame`'s bytes as the last part without copying them:
    /// libzmq holds a reference to the frame until its I/O thread has written them. False when the
    /// high-water mark is reached (nothing was sent).
    func trySend(_ head: [UInt8], lent frame: ReceivedFrame) throws(ZMQError) -> Bool {
        let rc = try zmqCall("zmq_send") { head.withUnsafeBytes { Int32(zmq_send(handle, $0.baseAddress, $0.count, ZMQ_DONTWAIT | ZMQ_SNDMORE)) } }
        if rc == nil { return false }
        if !frame.head.isEmpty {
            // A frame that came in two pieces goes on in the same two.
            let sent = try zmqCall("zmq_send") { frame.head.withUnsafeBytes { Int32(zmq_send(handle, $0.baseAddress, $0.count, ZMQ_DONTWAIT | ZMQ_SNDMORE)) } }
            precondition(sent != nil, "libzmq refused a later part of a multipart message")
        }
        let bytes = frame.stableBytes
        if bytes.count < Self.zeroCopyBytes {
            let sent = try zmqCall("zmq_send") { Int32(zmq_send(handle, bytes.baseAddress, bytes.count, ZMQ_DONTWAIT)) }
            precondition(sent != nil, "libzmq refused a later part of a multipart message")
            return true
        }
        let hint = Unmanaged.passRetained(frame).toOpaque()
        var message = zmq_msg_t()
        guard zmq_msg_init_data(&message, UnsafeMutableRawPointer(mutating: bytes.baseAddress), bytes.count, releaseLentFrame, hint) == 0 else {
            Unmanaged<ReceivedFrame>.fromOpaque(hint).release()
            throw ZMQError(errno: zmq_errno(), function: "zmq_msg_init_data")
        }
        do {
            let sent = try zmqCall("zmq_msg_send") { zmq_msg_send(&message, handle, ZMQ_DONTWAIT) }
            if sent == nil { zmq_msg_close(&message) }
            precondition(sent != nil, "libzmq refused a later part of a multipart message")
        } catch {
            zmq_msg_close(&message)
            throw error
        }
        return true
    }

    /// Sends `tag`, `head` (both copied) and then `payload`'s bytes without copying them: libzmq
    /// keeps a reference to `payload` until its I/O thread has written them, and dropping that
    /// reference tells the lender. False when the high-water mark is reached (nothing was sent).
    func trySend(_ tag: [UInt8], head: [UInt8], lent payload: LentPayload) throws(ZMQError) -> Bool {
        let rc = try zmqCall("zmq_send") { tag.withUnsafeBytes { Int32(zmq_send(handle, $0.baseAddress, $0.count, ZMQ_DONTWAIT | ZMQ_SNDMORE)) } }
        if rc == nil { return false }
        let sent = try zmqCall("zmq_send") { head.withUnsafeBytes { Int32(zmq_send(handle, $0.baseAddress, $0.count, ZMQ_DONTWAIT | ZMQ_SNDMORE)) } }
        precondition(sent != nil, "libzmq refused a later part of a multipart message")
        if payload.bytes.count < Self.zeroCopyBytes {
            // Small: copied now, and the lender gets it back as soon as the caller drops it.
            let copied = try zmqCall("zmq_send") { Int32(zmq_send(handle, payload.bytes.baseAddress, payload.bytes.count, ZMQ_DONTWAIT)) }
            precondition(copied != nil, "libzmq refused a later part of a multipart message")
            return true
        }
        let hint = Unmanaged.passRetained(payload).toOpaque()
        var message = zmq_msg_t()
        guard zmq_msg_init_data(&message, UnsafeMutableRawPointer(mutating: payload.bytes.baseAddress), payload.bytes.count, releaseLentPayload, hint) == 0 else {
            Unmanaged<LentPayload>.fromOpaque(hint).release()
            throw ZMQError(errno: zmq_errno(), function: "zmq_msg_init_data")
        }
        do {
            let last = try zmqCall("zmq_msg_send") { zmq_msg_send(&message, handle, ZMQ_DONTWAIT) }
            if last == nil { zmq_msg_close(&message) }
            precondition(last != nil, "libzmq refused a later part of a multipart message")
        } catch {
            zmq_msg_close(&message)
            throw error
        }
        return true
    }

    /// Sends `bytes` from the array's own storage: libzmq keeps a reference to it (through a
    /// `PinnedBytes` box) until its I/O thread has written the bytes to the socket, instead of
    /// copying every large ring frame into a fresh buffer first. Returns nil when the high-water
    /// mark is reached (the message is then closed, which releases the reference).
    private func sendPinned(_ bytes: [UInt8], flags: Int32) throws(ZMQError) -> Int32? {
        let box = PinnedBytes(bytes, recycle: recycle)
        let hint = Unmanaged.passRetained(box).toOpaque()
        var message = zmq_msg_t()
        let data = UnsafeMutableRawPointer(mutating: box.baseAddress)
        guard zmq_msg_init_data(&message, data, bytes.count, releasePinnedBytes, hint) == 0 else {
            Unmanaged<PinnedBytes>.fromOpaque(hint).release()
            throw ZMQError(errno: zmq_errno(), function: "zmq_msg_init_data")
        }
        do {
            let rc = try zmqCall("zmq_msg_send") { zmq_msg_send(&message, handle, flags) }
            if rc == nil { zmq_msg_close(&message) }  // not sent: still ours to close
            return rc
        } catch {
            zmq_msg_close(&message)
            throw error
        }
    }

    /// Receives one multipart message if one is waiting; the last part is lent (libzmq's own
    /// message, closed when the returned frame is freed) instead of copied, the others copied.
    func tryReceiveLendingLast() throws(ZMQError) -> (parts: [[UInt8]], last: ReceivedFrame)? {
        var parts: [[UInt8]] = []
        while true {
            // On the heap and never moved: a zmq_msg_t may not be copied, and a small message's
            // bytes live inside it.
            let message = UnsafeMutablePointer<zmq_msg_t>.allocate(capacity: 1)
            zmq_msg_init(message)
            let rc: Int32?
            do {
                rc = try zmqCall("zmq_msg_recv") { zmq_msg_recv(message, handle, ZMQ_DONTWAIT) }
            } catch {
                Self.free(message)
                throw error
            }
            if rc == nil {
                Self.free(message)
                precondition(parts.isEmpty, "a multipart message arrived in pieces")
                return nil
            }
            let bytes = UnsafeRawBufferPointer(start: zmq_msg_data(message), count: zmq_msg_size(message))
            if zmq_msg_more(message) == 0 {
                return (parts, ReceivedFrame(lending: bytes) { Self.free(message) })
            }
            parts.append(Array(bytes))
            Self.free(message)
        }
    }

    private static func free(_ message: UnsafeMutablePointer<zmq_msg_t>) {
        zmq_msg_close(message)
        message.deallocate()
    }

    /// Receives one multipart message if one is waiting.
    func tryReceive() throws(ZMQError) -> [[UInt8]]? {
        try tryReceiveWithUserID()?.parts
    }

    /// Receives one multipart message if one is waiting, with the user id the ZAP handler gave
    /// its sender (the Z85 public key of a CURVE client; nil without authentication).
    func tryReceiveWithUserID() throws(ZMQError) -> (parts: [[UInt8]], userID: String?)? {
        var parts: [[UInt8]] = []
        while true {
            var message = zmq_msg_t()
            zmq_msg_init(&message)
            defer { zmq_msg_close(&message) }
            let rc = try zmqCall("zmq_msg_recv") { zmq_msg_recv(&message, handle, ZMQ_DONTWAIT) }
            if rc == nil {
                precondition(parts.isEmpty, "a multipart message arrived in pieces")
                return nil
            }
            let size = zmq_msg_size(&message)
            let part = [UInt8](unsafeUninitializedCapacity: size) { buffer, initialized in
                if size > 0 { buffer.baseAddress!.update(from: zmq_msg_data(&message).assumingMemoryBound(to: UInt8.self), count: size) }
                initialized = size
            }
            parts.append(part)
            if zmq_msg_more(&message) == 0 {
                let user = zmq_msg_gets(&message, "User-Id").map { String(cString: $0) }
                return (parts, user?.isEmpty == false ? user : nil)
            }
        }
    }

    func close() {
        if let handle { zmq_close(handle) }
        handle = nil
    }
}

/// The bytes of one zero-copy message, kept alive until libzmq is done with them.
///
/// `bytes` is never mutated, so its storage (and `baseAddress`) stays where it is for the box's
/// whole life; libzmq's I/O thread reads it while the socket thread has moved on.
private final class PinnedBytes {
    private var bytes: [UInt8]
    let baseAddress: UnsafeRawPointer
    private let recycle: FrameBufferPool?

    init(_ bytes: [UInt8], recycle: FrameBufferPool?) {
        self.bytes = bytes
        self.recycle = recycle
        baseAddress = bytes.withUnsafeBytes { $0.baseAddress! }
    }

    /// Hands the array to the pool, if any; called once libzmq is done with it.
    func done() {
        guard let recycle else { return }
        let array = bytes
        bytes = []
        recycle.give(array)
    }
}

/// libzmq's free callback for `PinnedBytes` messages; it runs on a libzmq I/O thread once the
/// message is sent or dropped. A top-level function, because a C function pointer cannot capture.
private func releasePinnedBytes(_ data: UnsafeMutableRawPointer?, _ hint: UnsafeMutableRawPointer?) {
    guard let hint else { return }
    Unmanaged<PinnedBytes>.fromOpaque(hint).takeRetainedValue().done()
}

/// Memory lent to the transport by a ring link (`RingLink.send(header:lending:)`): the bytes stay
/// valid until this object is freed (libzmq has written them, or the frame was dropped), which
/// calls `release` once.
///
/// `@unchecked Sendable`: `bytes` is never written through here, and `release` runs once, in
/// `deinit`, on whichever thread drops the last reference.
public final class LentPayload: @unchecked Sendable {
    let bytes: UnsafeRawBufferPointer
    private let release: () -> Void

    init(_ bytes: UnsafeRawBufferPointer, release: @escaping () -> Void) {
        self.bytes = bytes
        self.release = release
    }

    deinit { release() }
}

/// libzmq's free callback for `LentPayload` messages.
private func releaseLentPayload(_ data: UnsafeMutableRawPointer?, _ hint: UnsafeMutableRawPointer?) {
    guard let hint else { return }
    Unmanaged<LentPayload>.fromOpaque(hint).release()
}

/// libzmq's free callback for forwarded `ReceivedFrame`s: releases the reference taken when the
/// message was built.
private func releaseLentFrame(_ data: UnsafeMutableRawPointer?, _ hint: UnsafeMutableRawPointer?) {
    guard let hint else { return }
    Unmanaged<ReceivedFrame>.fromOpaque(hint).release()
}
