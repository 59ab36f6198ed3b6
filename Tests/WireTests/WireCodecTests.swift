import Core
import Testing
@testable import Wire

@Suite struct WireCodecTests {
    /// One pinned byte string per kind: a change to any layout breaks this test and must come with a
    /// new protocol version and an update of docs/wire-protocol.md.
    static let golden: [Wire.Kind: String] = [
        .hello: "47524f560107010003000000000000000200000008070605040302010107",
        .runConfig: "47524f56010702000300000000000000020000000807060504030201010000007204000000613a2031",
        .join: "47524f560107030003000000000000000200000008070605040302010107bbaa000000000000090000007463703a2f2f683a3901000000684d000000",
        .welcome: "47524f5601070400030000000000000002000000080706050403020105000000e8030000",
        .reject: "47524f560107050003000000000000000200000008070605040302010200020000006e6f",
        .heartbeat: "47524f560107060003000000000000000200000008070605040302010900000000000000",
        .lease: "47524f560107070003000000000000000200000008070605040302010400000000000000010000000100000001000000650100000001000000020000000700000008000000020000000400000001",
        .state: "47524f560107080003000000000000000200000008070605040302010600000000000000010000000100000077010000000000803f",
        .stepResult: "47524f56010709000300000000000000020000000807060504030201040000000000000001000000070000000000003f01000000ab010000000000000002000000000000000300000000000000040000000000000000",
        .commit: "47524f5601070a0003000000000000000200000008070605040302010400000000000000",
        .leave: "47524f5601070b000300000000000000020000000807060504030201020003000000627965",
        .stepFailed: "47524f5601070c0003000000000000000200000008070605040302010100000063040000000000000001000000740100000002000000",
        .stateRequest: "47524f5601070d0003000000000000000200000008070605040302010600000000000000",
        .indexRequest: "47524f5601070e0003000000000000000200000008070605040302010900000000000000",
        .sampleIndex: "47524f5601070f00030000000000000002000000080706050403020109000000000000000100000005000000742e637376030000000000000002000000abcd",
        .sampleRequest: "47524f560107100003000000000000000200000008070605040302010a0000000000000003000000612f62",
        .sampleData: "47524f560107110003000000000000000200000008070605040302010a0000000000000003000000010203",
        .sampleRefused: "47524f560107120003000000000000000200000008070605040302010b000000000000000100020000006e6f",
        .stateGrant: "47524f56010714000300000000000000020000000807060504030201060000000000000002000000c1c2",
        .stateSource: "47524f56010715000300000000000000020000000807060504030201060000000000000001000000ab01000000c101000000010000000100000073",
        .stateFetch: "47524f56010716000300000000000000020000000807060504030201060000000000000001000000c1080000000000000004000000",
        .stateChunk: "47524f5601071700030000000000000002000000080706050403020106000000000000000c0000000000000001000000ee08000000000000000400000001020304",
        .stateRefused: "47524f5601071800030000000000000002000000080706050403020102000700000000000000030000006f6c64",
        .ringKeys: "47524f56010719000300000000000000020000000807060504030201010000000500000020000000000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
    ]

