/// Rows of the right operand of `GEMM.multiplyByTranspose`, copied a block of k at a time.
public protocol RowSource: Sendable {
    /// Copies elements `k0..<k0+depth` of rows `rows..<rows+count` to `target + r * leading`.
    func copyRows(_ rows: Int, count: Int, k0: Int, depth: Int, into target: UnsafeMutablePointer<Float>, leading: Int)
}

extension MatrixView: RowSource {
    public func copyRows(_ rows: Int, count: Int, k0: Int, depth: Int, into target: UnsafeMutablePointer<Float>, leading: Int) {
        for r in 0..<count {
            let row = base + (rows + r) * rowStride + k0 * columnStride, out = target + r * leading
            if columnStride == 1 {
                out.update(from: row, count: depth)
            } else {
                for p in 0..<depth { out[p] = row[p * columnStride] }
            }
        }
    }
}

extension ConvPatches: RowSource {
    /// A patch row over a run of output pixels: contiguous copies of image rows when stride is 1.
    public func copyRows(_ rows: Int, count: Int, k0: Int, depth: Int, into target: UnsafeMutablePointer<Float>, leading: Int) {
        for r in 0..<count { gather(patch: rows + r, pixels: k0, count: depth, into: target + r * leading, step: 1) }
    }
}

extension GEMM {
    /// Rows of A and rows of B in one register tile of the dot-product kernel.
    static let dotRows = 4
    static let dotColumns = 3
    /// Depth of one block of k, and the rows and columns of C one task computes.
    static let dotDepth = 256
    static let dotTileRows = 16
    static let dotTileColumns = 24

    /// Computes `C[i, j] = sum_p A[i, p] * B[j, p]` (or adds it to C when `accumulate`), for
    /// operands that are both contiguous along k, such as a weight gradient `dY * P^T` where k is
    /// every output pixel.
    ///
    /// Each task copies a block of k of its 16 rows of A and 24 rows of B (plain copies, no
    /// transposition), and a `4 x 3` tile of eight-lane dot products runs down the block. Lanes
    /// are summed in a fixed tree and blocks are added to C in increasing k, so every element has
    /// one fixed operation order whatever the thread count.
    public static func multiplyByTranspose<Source: RowSource>(
        m: Int, n: Int, k: Int, a: MatrixView, b: Source,
        c: UnsafeMutablePointer<Float>, ldc: Int, accumulate: Bool, pool: ComputePool = .serial
    ) {
        precondition(m >= 0 && n >= 0 && k >= 0, "GEMM shape \(m)x\(n)x\(k) has a negative dimension")
        precondition(ldc >= n, "GEMM ldc \(ldc) is smaller than n \(n)")
        guard m > 0, n > 0 else { return }
        let rowTiles = (m + dotTileRows - 1) / dotTileRows, columnTiles = (n + dotTileColumns - 1) / dotTileColumns
        let blocks = (k + dotDepth - 1) / dotDepth
        let out = SharedPointer(c)
        pool.forEach(rowTiles * columnTiles) { task in
            let i0 = task / columnTiles * dotTileRows, j0 = task % columnTiles * dotTileColumns
            let rows = min(dotTileRows, m - i0), columns = min(dotTileColumns, n - j0)
            let leading = min(dotDepth, (k + 7) / 8 * 8)
            let packedA = UnsafeMutablePointer<Float>.allocate(capacity: dotTileRows * leading)
            let packedB = UnsafeMutablePointer<Float>.allocate(capacity: dotTileColumns * leading)
            defer { packedA.deallocate(); packedB.deallocate() }
            if !accumulate || k == 0 {
                for i in 0..<rows { (out + ((i0 + i) * ldc + j0)).update(repeating: 0, count: columns) }
            }
            var sums = (SIMD4<Float>(), SIMD4<Float>(), SIMD4<Float>())
            for block in 0..<blocks {
                let k0 = block * dotDepth, depth = min(dotDepth, k - k0), padded = (depth + 7) / 8 * 8
                a.copyRows(i0, count: rows, k0: k0, depth: depth, into: packedA, leading: leading)
                b.copyRows(j0, count: columns, k0: k0, depth: depth, into: packedB, leading: leading)
                // The k-padding of real rows is zero so it adds exact zeros. Rows past the edge are
                // only ever read into sums that are thrown away, but are zeroed once so that no
                // uninitialised memory is read.
                if padded > depth {
                    for r in 0..<rows { (packedA + r * leading + depth).update(repeating: 0, count: padded - depth) }
                    for r in 0..<columns { (packedB + r * leading + depth).update(repeating: 0, count: padded - depth) }
                }
                if block == 0 {
                    (packedA + rows * leading).update(repeating: 0, count: (dotTileRows - rows) * leading)
                    (packedB + columns * leading).update(repeating: 0, count: (dotTileColumns - columns) * leading)
                }
                for ti in stride(from: 0, to: rows, by: dotRows) {
                    for tj in stride(from: 0, to: columns, by: dotColumns) {
                        dotKernel(depth: padded, a: packedA + ti * leading, b: packedB + tj * leading,
                                  leading: leading, sums: &sums)
                        for r in 0..<min(dotRows, rows - ti) {
                            for s in 0..<min(dotColumns, columns - tj) {
                                let value = s == 0 ? sums.0[r] : (s == 1 ? sums.1[r] : sums.2[r])
                                out[(i0 + ti + r) * ldc + j0 + tj + s] += value
                            }
                        }
                    }
                }
            }
        }
    }

