import Testing
@testable import ObjectStore

@Suite struct ObjectLocationTests {
    @Test func parsesBucketAndPrefix() throws {
        #expect(try ObjectLocation.parse("s3://runs/canopy/a", origin: "t") == ObjectLocation(bucket: "runs", prefix: "canopy/a"))
        #expect(try ObjectLocation.parse("s3://runs.example-1/canopy/", origin: "t") == ObjectLocation(bucket: "runs.example-1", prefix: "canopy"))
        #expect(try ObjectLocation.parse("s3://runs", origin: "t") == ObjectLocation(bucket: "runs", prefix: ""))
        #expect(try ObjectLocation.parse("s3://runs/", origin: "t").key("x") == "x")
        #expect(try ObjectLocation.parse("s3://runs/p", origin: "t").key("step-000010/manifest.json") == "p/step-000010/manifest.json")
        #expect(try ObjectLocation.parse("s3://runs/p/q", origin: "t").description == "s3://runs/p/q")
    }

    @Test(arguments: [
        ("runs/canopy", "expected s3://BUCKET/PREFIX"),
        ("https://runs/canopy", "expected s3://BUCKET/PREFIX"),
        ("s3://", "must have 3 to 63 characters"),
        ("s3://ab/p", "must have 3 to 63 characters"),
        ("s3://Runs/p", "lower-case letters"),
        ("s3://runs_1/p", "lower-case letters"),
        ("s3://-runs/p", "starting and ending"),
        ("s3://a..b/p", "lower-case letters"),
        ("s3://runs/a//b", "empty path segment"),
        ("s3://runs/a/../b", "'.' or '..' segment"),
    ])
    func refusesAndSaysWhy(text: String, reason: String) {
        do {
            _ = try ObjectLocation.parse(text, origin: "checkpoint.remote")
            Issue.record("\(text) was accepted")
        } catch {
            #expect(error.kind == .badLocation)
            #expect(error.message.contains("checkpoint.remote: \"\(text)\""), "names the value and its origin: \(error.message)")
            #expect(error.message.contains(reason), "\(error.message)")
        }
    }
}
