import Collective
import Foundation

/// Prints the results as they come in: an nccl-tests style table (a size's rows once all its
/// modes are measured, so each row can show its ratio to fp32), or, with `--peer-format`, only
/// the `RESULT {...}` lines that `allreduce_peers.py --external` reads.
final class ResultTable {
    let options: PerfOptions
    let loopback: LoopbackProbe.Figure?
    /// One plain kernel TCP stream: the machine's limit, below the transport.
    let plainTCP: LoopbackProbe.Figure?
    private let runs: [PerfRun]
    private var pending: [Int: RunFigures] = [:]
    private(set) var printed: [RunFigures] = []

    init(options: PerfOptions, loopback: LoopbackProbe.Figure?, plainTCP: LoopbackProbe.Figure? = nil) {
        self.options = options
        self.loopback = loopback
        self.plainTCP = plainTCP
        runs = PerfRun.plan(options)
    }

    func printHeader() {
        guard !options.peerFormat else { return }
        print("#")
        var titles = [("size", 9), ("mode", 6), ("iters", 5), ("median ms", 10), ("min ms", 10),
                      ("algbw GB/s", 11), ("busbw GB/s", 11), ("of loopback", 11), ("of TCP", 7), ("vs fp32", 8)]
        if options.securities.count > 1 || options.securities != [.plain] {
            titles.insert(("ring", 5), at: 2)
            titles.append(("vs plain", 8))
        }
        if options.variesShape { titles.insert(("frame, window", 13), at: 2) }
        print("# " + titles.map { Cell.text($0.0, $0.1) }.joined(separator: " "))
        flush()
    }

    /// Adds the times of one run (`times[rank][iteration]`).
    func add(run index: Int, times: [[Double]]) {
        let figures = RunFigures(run: runs[index], worldSize: options.worldSize, times: times)
        if options.peerFormat {
            printPeerLine(figures)
            return
        }
        pending[index] = figures
        let sizeRuns = runs.filter { $0.bytes == figures.run.bytes }
        guard sizeRuns.allSatisfy({ pending[$0.index] != nil }) else { return }
        let row = sizeRuns.map { pending.removeValue(forKey: $0.index)! }
        let secured = options.securities != [.plain]
        for figures in row {
            let fp32 = row.first { $0.run.mode == .fp32 && $0.run.security == figures.run.security && $0.run.shape == figures.run.shape }
            let plain = row.first { $0.run.mode == figures.run.mode && $0.run.security == .plain && isReference($0.run) }
            let ofLoopback = loopback.map { figures.busBandwidth / $0.bytesPerSecond }
            let ofTCP = plainTCP.map { figures.busBandwidth / $0.bytesPerSecond }
            let versusFP32 = fp32.map { figures.algorithmBandwidth / $0.algorithmBandwidth }
            var cells: [String] = [
                Cell.text(ByteSize.format(figures.run.bytes), 9), Cell.text(figures.run.mode.rawValue, 6),
                Cell.text(figures.iterationSeconds.count, 5), Cell.number(figures.medianSeconds * 1e3, 3, 10),
                Cell.number(figures.minimumSeconds * 1e3, 3, 10), Cell.number(figures.algorithmBandwidth / 1e9, 3, 11),
                Cell.number(figures.busBandwidth / 1e9, 3, 11), Cell.number(ofLoopback, 3, 11), Cell.number(ofTCP, 3, 7),
                Cell.number(versusFP32, 2, 8),
            ]
            if secured {
                cells.insert(Cell.text(figures.run.security.rawValue, 5), at: 2)
                cells.append(Cell.number(plain.map { figures.busBandwidth / $0.busBandwidth }, 2, 8))
            }
            if options.variesShape { cells.insert(Cell.text(figures.run.shape, 13), at: 2) }
            print("  " + cells.joined(separator: " "))
            printed.append(figures)
        }
        flush()
    }

    /// The closing summary: the largest size's figures against the reference and against fp32.
    func printSummary(otherCores: Double) {
        guard !options.peerFormat else { return }
        print("#")
        print("# other load during the run: \(Cell.number(otherCores, 2)) cores busy with other processes (of \(MachineLoad.cores))")
        guard let largest = printed.map(\.run.bytes).max() else { return }
        let last = printed.filter { $0.run.bytes == largest }
        for figures in last {
            let fp32 = last.first { $0.run.mode == .fp32 && $0.run.security == figures.run.security && $0.run.shape == figures.run.shape }
            var ring = options.securities == [.plain] ? "" : " \(figures.run.security.rawValue)"
            if options.variesShape { ring += " (\(figures.run.shape))" }
            var line = "# \(ByteSize.format(largest)) \(figures.run.mode.rawValue)\(ring): busbw \(Cell.number(figures.busBandwidth / 1e9, 3)) GB/s"
            if let loopback { line += ", \(Cell.number(figures.busBandwidth / loopback.bytesPerSecond, 2)) of the loopback limit" }
            if let plainTCP { line += ", \(Cell.number(figures.busBandwidth / plainTCP.bytesPerSecond, 2)) of plain TCP" }
            if let fp32, figures.run.mode != .fp32 { line += ", algbw \(Cell.number(figures.algorithmBandwidth / fp32.algorithmBandwidth, 2))x fp32" }
            if !(figures.run.security == .plain && isReference(figures.run)),
               let plain = last.first(where: { $0.run.mode == figures.run.mode && $0.run.security == .plain && isReference($0.run) }) {
                line += ", busbw \(Cell.number(figures.busBandwidth / plain.busBandwidth, 2))x plain"
                if options.variesShape { line += " (\(plain.run.shape))" }
            }
            print(line)
        }
        flush()
    }

    private func printPeerLine(_ figures: RunFigures) {
        let times = figures.iterationSeconds.map { "\($0)" }.joined(separator: ", ")
        let transport = switch figures.run.security {
        case .plain: "ZeroMQ tcp"
        case .curve: "ZeroMQ tcp, CurveZMQ"
        case .aead: "ZeroMQ tcp, frames sealed with AES-256-GCM"
        }
        let library = "grove \(figures.run.mode.rawValue) (\(transport), frame \(ByteSize.format(figures.run.frameBytes)), window \(figures.run.window))"
        print("RESULT {\"n\": \(options.worldSize), \"bytes\": \(figures.run.bytes), \"times\": [\(times)], \"lib\": \"\(library)\"}")
        flush()
    }

    /// Whether a run has the reference frame size and window (the first of each listed): plain's
    /// run with them is what every row's "vs plain" divides by.
    private func isReference(_ run: PerfRun) -> Bool {
        run.frameBytes == options.frames[0] && run.window == options.windows[0]
    }

    /// Flushes all streams: `stdout` itself is a C global that Swift 6 does not let us name.
    private func flush() { fflush(nil) }
}

/// Right-aligned table cells.
enum Cell {
    static func text(_ value: some CustomStringConvertible, _ width: Int) -> String {
        let text = value.description
        return String(repeating: " ", count: max(0, width - text.count)) + text
    }

    /// A number with `decimals` decimals; "-" for nil.
    static func number(_ value: Double?, _ decimals: Int, _ width: Int = 0) -> String {
        text(value.map { String(format: "%.\(decimals)f", $0) } ?? "-", width)
    }
}
