import CZeroMQ
import Core
import Foundation

/// A CurveZMQ key: 32 bytes, written as 40 characters of Z85 (ZeroMQ's printable encoding).
public struct CurveKey: Sendable, Hashable, CustomStringConvertible {
    public let bytes: [UInt8]

    /// A key from its 32 raw bytes.
    public init?(bytes: [UInt8]) {
        guard bytes.count == 32 else { return nil }
        self.bytes = bytes
    }

    /// A key from its 40-character Z85 text; nil for anything else.
    public init?(z85 text: String) {
        let ascii = Array(text.utf8)
        guard ascii.count == 40, ascii.allSatisfy({ $0 > 32 && $0 < 127 }) else { return nil }
        var out = [UInt8](repeating: 0, count: 32)
        let ok = text.withCString { zmq_z85_decode(&out, $0) } != nil
        guard ok else { return nil }
        bytes = out
    }

    /// The 40 Z85 characters.
    public var z85: String {
        var text = [CChar](repeating: 0, count: 41)
        bytes.withUnsafeBufferPointer { _ = zmq_z85_encode(&text, $0.baseAddress, 32) }
        return String(decoding: text.prefix(40).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// The Z85 text: a public key is not a secret. Secret keys never pass through here
    /// (`CurveKeyPair.description` leaves them out).
    public var description: String { z85 }
}

/// A CurveZMQ key pair: a process's identity on the wire.
public struct CurveKeyPair: Sendable, Equatable, CustomStringConvertible {
    public let publicKey: CurveKey
    public let secretKey: CurveKey

    public init(publicKey: CurveKey, secretKey: CurveKey) {
        self.publicKey = publicKey
        self.secretKey = secretKey
    }

    /// A fresh pair from libzmq's generator (libsodium's random source).
    public static func generate() throws(ZMQError) -> CurveKeyPair {
        var publicText = [CChar](repeating: 0, count: 41)
        var secretText = [CChar](repeating: 0, count: 41)
        guard zmq_curve_keypair(&publicText, &secretText) == 0 else {
            throw ZMQError(errno: zmq_errno(), function: "zmq_curve_keypair")
        }
        let text = { (chars: [CChar]) in String(decoding: chars.prefix(40).map { UInt8(bitPattern: $0) }, as: UTF8.self) }
        return CurveKeyPair(publicKey: CurveKey(z85: text(publicText))!, secretKey: CurveKey(z85: text(secretText))!)
    }

    /// Whether `publicKey` is the public half of `secretKey`.
    public var isConsistent: Bool {
        var derived = [CChar](repeating: 0, count: 41)
        let ok = secretKey.z85.withCString { zmq_curve_public(&derived, $0) } == 0
        return ok && String(decoding: derived.prefix(40).map { UInt8(bitPattern: $0) }, as: UTF8.self) == publicKey.z85
    }

    /// Only the public half: a key pair printed in a log must not leak its secret.
    public var description: String { "key pair \(publicKey.z85)" }
}
