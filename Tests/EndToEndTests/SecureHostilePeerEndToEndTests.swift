import CZeroMQ
import Core
import Foundation
import Testing
import Transport
import Wire

/// A run with keys against hostile peers, all real processes: a client without a key, one with a
/// key nobody authorized, one whose key is revoked mid-run, one with the fleet's key replaying an
/// old generation's control messages and ring frames, and a flood of handshakes. Each is refused
/// and counted, and the run ends on the weights of a run nobody disturbed.
@Suite(.serialized) struct SecureHostilePeerEndToEndTests {
    /// `coordinator keys create` in `directory`/keys, with a machine key named `spare`.
    static func makeKeys(in directory: String) throws -> String {
        let keys = directory + "/keys"
        let result = try Grove.run("coordinator", ["keys", "create", "--dir", keys, "--machine", "spare"])
        try #require(result.status == 0, "\(result.output)")
        return keys
    }

    /// A hand-driven control client with `identity` (nil: plaintext).
    final class Peer {
        let loop: SocketLoop
        let incarnation = Incarnation.random()

        init(endpoint: String, identity: CurveKeyPair?, coordinatorKey: CurveKey) throws {
            loop = SocketLoop(security: identity.map { .curve(CurveSettings(identity: $0, serverKey: coordinatorKey)) } ?? .none)
            try loop.connectControl(endpoint)
        }
        deinit { loop.close() }
        /// Hangs up (a refused client otherwise retries its handshake every 100 ms).
        func close() { loop.close() }

        func send(_ message: Wire.Message, generation: Generation = .none, sender: WorkerID = WorkerID(0)) {
            loop.sendControl(Wire.encode(message, generation: generation, sender: sender, incarnation: incarnation))
        }

        /// Whatever arrives within `timeout`, decoded.
        func next(within timeout: Duration) -> Wire.Message? {
            guard case .item(let frame) = loop.control.pop(until: .now + timeout) else { return nil }
            return try? Wire.decode(frame.bytes).1
        }

        /// Says hello; true when the run's configuration came back.
        func helloAnswered(within timeout: Duration = .seconds(3)) -> Bool {
            send(.hello(Wire.Hello()))
            let deadline = ContinuousClock.now + timeout
            while ContinuousClock.now < deadline {
                if case .runConfig? = next(within: deadline - .now) { return true }
            }
            return false
        }
    }

    /// `count` CURVE clients with fresh keys dialling `endpoint` at once, each retrying its
    /// handshake (libzmq reconnects every 100 ms) for `seconds`.
    static func floodHandshakes(_ endpoint: String, serverKey: CurveKey, count: Int, seconds: Double) throws {
        let context = zmq_ctx_new()!
        defer { zmq_ctx_term(context) }
        var sockets: [UnsafeMutableRawPointer] = []
        defer { for socket in sockets { zmq_close(socket) } }
        for _ in 0..<count {
            let keys = try CurveKeyPair.generate()
            let socket = zmq_socket(context, ZMQ_DEALER)!
            sockets.append(socket)
            var linger: Int32 = 0
            zmq_setsockopt(socket, ZMQ_LINGER, &linger, 4)
            serverKey.bytes.withUnsafeBytes { _ = zmq_setsockopt(socket, ZMQ_CURVE_SERVERKEY, $0.baseAddress, 32) }
            keys.publicKey.bytes.withUnsafeBytes { _ = zmq_setsockopt(socket, ZMQ_CURVE_PUBLICKEY, $0.baseAddress, 32) }
            keys.secretKey.bytes.withUnsafeBytes { _ = zmq_setsockopt(socket, ZMQ_CURVE_SECRETKEY, $0.baseAddress, 32) }
            try #require(zmq_connect(socket, endpoint) == 0)
            _ = zmq_send(socket, "hello", 5, ZMQ_DONTWAIT)
        }
        Thread.sleep(forTimeInterval: seconds)
    }

