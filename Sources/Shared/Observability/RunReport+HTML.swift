import Foundation

extension RunReport {
    /// The report as one self-contained HTML page: a table of the summary and inline SVG charts
    /// of loss, held-out scores, throughput and workers per step. Open it in any browser; it
    /// loads nothing. `extraHTML` (a caller's section, e.g. a grid of validation tiles) goes
    /// after the charts as given.
    public func html(extraHTML: String = "") -> String {
        let s = summary
        func number(_ value: Double?, _ format: String) -> String {
            guard let value, value.isFinite else { return "-" }
            return String(format: format, value)
        }
        let shares = Self.roundedShares([s.stepShares.data, s.stepShares.compute, s.stepShares.allReduce, s.stepShares.other])
        func share(_ index: Int) -> String { s.stepSeconds > 0 ? number(shares[index], "%.1f %%") : "-" }
        let generations = generationsStarted.map { "\($0) (\(s.generationsCommitting) with committed steps)" } ?? "\(s.generations)"
        var rows: [(String, String)] = [
            ("steps committed", "\(s.steps)"),
            ("samples", "\(s.samples)"),
            ("loss, first → last", "\(number(s.firstLoss, "%.4f")) → \(number(s.lastLoss, "%.4f"))"),
            ("wall time", ProgressLine.duration(s.wallSeconds)),
            ("throughput", number(s.samplesPerSecond, "%.1f samples/s")),
            ("workers, most at once", "\(s.maxWorkers)"),
            ("generations", generations),
            ("resumes", "\(s.resumes)"),
            ("worker time paid", number(s.workerSeconds / 3600, "%.3f worker-hours")),
            ("useful (inside committed steps)", number(100 * s.efficiency, "%.1f %%")),
            ("step time: data", share(0)),
            ("step time: compute", share(1)),
            ("step time: all-reduce", share(2)),
            ("step time: other (coordination, stragglers)", share(3)),
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
        <p>Step-time shares: each phase is the slowest worker's time in it, summed over committed steps; a step whose \
        phases (possibly from different workers) add up to more than the step counts as their sum.</p>
        \(loss)
        \(validationCharts().joined(separator: "\n"))
        \(rate)
        \(phases)
        \(workers)
        \(extraHTML)
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
    public func write(to path: String, extraHTML: String = "") throws {
        do { try html(extraHTML: extraHTML).write(toFile: path, atomically: true, encoding: .utf8) } catch {
            throw ObservabilityError(.io, "cannot write the run report to \(path): \(error.localizedDescription)")
        }
    }
}
