import Foundation
import Testing
@testable import Config

/// The repository root, found from this file's place in Tests/ConfigTests.
let repositoryRoot = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

@Suite struct ShippedConfigTests {
    @Test func shippedFileLoadsAndEqualsTheDefaults() throws {
        let path = repositoryRoot.appendingPathComponent("cluster.yaml").path
        let config = try ClusterConfig.load(path: path, overrides: [])
        #expect(config == ClusterConfig())
    }

    @Test func shippedFileWritesEveryKey() throws {
        let text = try String(contentsOf: repositoryRoot.appendingPathComponent("cluster.yaml"), encoding: .utf8)
        for field in ConfigSchema.fields {
            #expect(text.contains("\n  \(field.key):"), "cluster.yaml lacks \(field.path)")
        }
        for section in ConfigSchema.sections {
            #expect(text.contains("\n\(section):\n"), "cluster.yaml lacks section \(section)")
        }
    }

    @Test func docsDescribeEveryKeyExactlyOnce() throws {
        let text = try String(contentsOf: repositoryRoot.appendingPathComponent("docs/cluster-yaml.md"), encoding: .utf8)
        for field in ConfigSchema.fields {
            let rows = text.components(separatedBy: "| `\(field.path)` |").count - 1
            #expect(rows == 1, "docs/cluster-yaml.md has \(rows) rows for \(field.path)")
        }
    }

    @Test func noPathLoadsTheDefaults() throws {
        #expect(try ClusterConfig.load(path: nil, overrides: []) == ClusterConfig())
    }

    @Test func emptyDocumentAndEmptySectionsKeepDefaults() throws {
        #expect(try ClusterConfig.parse(yaml: "", source: "t.yaml") == ClusterConfig())
        #expect(try ClusterConfig.parse(yaml: "# only a comment\n", source: "t.yaml") == ClusterConfig())
        #expect(try ClusterConfig.parse(yaml: "training:\nreduce:\n", source: "t.yaml") == ClusterConfig())
    }

    @Test func missingKeysTakeDefaults() throws {
        let config = try ClusterConfig.parse(yaml: "training:\n  steps: 7\n", source: "t.yaml")
        var expected = ClusterConfig()
        expected.training.steps = 7
        #expect(config == expected)
    }

    @Test func everyKindOfValueIsRead() throws {
        let yaml = """
            run:
              name: night-run.2
            coordinator:
              port: 0
              advertise: trainer.example
            training:
              learning_rate: 3e-4
              momentum: 0
              seed: 18446744073709551615
              optimizer: sgd
            logging:
              timeline: false
            model:
              pixels_per_tile: 0
            """
        let config = try ClusterConfig.parse(yaml: yaml, source: "t.yaml")
        #expect(config.run.name == "night-run.2")
        #expect(config.coordinator.port == 0)
        #expect(config.coordinator.advertise == "trainer.example")
        #expect(config.training.learningRate == 3e-4)
        #expect(config.training.momentum == 0)
        #expect(config.training.seed == UInt64.max)
        #expect(config.training.optimizer == "sgd")
        #expect(config.logging.timeline == false)
        #expect(config.model.pixelsPerTile == 0)
    }

    @Test func renderedTextLoadsBackEqual() throws {
        var config = ClusterConfig()
        config.run.directory = "runs/with: colon # and hash"
        config.coordinator.advertise = "yes"
        config.training.learningRate = 0.1 + 0.2
        config.training.epsilon = 1e-12
        config.training.seed = UInt64.max
        config.logging.timeline = false
        config.run.name = "ok"
        let text = config.rendered()
        #expect(try ClusterConfig.parse(yaml: text, source: "rendered") == config)
        #expect(text.contains("\nreduce:\n  mode: \"exact\"\n"))
    }
}
