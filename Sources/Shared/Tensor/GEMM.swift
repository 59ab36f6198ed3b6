/// A read-only matrix given by a base pointer and two strides, so that a transposed operand is the
/// same memory with its strides swapped.
public struct MatrixView: @unchecked Sendable {
    public let base: UnsafePointer<Float>
    public let rowStride: Int
    public let columnStride: Int

    /// A row-major matrix with `leading` floats between rows.
    public init(_ base: UnsafePointer<Float>, rowMajorLeading leading: Int) {
        self.init(base, rowStride: leading, columnStride: 1)
    }

    public init(_ base: UnsafePointer<Float>, rowStride: Int, columnStride: Int) {
        self.base = base
        self.rowStride = rowStride
        self.columnStride = columnStride
    }

    /// The same elements read as the transpose.
    public var transposed: MatrixView { MatrixView(base, rowStride: columnStride, columnStride: rowStride) }

    @inline(__always) func element(_ row: Int, _ column: Int) -> Float {
        base[row * rowStride + column * columnStride]
    }
}

/// The right-hand operand of a GEMM, packed panel by panel inside each task so that a packed
/// panel is still in cache when the micro-kernel reads it. A plain matrix is one source; a
/// convolution's patch matrix is another, packed straight from the image (no im2col buffer).
public protocol PanelSource: Sendable {
    /// Writes rows `k0..<k0+depth` and columns `columns..<columns+count` (count <= `GEMM.nr`) as
    /// `depth` rows of `GEMM.nr` floats; columns past `count` must be zero.
    func pack(columns: Int, count: Int, k0: Int, depth: Int, into panel: UnsafeMutablePointer<Float>)
}

extension MatrixView: PanelSource {
    /// Reads along whichever stride of the matrix is contiguous.
    public func pack(columns: Int, count: Int, k0: Int, depth: Int, into panel: UnsafeMutablePointer<Float>) {
        let nr = GEMM.nr
        if count < nr { panel.update(repeating: 0, count: nr * depth) }
        if columnStride == 1 {
            for p in 0..<depth {
                (panel + p * nr).update(from: base + (k0 + p) * rowStride + columns, count: count)
            }
        } else {
            for j in 0..<count {
                let column = base + (columns + j) * columnStride + k0 * rowStride
                for p in 0..<depth { panel[p * nr + j] = column[p * rowStride] }
            }
        }
    }
}

/// Single-precision matrix multiply `C (+)= A * B`, cache-blocked, with an AVX2/FMA micro-kernel.
///
/// A is packed once into strips of `mr` rows, B into strips of `nr` columns, `kc` deep — inside
/// the task that uses them when C has one row tile, up front otherwise — and `mr x nr` register
/// tiles are accumulated with fused multiply-adds. Each output
/// element is the sum over k in increasing order, in blocks of `kc`, with one fixed instruction
/// sequence; threads only share out tiles of C. The result therefore has the same bits for every
/// thread count, and is independent of how the caller's memory is aligned.
public enum GEMM {
    /// Rows of the register tile.
    public static let mr = 4
    /// Columns of the register tile (three 8-lane vectors).
    public static let nr = 24
    /// Depth of one packed block: an `nr x kc` panel of B (24 KiB) stays in L1.
    public static let kc = 256
    /// Rows and columns of C one task computes: the task's B panels (96 KiB) stay in L2.
    static let tileRows = 64
    static let tileColumns = 4 * 24

    /// Computes `C[i, j] = sum_p A[i, p] * B[p, j]` (or adds it to C when `accumulate`).
    ///
    /// - Parameters:
    ///   - m: rows of A and C; `n`: columns of B and C; `k`: columns of A and rows of B.
    ///   - c: row-major output with `ldc` floats between rows; it must not overlap A or B.
    ///   - accumulate: add to the existing C instead of overwriting it.
    ///   - pool: threads that share out the output tiles; the result does not depend on it.
    public static func multiply(
        m: Int, n: Int, k: Int, a: MatrixView, b: MatrixView,
        c: UnsafeMutablePointer<Float>, ldc: Int, accumulate: Bool, pool: ComputePool = .serial
    ) {
        multiply(m: m, n: n, k: k, a: a, source: b, c: c, ldc: ldc, accumulate: accumulate, pool: pool)
    }

