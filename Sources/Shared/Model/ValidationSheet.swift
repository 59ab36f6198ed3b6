import Dataset

/// A contact sheet of held-out tiles for a person to look at: each tile's image with the true
/// canopy outlined in cyan and the predicted canopy (probability ≥ 0.5) in yellow, side by side in
/// one row. The run report shows one sheet per held-out manifest.
public enum ValidationSheet {
    static let truthColour: (UInt8, UInt8, UInt8) = (0, 230, 255)
    static let predictedColour: (UInt8, UInt8, UInt8) = (255, 220, 0)
    /// Pixels between tiles.
    static let gap = 4

    /// `count` indices spread evenly over `range` (all of them when it is shorter).
    public static func pick(_ count: Int, from range: Range<Int>) -> [Int] {
        guard range.count > count else { return Array(range) }
        return (0..<count).map { range.lowerBound + $0 * range.count / count }
    }

    /// The tiles in one row, as an RGB image; nil without tiles. Tiles must have the model's bands.
    public static func render(net: CanopyNet, parameters: [Float], tiles: [Tile]) -> PNGImage? {
        guard !tiles.isEmpty else { return nil }
        let cell = tiles.map { max($0.width, $0.height) }.max()!
        let width = tiles.count * cell + (tiles.count - 1) * gap, height = cell
        var out = [UInt8](repeating: 255, count: width * height * 3)
        for (index, tile) in tiles.enumerated() {
            let predicted = net.predict(parameters: parameters, tile: tile).canopy.map { $0 >= 0.5 }
            let truth = tile.canopy.map { $0 != 0 }
            let left = index * (cell + gap), plane = tile.pixelCount
            func paint(_ x: Int, _ y: Int, _ colour: (UInt8, UInt8, UInt8)) {
                let p = (y * width + left + x) * 3
                (out[p], out[p + 1], out[p + 2]) = colour
            }
            for y in 0..<tile.height {
                for x in 0..<tile.width {
                    let p = y * tile.width + x
                    paint(x, y, (tile.pixels[p], tile.pixels[plane + p], tile.pixels[2 * plane + p]))
                    if isEdge(truth, x, y, tile.width, tile.height) { paint(x, y, truthColour) }
                    if isEdge(predicted, x, y, tile.width, tile.height) { paint(x, y, predictedColour) }
                }
            }
        }
        return try? PNGImage(width: width, height: height, channels: 3, pixels: out)
    }

    /// Whether pixel (x, y) is in the mask with a 4-neighbour outside it (or on the tile's edge).
    static func isEdge(_ mask: [Bool], _ x: Int, _ y: Int, _ width: Int, _ height: Int) -> Bool {
        let p = y * width + x
        guard mask[p] else { return false }
        return x == 0 || y == 0 || x == width - 1 || y == height - 1
            || !mask[p - 1] || !mask[p + 1] || !mask[p - width] || !mask[p + width]
    }
}
