import Foundation
import Testing
@testable import Observability

/// Runs the status page's script under Node with a minimal stand-in for the DOM and fetch(),
/// and checks what it shows for a `/status` document. Skipped when node is not installed.
@Suite struct StatusPageTests {
    static let hasNode = (try? run(["node", "--version"]).status) == 0

    static func run(_ arguments: [String]) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    /// Element stand-ins record text and children; fetch answers with STATUS; after the first
    /// poll the script prints every element's text and the chart's path.
    static let harness = #"""
    const elements = {};
    function node(name) {
      return { name, attrs: {}, children: [], textContent: "",
               setAttribute(k, v) { this.attrs[k] = String(v); },
               appendChild(c) { this.children.push(c); }, removeChild(c) { this.children = this.children.filter((x) => x !== c); },
               get firstChild() { return this.children[0]; } };
    }
    globalThis.document = { title: "", getElementById(id) { return elements[id] || (elements[id] = node(id)); },
                            createElementNS(ns, name) { return node(name); } };
    globalThis.fetch = async () => ({ ok: true, status: 200, json: async () => STATUS });
    globalThis.setInterval = () => 0;
    """#

    @Test(.enabled(if: hasNode, "node is not installed"))
    func showsTheNumbersAndDrawsTheLossCurve() throws {
        let board = StatusBoard(run: "canopy", totalSteps: 100)
        board.update { $0.workers = ["up": 2, "down": 1]; $0.checkpointStep = 40 }
        for step in 1...40 {
            board.recordCommit(step: step, samples: step * 32, loss: 1 / Double(step), learningRate: nil, samplesPerSecond: 312.5,
                               generation: 3, elapsedSeconds: Double(step) * 0.3, stepsThisRun: step)
        }
        let page = StatusPage.html(run: "canopy")
        let script = try #require(page.components(separatedBy: "<script>").last?.components(separatedBy: "</script>").first)
        let report = """
        setTimeout(() => {
          const texts = {};
          for (const id in elements) texts[id] = elements[id].textContent;
          const path = elements["chart"].children.find((c) => c.name === "path");
          console.log(JSON.stringify({ texts, title: document.title, points: path ? path.attrs.d.split(/[ML]/).length - 1 : 0 }));
        }, 50);
        """
        let source = "const STATUS = \(board.json());\n" + Self.harness + script + report
        let scratch = try ScratchDirectory()
        defer { scratch.remove() }
        try source.write(toFile: scratch.path + "/page.js", atomically: true, encoding: .utf8)
        let result = try Self.run(["node", scratch.path + "/page.js"])
        try #require(result.status == 0, "node failed: \(result.output)")
        struct Shown: Decodable { var texts: [String: String]; var title: String; var points: Int }
        let shown = try JSONDecoder().decode(Shown.self, from: Data(result.output.utf8))
        #expect(shown.texts["step"] == "40 / 100 (1280 samples)")
        #expect(shown.texts["loss"] == "0.0250")
        #expect(shown.texts["rate"] == "312.5")
        #expect(shown.texts["workers"] == "down 1, up 2")
        #expect(shown.texts["generation"] == "3")
        #expect(shown.texts["elapsed"] == "0:12")
        #expect(shown.texts["eta"] == "0:18")
        #expect(shown.texts["checkpoint"] == "step 40")
        #expect(shown.texts["error"] == "")
        #expect(shown.title == "grove: canopy step 40/100")
        #expect(shown.points == 40)
    }
}
