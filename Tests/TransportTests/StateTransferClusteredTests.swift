import Core
import Foundation
import Testing
import Wire
@testable import Transport

/// A state server and fetchers over real sockets on loopback: the state arrives whole and exact in
/// chunks, and every way a stranger, a stale request or a broken server can go wrong is refused
/// with an error that names the server.
@Suite(.serialized) struct StateTransferClusteredTests {
    /// A state of three tensors, 1 MiB and some bytes: many chunks of 64 KiB.
    static let state = Wire.State(step: 5, tensors: [
        Wire.Tensor(name: "param/w", values: (0..<200_000).map { Float($0) * 0.5 }),
        Wire.Tensor(name: "param/b", values: [1, 2, 3]),
        Wire.Tensor(name: "optim/adam.m", values: (0..<70_000).map { -Float($0) }),
    ])
    static let token: [UInt8] = Array(0..<16)

    func server(generation: UInt64 = 4, tamper: StateServer.Tamper = .none) throws -> StateServer {
        let generations = Locked(generation)
        let server = try StateServer(host: "127.0.0.1", origin: "test", currentGeneration: { generations.value })
        server.tamper = tamper
        server.publish(StateImage(Self.state))
        return server
    }

    func fetcher(window: Int = 4, timeout: Duration = .seconds(5)) -> StateFetcher {
        var settings = StateFetcher.Settings()
        settings.chunkBytes = 64 << 10
        settings.window = window
        settings.chunkTimeout = timeout
        settings.firstReplyTimeout = timeout
        settings.notReadyWait = .seconds(3)
        return StateFetcher(settings: settings, sender: WorkerID(9), incarnation: Incarnation(1))
    }

    func fetch(_ server: StateServer, _ fetcher: StateFetcher, step: UInt64 = 5, token: [UInt8] = token,
               generation: UInt64 = 4) throws(StateTransferError) -> StateFetcher.Fetched {
        try fetcher.fetch(from: server.endpoint, origin: "the test server", step: step, token: token, generation: Generation(generation),
                          maxValues: 300_000)
    }

    @Test(arguments: [1, 4, 16])
    func aGrantedFetchBringsTheExactStateInChunks(window: Int) throws {
        let server = try server()
        defer { server.close() }
        server.grant(token: Self.token, step: 5, generation: 4)
        let got = try fetch(server, fetcher(window: window))
        #expect(got.state == Self.state)
        #expect(got.bytes == StateImage(Self.state).byteCount)
        #expect(got.sha256 == StateImage(Self.state).sha256())
        #expect(server.served.chunks == (got.bytes + (64 << 10) - 1) / (64 << 10))
    }

    @Test func aStrangerWithoutTheTokenIsRefused() throws {
        let server = try server()
        defer { server.close() }
        server.grant(token: Self.token, step: 5, generation: 4)
        let started = ContinuousClock.now
        do {
            _ = try fetch(server, fetcher(), token: [9, 9, 9])
            Issue.record("a stranger got the state")
        } catch {
            #expect(error.code == "state.refused")
            #expect(error.message.contains("the test server") && error.message.contains("notGranted"), "\(error.message)")
        }
        #expect(started.duration(to: .now) < .seconds(5), "a stranger is refused once the grant could have arrived")
        #expect(server.served.chunks == 0)
    }

    @Test func aRequestOfAnotherGenerationThanItsGrantIsRefused() throws {
        let server = try server(generation: 5)
        defer { server.close() }
        server.grant(token: Self.token, step: 5, generation: 4)
        #expect(throws: StateTransferError.self, "a token replayed under another generation") { _ = try fetch(server, fetcher(), generation: 5) }
        server.grant(token: Self.token, step: 5, generation: 6)
        #expect(throws: StateTransferError.self, "a generation the owner has not seen") { _ = try fetch(server, fetcher(), generation: 6) }
        // A grant of the previous generation still serves its fetcher: a joiner stays a member
        // when others join at the next boundary.
        server.grant(token: Self.token, step: 5, generation: 4)
        #expect(try fetch(server, fetcher(), generation: 4).state == Self.state)
    }

    @Test func aStaleStepIsRefusedAndAFutureOneIsWaitedFor() throws {
        let server = try server()
        defer { server.close() }
        server.grant(token: Self.token, step: 4, generation: 4)
        do {
            _ = try fetch(server, fetcher(), step: 4)
            Issue.record("a stale step was served")
        } catch {
            #expect(error.message.contains("staleStep") && error.message.contains("after step 5"), "\(error.message)")
        }
        // A grant for the next step before the owner holds it: the fetcher asks again until it does.
        server.grant(token: Self.token, step: 6, generation: 4)
        let next = Wire.State(step: 6, tensors: Self.state.tensors)
        DispatchQueue.global().asyncAfter(deadline: .now() + 0.1) { server.publish(StateImage(next)) }
        #expect(try fetch(server, fetcher(), step: 6).state == next)
    }

    /// A grant keeps its state served after the owner publishes a newer one.
    @Test func aGrantPinsItsStateAcrossANewerPublish() throws {
        let server = try server()
        defer { server.close() }
        server.grant(token: Self.token, step: 5, generation: 4)
        server.publish(StateImage(Wire.State(step: 6, tensors: [])))
        #expect(try fetch(server, fetcher()).state == Self.state)
    }

    @Test(arguments: [StateServer.Tamper.corrupt, .truncate])
    func aBrokenServersStateIsRefusedNamingIt(tamper: StateServer.Tamper) throws {
        let server = try server(tamper: tamper)
        defer { server.close() }
        server.grant(token: Self.token, step: 5, generation: 4)
        do {
            _ = try fetch(server, fetcher())
            Issue.record("a \(tamper) state was accepted")
        } catch {
            #expect(error.code == (tamper == .corrupt ? "state.hash-mismatch" : "state.truncated"), "\(error)")
            #expect(error.message.contains("the test server"))
        }
    }

    @Test func aServerThatDiesMidTransferEndsTheFetchWithinItsTimeout() throws {
        let server = try server(tamper: .silentAfter(chunks: 5))
        defer { server.close() }
        server.grant(token: Self.token, step: 5, generation: 4)
        let started = ContinuousClock.now
        do {
            _ = try fetch(server, fetcher(timeout: .seconds(1)))
            Issue.record("the fetch finished although its server died")
        } catch {
            #expect(error.code == "state.timeout", "\(error)")
            #expect(error.message.contains("the test server"))
        }
        #expect(started.duration(to: .now) < .seconds(5))
        #expect(server.served.chunks == 5)
    }
}
