import Foundation
import Testing
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// What a run shows while it trains and leaves behind: the status server answers over real HTTP,
/// and the run directory holds TensorBoard events, a timeline and a report.
@Suite struct ObservabilityEndToEndTests {
    static func get(_ url: String) throws -> (status: Int, body: String) {
        let semaphore = DispatchSemaphore(value: 0)
        nonisolated(unsafe) var result: (Int, String)?
        let task = URLSession.shared.dataTask(with: URL(string: url)!) { data, response, _ in
            if let response = response as? HTTPURLResponse {
                result = (response.statusCode, String(decoding: data ?? Data(), as: UTF8.self))
            }
            semaphore.signal()
        }
        task.resume()
        _ = semaphore.wait(timeout: .now() + 10)
        guard let result else { throw TestFailure("no answer from \(url)") }
        return result
    }

    @Test func aRunServesItsStatusAndLeavesItsRecords() throws {
        let dir = Grove.temporaryDirectory("observe")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let coordinator = try Grove.Background("coordinator", [
            "run", "--config", "cluster.yaml", "--run-dir", dir, "--set", "coordinator.port=0", "--set", "model.name=pixel-mlp",
            "--set", "model.pixels_per_tile=4096", "--set", "training.steps=60", "--set", "logging.timeline=true",
            "--set", "logging.status_port=0", "--set", "workers.local=2"])
        defer { coordinator.stop() }
        let url = try coordinator.waitFor("status page at ")
        _ = try coordinator.waitFor("step 10/")

        let status = try Self.get(url + "/status")
        #expect(status.status == 200)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(status.body.utf8)) as? [String: Any])
        #expect(object["run"] as? String == "canopy")
        #expect((object["step"] as? Int ?? 0) >= 10, "\(status.body)")
        let members = object["members"] as? [[String: Any]] ?? []
        #expect(members.count == 2 && members.allSatisfy { $0["status"] as? String == "up" }, "\(status.body)")
        let human = try Grove.run("coordinator", ["status", "--endpoint", url])
        #expect(human.status == 0)
        #expect(human.output.contains("run canopy: training"), "\(human.output)")
        #expect(human.output.contains("w1  up"), "\(human.output)")
        let metrics = try Self.get(url + "/metrics")
        #expect(metrics.status == 200)
        #expect(metrics.body.contains("grove_step"))
        let page = try Self.get(url + "/")
        #expect(page.status == 200 && page.body.contains("<html"))

        let deadline = ContinuousClock.now + .seconds(120)
        while coordinator.process.isRunning && ContinuousClock.now < deadline { Thread.sleep(forTimeInterval: 0.05) }
        try #require(coordinator.process.terminationStatus == 0, "\(coordinator.output)")

        let events = try FileManager.default.contentsOfDirectory(atPath: dir + "/tensorboard")
        #expect(events.contains { $0.hasPrefix("events.out.tfevents.") })
        #expect(FileManager.default.fileExists(atPath: dir + "/report.html"))
        let svg = try String(contentsOfFile: dir + "/loss.svg", encoding: .utf8)
        #expect(svg.hasPrefix("<svg") || svg.hasPrefix("<?xml"))
        #expect(svg.contains("<path"))
        let trace = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/trace.json"))) as? [String: Any])
        let spans = (trace["traceEvents"] as? [[String: Any]] ?? []).filter { $0["ph"] as? String == "X" }
        // Every step spans the coordinator's lane and each of the two workers' lanes.
        #expect(spans.filter { ($0["name"] as? String)?.hasPrefix("step ") == true }.count == 60 * 3)
        let lanes = Set(spans.compactMap { $0["tid"] as? Int })
        #expect(lanes.count == 3, "one lane per worker plus the coordinator")
        // Each worker's lane holds the spans it timed itself, inside the step they belong to.
        for lane in lanes.subtracting([0]) {
            let events = spans.filter { $0["tid"] as? Int == lane }
            let names = Set(events.compactMap { $0["name"] as? String }.filter { !$0.hasPrefix("step ") })
            // (exact mode decodes inside the ring, so there is no decode span)
            #expect(names.isSuperset(of: ["data-wait", "forward", "backward", "encode", "reduce-scatter", "all-gather",
                                          "optimizer", "report"]), "lane \(lane): \(names.sorted())")
            var steps: [Int: (start: Double, end: Double)] = [:]
            for event in events where (event["name"] as? String)?.hasPrefix("step ") == true {
                let ts = event["ts"] as? Double ?? .nan, dur = event["dur"] as? Double ?? .nan
                steps[(event["args"] as? [String: Any])?["step"] as? Int ?? -1] = (ts, ts + dur)
            }
            #expect(steps.count == 60)
            for event in events {
                let ts = event["ts"] as? Double ?? .nan, dur = event["dur"] as? Double ?? -1
                let step = (event["args"] as? [String: Any])?["step"] as? Int ?? -1
                guard let bounds = steps[step] else { Issue.record("\(event) has no step span"); continue }
                #expect(dur >= 0)
                #expect(ts >= bounds.start && ts + dur <= bounds.end + 0.001, "\(event) outside step \(step)")
            }
        }
    }
}
