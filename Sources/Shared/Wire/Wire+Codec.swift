import Core

extension Wire {
    /// Encodes one frame: the envelope, then the message's body.
    public static func encode(_ message: Message, generation: Generation, sender: WorkerID, incarnation: Incarnation) -> [UInt8] {
        var w = ByteWriter(capacity: 128)
        w.u32(magic)
        w.u8(major)
        w.u8(minor)
        w.u8(message.kind.rawValue)
        w.u8(flags(of: message))
        w.u64(generation.rawValue)
        w.u32(sender.rawValue)
        w.u64(incarnation.rawValue)
        encodeBody(message, into: &w)
        return w.bytes
    }

    /// Decodes one frame. Checks the magic, the major version, the kind, every length, and that the
    /// body ends where the last field does.
    public static func decode(_ frame: [UInt8]) throws(WireError) -> (Envelope, Message) {
        guard frame.count <= maxFrameBytes else {
            throw WireError(code: "wire.oversized", "frame of \(frame.count) bytes exceeds the limit of \(maxFrameBytes)")
        }
        var r = ByteReader(frame, context: "envelope")
        let m = try r.u32("magic")
        guard m == magic else {
            throw WireError(code: "wire.magic", "frame does not start with Grove's magic (found 0x\(String(m, radix: 16)))")
        }
        let peerMajor = try r.u8("major")
        let peerMinor = try r.u8("minor")
        guard peerMajor == major else {
            throw WireError(code: "wire.version",
                            "peer speaks protocol \(peerMajor).\(peerMinor), this build speaks \(major).\(minor)")
        }
        let rawKind = try r.u8("kind")
        guard let kind = Kind(rawValue: rawKind) else {
            throw WireError(code: "wire.kind", "unknown message kind \(rawKind) (protocol \(peerMajor).\(peerMinor))")
        }
        let flags = try r.u8("flags")
        let known: UInt8 = switch kind {
        case .stepResult: flagSpans
        case .runConfig: flagSamples
        case .join: flagStateEndpoint
        case .ringKeys: flagRingKey
        default: 0
        }
        guard flags & ~known == 0 else {
            throw WireError(code: "wire.flags", "\(kind): unknown envelope flags 0x\(String(flags, radix: 16)) (protocol \(peerMajor).\(peerMinor))")
        }
        let envelope = Envelope(kind: kind, generation: Generation(try r.u64("generation")),
                                sender: WorkerID(try r.u32("sender")), incarnation: Incarnation(try r.u64("incarnation")),
                                minor: peerMinor)
        r.context = "\(kind)"
        var message = try decodeBody(kind, &r)
        if flags & flagSpans != 0, case .stepResult(var result) = message {
            result.spans = try decodeSpans(&r)
            message = .stepResult(result)
        }
        if flags & flagSamples != 0, case .runConfig(var config) = message {
            config.samples = try decodeSampleChannel(&r)
            message = .runConfig(config)
        }
        if flags & flagStateEndpoint != 0, case .join(var join) = message {
            join.stateEndpoint = try r.string("stateEndpoint", limit: 1024)
            message = .join(join)
        }
        if flags & flagRingKey != 0, case .ringKeys(var keys) = message {
            let key = try r.blob("ringKey", limit: 32)
            guard key.count == 32 else {
                throw WireError(code: "wire.value", "ringKeys.ringKey: expected 32 bytes, found \(key.count)")
            }
            keys.ringKey = key
            message = .ringKeys(keys)
        }
        try r.finish()
        return (envelope, message)
    }

