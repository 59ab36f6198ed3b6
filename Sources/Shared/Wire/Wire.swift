import Core

/// Grove's control-channel protocol, version 1. Every frame is an `Envelope` followed by the body
/// of one `Message`; docs/wire-protocol.md describes each kind byte by byte.
public enum Wire {
    /// "GROV" read as a little-endian UInt32.
    public static let magic: UInt32 = 0x564F_5247
    /// A peer of another major version is refused. A minor version adds kinds, or optional
    /// sections announced by an envelope flag that a sender sets only for a peer of that minor
    /// or later (docs/wire-protocol.md, "Versions").
    public static let major: UInt8 = 1
    public static let minor: UInt8 = 7
    /// The oldest minor whose workers can share a ring with this build's: from minor 2, ring
    /// frames may come in three parts (a lent payload), which older workers drop.
    public static let ringMinor: UInt8 = 2
    /// Envelope flag (minor 1): a `stepResult` body ends with a span list.
    public static let flagSpans: UInt8 = 1
    /// Envelope flag (minor 4): a `runConfig` body ends with the sample channel's announcement.
    public static let flagSamples: UInt8 = 2
    /// The oldest minor that knows the sample channel (kinds 14–18 and `flagSamples`).
    public static let samplesMinor: UInt8 = 4
    /// Envelope flag (minor 5): a `join` body ends with the endpoint of the worker's state server.
    public static let flagStateEndpoint: UInt8 = 4
    /// The oldest minor whose workers serve their state (`stateGrant`, the state socket): a
    /// coordinator of this build streams joiners' state from members and refuses older joiners.
    public static let stateMinor: UInt8 = 5
    /// The oldest minor that knows `ringKeys` (kind 25): the ring's CurveZMQ allow-list.
    public static let ringKeysMinor: UInt8 = 6
    /// Envelope flag (minor 7): a `ringKeys` body ends with the lease's ring key, under which the
    /// members seal their ring frames (`SealedRingLink`) instead of running the ring over CurveZMQ.
    public static let flagRingKey: UInt8 = 8
    /// The oldest minor whose workers seal ring frames: a coordinator with keys of this build
    /// refuses older joiners, whose rings would run over CurveZMQ (docs/security.md, "The ring").
    public static let sealedRingMinor: UInt8 = 7
    /// Bytes of the envelope before the body.
    public static let headerSize = 28
    /// The largest frame accepted. States move in chunks (`stateChunk`) of at most
    /// `maxChunkBytes`, so no frame carries a whole model any more; the limit stays for peers of
    /// older minors, whose `state` frames do.
    public static let maxFrameBytes = 512 << 20
    /// The largest range one `stateFetch` may ask for and one `stateChunk` may carry.
    public static let maxChunkBytes = 64 << 20

    /// One numbered kind per message; numbers are never reused.
    public enum Kind: UInt8, Sendable, CaseIterable {
        case hello = 1
        case runConfig = 2
        case join = 3
        case welcome = 4
        case reject = 5
        case heartbeat = 6
        case lease = 7
        case state = 8
        case stepResult = 9
        case commit = 10
        case leave = 11
        /// Minor 3: a worker's step attempt failed (its collective broke or timed out).
        case stepFailed = 12
        /// Minor 3: the coordinator asks a member for the committed state.
        case stateRequest = 13
        /// Minor 4, sample channel: a worker asks the sample server for the run's file index.
        case indexRequest = 14
        /// Minor 4, sample channel: the file index.
        case sampleIndex = 15
        /// Minor 4, sample channel: a worker asks for one file of the dataset.
        case sampleRequest = 16
        /// Minor 4, sample channel: the file's bytes.
        case sampleData = 17
        /// Minor 4, sample channel: the server will not serve that request, and why.
        case sampleRefused = 18
        /// Minor 5: the coordinator lets a member's state server serve one state to a token.
        case stateGrant = 20
        /// Minor 5: the coordinator tells a joiner where to fetch the state and what it must hash to.
        case stateSource = 21
        /// Minor 5, state socket: a fetcher asks a state server for a range of a state's bytes.
        case stateFetch = 22
        /// Minor 5, state socket: a state server's answer, one range of the state's bytes.
        case stateChunk = 23
        /// Minor 5, state socket: a state server refuses a fetch, saying why.
        case stateRefused = 24
        /// Minor 6: the public keys of a generation's ring members (CurveZMQ runs only).
        case ringKeys = 25
    }

    /// Who sent a frame, for which generation.
    public struct Envelope: Sendable, Equatable {
        public var kind: Kind
        /// The membership generation the sender believes current; receivers drop older ones.
        public var generation: Generation
        /// The sender's worker id (0 for the coordinator or a worker not yet welcomed).
        public var sender: WorkerID
        public var incarnation: Incarnation
        /// The sender's minor protocol version: what it can decode.
        public var minor: UInt8

        public init(kind: Kind, generation: Generation, sender: WorkerID, incarnation: Incarnation, minor: UInt8 = Wire.minor) {
            self.kind = kind
            self.generation = generation
            self.sender = sender
            self.incarnation = incarnation
            self.minor = minor
        }
    }
}
