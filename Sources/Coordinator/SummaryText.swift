import Foundation
import Training

/// The few lines printed at the end of a run.
enum SummaryText {
    static func render(_ s: RunSummary, runDirectory: String) -> String {
        var lines = [
            "run \(s.run): \(s.steps) steps, \(s.samples) samples in \(String(format: "%.1f", s.wallSeconds)) s "
                + "with up to \(s.workersMax) workers (\(s.generations) generations, reduce \(s.reduceMode))",
            "model \(s.model), \(s.parameters) parameters",
            "loss \(String(format: "%.4f", s.lossFirst)) -> \(String(format: "%.4f", s.lossLast))",
        ]
        if let v = s.validation {
            var line = "validation (\(v.tiles) tiles): loss \(String(format: "%.4f", v.loss))"
            if let iou = v.canopyIou { line += ", canopy IoU \(String(format: "%.3f", iou))" }
            lines.append(line)
            if let t = v.trees {
                lines.append("trees: F1 \(String(format: "%.2f", t.f1)) (precision \(String(format: "%.2f", t.precision)), "
                             + "recall \(String(format: "%.2f", t.recall))), count error \(String(format: "%.2f", t.countMeanAbsoluteError)) per tile, "
                             + "canopy area \(String(format: "%+.1f", t.relativeCanopyAreaError * 100)) %")
            }
        }
        if let step = s.resumedFromStep { lines.append("resumed from step \(step)") }
        if !s.quarantinedSamples.isEmpty {
            lines.append("quarantined \(s.quarantinedSamples.count) unreadable samples (left out of their steps): "
                         + s.quarantinedSamples.prefix(5).joined(separator: ", ") + (s.quarantinedSamples.count > 5 ? ", …" : ""))
        }
        lines.append("weights sha256 \(s.weightsSha256)")
        lines.append("summary: \(runDirectory)/summary.json")
        return lines.joined(separator: "\n")
    }
}