    static func encodeBody(_ message: Message, into w: inout ByteWriter) {
        switch message {
        case .hello(let m):
            w.u8(m.major); w.u8(m.minor)
        case .runConfig(let m):
            w.string(m.runName); w.string(m.configYAML)
            if let samples = m.samples { w.u16(samples.port); w.blob(samples.indexSha256) }
        case .join(let m):
            w.u8(m.major); w.u8(m.minor); w.u64(m.schemaHash); w.string(m.ringEndpoint); w.string(m.host); w.u32(m.pid)
            if let endpoint = m.stateEndpoint { w.string(endpoint) }
        case .welcome(let m):
            w.u32(m.worker.rawValue); w.u32(m.heartbeatIntervalMillis)
        case .reject(let m):
            w.u16(m.reason.rawValue); w.string(m.text)
        case .heartbeat(let m):
            w.u64(m.committedStep)
        case .lease(let m):
            w.u64(m.step)
            w.count(m.ring.count)
            for member in m.ring { w.u32(member.worker.rawValue); w.string(member.ringEndpoint) }
            w.count(m.microBatches.count)
            for batch in m.microBatches {
                w.u32(batch.id.rawValue)
                w.count(batch.samples.count)
                for s in batch.samples { w.u32(s) }
            }
            w.u32(m.totalMicroBatches); w.u32(m.globalBatch); w.u8(m.wantState ? 1 : 0)
        case .state(let m):
            encodeState(m, into: &w)
        case .stepResult(let m):
            w.u64(m.step)
            w.count(m.losses.count)
            for l in m.losses { w.u32(l.sample); w.f32(l.loss) }
            w.blob(m.weightsHash)
            w.u64(m.dataNanos); w.u64(m.computeNanos); w.u64(m.reduceNanos); w.u64(m.reduceBytes)
            if let state = m.state { w.u8(1); encodeState(state, into: &w) } else { w.u8(0) }
            if let spans = m.spans {
                w.count(spans.count)
                for span in spans { w.u8(span.phase.rawValue); w.u32(span.index); w.u64(span.startNanos); w.u64(span.durationNanos) }
            }
        case .commit(let m):
            w.u64(m.step)
        case .leave(let m):
            w.u16(m.reason.rawValue); w.string(m.text)
        case .stepFailed(let m):
            w.string(m.code); w.u64(m.step); w.string(m.text); w.u32(m.suspect.rawValue); w.u32(m.framesFromSuspect)
        case .stateRequest(let m):
            w.u64(m.step)
        case .indexRequest(let m):
            w.u64(m.request)
        case .sampleIndex(let m):
            w.u64(m.request); encodeFiles(m.files, into: &w)
        case .sampleRequest(let m):
            w.u64(m.request); w.string(m.path)
        case .sampleData(let m):
            w.u64(m.request); w.blob(m.bytes)
        case .sampleRefused(let m):
            w.u64(m.request); w.u16(m.reason.rawValue); w.string(m.text)
        case .stateGrant(let m):
            w.u64(m.step); w.blob(m.token)
        case .stateSource(let m):
            w.u64(m.step); w.blob(m.weightsHash); w.blob(m.token)
            w.count(m.sources.count)
            for member in m.sources { w.u32(member.worker.rawValue); w.string(member.ringEndpoint) }
        case .stateFetch(let m):
            w.u64(m.step); w.blob(m.token); w.u64(m.offset); w.u32(m.length)
        case .stateChunk(let m):
            w.u64(m.step); w.u64(m.totalBytes); w.blob(m.stateHash); w.u64(m.offset); w.blob(m.data)
        case .stateRefused(let m):
            w.u16(m.reason.rawValue); w.u64(m.heldStep); w.string(m.text)
        case .ringKeys(let m):
            w.count(m.members.count)
            for member in m.members { w.u32(member.worker.rawValue); w.blob(member.key) }
            if let ringKey = m.ringKey { w.blob(ringKey) }
        }
    }

    /// The envelope flags a message needs: `flagSpans` for a step result that carries spans,
    /// `flagSamples` for a run configuration that announces the sample channel, `flagStateEndpoint`
    /// for a join with a state server, `flagRingKey` for ring keys with the lease's ring key.
    static func flags(of message: Message) -> UInt8 {
        if case .stepResult(let m) = message, m.spans != nil { return flagSpans }
        if case .runConfig(let m) = message, m.samples != nil { return flagSamples }
        if case .join(let m) = message, m.stateEndpoint != nil { return flagStateEndpoint }
        if case .ringKeys(let m) = message, m.ringKey != nil { return flagRingKey }
        return 0
    }

    /// The most spans one step result may carry.
    public static let maxSpans = 1 << 16

    static func decodeSpans(_ r: inout ByteReader) throws(WireError) -> [Span] {
        // phase u8, index u32, start u64, duration u64.
        let n = try r.count("spans", elementSize: 21, limit: maxSpans)
        var spans: [Span] = []
        spans.reserveCapacity(n)
        for _ in 0..<n {
            let raw = try r.u8("span.phase")
            guard let phase = SpanPhase(rawValue: raw) else {
                throw WireError(code: "wire.value", "\(r.context).span.phase: unknown phase \(raw)")
            }
            spans.append(Span(phase: phase, index: try r.u32("span.index"), startNanos: try r.u64("span.start"),
                              durationNanos: try r.u64("span.duration")))
        }
        return spans
    }

