/// A direct 3x3, stride-1, padding-1 convolution: no patch matrix.
///
/// The input is copied once into zero-bordered planes (`(H + 2) x (W + 2)`); then each register
/// tile — 4 output channels by 24 (or 16, or 8) output pixels of one row, up to twelve 8-lane accumulators — runs over
/// the input channels and the nine taps, loading the image in place and broadcasting packed
/// weights. Every output is one chain of fused multiply-adds in the order (channel, ky, kx), from
/// zero: the order in which the GEMM over the patch matrix sums the same products, so the two
/// algorithms give the same bits.
///
/// The same kernel gives a convolution's input gradient: for stride 1 and padding 1 it is the
/// convolution of the output gradient with the weights transposed (`in <-> out`) and flipped
/// (`ky, kx -> 2 - ky, 2 - kx`).
///
/// Tasks are (sample, block of 4 output channels, band of `bandRows` rows): every output is
/// computed in one task, and the split is fixed, so the bits do not depend on the thread count.
enum DirectConv3x3 {
    /// Output channels of one register tile.
    static let outputBlock = 4
    /// Output rows of one task.
    static let bandRows = 8

    /// Packs weights for the kernel: block b, input channel c, tap t, lane j at
    /// `((b * inputs + c) * 9 + t) * 4 + j`, with `weight(b * 4 + j, c, t)`; lanes past `outputs` are 0.
    static func packWeights(outputs: Int, inputs: Int, _ weight: (_ output: Int, _ input: Int, _ tap: Int) -> Float) -> [Float] {
        let blocks = (outputs + outputBlock - 1) / outputBlock
        var packed = [Float](repeating: 0, count: blocks * inputs * 9 * outputBlock)
        for b in 0..<blocks {
            for c in 0..<inputs {
                for t in 0..<9 {
                    for j in 0..<outputBlock where b * outputBlock + j < outputs {
                        packed[((b * inputs + c) * 9 + t) * outputBlock + j] = weight(b * outputBlock + j, c, t)
                    }
                }
            }
        }
        return packed
    }

    /// `output[n, o] = sum_c sum_taps weight(o, c, tap) * input[n, c]` (padding 1), written (not
    /// added) to `output`, `batch x outputs x height x width`.
    static func convolve(
        input: UnsafePointer<Float>, batch: Int, inputs: Int, height: Int, width: Int,
        packedWeights: UnsafePointer<Float>, outputs: Int, into output: UnsafeMutablePointer<Float>, pool: ComputePool
    ) {
        guard batch > 0, outputs > 0, height > 0, width > 0 else { return }
        let pw = width + 2, padPlane = (height + 2) * pw, plane = height * width
        // Eight spare floats at the end: the last partial vector of the last row may read past it.
        let paddedCount = batch * inputs * padPlane + 8
        let padded = UnsafeMutablePointer<Float>.allocate(capacity: paddedCount)
        defer { padded.deallocate() }
        let source = SharedPointer(input), target = SharedPointer(padded)
        (padded + batch * inputs * padPlane).initialize(repeating: 0, count: 8)
        pool.forEach(batch * inputs) { p in
            let to = target + p * padPlane, from = source + p * plane
            to.initialize(repeating: 0, count: pw)
            for y in 0..<height {
                let row = to + (y + 1) * pw
                row[0] = 0
                (row + 1).initialize(from: from + y * width, count: width)
                row[width + 1] = 0
            }
            (to + (height + 1) * pw).initialize(repeating: 0, count: pw)
        }
        let blocks = (outputs + outputBlock - 1) / outputBlock
        let bands = (height + bandRows - 1) / bandRows
        let out = SharedPointer(output), weights = SharedPointer(packedWeights)
        let chunk = inputs * padPlane
        pool.forEach(batch * blocks * bands) { task in
            let n = task / (blocks * bands), b = task / bands % blocks, band = task % bands
            let first = band * bandRows, last = min(height, first + bandRows)
            let w = UnsafePointer(weights + b * inputs * 9 * outputBlock)
            let sampleIn = UnsafePointer(target + n * chunk)
            let o0 = b * outputBlock, live = min(outputBlock, outputs - o0)
            withUnsafeTemporaryAllocation(of: Float.self, capacity: outputBlock * 8) { scratch in
                let scratch = scratch.baseAddress!
                for y in first..<last {
                    let row = out + ((n * outputs + o0) * plane + y * width)
                    let inRow = sampleIn + y * pw
                    var x = 0
                    // A partial block (fewer than 4 live channels) goes through the scratch tile only.
                    if live == outputBlock {
                        // 24-pixel tiles, but a last 8 pixels are taken with the tile before as two
                        // 16-pixel tiles (8 accumulators hide the FMA latency; 4 would not).
                        var wide = width / 24
                        if wide > 0 && (width - 24 * wide) % 16 == 8 { wide -= 1 }
                        for _ in 0..<wide {
                            tile24(inputs: inputs, input: inRow + x, channelStride: padPlane, rowStride: pw, weights: w,
                                   c0: row + x, c1: row + (plane + x), c2: row + (2 * plane + x), c3: row + (3 * plane + x))
                            x += 24
                        }
                        while x + 16 <= width {
                            tile16(inputs: inputs, input: inRow + x, channelStride: padPlane, rowStride: pw, weights: w,
                                   c0: row + x, c1: row + (plane + x), c2: row + (2 * plane + x), c3: row + (3 * plane + x))
                            x += 16
                        }
                    }
                    while x < width {
                        // Eight pixels (or the last few of the row), through the scratch tile.
                        let count = min(8, width - x)
                        tile8(inputs: inputs, input: inRow + x, channelStride: padPlane, rowStride: pw, weights: w, into: scratch)
                        for j in 0..<live { (row + (j * plane + x)).update(from: scratch + j * 8, count: count) }
                        x += count
                    }
                }
            }
        }
    }

