import Core
import Testing
import Wire
@testable import Coordination

@Suite struct AdmissionTests {
    let t0 = ContinuousClock.now

    func admission() -> Admission {
        var settings = Admission.Settings(schemaHash: 0xABC, schemaName: "canopynet")
        settings.quarantineBase = .seconds(5)
        settings.quarantineMax = .seconds(30)
        return Admission(settings: settings)
    }

    func join(major: UInt8 = Wire.major, minor: UInt8 = Wire.minor, schema: UInt64 = 0xABC, endpoint: String = "tcp://10.0.0.5:4000",
              pid: UInt32 = 42, stateEndpoint: String? = "tcp://10.0.0.5:4001") -> Wire.Join {
        Wire.Join(major: major, minor: minor, schemaHash: schema, ringEndpoint: endpoint, host: "node-1", pid: pid, stateEndpoint: stateEndpoint)
    }

    @Test func aGoodJoinIsAdmittedAtOnce() {
        var a = admission()
        #expect(a.consider(join(), peer: [1], liveAtPeer: nil, full: false, now: t0) == .admit(after: t0))
    }

    @Test func anotherMajorVersionIsRefusedNamingBoth() {
        var a = admission()
        let verdict = a.consider(join(major: Wire.major + 1, minor: 0), peer: [1], liveAtPeer: nil, full: false, now: t0)
        guard case .refuse(.protocolVersion, let text) = verdict else { Issue.record("\(verdict)"); return }
        #expect(text.contains("\(Wire.major + 1).0") && text.contains("\(Wire.major).\(Wire.minor)"))
    }

    @Test func aMinorOlderThanTheRingsIsRefused() {
        var a = admission()
        let verdict = a.consider(join(minor: Wire.ringMinor - 1), peer: [1], liveAtPeer: nil, full: false, now: t0)
        guard case .refuse(.protocolVersion, let text) = verdict else { Issue.record("\(verdict)"); return }
        #expect(text.contains("same Grove build"))
    }

    /// With keys the ring's frames are sealed: a worker of 1.6 (whose ring would expect CurveZMQ)
    /// is refused there, and admitted where the ring runs without keys.
    @Test func aMinorThatCannotSealRingFramesIsRefusedOnlyWhereTheRingIsSealed() {
        var settings = Admission.Settings(schemaHash: 0xABC, schemaName: "canopynet")
        settings.sealedRing = true
        var sealed = Admission(settings: settings)
        let verdict = sealed.consider(join(minor: Wire.sealedRingMinor - 1), peer: [1], liveAtPeer: nil, full: false, now: t0)
        guard case .refuse(.protocolVersion, let text) = verdict else { Issue.record("\(verdict)"); return }
        #expect(text.contains("1.\(Wire.sealedRingMinor - 1)") && text.contains("sealed") && text.contains("same Grove build"), "\(text)")
        #expect(sealed.consider(join(), peer: [2], liveAtPeer: nil, full: false, now: t0) == .admit(after: t0))
        var plain = admission()
        #expect(plain.consider(join(minor: Wire.sealedRingMinor - 1), peer: [1], liveAtPeer: nil, full: false, now: t0) == .admit(after: t0))
    }

    @Test func anotherModelSchemaIsRefusedNamingBoth() {
        var a = admission()
        let verdict = a.consider(join(schema: 0xDEF), peer: [1], liveAtPeer: nil, full: false, now: t0)
        guard case .refuse(.modelSchema, let text) = verdict else { Issue.record("\(verdict)"); return }
        #expect(text.contains("def") && text.contains("abc") && text.contains("canopynet"))
    }

    @Test(arguments: ["tcp://*:4000", "tcp://[::]:4000", "tcp://[fe80::1:4000", "tcp://h:99999", "ipc:///tmp/x", "tcp://h\u{1b}[31m:1"])
    func aBadRingEndpointIsRefused(_ endpoint: String) {
        var a = admission()
        let verdict = a.consider(join(endpoint: endpoint), peer: [1], liveAtPeer: nil, full: false, now: t0)
        guard case .refuse(.malformed, let text) = verdict else { Issue.record("\(verdict)"); return }
        #expect(text.hasPrefix("ring endpoint '"))
        #expect(!text.contains("\u{1b}"), "a hostile endpoint is escaped before it is printed")
    }

    @Test func anIPv6RingEndpointIsAdmitted() {
        var a = admission()
        #expect(a.consider(join(endpoint: "tcp://[2001:db8::7]:4000"), peer: [1], liveAtPeer: nil, full: false, now: t0)
            == .admit(after: t0))
    }

    @Test func oneConnectionHoldsOneMember() {
        var a = admission()
        let verdict = a.consider(join(), peer: [1], liveAtPeer: WorkerID(3), full: false, now: t0)
        guard case .refuse(.malformed, let text) = verdict else { Issue.record("\(verdict)"); return }
        #expect(text.contains("w3"))
    }

    @Test func aFullRunRefuses() {
        var a = admission()
        guard case .refuse(.full, _) = a.consider(join(), peer: [1], liveAtPeer: nil, full: true, now: t0) else {
            Issue.record("a full run admitted"); return
        }
    }

    @Test func joinsBeyondTheRateLimitAreDroppedUntilTheWindowPasses() {
        var a = admission()
        for i in 0..<5 {
            #expect(a.consider(join(), peer: [1], liveAtPeer: nil, full: false, now: t0 + .seconds(i)) != .drop)
        }
        #expect(a.consider(join(), peer: [1], liveAtPeer: nil, full: false, now: t0 + .seconds(5)) == .drop)
        #expect(a.consider(join(), peer: [2], liveAtPeer: nil, full: false, now: t0 + .seconds(5)) != .drop,
                "the limit is per connection")
        #expect(a.consider(join(), peer: [1], liveAtPeer: nil, full: false, now: t0 + .seconds(16)) != .drop)
    }

    @Test func refusedJoinsCountTowardsTheRateLimit() {
        var a = admission()
        for _ in 0..<5 { _ = a.consider(join(schema: 1), peer: [9], liveAtPeer: nil, full: false, now: t0) }
        #expect(a.consider(join(), peer: [9], liveAtPeer: nil, full: false, now: t0) == .drop)
    }

    @Test func anEjectedProcessWaitsAQuarantineThatDoublesUpToTheMaximum() {
        var a = admission()
        let process = "node-1 pid 42"
        let expected: [Duration] = [.seconds(5), .seconds(10), .seconds(20), .seconds(30), .seconds(30)]
        for (i, wait) in expected.enumerated() {
            let now = t0 + .seconds(100 * i)
            a.recordEjection(process: process, now: now)
            #expect(a.quarantine(of: process) == now + wait)
            #expect(a.consider(join(), peer: [UInt8(i)], liveAtPeer: nil, full: false, now: now) == .admit(after: now + wait))
        }
        #expect(a.consider(join(pid: 43), peer: [50], liveAtPeer: nil, full: false, now: t0) == .admit(after: t0),
                "another process on the same host is not quarantined")
    }
}
