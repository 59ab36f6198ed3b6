import Dataset
import Tensor

extension CanopyNet {
    /// Canopy and centre probabilities of a batch of equal-sized tiles: per tile, the canopy
    /// plane followed by the centre plane (row-major, `height * width` each).
    public func probabilities(parameters: [Float], tiles: [Tile]) -> [[Float]] {
        guard let first = tiles.first else { return [] }
        let logits = parameters.withUnsafeBufferPointer { forward(makeInput(tiles), parameters: $0).logits }
        let size = 2 * first.pixelCount
        return (0..<tiles.count).map { n in logits.storage[(n * size)..<((n + 1) * size)].map { Activation.sigmoid($0) } }
    }

    /// Canopy and centre probabilities over a whole image of any size, stitched from overlapping
    /// windows (`TiledPrediction`).
    ///
    /// - Throws: `ModelError` when the image's bands are not the model's or the tiling does not
    ///   fit the model's depth.
    public func predict(parameters: [Float], image: TiledPrediction.Image,
                        tiling: TiledPrediction.Settings) throws(ModelError) -> (canopy: [Float], centres: [Float]) {
        guard image.bands == settings.inputBands else {
            throw ModelError(code: "predict.bands", "the image has \(image.bands) bands; \(schemaName) takes \(settings.inputBands)")
        }
        guard parameters.count == layout.count else {
            throw ModelError(code: "predict.parameters", "\(parameters.count) parameters given; \(schemaName) has \(layout.count)")
        }
        try tiling.validate(alignment: 1 << settings.depth)
        let planes = TiledPrediction(settings: tiling).run(image, channels: 2) { probabilities(parameters: parameters, tiles: $0) }
        let plane = image.width * image.height
        return (Array(planes[0..<plane]), Array(planes[plane..<(2 * plane)]))
    }
}
