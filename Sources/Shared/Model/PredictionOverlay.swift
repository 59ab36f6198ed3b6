/// A picture of a prediction a person can look at: the image with everything that is not canopy
/// darkened, each crown's outline in yellow and each tree centre as a red cross.
public enum PredictionOverlay {
    static let outline: (UInt8, UInt8, UInt8) = (255, 220, 0)
    static let centre: (UInt8, UInt8, UInt8) = (255, 32, 32)

    /// Interleaved RGB bytes, `width * height * 3`. `image` is band-major; its first three bands
    /// are drawn as RGB (a one-band image as grey).
    public static func render(image: TiledPrediction.Image, canopy: [Bool], trees: [InstanceExtraction.Tree]) -> [UInt8] {
        let width = image.width, height = image.height, plane = width * height
        precondition(canopy.count == plane, "canopy mask has \(canopy.count) pixels for a \(width)x\(height) image")
        var owner = [Int32](repeating: -1, count: plane)
        for (index, tree) in trees.enumerated() { for p in tree.pixels { owner[p] = Int32(index) } }
        var out = [UInt8](repeating: 0, count: plane * 3)
        for p in 0..<plane {
            for channel in 0..<3 {
                let band = min(channel, image.bands - 1)
                let value = image.pixels[band * plane + p]
                out[p * 3 + channel] = canopy[p] ? value : UInt8(UInt16(value) * 2 / 5)
            }
        }
        func paint(_ p: Int, _ colour: (UInt8, UInt8, UInt8)) {
            out[p * 3] = colour.0
            out[p * 3 + 1] = colour.1
            out[p * 3 + 2] = colour.2
        }
        for p in 0..<plane where owner[p] >= 0 {
            let x = p % width, y = p / width, own = owner[p]
            let edge = x == 0 || y == 0 || x == width - 1 || y == height - 1
                || owner[p - 1] != own || owner[p + 1] != own || owner[p - width] != own || owner[p + width] != own
            if edge { paint(p, outline) }
        }
        for tree in trees {
            let cx = Int(tree.centreX), cy = Int(tree.centreY)
            for d in -3...3 {
                if (0..<width).contains(cx + d), (0..<height).contains(cy) { paint(cy * width + cx + d, centre) }
                if (0..<width).contains(cx), (0..<height).contains(cy + d) { paint((cy + d) * width + cx, centre) }
            }
        }
        return out
    }
}
