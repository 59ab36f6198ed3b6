/// How far a set of evaluated samples is from a training set: which were trained on, and which
/// lie within a margin of a training tile cut from the same image (they share crowns, light and
/// camera with it, so their scores say little about unseen places).
public struct HeldOutCheck: Sendable, Equatable {
    /// Evaluated samples that are in the training set, by id.
    public var trained: [String] = []
    /// Evaluated samples, not trained on, whose tile comes within `margin` pixels of a training
    /// tile of the same source image, by id.
    public var nearTraining: [String] = []
    /// Evaluated samples whose position is unknown (no `source_image`), so not checked for it.
    public var unplaced: [String] = []

    public init(trained: [String] = [], nearTraining: [String] = [], unplaced: [String] = []) {
        self.trained = trained
        self.nearTraining = nearTraining
        self.unplaced = unplaced
    }

    /// Compares `evaluated` with `training`, in the order of `evaluated`. Two tiles are near when
    /// the gap between their rectangles is less than `margin` pixels on both axes (touching tiles
    /// have a gap of 0).
    public static func check(evaluated: [SampleRecord], training: [SampleRecord], margin: Int) -> HeldOutCheck {
        let trainedIDs = Set(training.map(\.id))
        var byImage: [String: [SampleRecord]] = [:]
        for record in training {
            if let origin = record.labels.origin { byImage[origin.image, default: []].append(record) }
        }
        var result = HeldOutCheck()
        for record in evaluated {
            if trainedIDs.contains(record.id) {
                result.trained.append(record.id)
                continue
            }
            guard let origin = record.labels.origin else {
                result.unplaced.append(record.id)
                continue
            }
            let near = byImage[origin.image, default: []].contains { other in
                guard let o = other.labels.origin else { return false }
                let gapX = max(o.x - (origin.x + record.width), origin.x - (o.x + other.width), 0)
                let gapY = max(o.y - (origin.y + record.height), origin.y - (o.y + other.height), 0)
                return gapX < margin && gapY < margin
            }
            if near { result.nearTraining.append(record.id) }
        }
        return result
    }
}