    /// Four output rows by 24 pixels. Each accumulator lane is one output: a chain of fused
    /// multiply-adds over (channel, ky, kx) from zero.
    @inline(__always)
    static func tile24(
        inputs: Int, input: UnsafePointer<Float>, channelStride: Int, rowStride: Int, weights: UnsafePointer<Float>,
        c0: UnsafeMutablePointer<Float>, c1: UnsafeMutablePointer<Float>, c2: UnsafeMutablePointer<Float>,
        c3: UnsafeMutablePointer<Float>
    ) {
        typealias V = SIMD8<Float>
        @inline(__always) func read(_ p: UnsafePointer<Float>) -> V { UnsafeRawPointer(p).loadUnaligned(as: V.self) }
        @inline(__always) func write(_ v: V, _ p: UnsafeMutablePointer<Float>) { UnsafeMutableRawPointer(p).storeBytes(of: v, as: V.self) }
        var a00 = V(), a01 = V(), a02 = V()
        var a10 = V(), a11 = V(), a12 = V()
        var a20 = V(), a21 = V(), a22 = V()
        var a30 = V(), a31 = V(), a32 = V()
        var pw = weights, channel = input
        for _ in 0..<inputs {
            var row = channel
            for _ in 0..<3 {
                for kx in 0..<3 {
                    let b0 = read(row + kx), b1 = read(row + kx + 8), b2 = read(row + kx + 16)
                    var s = V(repeating: pw[0])
                    a00 = a00.addingProduct(s, b0); a01 = a01.addingProduct(s, b1); a02 = a02.addingProduct(s, b2)
                    s = V(repeating: pw[1])
                    a10 = a10.addingProduct(s, b0); a11 = a11.addingProduct(s, b1); a12 = a12.addingProduct(s, b2)
                    s = V(repeating: pw[2])
                    a20 = a20.addingProduct(s, b0); a21 = a21.addingProduct(s, b1); a22 = a22.addingProduct(s, b2)
                    s = V(repeating: pw[3])
                    a30 = a30.addingProduct(s, b0); a31 = a31.addingProduct(s, b1); a32 = a32.addingProduct(s, b2)
                    pw += 4
                }
                row += rowStride
            }
            channel += channelStride
        }
        write(a00, c0); write(a01, c0 + 8); write(a02, c0 + 16)
        write(a10, c1); write(a11, c1 + 8); write(a12, c1 + 16)
        write(a20, c2); write(a21, c2 + 8); write(a22, c2 + 16)
        write(a30, c3); write(a31, c3 + 8); write(a32, c3 + 16)
    }

    /// Four output rows by 16 pixels, in the same order as `tile24`.
    @inline(__always)
    static func tile16(
        inputs: Int, input: UnsafePointer<Float>, channelStride: Int, rowStride: Int, weights: UnsafePointer<Float>,
        c0: UnsafeMutablePointer<Float>, c1: UnsafeMutablePointer<Float>, c2: UnsafeMutablePointer<Float>,
        c3: UnsafeMutablePointer<Float>
    ) {
        typealias V = SIMD8<Float>
        @inline(__always) func read(_ p: UnsafePointer<Float>) -> V { UnsafeRawPointer(p).loadUnaligned(as: V.self) }
        @inline(__always) func write(_ v: V, _ p: UnsafeMutablePointer<Float>) { UnsafeMutableRawPointer(p).storeBytes(of: v, as: V.self) }
        var a00 = V(), a01 = V(), a10 = V(), a11 = V(), a20 = V(), a21 = V(), a30 = V(), a31 = V()
        var pw = weights, channel = input
        for _ in 0..<inputs {
            var row = channel
            for _ in 0..<3 {
                for kx in 0..<3 {
                    let b0 = read(row + kx), b1 = read(row + kx + 8)
                    var s = V(repeating: pw[0])
                    a00 = a00.addingProduct(s, b0); a01 = a01.addingProduct(s, b1)
                    s = V(repeating: pw[1])
                    a10 = a10.addingProduct(s, b0); a11 = a11.addingProduct(s, b1)
                    s = V(repeating: pw[2])
                    a20 = a20.addingProduct(s, b0); a21 = a21.addingProduct(s, b1)
                    s = V(repeating: pw[3])
                    a30 = a30.addingProduct(s, b0); a31 = a31.addingProduct(s, b1)
                    pw += 4
                }
                row += rowStride
            }
            channel += channelStride
        }
        write(a00, c0); write(a01, c0 + 8)
        write(a10, c1); write(a11, c1 + 8)
        write(a20, c2); write(a21, c2 + 8)
        write(a30, c3); write(a31, c3 + 8)
    }

