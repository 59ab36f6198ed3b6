import CZeroMQ
import Core

/// How a process's ZeroMQ sockets authenticate and encrypt: not at all (loopback, or an explicit
/// insecure mode), or with CurveZMQ — every connection encrypted, and every server socket asking a
/// ZAP handler whether the client's key is admitted before the client can send or receive anything.
public enum TransportSecurity: Sendable {
    case none
    case curve(CurveSettings)

    public var isCurve: Bool {
        if case .curve = self { return true }
        return false
    }

    public var curve: CurveSettings? {
        if case .curve(let settings) = self { return settings }
        return nil
    }
}

/// A process's CurveZMQ identity and whom it trusts.
public struct CurveSettings: Sendable {
    /// This process's key pair: the coordinator's on the coordinator, the worker's on a worker.
    public var identity: CurveKeyPair
    /// The key a client expects of the server it dials (the coordinator's public key); nil on the
    /// coordinator, which dials no one.
    public var serverKey: CurveKey?
    /// The worker keys the coordinator's control socket and sample server admit; nil on a worker,
    /// whose only server socket (the ring) admits the keys the coordinator announces.
    public var authorized: AuthorizedKeys?

    public init(identity: CurveKeyPair, serverKey: CurveKey? = nil, authorized: AuthorizedKeys? = nil) {
        self.identity = identity
        self.serverKey = serverKey
        self.authorized = authorized
    }
}

/// ZAP domains: which of a process's server sockets a handshake is for.
enum ZAPDomain {
    static let control = "control"
    static let ring = "ring"
    static let samples = "samples"
    static let state = "state"
}

extension ZMQSocket {
    /// Makes this a CURVE server with `identity`, whose handshakes the context's ZAP handler
    /// decides under `domain`. Must precede bind.
    func makeCurveServer(_ identity: CurveKeyPair, domain: String) throws(ZMQError) {
        try set(ZMQ_CURVE_SERVER, 1)
        try setBytes(ZMQ_CURVE_SECRETKEY, identity.secretKey.bytes)
        try setBytes(ZMQ_ZAP_DOMAIN, Array(domain.utf8))
    }

    /// Makes this a CURVE client of the server whose public key is `serverKey`. Must precede connect.
    func makeCurveClient(_ identity: CurveKeyPair, serverKey: CurveKey) throws(ZMQError) {
        try setBytes(ZMQ_CURVE_SERVERKEY, serverKey.bytes)
        try setBytes(ZMQ_CURVE_PUBLICKEY, identity.publicKey.bytes)
        try setBytes(ZMQ_CURVE_SECRETKEY, identity.secretKey.bytes)
    }
}
