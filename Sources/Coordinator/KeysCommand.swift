import ArgumentParser
import Foundation
import Training
import Transport

/// `coordinator keys`: makes and changes a cluster's CurveZMQ keys (docs/security.md).
struct KeysCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keys",
        abstract: "Makes and changes a cluster's keys: the coordinator's key pair, worker key pairs and the authorized keys.",
        subcommands: [Create.self, Add.self, Revoke.self, List.self]
    )

    struct Create: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Creates DIR with the coordinator's key pair, a worker key shared by a fleet (worker.key) and, per --machine, a key of its own; all authorized.")

        @Option(name: .long, help: "The directory to create (then: --set security.keys=DIR).")
        var dir: String

        @Option(name: .customLong("machine"), help: "A worker machine with a key of its own (worker-NAME.key); repeat for more.")
        var machines: [String] = []

        func run() throws {
            let written = try KeysCommand.attempt { try KeyDirectory(path: dir).create(machines: machines) }
            for file in written { print("wrote \(file)") }
            print("""
                next: run the coordinator with --set security.keys=\(dir), copy worker.key (or a worker-NAME.key) to each worker \
                machine, keep it mode 0600 there, and start: worker --coordinator tcp://HOST:7070 --key worker.key
                """)
        }
    }

    struct Add: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Makes a key for one more worker machine and authorizes it (a running coordinator admits it within a second).")

        @Option(name: .long, help: "The keys directory.")
        var dir: String

        @Option(name: .long, help: "The machine's name (letters, digits, '-', '_', '.').")
        var name: String

        func run() throws {
            let file = try KeysCommand.attempt { try KeyDirectory(path: dir).add(name: name) }
            print("wrote \(file); authorized in \(KeyDirectory(path: dir).authorizedKeysPath)")
        }
    }

    struct Revoke: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Removes a worker key from the authorized keys; a running coordinator refuses it within a second.")

        @Option(name: .long, help: "The keys directory.")
        var dir: String

        @Option(name: .long, help: "The key's name (fleet, or a machine's).")
        var name: String

        func run() throws {
            let removed = try KeysCommand.attempt { try KeyDirectory(path: dir).revoke(name: name) }
            print("revoked \(removed) key\(removed == 1 ? "" : "s") named \(name)")
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Prints the authorized worker keys.")

        @Option(name: .long, help: "The keys directory.")
        var dir: String

        func run() throws {
            for entry in try KeysCommand.attempt({ try KeyDirectory(path: dir).readAuthorized() }) {
                print("\(entry.key.z85)  \(entry.name)")
            }
        }
    }

    /// Runs `body`; a refusal is printed and ends the command with exit code 1.
    static func attempt<T>(_ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch let error as SecurityError {
            FileHandle.standardError.write(Data("error: \(error)\n".utf8))
            throw ExitCode(1)
        }
    }
}
