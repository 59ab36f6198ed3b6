import Core
import Testing
@testable import Coordination

@Suite struct MemberTableTests {
    let t0 = ContinuousClock.now
    let settings = MemberTable.Settings(heartbeatInterval: .seconds(1), missedHeartbeats: 3, maxMembers: 3, formerMembersKept: 4)

    func join(_ m: inout MemberTable, _ n: UInt64, at offset: Duration = .zero) -> WorkerID {
        m.add(incarnation: Incarnation(n), peer: [UInt8(n)], ringEndpoint: "tcp://h:\(n)", host: "h", pid: UInt32(n),
              admitAfter: t0, now: t0 + offset)
    }

    @Test func admittedMembersFormTheRingInIdOrderAndStartAGeneration() {
        var m = MemberTable(settings: settings)
        let a = join(&m, 10), b = join(&m, 11)
        #expect(m.ring.isEmpty)
        #expect(m.joining.map(\.id) == [a, b])
        #expect(m.admit([b, a]) == Generation(1))
        #expect(m.ring.map(\.id) == [a, b])
        #expect(m.admit([a]) == nil, "admitting an up member changes nothing")
    }

    @Test func silenceBeyondTheTimeoutIsReportedAndRemovalStartsAGeneration() {
        var m = MemberTable(settings: settings)
        let a = join(&m, 1), b = join(&m, 2)
        _ = m.admit([a, b])
        let heard = m.heard(from: a, incarnation: Incarnation(1), now: t0 + .seconds(2.5))
        #expect(heard)
        #expect(m.silent(now: t0 + .seconds(3)).isEmpty, "exactly at the timeout is not yet silent")
        let silent = m.silent(now: t0 + .seconds(3.1))
        #expect(silent.map(\.id) == [b])
        #expect(m.remove(b, reason: "declared down") == Generation(2))
        #expect(m.ring.map(\.id) == [a])
        #expect(m.members[b]?.downReason == "declared down")
    }

    @Test func downIsFinalAndAnotherIncarnationIsNotHeard() {
        var m = MemberTable(settings: settings)
        let a = join(&m, 1)
        _ = m.admit([a])
        let other = m.heard(from: a, incarnation: Incarnation(99), now: t0 + .seconds(1))
        #expect(!other, "another incarnation is not this member")
        _ = m.remove(a, reason: "declared down")
        #expect(m.members[a]?.status == .down)
        let afterDown = m.heard(from: a, incarnation: Incarnation(1), now: t0 + .seconds(11))
        #expect(!afterDown)
        #expect(m.admit([a]) == nil)
        #expect(m.remove(a, reason: "again") == nil, "a down member cannot go down twice")
        let again = join(&m, 1, at: .seconds(12))
        #expect(again != a, "a process that comes back is a new member")
        #expect(m.formerMember(process: "h pid 1")?.id == a)
    }

    @Test func aMemberDeclaredDownIsKnownAsFormerAtItsPeerUntilSomeoneLiveIsThere() {
        var m = MemberTable(settings: settings)
        let a = join(&m, 1), b = join(&m, 2)
        _ = m.admit([a, b])
        #expect(m.formerMember(peer: [1]) == nil, "a live member is not a former one")
        _ = m.remove(a, reason: "declared down")
        #expect(m.member(peer: [1]) == nil)
        #expect(m.formerMember(peer: [1])?.id == a)
        #expect(m.formerMember(peer: [2]) == nil)
        #expect(m.formerMember(peer: [9]) == nil, "a peer never seen is a newcomer, not a former member")
        let again = m.add(incarnation: Incarnation(7), peer: [1], ringEndpoint: "tcp://h:1", host: "h", pid: 1, admitAfter: t0,
                          now: t0 + .seconds(4))
        #expect(m.formerMember(peer: [1]) == nil)
        #expect(m.member(peer: [1])?.id == again)
        _ = b
    }

    @Test func joiningMembersLeavingDoNotChangeTheGeneration() {
        var m = MemberTable(settings: settings)
        let a = join(&m, 1)
        #expect(m.remove(a, reason: "left") == nil)
        let b = join(&m, 2)
        _ = m.admit([b])
        #expect(m.remove(b, reason: "left") == Generation(2))
    }

    @Test func aFullTableSaysSo() {
        var m = MemberTable(settings: settings)
        for n in 1...2 { _ = join(&m, UInt64(n)) }
        #expect(!m.isFull)
        let c = join(&m, 3)
        #expect(m.isFull)
        _ = m.remove(c, reason: "left")
        #expect(!m.isFull, "down members do not take a slot")
    }

    @Test func downMembersArePrunedToTheNewestFew() {
        var m = MemberTable(settings: settings)
        var ids: [WorkerID] = []
        for n in 1...10 {
            let id = join(&m, UInt64(n))
            _ = m.remove(id, reason: "declared down")
            ids.append(id)
        }
        #expect(m.members.count == 4, "only formerMembersKept down members are remembered")
        #expect(Set(m.members.keys) == Set(ids.suffix(4)))
    }
}
