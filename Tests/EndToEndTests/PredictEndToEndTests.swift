import Foundation
import Testing

/// What a finished run leaves for people: a report that agrees with `summary.json`, `predict`
/// over a whole image, and `export` to ONNX.
@Suite struct PredictEndToEndTests {
    static func cell(_ html: String, _ label: String) -> String? {
        guard let start = html.range(of: "<tr><td>\(label)</td><td>") else { return nil }
        return String(html[start.upperBound...].prefix { $0 != "<" })
    }

    @Test func reportAgreesWithSummaryAndTheCheckpointPredictsAndExports() throws {
        let dir = Grove.temporaryDirectory("predict")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let trained = try Grove.run("coordinator", [
            "run", "--config", "cluster.yaml", "--run-dir", dir + "/run", "--set", "coordinator.port=0", "--set", "model.name=canopy-net",
            "--set", "model.base_width=2", "--set", "model.depth=1", "--set", "training.steps=4", "--set", "training.eval_every=2",
            "--set", "workers.local=2"])
        try #require(trained.status == 0, "\(trained.output)")

        // report.html says what summary.json says.
        let summary = try RunFiles(directory: dir + "/run").summary
        let html = try String(contentsOfFile: dir + "/run/report.html", encoding: .utf8)
        #expect(Self.cell(html, "steps committed") == "\(summary["steps"] as? Int ?? -1)")
        #expect(Self.cell(html, "samples") == "\(summary["samples"] as? Int ?? -1)")
        #expect(Self.cell(html, "workers, most at once") == "\(summary["workers_max"] as? Int ?? -1)")
        let generations = try #require(Self.cell(html, "generations"))
        #expect(generations.hasPrefix("\(summary["generations"] as? Int ?? -1) "), "report \(generations), summary \(summary["generations"] ?? "none")")
        let first = try #require(summary["loss_first"] as? Double), last = try #require(summary["loss_last"] as? Double)
        #expect(Self.cell(html, "loss, first → last") == String(format: "%.4f → %.4f", first, last))
        let shares = try ["data", "compute", "all-reduce", "other (coordination, stragglers)"].map { label in
            try #require(Double((Self.cell(html, "step time: \(label)") ?? "").replacingOccurrences(of: " %", with: "")), "\(label)")
        }
        #expect(abs(shares.reduce(0, +) - 100) < 1e-9, "\(shares)")
        #expect(html.contains("Validation canopy IoU"), "the run evaluated at steps 2 and 4")
        #expect(html.contains("<h2>Held-out tiles at step 4</h2>") && html.contains("src=\"data:image/png;base64,"),
                "the report shows held-out tiles with their outlines")

        // A synthetic orchard rendered at a size no tile divides, with its world file.
        let image = dir + "/orchard.png"
        let rendered = try Grove.run("coordinator", ["dataset", "render", "--seed", "3", "--index", "0", "--size", "200", "--out", image])
        try #require(rendered.status == 0, "\(rendered.output)")
        for file in [image, dir + "/orchard-mask.png", dir + "/orchard.pgw"] { #expect(FileManager.default.fileExists(atPath: file), "\(file)") }

        let out = dir + "/prediction"
        let predicted = try Grove.run("coordinator", [
            "predict", "--checkpoint", dir + "/run/checkpoints/step-000004", "--image", image, "--out", out,
            "--tile", "64", "--margin", "16", "--truth", dir + "/orchard-mask.png", "--crs", "local"])
        try #require(predicted.status == 0, "\(predicted.output)")
        #expect(predicted.output.contains("200x200 image in 196 windows of 64 px (margin 16, blend)"), "\(predicted.output)")
        #expect(predicted.output.contains("canopy IoU"), "\(predicted.output)")
        let report = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: out + "/prediction.json"))) as? [String: Any])
        #expect(report["width"] as? Int == 200 && report["coordinates"] as? String == "world file")
        let trees = try #require(report["trees"] as? Int)
        let csv = try String(contentsOfFile: out + "/trees.csv", encoding: .utf8).split(separator: "\n")
        #expect(csv.first == "id,pixel_x,pixel_y,map_x,map_y,crown_pixels,crown_area_m2,score")
        #expect(csv.count == trees + 1)
        let geo = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: out + "/trees.geojson"))) as? [String: Any])
        #expect((geo["features"] as? [Any])?.count == trees)
        for file in ["canopy.png", "canopy-probability.png", "overlay.png"] {
            let data = try Data(contentsOf: URL(fileURLWithPath: out + "/" + file))
            #expect(data.prefix(4) == Data([0x89, 0x50, 0x4E, 0x47]), "\(file) is a PNG")
        }
        let badTile = try Grove.run("coordinator", ["predict", "--checkpoint", dir + "/run/checkpoints/step-000004", "--image", image,
                                                    "--out", out, "--tile", "63"])
        #expect(badTile.status != 0 && badTile.output.contains("tile size 63"), "\(badTile.output)")

        let onnx = dir + "/canopy.onnx"
        let exported = try Grove.run("coordinator", ["export", "--checkpoint", dir + "/run/checkpoints/step-000004", "--onnx", onnx])
        try #require(exported.status == 0, "\(exported.output)")
        #expect(exported.output.contains("ONNX opset 17"), "\(exported.output)")
        #expect(((try? FileManager.default.attributesOfItem(atPath: onnx)[.size] as? Int) ?? 0) > 1000)
    }
}
