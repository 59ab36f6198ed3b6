import Core

/// Smooth 2-D value noise on a square lattice, and a per-pixel hash: the textures of synthetic
/// tiles (grass patches, leaf clumps, ragged crown edges). Lattice values are drawn once, so a
/// sample costs four loads and a bilinear blend.
struct ValueNoise {
    let cell: Int
    let columns: Int
    let values: [Float]

    init(width: Int, height: Int, cell: Int, seed: UInt64) {
        self.cell = cell
        columns = width / cell + 2
        let rows = height / cell + 2
        var random = SplitMix64(seed: seed)
        values = (0..<columns * rows).map { _ in random.nextUnitFloat() }
    }

    /// A value in [0, 1) that varies smoothly over about `cell` pixels.
    @inline(__always)
    func sample(_ x: Int, _ y: Int) -> Float {
        let cx = x / cell, cy = y / cell
        let fx = Float(x - cx * cell) / Float(cell), fy = Float(y - cy * cell) / Float(cell)
        let sx = fx * fx * (3 - 2 * fx), sy = fy * fy * (3 - 2 * fy)
        let i = cy * columns + cx
        let top = values[i] + (values[i + 1] - values[i]) * sx
        let bottom = values[i + columns] + (values[i + columns + 1] - values[i + columns]) * sx
        return top + (bottom - top) * sy
    }

    /// An independent value in [0, 1) for each pixel and seed.
    @inline(__always)
    static func hash(_ x: Int, _ y: Int, _ seed: UInt64) -> Float {
        var z = seed &+ UInt64(truncatingIfNeeded: x) &* 0x9E37_79B9_7F4A_7C15 &+ UInt64(truncatingIfNeeded: y) &* 0xC2B2_AE3D_27D4_EB4F
        z = (z ^ (z >> 31)) &* 0xBF58_476D_1CE4_E5B9
        z ^= z >> 29
        return Float(z >> 40) * (1.0 / 16_777_216.0)
    }
}
