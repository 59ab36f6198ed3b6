/// A sample encoded and described, ready for `Catalog.insert`. Building one is pure and
/// thread-safe, so generators and importers encode on many threads and insert on one.
public struct PreparedSample: Sendable {
    public var record: SampleRecord
    public var bytes: [UInt8]

    /// Encodes `tile` and derives its catalog statistics. `addedAt` is filled in by the catalog.
    public init(tile: Tile, labels: SampleLabels) {
        let (bytes, hash) = SampleFile.encodeWithContentHash(tile)
        let pixels = tile.pixelCount
        let canopy = tile.canopy.reduce(0) { $0 + Int($1 != 0 ? 1 : 0) }
        let visible = tile.trees.filter { $0.visiblePixels > 0 }
        let gsd = Double(tile.groundSampleDistance)
        let meanArea = visible.isEmpty ? 0 : Double(visible.reduce(0) { $0 + $1.visiblePixels }) / Double(visible.count) * gsd * gsd
        self.bytes = bytes
        self.record = SampleRecord(
            id: tile.id, path: PreparedSample.relativePath(id: tile.id, contentHash: hash), contentHash: hash,
            labels: labels, width: tile.width, height: tile.height, bands: tile.bands, groundSampleDistance: gsd,
            canopyFraction: pixels == 0 ? 0 : Double(canopy) / Double(pixels), treeCount: visible.count,
            meanTreeArea: meanArea, addedAt: "")
    }

    /// Samples are spread over 256 folders by the first byte of their hash, so that no folder
    /// holds more than a few hundred files of a 100k-sample catalog.
    static func relativePath(id: String, contentHash: String) -> String {
        "samples/\(contentHash.prefix(2))/\(id).\(SampleFile.fileExtension)"
    }

    /// Sample ids become file names: letters, digits, `.`, `_` and `-`, not starting with a dot.
    static func isValidID(_ id: String) -> Bool {
        guard let first = id.utf8.first, first != UInt8(ascii: "."), id.utf8.count <= 200 else { return false }
        return id.utf8.allSatisfy { c in
            (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A) || c == 0x2E || c == 0x5F || c == 0x2D
        }
    }
}
