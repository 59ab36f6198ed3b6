import Testing
@testable import Config

/// `training.init_from` and `training.init_optimizer`: the checkpoint a new run starts from, and
/// an optimizer choice that must always be written beside it.
@Suite struct InitFromConfigTests {
    @Test func bothSetAreAcceptedAndEnterTheHash() throws {
        let yaml = "training:\n  init_from: runs/a/checkpoints/step-000010\n  init_optimizer: fresh\n"
        let fresh = try ClusterConfig.parse(yaml: yaml, source: "a")
        #expect(fresh.training.initFrom == "runs/a/checkpoints/step-000010")
        #expect(fresh.training.initOptimizer == "fresh")
        #expect(fresh.canonicalText.contains("training.init_from=\"runs/a/checkpoints/step-000010\"\n"))
        #expect(fresh.canonicalText.contains("training.init_optimizer=\"fresh\"\n"))
        let moments = try ClusterConfig.parse(yaml: yaml.replacingOccurrences(of: "fresh", with: "checkpoint"), source: "b")
        #expect(moments.canonicalHash != fresh.canonicalHash)
        // A round trip through the rendered text (what workers receive) keeps both.
        let rendered = try ClusterConfig.parse(yaml: moments.rendered(), source: "rendered")
        #expect(rendered.training.initFrom == moments.training.initFrom)
        #expect(rendered.training.initOptimizer == "checkpoint")
    }

    @Test func unsetTheyStayOutOfTheHash() {
        // Runs made before init_from existed keep the hash their checkpoints recorded.
        #expect(!ClusterConfig().canonicalText.contains("init_"))
    }

    @Test func initFromWithoutAnOptimizerChoiceIsRefused() throws {
        let error = try #require(refusal("training:\n  steps: 5\n  init_from: runs/a/checkpoints/step-000010\n"))
        #expect(error.kind == .inconsistent)
        #expect(error.keyPath == "training.init_from")
        #expect(error.origin.line == 3)
        #expect(error.expected.contains("training.init_optimizer: fresh"))
        #expect(error.found.contains("runs/a/checkpoints/step-000010"))
        let override = try #require(refusal("", overrides: ["training.init_from=ck"]))
        #expect(override.keyPath == "training.init_from")
        #expect(override.origin == .override("training.init_from=ck"))
    }

    @Test func anOptimizerChoiceWithoutInitFromIsRefused() throws {
        let error = try #require(refusal("training:\n  init_optimizer: checkpoint\n"))
        #expect(error.kind == .inconsistent)
        #expect(error.keyPath == "training.init_optimizer")
        #expect(error.origin.line == 2)
        #expect(error.found == "'checkpoint'")
    }

    @Test func anUnknownOptimizerChoiceNamesTheTwoChoices() throws {
        let error = try #require(refusal("training:\n  init_from: ck\n  init_optimizer: warm\n"))
        #expect(error.kind == .unknownValue)
        #expect(error.keyPath == "training.init_optimizer")
        #expect(error.expected == "one of fresh, checkpoint")
        #expect(error.found == "\"warm\"")
    }
}