    /// A join of minor 5: flag 0x04, then the body of a join without it, then `stateEndpoint string`.
    @Test func aJoinWithAStateEndpointCarriesItBehindItsFlag() throws {
        let join = Wire.Message.join(Wire.Join(schemaHash: 0xAABB, ringEndpoint: "tcp://h:9", host: "h", pid: 77, stateEndpoint: "tcp://h:8"))
        let bytes = WireSamples.encode(join)
        #expect(bytes[7] == Wire.flagStateEndpoint)
        #expect(bytes.hexString == Self.golden[.join]!.replacingOccurrences(of: "47524f56010703000300", with: "47524f56010703040300")
            + "090000007463703a2f2f683a38")
        #expect(try Wire.decode(bytes).1 == join)
        for length in 0..<bytes.count {
            #expect(throws: WireError.self, "cut to \(length) bytes") { try Wire.decode(Array(bytes[..<length])) }
        }
        var unflagged = bytes
        unflagged[7] = 0
        #expect(throws: WireError.self, "an endpoint without its flag is trailing bytes") { try Wire.decode(unflagged) }
    }

    /// Ring keys of minor 7: flag 0x08, then the body without the ring key, then `ringKey blob`
    /// of exactly 32 bytes.
    @Test func ringKeysWithALeaseKeyCarryItBehindTheirFlag() throws {
        let keys = Wire.Message.ringKeys(Wire.RingKeys(members: [Wire.RingKeys.Entry(worker: WorkerID(5), key: Array(0..<32))],
                                                       ringKey: Array(100..<132)))
        let bytes = WireSamples.encode(keys)
        #expect(bytes[7] == Wire.flagRingKey)
        #expect(bytes.hexString == Self.golden[.ringKeys]!.replacingOccurrences(of: "47524f56010719000300", with: "47524f56010719080300")
            + "20000000" + Array(UInt8(100)..<132).hexString)
        #expect(try Wire.decode(bytes).1 == keys)
        for length in 0..<bytes.count {
            #expect(throws: WireError.self, "cut to \(length) bytes") { try Wire.decode(Array(bytes[..<length])) }
        }
        var unflagged = bytes
        unflagged[7] = 0
        #expect(throws: WireError.self, "a ring key without its flag is trailing bytes") { try Wire.decode(unflagged) }
        // A key of another length: its length field says 31 and one byte is gone.
        var short = Array(bytes[..<(bytes.count - 1)])
        short[bytes.count - 36] = 31
        #expect(throws: WireError.self, "a 31-byte ring key") { try Wire.decode(short) }
    }

    /// A step result with spans (protocol 1.1): flag 0x01 in the envelope, then the body of a
    /// step result without them, then `spans [span]` — phase u8, index u32, start u64, duration u64.
    static let stepResultWithSpans = "47524f5601070901" + "0300000000000000" + "02000000" + "0807060504030201"
        + "0400000000000000" + "01000000" + "07000000" + "0000003f" + "01000000ab"
        + "0100000000000000" + "0200000000000000" + "0300000000000000" + "0400000000000000" + "00"
        + "02000000"
        + "02" + "01000000" + "0500000000000000" + "0600000000000000"
        + "0b" + "00000000" + "0700000000000000" + "0800000000000000"

    static let spansSample = Wire.Message.stepResult(Wire.StepResult(
        step: 4, losses: [Wire.SampleLoss(sample: 7, loss: 0.5)], weightsHash: [0xAB], dataNanos: 1, computeNanos: 2,
        reduceNanos: 3, reduceBytes: 4, state: nil,
        spans: [Wire.Span(phase: .forward, index: 1, startNanos: 5, durationNanos: 6),
                Wire.Span(phase: .report, startNanos: 7, durationNanos: 8)]))

    @Test func stepResultWithSpansEncodesToGoldenBytesAndRoundTrips() throws {
        let bytes = WireSamples.encode(Self.spansSample)
        #expect(bytes.hexString == Self.stepResultWithSpans)
        #expect(try Wire.decode(bytes).1 == Self.spansSample)
    }

    /// An empty span list is still a list: it decodes as `[]`, not as no list.
    @Test func emptySpanListRoundTrips() throws {
        guard case .stepResult(var result) = Self.spansSample else { return }
        result.spans = []
        #expect(try Wire.decode(WireSamples.encode(.stepResult(result))).1 == .stepResult(result))
    }

    @Test func everyTruncationOfASpanListIsRejected() {
        let bytes = WireSamples.encode(Self.spansSample)
        for length in 0..<bytes.count {
            #expect(throws: WireError.self, "cut to \(length) bytes") { try Wire.decode(Array(bytes[..<length])) }
        }
    }

    /// A frame of protocol 1.0 (no flag, no spans) still decodes, and says which minor sent it.
    @Test func aStepResultOfMinorZeroDecodesWithoutSpans() throws {
        var bytes = WireSamples.encode(WireSamples.messages.first { $0.kind == .stepResult }!)
        bytes[5] = 0
        let (envelope, message) = try Wire.decode(bytes)
        #expect(envelope.minor == 0)
        guard case .stepResult(let result) = message else { Issue.record("decoded \(message.kind)"); return }
        #expect(result.spans == nil)
    }

    @Test func hostileSpanCountIsRejected() {
        var bytes = WireSamples.encode(Self.spansSample)
        let countOffset = bytes.count - 2 * 21 - 4
        bytes.replaceSubrange(countOffset..<countOffset + 4, with: [0x00, 0x00, 0x01, 0x00])  // 65536 spans
        do {
            _ = try Wire.decode(bytes)
            Issue.record("accepted a hostile span count")
        } catch {
            #expect(error.code == "wire.truncated")
            #expect(error.message.contains("stepResult.spans"))
        }
        bytes.replaceSubrange(countOffset..<countOffset + 4, with: [0x01, 0x00, 0x01, 0x00])  // over the limit
        do { _ = try Wire.decode(bytes) } catch { #expect(error.code == "wire.limit") }
    }

    @Test func unknownSpanPhaseIsRejected() {
        var bytes = WireSamples.encode(Self.spansSample)
        bytes[bytes.count - 21] = 0xEE
        do {
            _ = try Wire.decode(bytes)
            Issue.record("accepted an unknown phase")
        } catch {
            #expect(error.code == "wire.value")
            #expect(error.message.contains("238"))
        }
    }

    /// The span flag means something only on a step result; other bits mean nothing yet.
    @Test func unknownEnvelopeFlagsAreRejected() {
        var bytes = WireSamples.encode(.commit(Wire.Commit(step: 1)))
        bytes[7] = Wire.flagSpans
        do { _ = try Wire.decode(bytes); Issue.record("accepted a span flag on a commit") } catch { #expect(error.code == "wire.flags") }
        bytes = WireSamples.encode(Self.spansSample)
        bytes[7] = 0x03
        do { _ = try Wire.decode(bytes); Issue.record("accepted flag 0x02") } catch { #expect(error.code == "wire.flags") }
    }

    /// A run configuration that announces the sample channel (protocol 1.4): flag 0x02, then the
    /// body of a plain one, then `port u16`, `indexSha256 bytes`.
    static let runConfigWithSamples = "47524f5601070202" + "0300000000000000" + "02000000" + "0807060504030201"
        + "01000000" + "72" + "04000000" + "613a2031" + "901f" + "02000000" + "abcd"

    static let samplesSample = Wire.Message.runConfig(Wire.RunConfig(
        runName: "r", configYAML: "a: 1", samples: Wire.SampleChannel(port: 8080, indexSha256: [0xAB, 0xCD])))

    @Test func runConfigWithTheSampleChannelEncodesToGoldenBytesAndRoundTrips() throws {
        let bytes = WireSamples.encode(Self.samplesSample)
        #expect(bytes.hexString == Self.runConfigWithSamples)
        #expect(try Wire.decode(bytes).1 == Self.samplesSample)
        for length in 0..<bytes.count {
            #expect(throws: WireError.self, "cut to \(length) bytes") { try Wire.decode(Array(bytes[..<length])) }
        }
    }

    /// The samples flag means something only on a run configuration, the spans flag only on a
    /// step result.
    @Test func theSamplesFlagOnAnotherKindIsRejected() {
        for message in [Wire.Message.commit(Wire.Commit(step: 1)), WireSamples.messages.first { $0.kind == .stepResult }!] {
            var bytes = WireSamples.encode(message)
            bytes[7] = Wire.flagSamples
            do { _ = try Wire.decode(bytes); Issue.record("accepted the samples flag on \(message.kind)") } catch { #expect(error.code == "wire.flags") }
        }
        var bytes = WireSamples.encode(Self.samplesSample)
        bytes[7] = Wire.flagSpans
        #expect(throws: WireError.self) { try Wire.decode(bytes) }
    }

    @Test func anUnknownRefusalReasonAndAnOverlongPathAreRejected() {
        var bytes = WireSamples.encode(.sampleRefused(Wire.SampleRefused(request: 1, reason: .tooLarge, text: "")))
        bytes[Wire.headerSize + 8] = 99
        do { _ = try Wire.decode(bytes); Issue.record("accepted reason 99") } catch { #expect(error.code == "wire.value") }
        let long = WireSamples.encode(.sampleRequest(Wire.SampleRequest(request: 1, path: String(repeating: "x", count: Wire.maxSamplePathBytes + 1))))
        do { _ = try Wire.decode(long); Issue.record("accepted a 1025-byte path") } catch { #expect(error.code == "wire.limit") }
    }

    @Test func everyKindHasAGoldenSample() {
        #expect(Set(WireSamples.messages.map(\.kind)) == Set(Wire.Kind.allCases))
        #expect(Set(Self.golden.keys) == Set(Wire.Kind.allCases))
    }

    @Test(arguments: WireSamples.messages)
    func encodesToGoldenBytes(_ message: Wire.Message) {
        #expect(WireSamples.encode(message).hexString == Self.golden[message.kind])
    }

    @Test(arguments: WireSamples.messages)
    func roundTrips(_ message: Wire.Message) throws {
        let (envelope, decoded) = try Wire.decode(WireSamples.encode(message))
        #expect(decoded == message)
        #expect(envelope == Wire.Envelope(kind: message.kind, generation: WireSamples.generation,
                                          sender: WireSamples.sender, incarnation: WireSamples.incarnation))
    }

    @Test func stepResultWithStateRoundTrips() throws {
        let state = Wire.State(step: 3, tensors: [Wire.Tensor(name: "a", values: [1, -2, .infinity]), Wire.Tensor(name: "b", values: [])])
        let message = Wire.Message.stepResult(Wire.StepResult(step: 3, losses: [], weightsHash: Array(repeating: 7, count: 32),
                                                               dataNanos: 0, computeNanos: 0, reduceNanos: 0, reduceBytes: 0, state: state))
        #expect(try Wire.decode(WireSamples.encode(message)).1 == message)
    }

    @Test(arguments: WireSamples.messages)
    func everyTruncationIsRejected(_ message: Wire.Message) {
        let bytes = WireSamples.encode(message)
        for length in 0..<bytes.count {
            #expect(throws: WireError.self, "\(message.kind) cut to \(length) bytes") {
                try Wire.decode(Array(bytes[..<length]))
            }
        }
    }

    @Test func trailingBytesAreRejected() {
        let bytes = WireSamples.encode(.commit(Wire.Commit(step: 1))) + [0]
        #expect(throws: WireError(code: "wire.trailing", "commit: 1 unexpected bytes after the last field")) {
            try Wire.decode(bytes)
        }
    }

    @Test func oversizedFrameIsRejectedBeforeDecoding() {
        let bytes = [UInt8](repeating: 0, count: Wire.maxFrameBytes + 1)
        #expect(throws: WireError.self) { try Wire.decode(bytes) }
        do { _ = try Wire.decode(bytes) } catch { #expect(error.code == "wire.oversized") }
    }

    @Test func anotherMajorVersionIsNamedInTheError() {
        var bytes = WireSamples.encode(.hello(Wire.Hello()))
        bytes[4] = 2
        do {
            _ = try Wire.decode(bytes)
            Issue.record("decoded a frame of protocol 2")
        } catch {
            #expect(error.code == "wire.version")
            #expect(error.message.contains("2.\(Wire.minor)") && error.message.contains("1.\(Wire.minor)"))
        }
    }

    @Test func badMagicAndUnknownKindAreRejected() {
        var bytes = WireSamples.encode(.commit(Wire.Commit(step: 1)))
        bytes[0] = 0
        #expect(throws: WireError.self) { try Wire.decode(bytes) }
        bytes = WireSamples.encode(.commit(Wire.Commit(step: 1)))
        bytes[6] = 200
        do { _ = try Wire.decode(bytes) } catch { #expect(error.code == "wire.kind") }
    }

    /// A count that promises more elements than the frame holds fails before any allocation.
    @Test func hostileCountsAreRejected() {
        var w = ByteWriter()
        w.u64(1)  // step
        w.u32(UInt32.max)  // losses count
        var frame = Array(WireSamples.encode(.commit(Wire.Commit(step: 0))).prefix(Wire.headerSize))
        frame[6] = Wire.Kind.stepResult.rawValue
        frame += w.bytes
        do {
            _ = try Wire.decode(frame)
            Issue.record("accepted a hostile count")
        } catch {
            #expect(error.code == "wire.truncated")
            #expect(error.message.contains("stepResult.losses"))
        }
    }
}
