import Foundation
import Testing

/// `scripts/curation-loop.py` on a small catalog: two rounds of the hard-example policy, the
/// second trained from the first's weights on the highest-loss candidates of a score pass, with
/// the pass counted at a third of a sample.
@Suite(.serialized) struct CurationLoopEndToEndTests {
    static func json(_ path: String) throws -> [String: Any] {
        let object = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path)))
        guard let dictionary = object as? [String: Any] else { throw TestFailure("\(path) is not an object") }
        return dictionary
    }

    @Test func twoHardRoundsTrainOnFromTheLastWeightsAndPayForTheirScores() throws {
        let dir = Grove.temporaryDirectory("curation")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let catalog = dir + "/catalog"
        for arguments in [["dataset", "import", "data/aerial-sample"], ["dataset", "synth", "--count", "64", "--seed", "3", "--tiles-per-site", "8"],
                          ["dataset", "freeze", "--name", "unseen-site", "--query", "source = 'aerial-sample' AND site = 'SJER'"]] {
            let result = try Grove.run("coordinator", arguments + ["--catalog", catalog])
            try #require(result.status == 0, "\(arguments): \(result.output)")
        }
        let out = dir + "/curation.jsonl"
        let loop = try Grove.python(["scripts/curation-loop.py", "--policy", "hard", "--seed", "1", "--rounds", "2", "--catalog", catalog,
                                    "--round-samples", "32", "--batch", "16", "--score-candidates", "24", "--score-threads", "1",
                                    "--validation", "unseen-site", "--out", out, "--run-root", dir + "/runs",
                                    "--coordinator", Grove.executable("coordinator"), "--set", "workers.local=1"])
        try #require(loop.status == 0, "\(loop.output)")
        let lines = try String(contentsOfFile: out, encoding: .utf8).split(separator: "\n")
            .map { try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any] }
        try #require(lines.count == 2)
        #expect(lines.map { $0["round"] as? Int } == [0, 1])
        #expect(lines.map { $0["train_samples"] as? Int } == [32, 64])
        // The pass after round 0 picked round 1's samples: charged there, at a third each.
        #expect(lines.map { $0["score_samples"] as? Int } == [24, 24])
        #expect(lines.map { $0["samples"] as? Double } == [32, 64 + 24.0 / 3])
        let iou = ((lines[1]["validation"] as? [String: Any])?["unseen-site"] as? [String: Any])?["canopy_iou"] as? Double
        #expect(iou.map { (0...1).contains($0) } == true)

        let first = try Self.json(dir + "/runs/hard-s1/round-0/summary.json")
        let second = try Self.json(dir + "/runs/hard-s1/round-1/summary.json")
        #expect(first["initialized_from"] == nil)
        let initial = try #require(second["initialized_from"] as? [String: Any])
        #expect(initial["checkpoint"] as? String == first["checkpoint"] as? String)
        #expect(initial["optimizer"] as? String == "checkpoint")
        #expect(initial["weights_sha256"] as? String == first["weights_sha256"] as? String)

        // Round 1's first half: the 16 highest scores among the 24 candidates, then fresh samples.
        let manifests = catalog + "/manifests/"
        let candidates = Set(((try Self.json(manifests + "cur-hard-s1-r0-candidates.json"))["entries"] as! [[String: Any]]).map { $0["id"] as! String })
        let round0 = Set(((try Self.json(manifests + "cur-hard-s1-r0.json"))["entries"] as! [[String: Any]]).map { $0["id"] as! String })
        let round1 = ((try Self.json(manifests + "cur-hard-s1-r1.json"))["entries"] as! [[String: Any]]).map { $0["id"] as! String }
        #expect(candidates.count == 24)
        #expect(round1.prefix(16).allSatisfy { candidates.contains($0) })
        // ...and exactly the highest ones: the catalog's scores, read back with SQLite.
        let query = "SELECT id FROM samples WHERE last_seen_step = (SELECT MAX(last_seen_step) FROM samples) ORDER BY last_loss DESC, id LIMIT 16"
        let top = try Grove.python(["-c", "import sqlite3, sys; print('\\n'.join(r[0] for r in sqlite3.connect(sys.argv[1]).execute(sys.argv[2])))",
                                   catalog + "/catalog.sqlite", query])
        try #require(top.status == 0, "\(top.output)")
        #expect(Set(top.output.split(separator: "\n").map(String.init)) == Set(round1.prefix(16)))
        #expect(round1.dropFirst(16).allSatisfy { !round0.contains($0) }, "the fresh half is not round 0 again")
        #expect(Set(round1).count == round1.count)
    }
}
