import Core
import Foundation
import Testing

/// Hosts of `scripts/testhosts.py` for one test: network namespaces with their own addresses
/// (host i is 10.77.0.(10+i) and fd77::(10+i)), made in `init` and removed by `close()` (called
/// from `deinit` too), also when the test fails. Processes started in a host are killed with it.
final class TestHosts {
    let name: String
    let count: Int
    private var closed = false

    /// Nil when this machine can make test hosts; otherwise why not (not root, no nftables...).
    static let unavailable: String? = {
        guard let result = try? script(["check"]) else { return "python3 or scripts/testhosts.py is missing" }
        return result.status == 0 ? nil : result.output.trimmingCharacters(in: .whitespacesAndNewlines)
    }()

    static var available: Bool { unavailable == nil }

    private static let counter = Locked(0)

    init(hosts: Int) throws {
        let serial = Self.counter.update { $0 += 1; return $0 }
        name = "gt\(getpid() % 100_000)x\(serial)"
        count = hosts
        let result = try Self.script(["up", "--name", name, "--hosts", "\(hosts)"])
        guard result.status == 0 else {
            _ = try? Self.script(["down", "--name", name])
            throw TestFailure("could not make \(hosts) test hosts: \(result.output)")
        }
    }

    deinit { close() }

    func close() {
        guard !closed else { return }
        closed = true
        _ = try? Self.script(["down", "--name", name])
    }

    func ipv4(_ host: Int) -> String { "10.77.0.\(10 + host)" }
    func ipv6(_ host: Int) -> String { "fd77::\(String(10 + host, radix: 16))" }
    func namespace(_ host: Int) -> String { "\(name)-h\(host)" }

    /// Runs a testhosts.py verb on these hosts (`partition`, `heal`, `impair`...); throws on failure.
    func apply(_ verb: String, _ arguments: [String] = []) throws {
        let result = try Self.script([verb, "--name", name] + arguments)
        guard result.status == 0 else { throw TestFailure("testhosts.py \(verb) \(arguments.joined(separator: " ")): \(result.output)") }
    }

    /// `name` (a Grove executable) started inside host `host`, its output to a file.
    func start(_ executable: String, on host: Int, _ arguments: [String], directory: String = Grove.root,
               environment: [String: String] = [:]) throws -> Grove.Background {
        try Grove.Background(path: "/usr/sbin/ip", ["netns", "exec", namespace(host), Grove.executable(executable)] + arguments,
                             directory: directory, environment: environment)
    }

    /// `testhosts.py selftest`: makes three hosts, measures every impairment, removes them.
    static func selfTest() throws -> (status: Int32, output: String) {
        try script(["selftest", "--name", "gt\(getpid() % 100_000)self"])
    }

    private static func script(_ arguments: [String]) throws -> (status: Int32, output: String) {
        let result = try Grove.python([Grove.root + "/scripts/testhosts.py"] + arguments)
        return (result.status, result.output)
    }
}
