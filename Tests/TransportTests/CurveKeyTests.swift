import Core
import Foundation
import Testing
@testable import Transport

@Suite struct CurveKeyTests {
    static func scratch(_ name: String) -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("grove-keys-\(name)-\(UUID().uuidString)").path
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    @Test func z85RoundTripsAndRefusesAnythingElse() throws {
        let pair = try CurveKeyPair.generate()
        #expect(pair.publicKey.z85.count == 40)
        #expect(CurveKey(z85: pair.publicKey.z85) == pair.publicKey)
        #expect(pair.isConsistent)
        #expect(CurveKey(z85: String(pair.publicKey.z85.dropLast())) == nil)
        #expect(CurveKey(z85: String(repeating: " ", count: 40)) == nil)
        #expect(CurveKey(bytes: [1, 2, 3]) == nil)
        #expect(!"\(pair)".contains(pair.secretKey.z85), "a key pair printed must not show its secret")
    }

    @Test func keyFileRoundTripsAndIsWrittenPrivate() throws {
        let dir = Self.scratch("file")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let coordinator = try CurveKeyPair.generate()
        let file = KeyFile(name: "fleet", keyPair: try CurveKeyPair.generate(), coordinatorKey: coordinator.publicKey)
        try file.write(to: dir + "/worker.key")
        let mode = try #require(try FileManager.default.attributesOfItem(atPath: dir + "/worker.key")[.posixPermissions] as? Int)
        #expect(mode == 0o600)
        #expect(try KeyFile.load(path: dir + "/worker.key", origin: "--key") == file)
        // Never overwritten.
        #expect(throws: SecurityError.self) { try file.write(to: dir + "/worker.key") }
    }

    @Test func aKeyFileOthersMayReadIsRefusedNamingItsMode() throws {
        let dir = Self.scratch("mode")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/worker.key"
        try KeyFile(name: "w", keyPair: try CurveKeyPair.generate()).write(to: path)
        chmod(path, 0o644)
        do {
            _ = try KeyFile.load(path: path, origin: "--key")
            Issue.record("a world-readable key was accepted")
        } catch {
            #expect(error.code == "security.key-permissions")
            #expect(error.message.contains(path) && error.message.contains("644") && error.message.contains("--key"), "\(error.message)")
        }
    }

    @Test func malformedKeyFilesAreRefusedWithoutEchoingSecrets() throws {
        let pair = try CurveKeyPair.generate(), other = try CurveKeyPair.generate()
        let cases: [(String, String)] = [
            ("name = a\npublic = \(pair.publicKey.z85)\n", "no `secret"),
            ("public = \(pair.publicKey.z85)\nsecret = \(other.secretKey.z85)\n", "not the secret key's"),
            ("public = short\nsecret = \(pair.secretKey.z85)\n", "public is not a key"),
            ("public = \(pair.publicKey.z85)\nsecret \(pair.secretKey.z85)\n", "line 2"),
            ("colour = blue\n", "unknown field colour"),
        ]
        for (text, expected) in cases {
            do {
                _ = try KeyFile.parse(text, source: "GROVE_KEY")
                Issue.record("accepted: \(text)")
            } catch {
                #expect(error.message.contains(expected), "\(error.message)")
                #expect(error.message.contains("GROVE_KEY"))
                #expect(!error.message.contains(pair.secretKey.z85), "an error printed a secret")
            }
        }
    }

    @Test func authorizedKeysAreReadAgainWhenTheFileChanges() throws {
        let dir = Self.scratch("authorized")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/authorized_keys"
        let a = try CurveKeyPair.generate().publicKey, b = try CurveKeyPair.generate().publicKey
        try PrivateFile.create(path: path, contents: "# workers\n\(a.z85) fleet\n")
        let reloads = Locked(0), problems = Locked<[String]>([])
        let keys = try AuthorizedKeys(path: path, checkInterval: .zero, onProblem: { p in problems.update { $0.append(p) } },
                                      onReload: { _ in reloads.update { $0 += 1 } })
        #expect(keys.allows(a) && !keys.allows(b))
        #expect(keys.name(of: a) == "fleet")
        // Revoke a, admit b (a new file renamed into place, as `coordinator keys` does).
        try PrivateFile.create(path: path + ".new", contents: "\(b.z85) m1\n")
        rename(path + ".new", path)
        #expect(!keys.allows(a) && keys.allows(b))
        #expect(reloads.value == 1)
        // A file that no longer parses admits nobody until it does again.
        try PrivateFile.create(path: path, contents: "garbage\n", replace: true)
        #expect(!keys.allows(b))
        #expect(problems.value.count == 1 && problems.value[0].contains("line 1"), "\(problems.value)")
    }

    @Test func authorizedKeysOthersMayWriteAreRefused() throws {
        let dir = Self.scratch("writable")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/authorized_keys"
        try PrivateFile.create(path: path, contents: "\(try CurveKeyPair.generate().publicKey.z85)\n")
        chmod(path, 0o666)
        #expect(throws: SecurityError.self) { try AuthorizedKeys(path: path) }
    }
}

extension CurveKeyTests {
    /// Z85 spells keys with `#` among its characters: a key with one is a key, not a comment.
    @Test func keysWithHashCharactersAreKeysNotComments() throws {
        let raw = [UInt8](repeating: 0, count: 32)
        let base = try #require(CurveKey(bytes: raw)).z85
        let hashed = "0#" + base.dropFirst(2)
        let withHash = try #require(CurveKey(z85: String(hashed)), "'#' is a Z85 character")
        let middle = try #require(CurveKey(z85: String(base.prefix(21)) + "#" + String(base.dropFirst(22))))
        let entries = try AuthorizedKeys.parse("# a comment\n\(withHash.z85) first\n\(middle.z85)\n  # indented comment\n", source: "t")
        #expect(entries.map(\.key) == [withHash, middle])
        #expect(entries.first?.name == "first")
    }
}