    /// Four output rows by 8 pixels into `target` (`4 x 8`), in the same order as `tile24`.
    @inline(__always)
    static func tile8(
        inputs: Int, input: UnsafePointer<Float>, channelStride: Int, rowStride: Int, weights: UnsafePointer<Float>,
        into target: UnsafeMutablePointer<Float>
    ) {
        typealias V = SIMD8<Float>
        @inline(__always) func read(_ p: UnsafePointer<Float>) -> V { UnsafeRawPointer(p).loadUnaligned(as: V.self) }
        @inline(__always) func write(_ v: V, _ p: UnsafeMutablePointer<Float>) { UnsafeMutableRawPointer(p).storeBytes(of: v, as: V.self) }
        var a0 = V(), a1 = V(), a2 = V(), a3 = V()
        var pw = weights, channel = input
        for _ in 0..<inputs {
            var row = channel
            for _ in 0..<3 {
                for kx in 0..<3 {
                    let b = read(row + kx)
                    a0 = a0.addingProduct(V(repeating: pw[0]), b)
                    a1 = a1.addingProduct(V(repeating: pw[1]), b)
                    a2 = a2.addingProduct(V(repeating: pw[2]), b)
                    a3 = a3.addingProduct(V(repeating: pw[3]), b)
                    pw += 4
                }
                row += rowStride
            }
            channel += channelStride
        }
        write(a0, target); write(a1, target + 8); write(a2, target + 16); write(a3, target + 24)
    }
}

extension DirectConv3x3 {
    /// `dW[o, c, ky, kx] += sum_(y, x) dY[n, o, y, x] * X[n, c, y + ky - 1, x + kx - 1]` for each
    /// sample n in order, without a patch matrix.
    ///
    /// A task is (input channel c, block of 4 output channels); per sample and kernel row ky it
    /// keeps twelve 8-lane sums (4 outputs x 3 kernel columns) over every pixel in raster order,
    /// reading the zero-bordered input at three shifts and the output gradient in place, then adds
    /// the lanes as ((0+1)+(2+3))+((4+5)+(6+7)) to the weight gradient. Rows are zero-extended to
    /// a multiple of 8 pixels, so tails add exact zeros. The order never depends on the threads.
    static func accumulateWeightGradient(
        input: UnsafePointer<Float>, outputGradient: UnsafePointer<Float>, batch: Int, inputs: Int, outputs: Int,
        height: Int, width: Int, into weightGradient: UnsafeMutablePointer<Float>, pool: ComputePool
    ) {
        guard batch > 0, inputs > 0, outputs > 0, height > 0, width > 0 else { return }
        let rowLength = (width + 7) / 8 * 8
        let pw = rowLength + 2, padPlane = (height + 2) * pw, plane = height * width
        let padded = UnsafeMutablePointer<Float>.allocate(capacity: batch * inputs * padPlane)
        defer { padded.deallocate() }
        let source = SharedPointer(input), target = SharedPointer(padded)
        pool.forEach(batch * inputs) { p in
            let to = target + p * padPlane, from = source + p * plane
            to.initialize(repeating: 0, count: pw)
            for y in 0..<height {
                let row = to + (y + 1) * pw
                row[0] = 0
                (row + 1).initialize(from: from + y * width, count: width)
                (row + width + 1).initialize(repeating: 0, count: pw - width - 1)
            }
            (to + (height + 1) * pw).initialize(repeating: 0, count: pw)
        }
        // The output gradient is read in place when its rows are whole vectors, else zero-extended.
        let extended: UnsafeMutablePointer<Float>? = rowLength == width ? nil
            : UnsafeMutablePointer<Float>.allocate(capacity: batch * outputs * height * rowLength)
        defer { extended?.deallocate() }
        if let extended {
            for r in 0..<(batch * outputs * height) {
                (extended + r * rowLength).initialize(from: outputGradient + r * width, count: width)
                (extended + r * rowLength + width).initialize(repeating: 0, count: rowLength - width)
            }
        }
        let gradient = SharedPointer(extended.map { UnsafePointer($0) } ?? outputGradient)
        let zeros = UnsafeMutablePointer<Float>.allocate(capacity: rowLength)
        zeros.initialize(repeating: 0, count: rowLength)
        defer { zeros.deallocate() }
        let zeroRow = SharedPointer(zeros), out = SharedPointer(weightGradient)
        let blocks = (outputs + outputBlock - 1) / outputBlock
        pool.forEach(inputs * blocks) { task in
            let c = task / blocks, o0 = task % blocks * outputBlock, live = min(outputBlock, outputs - o0)
            withUnsafeTemporaryAllocation(of: Float.self, capacity: 12) { sums in
            let sums = sums.baseAddress!
            for n in 0..<batch {
                let planeIn = UnsafePointer(target + (n * inputs + c) * padPlane)
                // Missing channels of a partial block read a zero row and their sums are dropped.
                let g0 = UnsafePointer(gradient + (n * outputs + o0) * height * rowLength)
                let step = height * rowLength
                let g1 = live > 1 ? g0 + step : UnsafePointer(zeroRow.base)
                let g2 = live > 2 ? g0 + 2 * step : UnsafePointer(zeroRow.base)
                let g3 = live > 3 ? g0 + 3 * step : UnsafePointer(zeroRow.base)
                let rowSteps = (live > 1 ? rowLength : 0, live > 2 ? rowLength : 0, live > 3 ? rowLength : 0)
                for ky in 0..<3 {
                    tapSums(height: height, rowLength: rowLength, input: planeIn + ky * pw, inputRowStride: pw,
                            g0: g0, g1: g1, g2: g2, g3: g3, rowSteps: rowSteps, into: sums)
                    for j in 0..<live {
                        for kx in 0..<3 {
                            out[((o0 + j) * inputs + c) * 9 + ky * 3 + kx] += sums[j * 3 + kx]
                        }
                    }
                }
            }
            }
        }
    }

