/// One held-out evaluation of a run, as `metrics.jsonl` records it on the evaluated step's line
/// (`validation`): pooled canopy IoU and tree F1, and the same per held-out manifest with the
/// all-canopy IoU of its tiles.
public struct ValidationPoint: Sendable, Equatable {
    public struct Split: Sendable, Equatable {
        public var name: String
        public var canopyIoU: Double?
        public var allCanopyIoU: Double?
        public var treeF1: Double?

        public init(name: String, canopyIoU: Double?, allCanopyIoU: Double?, treeF1: Double?) {
            (self.name, self.canopyIoU, self.allCanopyIoU, self.treeF1) = (name, canopyIoU, allCanopyIoU, treeF1)
        }
    }

    public var step: Int
    public var canopyIoU: Double?
    public var treeF1: Double?
    public var splits: [Split]

    public init(step: Int, canopyIoU: Double?, treeF1: Double?, splits: [Split] = []) {
        (self.step, self.canopyIoU, self.treeF1, self.splits) = (step, canopyIoU, treeF1, splits)
    }
}

/// The part of a `metrics.jsonl` line the validation curves read (keys converted from snake_case).
struct ValidationLine: Decodable {
    struct Trees: Decodable { var f1: Double? }
    struct Split: Decodable {
        var name: String
        var canopyIou: Double?
        var allCanopyIou: Double?
        var trees: Trees?
    }
    struct Report: Decodable {
        var canopyIou: Double?
        var trees: Trees?
        var splits: [Split]?
    }
    var step: Int
    var validation: Report?

    var point: ValidationPoint? {
        guard let validation else { return nil }
        return ValidationPoint(
            step: step, canopyIoU: validation.canopyIou, treeF1: validation.trees?.f1,
            splits: (validation.splits ?? []).map {
                ValidationPoint.Split(name: $0.name, canopyIoU: $0.canopyIou, allCanopyIoU: $0.allCanopyIou, treeF1: $0.trees?.f1)
            })
    }
}

extension RunReport {
    /// Two charts, canopy IoU and tree F1 over steps: one line per held-out manifest (or the
    /// pooled set without them) and, for IoU, each manifest's all-canopy baseline as a flat line.
    /// Empty when the run evaluated nothing.
    func validationCharts() -> [String] {
        guard !validation.isEmpty else { return [] }
        let names = validation.flatMap { $0.splits.map(\.name) }.reduce(into: [String]()) { if !$0.contains($1) { $0.append($1) } }
        var iou: [SVGPlot.Series] = [], f1: [SVGPlot.Series] = []
        if names.isEmpty {
            iou.append(("canopy IoU", validation.compactMap { p in p.canopyIoU.map { (x: Double(p.step), y: $0) } }))
            f1.append(("tree F1", validation.compactMap { p in p.treeF1.map { (x: Double(p.step), y: $0) } }))
        }
        for name in names {
            let points = validation.compactMap { p in p.splits.first { $0.name == name }.map { (p.step, $0) } }
            iou.append((name, points.compactMap { step, split in split.canopyIoU.map { (x: Double(step), y: $0) } }))
            iou.append(("\(name): all canopy", points.compactMap { step, split in split.allCanopyIoU.map { (x: Double(step), y: $0) } }))
            f1.append((name, points.compactMap { step, split in split.treeF1.map { (x: Double(step), y: $0) } }))
        }
        var charts = [SVGPlot.lines(series: iou.filter { !$0.points.isEmpty }, title: "Validation canopy IoU", xLabel: "step", yLabel: "IoU")]
        let f1Series = f1.filter { !$0.points.isEmpty }
        if !f1Series.isEmpty { charts.append(SVGPlot.lines(series: f1Series, title: "Validation tree F1", xLabel: "step", yLabel: "F1")) }
        return charts
    }
}