    static func encodeState(_ state: State, into w: inout ByteWriter) {
        w.u64(state.step)
        w.count(state.tensors.count)
        for t in state.tensors { w.string(t.name); w.floats(t.values) }
    }

    static func decodeState(_ r: inout ByteReader) throws(WireError) -> State {
        let step = try r.u64("state.step")
        // A tensor needs at least its name length and its value count: 8 bytes.
        let n = try r.count("state.tensors", elementSize: 8, limit: 4096)
        var tensors: [Tensor] = []
        for _ in 0..<n {
            let name = try r.string("tensor.name", limit: 1024)
            tensors.append(Tensor(name: name, values: try r.floats("tensor.values")))
        }
        return State(step: step, tensors: tensors)
    }

    static func decodeBody(_ kind: Kind, _ r: inout ByteReader) throws(WireError) -> Message {
        switch kind {
        case .hello:
            return .hello(Hello(major: try r.u8("major"), minor: try r.u8("minor")))
        case .runConfig:
            return .runConfig(RunConfig(runName: try r.string("runName", limit: 1024), configYAML: try r.string("configYAML")))
        case .join:
            return .join(Join(major: try r.u8("major"), minor: try r.u8("minor"), schemaHash: try r.u64("schemaHash"),
                              ringEndpoint: try r.string("ringEndpoint", limit: 1024), host: try r.string("host", limit: 1024),
                              pid: try r.u32("pid")))
        case .welcome:
            return .welcome(Welcome(worker: WorkerID(try r.u32("worker")), heartbeatIntervalMillis: try r.u32("heartbeatIntervalMillis")))
        case .reject:
            let raw = try r.u16("reason")
            guard let reason = Reject.Reason(rawValue: raw) else {
                throw WireError(code: "wire.value", "reject.reason: unknown reason \(raw)")
            }
            return .reject(Reject(reason: reason, text: try r.string("text")))
        case .heartbeat:
            return .heartbeat(Heartbeat(committedStep: try r.u64("committedStep")))
        case .lease:
            let step = try r.u64("step")
            // A member is at least a worker id and an endpoint length: 8 bytes.
            let members = try r.count("ring", elementSize: 8, limit: 65_536)
            var ring: [Member] = []
            for _ in 0..<members {
                ring.append(Member(worker: WorkerID(try r.u32("ring.worker")), ringEndpoint: try r.string("ring.endpoint", limit: 1024)))
            }
            let batches = try r.count("microBatches", elementSize: 8, limit: 1 << 20)
            var microBatches: [MicroBatch] = []
            for _ in 0..<batches {
                let id = MicroBatchID(try r.u32("microBatch.id"))
                let count = try r.count("microBatch.samples", elementSize: 4)
                var samples: [UInt32] = []
                samples.reserveCapacity(count)
                for _ in 0..<count { samples.append(try r.u32("microBatch.sample")) }
                microBatches.append(MicroBatch(id: id, samples: samples))
            }
            let total = try r.u32("totalMicroBatches"), global = try r.u32("globalBatch")
            let want = try flag(&r, "wantState")
            return .lease(Lease(step: step, ring: ring, microBatches: microBatches, totalMicroBatches: total, globalBatch: global, wantState: want))
        case .state:
            return .state(try decodeState(&r))
        case .stepResult:
            let step = try r.u64("step")
            let n = try r.count("losses", elementSize: 8)
            var losses: [SampleLoss] = []
            losses.reserveCapacity(n)
            for _ in 0..<n { losses.append(SampleLoss(sample: try r.u32("loss.sample"), loss: try r.f32("loss.value"))) }
            let hash = try r.blob("weightsHash", limit: 64)
            let data = try r.u64("dataNanos"), compute = try r.u64("computeNanos")
            let reduce = try r.u64("reduceNanos"), bytes = try r.u64("reduceBytes")
            let state = try flag(&r, "hasState") ? try decodeState(&r) : nil
            return .stepResult(StepResult(step: step, losses: losses, weightsHash: hash, dataNanos: data, computeNanos: compute,
                                          reduceNanos: reduce, reduceBytes: bytes, state: state))
        case .commit:
            return .commit(Commit(step: try r.u64("step")))
        case .leave:
            let raw = try r.u16("reason")
            guard let reason = Leave.Reason(rawValue: raw) else {
                throw WireError(code: "wire.value", "leave.reason: unknown reason \(raw)")
            }
            return .leave(Leave(reason: reason, text: try r.string("text")))
        case .stepFailed:
            return .stepFailed(StepFailed(code: try r.string("code", limit: 256), step: try r.u64("step"),
                                          text: try r.string("text", limit: 4096), suspect: WorkerID(try r.u32("suspect")),
                                          framesFromSuspect: try r.u32("framesFromSuspect")))
        case .stateRequest:
            return .stateRequest(StateRequest(step: try r.u64("step")))
        case .indexRequest:
            return .indexRequest(IndexRequest(request: try r.u64("request")))
        case .sampleIndex:
            return .sampleIndex(SampleIndex(request: try r.u64("request"), files: try decodeFiles(&r)))
        case .sampleRequest:
            return .sampleRequest(SampleRequest(request: try r.u64("request"), path: try r.string("path", limit: maxSamplePathBytes)))
        case .sampleData:
            return .sampleData(SampleData(request: try r.u64("request"), bytes: try r.blob("bytes")))
        case .sampleRefused:
            let request = try r.u64("request")
            let raw = try r.u16("reason")
            guard let reason = SampleRefused.Reason(rawValue: raw) else {
                throw WireError(code: "wire.value", "sampleRefused.reason: unknown reason \(raw)")
            }
            return .sampleRefused(SampleRefused(request: request, reason: reason, text: try r.string("text", limit: 4096)))
        case .stateGrant:
            return .stateGrant(StateGrant(step: try r.u64("step"), token: try r.blob("token", limit: 64)))
        case .stateSource:
            let step = try r.u64("step")
            let hash = try r.blob("weightsHash", limit: 64), token = try r.blob("token", limit: 64)
            let n = try r.count("sources", elementSize: 8, limit: 1024)
            var sources: [Member] = []
            for _ in 0..<n {
                sources.append(Member(worker: WorkerID(try r.u32("source.worker")), ringEndpoint: try r.string("source.endpoint", limit: 1024)))
            }
            return .stateSource(StateSource(step: step, weightsHash: hash, token: token, sources: sources))
        case .stateFetch:
            return .stateFetch(StateFetch(step: try r.u64("step"), token: try r.blob("token", limit: 64), offset: try r.u64("offset"),
                                          length: try r.u32("length")))
        case .stateChunk:
            let step = try r.u64("step"), total = try r.u64("totalBytes")
            let hash = try r.blob("stateHash", limit: 64), offset = try r.u64("offset")
            return .stateChunk(StateChunk(step: step, totalBytes: total, stateHash: hash, offset: offset,
                                          data: try r.blob("data", limit: maxChunkBytes)))
        case .stateRefused:
            let raw = try r.u16("reason")
            guard let reason = StateRefused.Reason(rawValue: raw) else {
                throw WireError(code: "wire.value", "stateRefused.reason: unknown reason \(raw)")
            }
            return .stateRefused(StateRefused(reason: reason, heldStep: try r.u64("heldStep"), text: try r.string("text", limit: 4096)))
        case .ringKeys:
            // A member is a worker id, a key length and 32 key bytes: 40 bytes.
            let n = try r.count("members", elementSize: 40, limit: 65_536)
            var members: [RingKeys.Entry] = []
            members.reserveCapacity(n)
            for _ in 0..<n {
                let worker = WorkerID(try r.u32("member.worker"))
                let key = try r.blob("member.key", limit: 32)
                guard key.count == 32 else {
                    throw WireError(code: "wire.value", "ringKeys.member.key: expected 32 bytes, found \(key.count)")
                }
                members.append(RingKeys.Entry(worker: worker, key: key))
            }
            return .ringKeys(RingKeys(members: members))
        }
    }

    private static func flag(_ r: inout ByteReader, _ field: String) throws(WireError) -> Bool {
        let v = try r.u8(field)
        guard v <= 1 else { throw WireError(code: "wire.value", "\(r.context).\(field): expected 0 or 1, found \(v)") }
        return v == 1
    }
}