    /// The twelve sums of one kernel row: `sums[j * 3 + kx] = sum dY_j[y, x] * input[y, x + kx]`.
    @inline(__always)
    static func tapSums(
        height: Int, rowLength: Int, input: UnsafePointer<Float>, inputRowStride: Int,
        g0: UnsafePointer<Float>, g1: UnsafePointer<Float>, g2: UnsafePointer<Float>, g3: UnsafePointer<Float>,
        rowSteps: (Int, Int, Int), into sums: UnsafeMutablePointer<Float>
    ) {
        typealias V = SIMD8<Float>
        @inline(__always) func read(_ p: UnsafePointer<Float>) -> V { UnsafeRawPointer(p).loadUnaligned(as: V.self) }
        var a00 = V(), a01 = V(), a02 = V()
        var a10 = V(), a11 = V(), a12 = V()
        var a20 = V(), a21 = V(), a22 = V()
        var a30 = V(), a31 = V(), a32 = V()
        var row = input, r0 = g0, r1 = g1, r2 = g2, r3 = g3
        for _ in 0..<height {
            var x = 0
            while x < rowLength {
                let v0 = read(row + x), v1 = read(row + x + 1), v2 = read(row + x + 2)
                var d = read(r0 + x)
                a00 = a00.addingProduct(d, v0); a01 = a01.addingProduct(d, v1); a02 = a02.addingProduct(d, v2)
                d = read(r1 + x)
                a10 = a10.addingProduct(d, v0); a11 = a11.addingProduct(d, v1); a12 = a12.addingProduct(d, v2)
                d = read(r2 + x)
                a20 = a20.addingProduct(d, v0); a21 = a21.addingProduct(d, v1); a22 = a22.addingProduct(d, v2)
                d = read(r3 + x)
                a30 = a30.addingProduct(d, v0); a31 = a31.addingProduct(d, v1); a32 = a32.addingProduct(d, v2)
                x += 8
            }
            row += inputRowStride
            r0 += rowLength; r1 += rowSteps.0; r2 += rowSteps.1; r3 += rowSteps.2
        }
        @inline(__always) func total(_ v: V) -> Float {
            ((v[0] + v[1]) + (v[2] + v[3])) + ((v[4] + v[5]) + (v[6] + v[7]))
        }
        sums[0] = total(a00); sums[1] = total(a01); sums[2] = total(a02)
        sums[3] = total(a10); sums[4] = total(a11); sums[5] = total(a12)
        sums[6] = total(a20); sums[7] = total(a21); sums[8] = total(a22)
        sums[9] = total(a30); sums[10] = total(a31); sums[11] = total(a32)
    }
}
