import Foundation
import Testing

/// Addresses that cannot work end the process within seconds, non-zero, naming the address;
/// before, each of these printed nothing and never exited.
@Suite struct AddressEndToEndTests {
    /// `coordinator run` with workers and status page off, in its own directory.
    static func coordinator(_ extra: [String], directory: String) -> [String] {
        ["run", "--config", "cluster.yaml", "--run-dir", directory, "--set", "workers.local=0",
         "--set", "logging.status_port=-1", "--set", "model.name=pixel-mlp"] + extra
    }

    @Test func aControlPortInUseIsNamed() throws {
        let directory = Grove.temporaryDirectory("port-in-use")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let first = try Grove.Background("coordinator", Self.coordinator(["--set", "coordinator.port=0",
                                                                          "--set", "fault_tolerance.wait_for_workers=120"],
                                                                         directory: directory + "/a"))
        defer { first.stop() }
        let endpoint = try first.waitFor("coordinator listening on ")
        let port = try #require(endpoint.split(separator: ":").last.map(String.init))
        let result = try Grove.run("coordinator", Self.coordinator(["--set", "coordinator.port=\(port)"], directory: directory + "/b"),
                                   timeout: .seconds(20))
        #expect(result.status != 0)
        #expect(result.output.contains("tcp://127.0.0.1:\(port)"), "\(result.output)")
        #expect(result.output.contains("already listens on that port"), "\(result.output)")
    }

    @Test func aBindAddressOfAnotherMachineIsNamed() throws {
        // TEST-NET-3: never local, so the bind fails here (EADDRNOTAVAIL) and nothing is sent.
        let directory = Grove.temporaryDirectory("foreign-bind")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let result = try Grove.run("coordinator", Self.coordinator(["--set", "coordinator.bind=203.0.113.7", "--set", "security.insecure=true"],
                                                                    directory: directory),
                                   timeout: .seconds(20))
        #expect(result.status != 0)
        #expect(result.output.contains("tcp://203.0.113.7:7070"), "\(result.output)")
        #expect(result.output.contains("not one of this machine's"), "\(result.output)")
    }

    @Test func aWorkerRingAddressOfAnotherMachineIsNamed() throws {
        let directory = Grove.temporaryDirectory("foreign-ring")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let coordinator = try Grove.Background("coordinator", Self.coordinator(["--set", "coordinator.port=0",
                                                                                "--set", "fault_tolerance.wait_for_workers=120"],
                                                                               directory: directory))
        defer { coordinator.stop() }
        let endpoint = try coordinator.waitFor("coordinator listening on ")
        let result = try Grove.run("worker", ["--coordinator", endpoint, "--bind", "203.0.113.7", "--insecure"], timeout: .seconds(30))
        #expect(result.status != 0)
        #expect(result.output.contains("203.0.113.7"), "\(result.output)")
        #expect(result.output.contains("not one of this machine's"), "\(result.output)")
    }

    @Test(arguments: [("127.0.0.1:7070", "does not start with tcp://"), ("tcp://::1:7070", "without brackets"),
                      ("tcp://127.0.0.1:99999", "not a number in 0...65535")])
    func aMalformedCoordinatorAddressIsRefusedAtOnce(address: String, problem: String) throws {
        let result = try Grove.run("worker", ["--coordinator", address], timeout: .seconds(20))
        #expect(result.status == 2)
        #expect(result.output.contains("--coordinator: '\(address)'"), "\(result.output)")
        #expect(result.output.contains(problem), "\(result.output)")
    }

    /// A worker says where it connects at once, and gives up after --connect-timeout saying that
    /// nobody answered (the port is bound and never listened on: nothing can answer).
    @Test func aWorkerPointedWhereNobodyListensSaysSo() throws {
        let placeholder = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(placeholder) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let port: UInt16 = try withUnsafeMutablePointer(to: &address) { pointer in
            try pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { raw in
                guard bind(placeholder, raw, length) == 0, getsockname(placeholder, raw, &length) == 0 else {
                    throw TestFailure("cannot reserve a loopback port")
                }
                return UInt16(bigEndian: pointer.pointee.sin_port)
            }
        }
        let started = ContinuousClock.now
        let worker = try Grove.Background("worker", ["--coordinator", "tcp://127.0.0.1:\(port)", "--connect-timeout", "2"])
        defer { worker.stop() }
        _ = try worker.waitFor("connecting to tcp://127.0.0.1:", timeout: .seconds(5))
        while worker.process.isRunning && started.duration(to: .now) < .seconds(20) { Thread.sleep(forTimeInterval: 0.05) }
        #expect(!worker.process.isRunning, "still waiting after 20 s")
        #expect(started.duration(to: .now) < .seconds(15))
        #expect(worker.process.terminationStatus == 4, "\(worker.output)")
        #expect(worker.output.contains("nobody answered at tcp://127.0.0.1:\(port) within 2.0 s"), "\(worker.output)")
    }

    /// An IPv6 control address: the coordinator binds tcp://[::1]:PORT and its local workers dial it.
    @Test func aRunOverIPv6Loopback() throws {
        let directory = Grove.temporaryDirectory("ipv6")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let result = try Grove.run("coordinator", ["run", "--config", "cluster.yaml", "--run-dir", directory,
                                                   "--set", "coordinator.bind=::1", "--set", "coordinator.port=0",
                                                   "--set", "workers.bind=::1", "--set", "workers.local=2",
                                                   "--set", "logging.status_port=-1", "--set", "model.name=pixel-mlp",
                                                   "--set", "training.steps=3"], timeout: .seconds(120))
        #expect(result.status == 0, "\(result.output)")
        #expect(result.output.contains("coordinator listening on tcp://[::1]:"), "\(result.output)")
        #expect(try RunFiles(directory: directory).summary["steps"] as? Int == 3)
    }

    @Test func bothExecutablesPrintTheirVersionAndTheProtocols() throws {
        for name in ["coordinator", "worker"] {
            let result = try Grove.run(name, ["--version"], timeout: .seconds(20))
            #expect(result.status == 0)
            #expect(result.output.range(of: #"^\#(name) \d+\.\d+\.\d+ \(wire protocol \d+\.\d+\)\n$"#, options: .regularExpression) != nil,
                    "\(result.output)")
        }
    }
}
