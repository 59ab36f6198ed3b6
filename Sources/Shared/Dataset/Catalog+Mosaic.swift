/// A source image put back together from its catalogued tiles (schema 4 records each tile's
/// position in its image): the pixels and the canopy mask, for running a model over the whole
/// image and scoring it.
public struct TileMosaic: Sendable {
    public var image: String
    public var width: Int
    public var height: Int
    public var bands: Int
    /// Band-major planes; pixels no tile covers are 0.
    public var pixels: [UInt8]
    /// 1 canopy, 0 not (or not covered).
    public var canopy: [UInt8]
    /// The tiles placed, in id order, with their positions.
    public var tiles: [(id: String, x: Int, y: Int, width: Int, height: Int)]
    public var groundSampleDistance: Double
}

extension Catalog {
    /// The tiles whose `source_image` is `image`, placed at their `tile_x`, `tile_y`. The mosaic
    /// reaches to the right and bottom edge of the farthest tile.
    ///
    /// - Throws: `catalog.no-tiles` when no tile of that image has a position, listing the images
    ///   that have; `mosaic.mixed` when its tiles disagree on bands or ground sample distance.
    public func mosaic(of image: String) throws(DatasetError) -> TileMosaic {
        let records = try self.records(where: "source_image = ? AND tile_x IS NOT NULL AND tile_y IS NOT NULL", [.text(image)])
        guard let first = records.first else {
            let known = try self.records(where: "source_image IS NOT NULL AND tile_x IS NOT NULL")
                .compactMap { $0.labels.origin?.image }
            let names = Array(Set(known)).sorted()
            throw DatasetError(code: "catalog.no-tiles",
                               "no tile of \(directory) has the source image '\(image)' and a position; images with positions: "
                               + (names.isEmpty ? "none (import the tile directory again to record them)" : names.joined(separator: ", ")))
        }
        for record in records where record.bands != first.bands || record.groundSampleDistance != first.groundSampleDistance {
            throw DatasetError(code: "mosaic.mixed",
                               "tile \(record.id) of \(image) has \(record.bands) bands at \(record.groundSampleDistance) m; \(first.id) has \(first.bands) at \(first.groundSampleDistance) m")
        }
        let width = records.map { $0.labels.origin!.x + $0.width }.max()!
        let height = records.map { $0.labels.origin!.y + $0.height }.max()!
        let plane = width * height
        var mosaic = TileMosaic(image: image, width: width, height: height, bands: first.bands,
                                pixels: [UInt8](repeating: 0, count: plane * first.bands), canopy: [UInt8](repeating: 0, count: plane),
                                tiles: [], groundSampleDistance: first.groundSampleDistance)
        for record in records {
            let tile = try SampleFile.decode(try source.read(path: record.path), origin: record.path)
            let origin = record.labels.origin!
            for y in 0..<tile.height {
                for x in 0..<tile.width {
                    let target = (origin.y + y) * width + origin.x + x, sourceIndex = y * tile.width + x
                    mosaic.canopy[target] = tile.canopy[sourceIndex]
                    for band in 0..<tile.bands { mosaic.pixels[band * plane + target] = tile.pixels[band * tile.pixelCount + sourceIndex] }
                }
            }
            mosaic.tiles.append((record.id, origin.x, origin.y, tile.width, tile.height))
        }
        return mosaic
    }
}
