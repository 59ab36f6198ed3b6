import Collective
import Core
import Foundation
import Testing
@testable import Transport

/// CurveZMQ between real sockets over loopback: who is admitted, who is refused, and what a
/// refused peer gets (nothing).
@Suite(.serialized) struct CurveClusteredTests {
    struct Cluster {
        let dir: String
        let coordinatorKeys: CurveKeyPair
        let authorized: AuthorizedKeys
        let admitted: CurveKeyPair
        let stranger: CurveKeyPair

        init() throws {
            dir = CurveKeyTests.scratch("curve")
            coordinatorKeys = try CurveKeyPair.generate()
            admitted = try CurveKeyPair.generate()
            stranger = try CurveKeyPair.generate()
            try PrivateFile.create(path: dir + "/authorized_keys", contents: "\(admitted.publicKey.z85) fleet\n")
            authorized = try AuthorizedKeys(path: dir + "/authorized_keys", checkInterval: .zero)
        }

        func coordinator() -> SocketLoop {
            SocketLoop(security: .curve(CurveSettings(identity: coordinatorKeys, authorized: authorized)))
        }

        func worker(_ identity: CurveKeyPair) -> SocketLoop {
            SocketLoop(security: .curve(CurveSettings(identity: identity, serverKey: coordinatorKeys.publicKey)))
        }
    }

    @Test func anAuthorizedKeyTalksAndItsKeyComesWithEveryMessage() throws {
        let cluster = try Cluster()
        defer { try? FileManager.default.removeItem(atPath: cluster.dir) }
        let coordinator = cluster.coordinator(), worker = cluster.worker(cluster.admitted)
        defer { worker.close(); coordinator.close() }
        let endpoint = try coordinator.bindControl("tcp://127.0.0.1:*")
        try worker.connectControl(endpoint)
        worker.sendControl([1, 2, 3])
        guard case .item(let hello) = coordinator.control.pop(until: .now + .seconds(5)) else {
            Issue.record("the coordinator received nothing")
            return
        }
        #expect(hello.bytes == [1, 2, 3])
        #expect(hello.key == cluster.admitted.publicKey)
        coordinator.sendControl([9], to: hello.peer)
        guard case .item(let reply) = worker.control.pop(until: .now + .seconds(5)) else {
            Issue.record("the worker received nothing")
            return
        }
        #expect(reply.bytes == [9])
        #expect(coordinator.refusals.value.total == 0)
    }

    @Test func strangersPlaintextPeersAndImpostorsAreRefusedAndCounted() throws {
        let cluster = try Cluster()
        defer { try? FileManager.default.removeItem(atPath: cluster.dir) }
        let coordinator = cluster.coordinator()
        defer { coordinator.close() }
        let endpoint = try coordinator.bindControl("tcp://127.0.0.1:*")
        let stranger = cluster.worker(cluster.stranger)
        let plain = SocketLoop()
        // An impostor coordinator: a worker with the right key dials it, expecting the real
        // coordinator's key, and must not talk to it.
        let impostorKeys = try CurveKeyPair.generate()
        let impostor = SocketLoop(security: .curve(CurveSettings(identity: impostorKeys, authorized: cluster.authorized)))
        let impostorEndpoint = try impostor.bindControl("tcp://127.0.0.1:*")
        let fooled = cluster.worker(cluster.admitted)
        defer { stranger.close(); plain.close(); fooled.close(); impostor.close() }
        try stranger.connectControl(endpoint)
        try plain.connectControl(endpoint)
        try fooled.connectControl(impostorEndpoint)
        stranger.sendControl([1])
        plain.sendControl([2])
        fooled.sendControl([3])
        #expect(coordinator.control.pop(until: .now + .seconds(2)).isTimedOut, "a refused peer's message arrived")
        #expect(impostor.control.pop(until: .now + .milliseconds(200)).isTimedOut, "a worker talked to a server with another key")
        #expect(stranger.control.pop(until: .now + .milliseconds(100)).isTimedOut, "a refused peer was told something")
        let refusals = coordinator.refusals.value
        #expect(refusals.byReason.keys.contains { $0.contains(cluster.stranger.publicKey.z85) && $0.contains("not authorized") }, "\(refusals.byReason)")
        #expect(refusals.total >= 1)
    }

    @Test func aRevokedKeyIsRefusedAtItsNextHandshake() throws {
        let cluster = try Cluster()
        defer { try? FileManager.default.removeItem(atPath: cluster.dir) }
        let coordinator = cluster.coordinator()
        defer { coordinator.close() }
        let endpoint = try coordinator.bindControl("tcp://127.0.0.1:*")
        try PrivateFile.create(path: cluster.dir + "/authorized_keys", contents: "# nobody\n", replace: true)
        let worker = cluster.worker(cluster.admitted)
        defer { worker.close() }
        try worker.connectControl(endpoint)
        worker.sendControl([1])
        #expect(coordinator.control.pop(until: .now + .seconds(2)).isTimedOut)
        #expect(coordinator.refusals.value.total >= 1)
    }

    @Test func theRingAdmitsOnlyTheAnnouncedMembers() throws {
        let cluster = try Cluster()
        defer { try? FileManager.default.removeItem(atPath: cluster.dir) }
        let member = try CurveKeyPair.generate(), neighbour = try CurveKeyPair.generate()
        let a = cluster.worker(member), b = cluster.worker(neighbour), outsider = cluster.worker(cluster.stranger)
        defer { a.close(); b.close(); outsider.close() }
        let endpointB = try b.bindRing(host: "127.0.0.1")
        _ = try a.bindRing(host: "127.0.0.1")
        _ = try outsider.bindRing(host: "127.0.0.1")
        b.admitRing(keys: [member.publicKey, neighbour.publicKey])
        // The outsider (a worker key, but not of this generation) pushes first; then the member.
        try ZeroMQRingLink(loop: outsider, generation: Generation(3), rank: 0, worldSize: 2, next: endpointB, nextKey: neighbour.publicKey)
            .send([0xEE])
        let sender = try ZeroMQRingLink(loop: a, generation: Generation(3), rank: 0, worldSize: 2, next: endpointB, nextKey: neighbour.publicKey)
        try sender.send([1, 2])
        let receiver = try ZeroMQRingLink(loop: b, generation: Generation(3), rank: 1, worldSize: 2, next: endpointB, nextKey: neighbour.publicKey)
        #expect(try receiver.receive(until: .now + .seconds(5)) == [1, 2])
        #expect(throws: CollectiveError.self) { try receiver.receive(until: .now + .seconds(1)) }
        #expect(b.refusals.value.byReason.keys.contains { $0.contains("not a member of the current ring") }, "\(b.refusals.value.byReason)")
        // Without the next member's key a CURVE loop does not dial at all.
        #expect(throws: SecurityError.self) { try a.connectRing(next: endpointB, key: nil) }
    }
}