    /// `multiply` with any packable right-hand side (for example a convolution's patches).
    public static func multiply<Source: PanelSource>(
        m: Int, n: Int, k: Int, a: MatrixView, source b: Source,
        c: UnsafeMutablePointer<Float>, ldc: Int, accumulate: Bool, pool: ComputePool = .serial
    ) {
        precondition(m >= 0 && n >= 0 && k >= 0, "GEMM shape \(m)x\(n)x\(k) has a negative dimension")
        precondition(ldc >= n, "GEMM ldc \(ldc) is smaller than n \(n)")
        guard m > 0, n > 0 else { return }
        guard k > 0 else {
            if !accumulate { for i in 0..<m { (c + i * ldc).update(repeating: 0, count: n) } }
            return
        }
        let mPanels = (m + mr - 1) / mr, nPanels = (n + nr - 1) / nr
        let packedA = UnsafeMutablePointer<Float>.allocate(capacity: mPanels * mr * k)
        defer { packedA.deallocate() }
        let blocks = (k + kc - 1) / kc
        let sharedA = SharedPointer(packedA), out = SharedPointer(c)

        pool.forEach(blocks * mPanels) { task in
            let block = task / mPanels, panel = task % mPanels
            let k0 = block * kc, depth = min(kc, k - k0)
            packA(a, rows: panel * mr, count: min(mr, m - panel * mr), k0: k0, depth: depth,
                  into: sharedA + (k0 * mPanels * mr + panel * mr * depth))
        }

        let rowTiles = (m + tileRows - 1) / tileRows, columnTiles = (n + tileColumns - 1) / tileColumns
        // With one row tile each B panel is used by one task: it is packed there, while hot. With
        // several, every row tile would pack it again, so all of B is packed once up front.
        let sharedB: SharedPointer<Float>? = rowTiles > 1 ? SharedPointer(UnsafeMutablePointer<Float>.allocate(capacity: nPanels * nr * k)) : nil
        defer { sharedB?.base.deallocate() }
        if let sharedB {
            pool.forEach(blocks * nPanels) { task in
                let block = task / nPanels, panel = task % nPanels
                let k0 = block * kc, depth = min(kc, k - k0)
                b.pack(columns: panel * nr, count: min(nr, n - panel * nr), k0: k0, depth: depth,
                       into: sharedB + (k0 * nPanels * nr + panel * nr * depth))
            }
        }
        pool.forEach(rowTiles * columnTiles) { task in
            let rowTile = task / columnTiles, columnTile = task % columnTiles
            let firstM = rowTile * (tileRows / mr), lastM = min(mPanels, firstM + tileRows / mr)
            let firstN = columnTile * (tileColumns / nr), lastN = min(nPanels, firstN + tileColumns / nr)
            let packedB = sharedB == nil ? UnsafeMutablePointer<Float>.allocate(capacity: (lastN - firstN) * nr * min(k, kc)) : nil
            defer { packedB?.deallocate() }
            for block in 0..<blocks {
                let k0 = block * kc, depth = min(kc, k - k0)
                let load = accumulate || block > 0
                for jp in firstN..<lastN {
                    let bPanel: UnsafeMutablePointer<Float>
                    let columns = min(nr, n - jp * nr)
                    if let packedB {
                        bPanel = packedB + (jp - firstN) * nr * depth
                        b.pack(columns: jp * nr, count: columns, k0: k0, depth: depth, into: bPanel)
                    } else {
                        bPanel = sharedB! + (k0 * nPanels * nr + jp * nr * depth)
                    }
                    for ip in firstM..<lastM {
                        let aPanel = UnsafePointer(sharedA + (k0 * mPanels * mr + ip * mr * depth))
                        let rows = min(mr, m - ip * mr)
                        let target = out + (ip * mr * ldc + jp * nr)
                        if rows == mr && columns == nr {
                            kernel(depth: depth, a: aPanel, b: bPanel, c: target, ldc: ldc, load: load)
                        } else {
                            edgeKernel(depth: depth, a: aPanel, b: bPanel, c: target, ldc: ldc,
                                       rows: rows, columns: columns, load: load)
                        }
                    }
                }
            }
        }
    }

    /// Copies rows `rows..<rows+count` of A, columns `k0..<k0+depth`, as `depth` groups of `mr`
    /// values; missing rows are zero so the kernel never branches.
    static func packA(_ a: MatrixView, rows: Int, count: Int, k0: Int, depth: Int, into panel: UnsafeMutablePointer<Float>) {
        if count < mr { panel.update(repeating: 0, count: mr * depth) }
        for r in 0..<count {
            let row = a.base + (rows + r) * a.rowStride + k0 * a.columnStride
            for p in 0..<depth { panel[p * mr + r] = row[p * a.columnStride] }
        }
    }

    /// A partial register tile: computed in a full-size scratch tile, then copied back.
    static func edgeKernel(
        depth: Int, a: UnsafePointer<Float>, b: UnsafePointer<Float>, c: UnsafeMutablePointer<Float>,
        ldc: Int, rows: Int, columns: Int, load: Bool
    ) {
        withUnsafeTemporaryAllocation(of: Float.self, capacity: mr * nr) { scratch in
            let tile = scratch.baseAddress!
            tile.initialize(repeating: 0, count: mr * nr)
            if load {
                for r in 0..<rows { (tile + r * nr).update(from: c + r * ldc, count: columns) }
            }
            kernel(depth: depth, a: a, b: b, c: tile, ldc: nr, load: load)
            for r in 0..<rows { (c + r * ldc).update(from: tile + r * nr, count: columns) }
        }
    }
}