    /// The live run's `/status` (the status server binds loopback here: no token needed).
    static func status(_ directory: String) throws -> [String: Any] {
        let result = try Grove.run("coordinator", ["status", "--run-dir", directory, "--json"], timeout: .seconds(30))
        try #require(result.status == 0, "\(result.output)")
        let json = result.output.split(separator: "\n").first { $0.hasPrefix("{") }.map(String.init) ?? ""
        return try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any], "\(result.output)")
    }

    @Test func strangersRevokedKeysReplaysAndAFloodAreRefusedCountedAndCostNothing() throws {
        let steps = ["--set", "training.steps=200", "--set", "logging.progress_every=1"]
        let expected = try FaultEndToEndTests.reference(workers: 2, settings: FaultEndToEndTests.settings + steps)
        let scratch = Grove.temporaryDirectory("secure-keys")
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        let keys = try Self.makeKeys(in: scratch)
        let coordinatorKey = try KeyFile.load(path: keys + "/coordinator.key", origin: "test").keyPair.publicKey
        let fleet = try KeyFile.load(path: keys + "/worker.key", origin: "test")
        let spare = try KeyFile.load(path: keys + "/worker-spare.key", origin: "test")
        // The workers join only once the control channel has been tried: the run waits for two.
        let settings = FaultEndToEndTests.settings + steps + ["--set", "security.keys=\(keys)", "--set", "workers.min=2",
                                                              "--set", "fault_tolerance.wait_for_workers=120"]
        try DisturbedRun.with("secure-hostile", localWorkers: 0, settings: settings) { run in
            let endpoint = try run.endpoint()
            #expect(run.output.contains("security: curve (CurveZMQ, key \(coordinatorKey.z85), 2 authorized keys)"), "\(run.output)")

            // No key, and a key nobody authorized: not a word back.
            let plain = try Peer(endpoint: endpoint, identity: nil, coordinatorKey: coordinatorKey)
            #expect(!plain.helloAnswered(), "a client without a key got the run's configuration")
            let stranger = try Peer(endpoint: endpoint, identity: try CurveKeyPair.generate(), coordinatorKey: coordinatorKey)
            #expect(!stranger.helloAnswered(), "a client with an unknown key got the run's configuration")
            plain.close()
            stranger.close()

            // An authorized machine key, revoked during the run: answered before, silent after,
            // on its open connection and on a new one.
            let revoked = try Peer(endpoint: endpoint, identity: spare.keyPair, coordinatorKey: coordinatorKey)
            #expect(revoked.helloAnswered(within: .seconds(10)), "an authorized key was refused")
            let revoke = try Grove.run("coordinator", ["keys", "revoke", "--dir", keys, "--name", "spare"])
            #expect(revoke.status == 0 && revoke.output.contains("revoked 1 key named spare"), "\(revoke.output)")
            Thread.sleep(forTimeInterval: 1.5)
            #expect(!revoked.helloAnswered(), "a revoked key's open connection was still answered")
            let again = try Peer(endpoint: endpoint, identity: spare.keyPair, coordinatorKey: coordinatorKey)
            #expect(!again.helloAnswered(), "a revoked key connected again")
            revoked.close()
            again.close()

            // The fleet's own key, replaying results of an old generation.
            let replayer = try Peer(endpoint: endpoint, identity: fleet.keyPair, coordinatorKey: coordinatorKey)
            #expect(replayer.helloAnswered(within: .seconds(10)))
            for step in 1...3 {
                replayer.send(.stepResult(Wire.StepResult(step: UInt64(step), losses: [], weightsHash: Array(repeating: 0xAB, count: 32),
                                                          dataNanos: 0, computeNanos: 0, reduceNanos: 0, reduceBytes: 0, state: nil)),
                              generation: Generation(1), sender: WorkerID(1))
            }

            // The workers, with the fleet's key from the environment.
            let workers = try (0..<2).map { _ in try run.startWorker(environment: ["GROVE_KEY_FILE": keys + "/worker.key"]) }
            try run.waitForStep(5)
            // A stranger at a member's ring port (plain sockets: the frames are sealed instead),
            // pushing frames sealed under a key of its own for the generations a run of two
            // passes through, and frames of an old generation.
            let ring = try #require(workers[0].output.firstMatch(of: /ring=(tcp:\/\/[0-9.:]+)/).map { String($0.1) }, "\(workers[0].output)")
            let ringLoop = SocketLoop(security: .none)
            defer { ringLoop.close() }
            let strangerKey = SealedRingLink.newKey()
            // The generation the ring is in now, and the next few (should it change meanwhile):
            // those frames reach a collective and must not open there.
            let current = try #require(try Self.status(run.directory)["generation"] as? Int, "no generation in /status")
            #expect(current >= 2, "two workers joined, yet the run is in generation \(current)")
            for generation in [1] + Array(current...(current + 3)) {
                let link = try ZeroMQRingLink(loop: ringLoop, generation: Generation(UInt64(generation)), rank: 0, worldSize: 2, next: ring)
                let forged = try SealedRingLink(link, key: strangerKey, generation: UInt64(generation), epoch: 6)
                for _ in 0..<10 { try forged.send(Array(repeating: 0x5A, count: 4096)) }
            }
            replayer.close()

            // A flood of handshakes with fresh keys.
            try Self.floodHandshakes(endpoint, serverKey: coordinatorKey, count: 64, seconds: 2)

            let status = try Self.status(run.directory)
            let refused = status["refused_connections"] as? Int ?? 0
            #expect(refused >= 64, "\(status)")
            #expect((status["security"] as? String)?.hasPrefix("curve") == true, "\(status)")
            try run.waitForEnd(within: .seconds(240))
            try run.expectWeights(expected, "hostile peers changed the weights")
            #expect(try run.summary["stale_messages"] as? Int ?? 0 >= 3, "the replayed results were not counted as stale")
            #expect(try run.summary["refused_connections"] as? Int ?? 0 >= refused, "the refusals are not in summary.json")
            #expect(try (run.summary["security"] as? String)?.hasPrefix("curve") == true)
            // One line per address a minute, however many handshakes: every refused client here
            // dialled from 127.0.0.1.
            let lines = run.output.components(separatedBy: "refused a control connection from 127.0.0.1").count - 1
            #expect(lines == 1, "\(lines) lines for one address:\n\(run.output)")
            #expect(run.output.contains("dropped a control message from key \(spare.keyPair.publicKey.z85): no longer in the authorized keys"),
                    "\(run.output)")
            let logs = workers.map(\.output).joined()
            #expect(logs.contains("ring frames of older generations"), "the replayed ring frames were not dropped as stale:\n\(logs)")
            // Refused by the check of the maker's rank (the stranger claimed the member's own) or by
            // the tag (under another key): dropped and counted either way, never summed.
            #expect(logs.contains("ring frames that could not be decoded (last: a frame that does not authenticate under this attempt's ring key")
                    || logs.contains("ring frames that could not be decoded (last: a frame sealed by rank 0, not by another member of this ring of 2)"),
                    "the forged ring frames were not refused:\n\(logs)")
            #expect(workers.allSatisfy { $0.output.contains("security: curve") && !$0.output.contains("INSECURE") })
            #expect(!run.output.contains("INSECURE") && !logs.contains("INSECURE"))
        }
    }

    /// A worker that joins a keyed run mid-way fetches the state over CurveZMQ from the server the
    /// coordinator names, expecting the key it announced, and the run ends where it would have.
    @Test func aJoinerFetchesTheStateOverCurve() throws {
        let steps = ["--set", "training.steps=150", "--set", "logging.progress_every=1"]
        let expected = try FaultEndToEndTests.reference(workers: 2, settings: FaultEndToEndTests.settings + steps)
        let scratch = Grove.temporaryDirectory("secure-join")
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        let keys = try Self.makeKeys(in: scratch)
        let settings = FaultEndToEndTests.settings + steps + ["--set", "security.keys=\(keys)"]
        try DisturbedRun.with("secure-join", localWorkers: 2, settings: settings) { run in
            try run.waitForStep(20)
            let joiner = try run.startWorker(environment: ["GROVE_KEY_FILE": keys + "/worker-spare.key"])
            try run.waitForEnd(within: .seconds(240))
            try run.expectWeights(expected, "a joiner over CurveZMQ changed the weights")
            #expect(try run.summary["workers_max"] as? Int == 3, "\(run.output)\n\(joiner.output)")
            // From a ring member's server (members come first), expecting the key announced for it.
            #expect(joiner.output.range(of: #"fetched the state after step [0-9]+ from w[0-9]+'s state server"#, options: .regularExpression) != nil,
                    "\(joiner.output)")
            #expect(!joiner.output.contains("could not fetch"), "\(joiner.output)")
            // The coordinator fetches the states it checkpoints from members too.
            #expect(!run.output.contains("could not fetch"), "\(run.output)")
        }
    }

    @Test func bindsBeyondLoopbackWithoutKeysRefuseToStartNamingTheSetting() throws {
        let dir = Grove.temporaryDirectory("fail-closed")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        for setting in ["coordinator.bind", "workers.bind"] {
            let result = try Grove.run("coordinator", ["run", "--config", "cluster.yaml", "--run-dir", dir, "--set", "\(setting)=0.0.0.0",
                                                       "--set", "workers.local=0"], timeout: .seconds(30))
            #expect(result.status == 2, "\(result.output)")
            #expect(result.output.contains("\(setting) is 0.0.0.0, beyond loopback, and security.keys is empty"), "\(result.output)")
            #expect(result.output.contains("security.insecure=true"), "\(result.output)")
        }
        let worker = try Grove.run("worker", ["--coordinator", "tcp://127.0.0.1:9", "--bind", "0.0.0.0"], timeout: .seconds(30))
        #expect(worker.status == 2, "\(worker.output)")
        #expect(worker.output.contains("--bind is 0.0.0.0, beyond loopback, and this worker has no key"), "\(worker.output)")
        #expect(worker.output.contains("--insecure"), "\(worker.output)")

        // Keys that others may read are refused, naming the file and the fix.
        let keys = try Self.makeKeys(in: dir)
        chmod(keys + "/worker.key", 0o644)
        let leaky = try Grove.run("worker", ["--coordinator", "tcp://127.0.0.1:9", "--key", keys + "/worker.key"], timeout: .seconds(30))
        #expect(leaky.status == 2, "\(leaky.output)")
        #expect(leaky.output.contains("\(keys)/worker.key (--key) has mode 644") && leaky.output.contains("chmod 600"), "\(leaky.output)")
        chmod(keys + "/coordinator.key", 0o640)
        let coordinator = try Grove.run("coordinator", ["run", "--config", "cluster.yaml", "--run-dir", dir, "--set", "security.keys=\(keys)",
                                                        "--set", "workers.local=0"], timeout: .seconds(30))
        #expect(coordinator.status == 2, "\(coordinator.output)")
        #expect(coordinator.output.contains("coordinator.key (security.keys) has mode 640"), "\(coordinator.output)")
        // Keys are never overwritten.
        let again = try Grove.run("coordinator", ["keys", "create", "--dir", keys])
        #expect(again.status == 1 && again.output.contains("exists already"), "\(again.output)")
    }

    @Test func insecureModeIsSaidInEveryLogAndInStatus() throws {
        let dir = Grove.temporaryDirectory("insecure")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let run = try Grove.Background("coordinator", ["run", "--config", "cluster.yaml", "--run-dir", dir, "--set", "workers.local=1",
                                                      "--set", "security.insecure=true", "--set", "logging.progress_every=1"]
                                                      + FaultEndToEndTests.settings)
        defer { run.stop() }
        _ = try run.waitFor("step 2/")
        let status = try Self.status(dir)
        #expect((status["security"] as? String)?.hasPrefix("insecure") == true, "\(status)")
        #expect(run.waitForExit() == 0, "\(run.output)")
        #expect(run.output.contains("INSECURE MODE: connections are neither authenticated nor encrypted"), "\(run.output)")
        let worker = try String(contentsOfFile: dir + "/logs/worker-0.log", encoding: .utf8)
        #expect(worker.contains("INSECURE MODE"), "\(worker)")
    }
}