    /// Twelve dot products of length `depth` (a multiple of 8): rows `a + r * leading` (r < 4) by
    /// rows `b + s * leading` (s < 3). Result `sums.s[r]`. Each sum keeps eight lanes, then adds
    /// them as ((0+1)+(2+3))+((4+5)+(6+7)).
    @inline(__always)
    static func dotKernel(depth: Int, a: UnsafePointer<Float>, b: UnsafePointer<Float>, leading: Int,
                          sums: inout (SIMD4<Float>, SIMD4<Float>, SIMD4<Float>)) {
        typealias V = SIMD8<Float>
        @inline(__always) func read(_ p: UnsafePointer<Float>) -> V { UnsafeRawPointer(p).loadUnaligned(as: V.self) }
        var c00 = V(), c01 = V(), c02 = V(), c10 = V(), c11 = V(), c12 = V()
        var c20 = V(), c21 = V(), c22 = V(), c30 = V(), c31 = V(), c32 = V()
        let a0 = a, a1 = a + leading, a2 = a + 2 * leading, a3 = a + 3 * leading
        let b0 = b, b1 = b + leading, b2 = b + 2 * leading
        var p = 0
        while p < depth {
            let x0 = read(b0 + p), x1 = read(b1 + p), x2 = read(b2 + p)
            var y = read(a0 + p)
            c00 = c00.addingProduct(y, x0); c01 = c01.addingProduct(y, x1); c02 = c02.addingProduct(y, x2)
            y = read(a1 + p)
            c10 = c10.addingProduct(y, x0); c11 = c11.addingProduct(y, x1); c12 = c12.addingProduct(y, x2)
            y = read(a2 + p)
            c20 = c20.addingProduct(y, x0); c21 = c21.addingProduct(y, x1); c22 = c22.addingProduct(y, x2)
            y = read(a3 + p)
            c30 = c30.addingProduct(y, x0); c31 = c31.addingProduct(y, x1); c32 = c32.addingProduct(y, x2)
            p += 8
        }
        @inline(__always) func total(_ v: V) -> Float {
            ((v[0] + v[1]) + (v[2] + v[3])) + ((v[4] + v[5]) + (v[6] + v[7]))
        }
        sums.0 = SIMD4(total(c00), total(c10), total(c20), total(c30))
        sums.1 = SIMD4(total(c01), total(c11), total(c21), total(c31))
        sums.2 = SIMD4(total(c02), total(c12), total(c22), total(c32))
    }
}
