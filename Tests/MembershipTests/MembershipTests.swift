import Core
import Testing
@testable import Membership

@Suite struct MembershipTests {
    let t0 = ContinuousClock.now
    let settings = Membership.Settings(heartbeatInterval: .seconds(1), missedHeartbeats: 3, maxMembers: 3)

    func join(_ m: inout Membership, _ n: UInt64, at offset: Duration = .zero) -> WorkerID {
        m.onJoin(incarnation: Incarnation(n), peer: [UInt8(n)], ringEndpoint: "tcp://h:\(n)", host: "h", now: t0 + offset)!
    }

    @Test func admittedMembersFormTheRingInIdOrderAndStartAGeneration() {
        var m = Membership(settings: settings)
        let a = join(&m, 10), b = join(&m, 11)
        #expect(m.ring.isEmpty)
        #expect(m.joining.map(\.id) == [a, b])
        #expect(m.admit([b, a]) == [.newGeneration(Generation(1))])
        #expect(m.ring.map(\.id) == [a, b])
        #expect(m.admit([a]) == [], "admitting an up member changes nothing")
    }

    @Test func silenceBeyondTheTimeoutDeclaresDownAndStartsAGeneration() {
        var m = Membership(settings: settings)
        let a = join(&m, 1), b = join(&m, 2)
        _ = m.admit([a, b])
        let heard = m.onHeard(from: a, incarnation: Incarnation(1), now: t0 + .seconds(2.5))
        #expect(heard)
        #expect(m.onTick(now: t0 + .seconds(3)) == [], "exactly at the timeout is not yet down")
        let directives = m.onTick(now: t0 + .seconds(3.1))
        #expect(directives.count == 2)
        #expect(directives.first.map { if case .down(let id, _) = $0 { id == b } else { false } } == true)
        #expect(directives.last == .newGeneration(Generation(2)))
        #expect(m.ring.map(\.id) == [a])
    }

    @Test func downIsFinalAndAnotherIncarnationIsNotHeard() {
        var m = Membership(settings: settings)
        let a = join(&m, 1)
        _ = m.admit([a])
        let impostor = m.onHeard(from: a, incarnation: Incarnation(99), now: t0 + .seconds(1))
        #expect(!impostor, "another incarnation is not this member")
        _ = m.onTick(now: t0 + .seconds(10))
        #expect(m.members[a]?.status == .down)
        let afterDown = m.onHeard(from: a, incarnation: Incarnation(1), now: t0 + .seconds(11))
        #expect(!afterDown)
        #expect(m.admit([a]) == [])
        let again = join(&m, 1, at: .seconds(12))
        #expect(again != a, "a process that comes back is a new member")
    }

    @Test func aMemberDeclaredDownIsKnownAsFormerAtItsPeerUntilSomeoneLiveIsThere() {
        var m = Membership(settings: settings)
        let a = join(&m, 1), b = join(&m, 2)
        _ = m.admit([a, b])
        #expect(m.formerMember(peer: [1]) == nil, "a live member is not a former one")
        _ = m.onHeard(from: b, incarnation: Incarnation(2), now: t0 + .seconds(3))
        _ = m.onTick(now: t0 + .seconds(3.5))
        #expect(m.member(peer: [1]) == nil)
        #expect(m.formerMember(peer: [1])?.id == a)
        #expect(m.formerMember(peer: [2]) == nil)
        #expect(m.formerMember(peer: [9]) == nil, "a peer never seen is a newcomer, not a former member")
        // The same socket joining again (a new incarnation) is live once more.
        let again = m.onJoin(incarnation: Incarnation(7), peer: [1], ringEndpoint: "tcp://h:1", host: "h", now: t0 + .seconds(4))!
        #expect(m.formerMember(peer: [1]) == nil)
        #expect(m.member(peer: [1])?.id == again)
    }

    @Test func joiningMembersLeavingDoNotChangeTheGeneration() {
        var m = Membership(settings: settings)
        let a = join(&m, 1)
        #expect(m.onLeave(a) == [])
        let b = join(&m, 2)
        _ = m.admit([b])
        #expect(m.onLeave(b) == [.newGeneration(Generation(2))])
    }

    @Test func aFullRunRefusesMoreMembers() {
        var m = Membership(settings: settings)
        for n in 1...3 { _ = join(&m, UInt64(n)) }
        #expect(m.onJoin(incarnation: Incarnation(4), peer: [4], ringEndpoint: "", host: "", now: t0) == nil)
    }
}
