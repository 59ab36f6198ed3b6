import Foundation
import Model
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
        if let v = s.validation, let splits = v.splits, !splits.isEmpty {
            // Each held-out manifest on its own, next to the score of predicting canopy
            // everywhere: a pooled score would mix tiles the model could have learnt about with
            // tiles it could not.
            for split in splits {
                var line = "validation \(split.name) (\(split.tiles) tiles): loss \(String(format: "%.4f", split.loss))"
                if let iou = split.canopyIou {
                    line += ", canopy IoU \(String(format: "%.3f", iou)) (all canopy \(String(format: "%.3f", split.allCanopyIou)))"
                }
                lines.append(line)
                if let t = split.trees { lines.append("  " + treeLine(t)) }
            }
        } else if let v = s.validation {
            var line = "validation (\(v.tiles) tiles): loss \(String(format: "%.4f", v.loss))"
            if let iou = v.canopyIou { line += ", canopy IoU \(String(format: "%.3f", iou))" }
            if let t = v.trees { line += " (all canopy \(String(format: "%.3f", t.allCanopyIoU)))" }
            lines.append(line)
            if let t = v.trees { lines.append(treeLine(t)) }
        }
        if let initial = s.initializedFrom {
            var line = "started from checkpoint \(initial.checkpoint)"
            if let run = initial.run, let step = initial.step { line += " (run \(run), step \(step))" }
            line += ", optimizer state \(initial.optimizer)"
            if let hash = initial.weightsSha256 { line += ", weights sha256 \(hash.prefix(8))…" }
            lines.append(line)
        }
        if let step = s.resumedFromStep { lines.append("resumed from step \(step)") }
        if let stopped = s.stopped { lines.append("stopped early: \(stopped)") }
        if let ejected = s.ejections, ejected > 0 {
            lines.append("ejected \(ejected) members (silent on a lease, a failing ring link, disagreeing weights, or a failure of their own)")
        }
        if !s.quarantinedSamples.isEmpty {
            lines.append("quarantined \(s.quarantinedSamples.count) unreadable samples (left out of their steps): "
                         + s.quarantinedSamples.prefix(5).joined(separator: ", ") + (s.quarantinedSamples.count > 5 ? ", …" : ""))
        }
        lines.append(contentsOf: goodputLines(s))
        lines.append("weights sha256 \(s.weightsSha256)" + (s.weightsStep.map { " (after step \($0))" } ?? ""))
        lines.append("summary: \(runDirectory)/summary.json")
        return lines.joined(separator: "\n")
    }

    static func treeLine(_ t: EvaluationReport) -> String {
        "trees: F1 \(String(format: "%.2f", t.f1)) (precision \(String(format: "%.2f", t.precision)), "
            + "recall \(String(format: "%.2f", t.recall))), count error \(String(format: "%.2f", t.countMeanAbsoluteError)) per tile, "
            + "canopy area \(String(format: "%+.1f", t.relativeCanopyAreaError * 100)) %"
    }

    /// Committed against redone work by cause, CPU and cost per sample.
    static func goodputLines(_ s: RunSummary) -> [String] {
        let g = s.goodput
        var lines = ["goodput \(String(format: "%.1f", 100 * g.goodput)) %: \(g.committedSamples) samples committed, "
                     + "\(g.redoneSamples) redone (\(g.redoneMicroBatches) micro-batches)"]
        for (cause, r) in g.redone.sorted(by: { $0.key < $1.key }) {
            lines.append("  redone after \(cause): \(r.attempts) step attempts, \(r.samples) samples, "
                         + "\(String(format: "%.2f", r.wallSecondsLost)) s wall, \(String(format: "%.2f", r.workerSecondsLost)) worker-s")
        }
        if s.rejoins > 0 { lines.append("  \(s.rejoins) workers declared down came back and joined again") }
        let cpu = g.cpuSecondsPerSample.map { String(format: "%.4f CPU-s per sample", $0) } ?? "CPU per sample not measured"
        let cost = g.costPerSample.map { String(format: "%.8f per sample", $0) } ?? g.price
        lines.append("\(cpu) (coordinator and local workers, \(String(format: "%.1f", g.cpuSeconds)) CPU-s); cost: \(cost)")
        return lines
    }
}
