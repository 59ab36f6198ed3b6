import Foundation

extension RunReport {
    /// The report as one self-contained HTML page: a table of the summary and inline SVG charts
    /// of loss, throughput and workers per step. Open it in any browser; it loads nothing.
    public func html() -> String {
        let s = summary
        func number(_ value: Double?, _ format: String) -> String {
            guard let value, value.isFinite else { return "-" }
            return String(format: format, value)
        }
        func share(_ part: Double) -> String { s.stepSeconds > 0 ? number(100 * part / s.stepSeconds, "%.1f %%") : "-" }
        let other = max(0, s.stepSeconds - s.dataSeconds - s.computeSeconds - s.allReduceSeconds)
        var rows: [(String, String)] = [
            ("steps committed", "\(s.steps)"),
            ("samples", "\(s.samples)"),
            ("loss, first → last", "\(number(s.firstLoss, "%.4f")) → \(number(s.lastLoss, "%.4f"))"),
            ("wall time", ProgressLine.duration(s.wallSeconds)),
            ("throughput", number(s.samplesPerSecond, "%.1f samples/s")),
            ("workers, most at once", "\(s.maxWorkers)"),
            ("generations", "\(s.generations)"),
            ("resumes", "\(s.resumes)"),
            ("worker time paid", number(s.workerSeconds / 3600, "%.3f worker-hours")),
            ("useful (inside committed steps)", number(100 * s.efficiency, "%.1f %%")),
            ("step time: data", share(s.dataSeconds)),
            ("step time: compute", share(s.computeSeconds)),
            ("step time: all-reduce", share(s.allReduceSeconds)),
            ("step time: other (coordination, stragglers)", share(other)),
        ]
        rows += goodputRows()
        let table = rows.map { "<tr><td>\(SVGPlot.escape($0.0))</td><td>\(SVGPlot.escape($0.1))</td></tr>" }.joined(separator: "\n")
        let loss = SVGPlot.lines(series: [("loss", steps.compactMap { step in step.loss.map { (Double(step.step), $0) } })],
                                 title: "Loss", xLabel: "step", yLabel: "loss")
        let rate = SVGPlot.lines(series: [("samples/s", steps.map { (Double($0.step), $0.samplesPerSecond) })],
                                 title: "Throughput", xLabel: "step", yLabel: "samples/s")
        let phases = SVGPlot.lines(series: [
            ("data", steps.map { (Double($0.step), $0.dataSeconds) }),
            ("compute", steps.map { (Double($0.step), $0.computeSeconds) }),
            ("all-reduce", steps.map { (Double($0.step), $0.allReduceSeconds) }),
            ("step", steps.map { (Double($0.step), $0.stepSeconds) }),
        ], title: "Step phases (slowest worker)", xLabel: "step", yLabel: "seconds")
        let workers = SVGPlot.lines(series: [("workers", steps.map { (Double($0.step), Double($0.workers)) })],
                                    title: "Workers", xLabel: "step", yLabel: "workers")
        return """
        <!DOCTYPE html>
        <html lang="en">
        <head><meta charset="utf-8"><title>grove report: \(SVGPlot.escape(run))</title>
        <style>body { font-family: sans-serif; margin: 2em; } td { padding: 2px 14px 2px 0; } td:first-child { color: #555; }</style>
        </head>
        <body>
        <h1>Run \(SVGPlot.escape(run))</h1>
        <table>
        \(table)
        </table>
        \(loss)
        \(rate)
        \(phases)
        \(workers)
        </body>
        </html>

        """
    }

    /// Goodput, redone work by cause, CPU and cost: the rows the HTML report and the coordinator's
    /// closing lines share.
    public func goodputRows() -> [(String, String)] {
        let s = summary
        func number(_ value: Double?, _ format: String) -> String {
            guard let value, value.isFinite else { return "-" }
            return String(format: format, value)
        }
        var rows: [(String, String)] = [
            ("goodput (committed / computed samples)",
             "\(number(100 * s.goodput, "%.1f %%")) (\(s.samples) committed, \(s.redoneSamples) redone)"),
        ]
        for cause in RedoneWork.Cause.allCases {
            guard let r = s.redone[cause] else { continue }
            rows.append(("redone: \(cause.rawValue)",
                         "\(r.attempts) step attempts, \(r.microBatches) micro-batches, \(r.samples) samples; "
                         + "\(number(r.wallSeconds, "%.2f")) s wall, \(number(r.workerSeconds, "%.2f")) worker-s lost"))
        }
        if s.redone.isEmpty { rows.append(("redone", "none")) }
        rows.append(("CPU-seconds per sample", s.cpuSecondsPerSample.map { number($0, "%.4f") } ?? "not measured"))
        if let cost = s.cost {
            rows.append(("cost", number(cost, "%.4f")))
            rows.append(("cost per sample", number(s.costPerSample, "%.8f")))
            rows.append(("cost per 1000 samples", number(s.costPerThousandSamples, "%.6f")))
        } else {
            rows.append(("cost per sample", "price not configured (logging.price_per_worker_hour)"))
        }
        return rows
    }

    /// Writes `html()` to `path`, atomically.
    public func write(to path: String) throws {
        do { try html().write(toFile: path, atomically: true, encoding: .utf8) } catch {
            throw ObservabilityError(.io, "cannot write the run report to \(path): \(error.localizedDescription)")
        }
    }
}
