import Foundation
import Testing

/// A bad configuration stops the coordinator with exit code 2 and a message naming key and line.
@Suite struct ConfigEndToEndTests {
    func write(_ text: String) throws -> String {
        let path = Grove.temporaryDirectory("config") + "/cluster.yaml"
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    @Test func unknownKeyNamesKeyAndLine() throws {
        let path = try write("run:\n  name: x\ntraining:\n  stepz: 10\n")
        let result = try Grove.run("coordinator", ["run", "--config", path])
        #expect(result.status == 2)
        #expect(result.output.contains("training.stepz"))
        #expect(result.output.contains("line 4"))
    }

    @Test func wrongTypeNamesKeyAndLine() throws {
        let path = try write("training:\n  steps: many\n")
        let result = try Grove.run("coordinator", ["run", "--config", path])
        #expect(result.status == 2)
        #expect(result.output.contains("training.steps"))
        #expect(result.output.contains("line 2"))
    }

    @Test func outOfRangeOverrideIsRefused() throws {
        let result = try Grove.run("coordinator", ["run", "--set", "training.steps=-5"])
        #expect(result.status == 2)
        #expect(result.output.contains("training.steps"))
        #expect(result.output.contains("--set"))
    }
}
