import Core
import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif
@testable import Observability

/// The status server over real TCP on 127.0.0.1: routes, content types, errors, limits, and
/// that it keeps serving after bad clients.
@Suite struct StatusServerSocketTests {
    static func board() -> StatusBoard {
        let board = StatusBoard(run: "canopy-<test>", totalSteps: 100)
        board.update { $0.workers = ["up": 2, "down": 1] }
        for step in 1...40 {
            board.recordCommit(step: step, samples: step * 32, loss: 1 / Double(step), learningRate: 0.01,
                               samplesPerSecond: 312.5, generation: 3, elapsedSeconds: Double(step) * 0.5, stepsThisRun: step)
        }
        return board
    }

    static func server(_ settings: StatusServer.Settings = .init()) throws -> StatusServer {
        let server = try StatusServer(host: "127.0.0.1", port: 0, settings: settings)
        server.serveStatus(from: board())
        server.start()
        return server
    }

    @Test func servesStatusMetricsAndPage() throws {
        let server = try Self.server()
        defer { server.stop() }
        #expect(server.port != 0)
        #expect(server.url == "http://127.0.0.1:\(server.port)")
        let client = RawHTTPClient(port: server.port)

        let status = try client.get("/status")
        #expect(status.status == 200)
        #expect(status.headers["content-type"] == "application/json")
        #expect(status.headers["connection"] == "close")
        #expect(status.headers["content-length"] == "\(status.body.utf8.count)")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(status.body.utf8)) as? [String: Any])
        #expect(json["step"] as? Int == 40)
        #expect(json["total_steps"] as? Int == 100)
        #expect((json["loss_history"] as? [Any])?.count == 40)
        #expect(json["eta_seconds"] as? Double == 30)

        let metrics = try client.get("/metrics?x=1")
        #expect(metrics.status == 200)
        #expect(metrics.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8")
        #expect(metrics.body.contains("grove_step 40\n"))
        #expect(metrics.body.contains("grove_workers{status=\"up\"} 2\n"))
        #expect(metrics.body.contains("grove_samples_per_second 312.5\n"))

        let page = try client.get("/")
        #expect(page.status == 200)
        #expect(page.headers["content-type"] == "text/html; charset=utf-8")
        #expect(page.body.contains("fetch(\"/status\""))
        #expect(page.body.contains("canopy-&lt;test&gt;"))
        #expect(!page.body.contains("src=\"http"))
    }

    @Test func answersUnknownPathsMethodsAndHead() throws {
        let server = try Self.server()
        defer { server.stop() }
        let client = RawHTTPClient(port: server.port)
        #expect(try client.get("/nope").status == 404)
        let post = try client.send("POST /status HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}")
        #expect(post.status == 405)
        #expect(post.headers["allow"] == "GET, HEAD")
        let head = try client.send("HEAD /status HTTP/1.1\r\n\r\n")
        #expect(head.status == 200)
        #expect(head.body.isEmpty)
        #expect(Int(head.headers["content-length"] ?? "") ?? 0 > 0)
    }

    @Test func refusesMalformedAndOversizedRequestsAndSurvives() throws {
        var settings = StatusServer.Settings()
        settings.maxRequestBytes = 1024
        settings.ioTimeout = .milliseconds(500)
        let server = try Self.server(settings)
        defer { server.stop() }
        let client = RawHTTPClient(port: server.port)

        #expect(try client.send("HELLO\r\n\r\n").status == 400)
        #expect(try client.send("GET / HTTP/1.1\r\nbroken header\r\n\r\n").status == 400)
        let huge = "GET / HTTP/1.1\r\nX-Fill: " + String(repeating: "a", count: 4000) + "\r\n\r\n"
        #expect(try client.send(huge).status == 431)
        // A client that sends half a head and stops is dropped after the timeout with a 408.
        #expect(try client.send("GET / HTTP/1.1\r\nHost: x").status == 408)
        // A client that connects and hangs up without a byte gets nothing and harms nothing.
        close(try client.connect())
        #expect(try client.get("/status").status == 200)
    }

    @Test func dropsAClientThatTricklesItsHead() throws {
        var settings = StatusServer.Settings()
        settings.ioTimeout = .milliseconds(300)
        let server = try Self.server(settings)
        defer { server.stop() }
        let client = RawHTTPClient(port: server.port)
        let fd = try client.connect()
        defer { close(fd) }
        // Each byte arrives well within the timeout, the whole head does not: 40 x 50 ms.
        for byte in Array("GET / HTTP/1.1\r\nX: ".utf8) + [UInt8](repeating: UInt8(ascii: "a"), count: 40) {
            var value = byte
            if send(fd, &value, 1, Int32(MSG_NOSIGNAL)) != 1 { break }
            usleep(50_000)
        }
        _ = send(fd, "\r\n\r\n", 4, Int32(MSG_NOSIGNAL))
        #expect(try client.readResponse(fd).status == 408)
    }

    @Test func servesConcurrentClients() throws {
        let server = try Self.server()
        defer { server.stop() }
        let client = RawHTTPClient(port: server.port)
        let results = Locked<[(code: Int, complete: Bool)]>([])
        DispatchQueue.concurrentPerform(iterations: 24) { i in
            let response = try? client.get(i % 2 == 0 ? "/status" : "/metrics")
            let complete = response.map { $0.headers["content-length"] == "\($0.body.utf8.count)" } ?? false
            results.update { $0.append((response?.status ?? -1, complete)) }
        }
        // Above maxConnections (16) a client may get 503; every answer is served or refused, whole.
        let answers = results.value
        #expect(answers.count == 24)
        #expect(answers.allSatisfy { ($0.code == 200 || $0.code == 503) && $0.complete })
        #expect(answers.filter { $0.code == 200 }.count >= 16)
        var waited = 0
        while server.activeConnections > 0 && waited < 200 {
            usleep(10_000)
            waited += 1
        }
        #expect(server.activeConnections == 0)
    }

    @Test func refusesConnectionsBeyondTheLimit() throws {
        var settings = StatusServer.Settings()
        settings.maxConnections = 1
        settings.ioTimeout = .seconds(5)
        let server = try Self.server(settings)
        defer { server.stop() }
        let client = RawHTTPClient(port: server.port)
        // The first connection sends nothing, so it holds the only slot.
        let holder = try client.connect()
        defer { close(holder) }
        var waited = 0
        while server.activeConnections < 1 && waited < 200 {
            usleep(10_000)
            waited += 1
        }
        #expect(server.activeConnections == 1)
        #expect(try client.get("/status").status == 503)
        close(holder)
    }

    @Test func reportsABusyPortAndABadHost() throws {
        let first = try StatusServer(port: 0)
        let error = #expect(throws: ObservabilityError.self) { try StatusServer(port: first.port) }
        #expect(error?.message.contains("\(first.port)") == true)
        #expect(throws: ObservabilityError.self) { try StatusServer(host: "example.org", port: 0) }
        var settings = StatusServer.Settings()
        settings.maxConnections = 0
        #expect(throws: ObservabilityError.self) { try StatusServer(settings: settings) }
    }

    @Test func stopsPromptlyAndClosesThePort() throws {
        let server = try Self.server()
        let port = server.port
        #expect(try RawHTTPClient(port: port).get("/status").status == 200)
        server.stop()
        server.stop()
        #expect(throws: (any Error).self) { try RawHTTPClient(port: port).get("/status") }
    }
}
