/// A direct 3x3, stride-1, padding-1 convolution: no patch matrix.
///
/// The input is copied once into zero-bordered planes (`(H + 2) x (W + 2)`); then each register
/// tile (4 output channels by 24, 16 or 8 output pixels of one row: up to twelve 8-lane
/// accumulators) runs over the input channels and the nine taps, loading the image in place and
/// broadcasting packed weights. Every output is one chain of fused multiply-adds in the order (channel, ky, kx), from
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
    /// The output gradient is first transposed to pixel-major rows of 8 output channels (zero
    /// beyond the last channel). A task is (input channel c, group of 8 output channels): per sample
    /// it keeps nine 8-lane sums, one per tap, each lane an output channel, and runs over the pixels
    /// in raster order, broadcasting the tap's input value (read from a zero-bordered copy) against
    /// the 8 gradients of the pixel. The sums are then added to the weight gradient. Every element
    /// is one fixed chain of fused multiply-adds, whatever the thread count.
    static func accumulateWeightGradient(
        input: UnsafePointer<Float>, outputGradient: UnsafePointer<Float>, batch: Int, inputs: Int, outputs: Int,
        height: Int, width: Int, into weightGradient: UnsafeMutablePointer<Float>, pool: ComputePool
    ) {
        guard batch > 0, inputs > 0, outputs > 0, height > 0, width > 0 else { return }
        let pw = width + 2, padPlane = (height + 2) * pw, plane = height * width
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
                row[width + 1] = 0
            }
            (to + (height + 1) * pw).initialize(repeating: 0, count: pw)
        }
        let groups = (outputs + 7) / 8, lanes = groups * 8
        let transposed = UnsafeMutablePointer<Float>.allocate(capacity: batch * plane * lanes)
        defer { transposed.deallocate() }
        let gradient = SharedPointer(outputGradient), pixels = SharedPointer(transposed)
        pool.forEach(batch * groups) { task in
            let n = task / groups, g = task % groups
            let to = pixels + (n * plane * lanes + g * 8), live = min(8, outputs - g * 8)
            let from = UnsafePointer(gradient + (n * outputs + g * 8) * plane)
            if live == 8 {
                // Pixel by pixel: eight streams in, one contiguous 8-float row out.
                let f0 = from, f1 = from + plane, f2 = from + 2 * plane, f3 = from + 3 * plane
                let f4 = from + 4 * plane, f5 = from + 5 * plane, f6 = from + 6 * plane, f7 = from + 7 * plane
                var row = to
                for p in 0..<plane {
                    UnsafeMutableRawPointer(row).storeBytes(
                        of: SIMD8<Float>(f0[p], f1[p], f2[p], f3[p], f4[p], f5[p], f6[p], f7[p]), as: SIMD8<Float>.self)
                    row += lanes
                }
            } else {
                for j in 0..<8 {
                    if j < live {
                        for p in 0..<plane { to[p * lanes + j] = from[j * plane + p] }
                    } else {
                        for p in 0..<plane { to[p * lanes + j] = 0 }
                    }
                }
            }
        }
        let out = SharedPointer(weightGradient)
        pool.forEach(inputs * groups) { task in
            let c = task / groups, g = task % groups
            withUnsafeTemporaryAllocation(of: Float.self, capacity: 72) { sums in
                let sums = sums.baseAddress!
                for n in 0..<batch {
                    tapSums(height: height, width: width, input: UnsafePointer(target + (n * inputs + c) * padPlane),
                            inputRowStride: pw, gradient: UnsafePointer(pixels + (n * plane * lanes + g * 8)), lanes: lanes,
                            into: sums)
                    for j in 0..<min(8, outputs - g * 8) {
                        for t in 0..<9 { out[((g * 8 + j) * inputs + c) * 9 + t] += sums[t * 8 + j] }
                    }
                }
            }
        }
    }

    /// The nine tap sums of one input channel and 8 output channels over one sample:
    /// `sums[t * 8 + j] = sum_(y, x) dY_j[y, x] * input[y + ky, x + kx]`, `t = ky * 3 + kx`, with
    /// `input` the zero-bordered plane and `gradient` the pixel-major gradient (`lanes` apart).
    @inline(__always)
    static func tapSums(
        height: Int, width: Int, input: UnsafePointer<Float>, inputRowStride: Int,
        gradient: UnsafePointer<Float>, lanes: Int, into sums: UnsafeMutablePointer<Float>
    ) {
        typealias V = SIMD8<Float>
        @inline(__always) func read(_ p: UnsafePointer<Float>) -> V { UnsafeRawPointer(p).loadUnaligned(as: V.self) }
        @inline(__always) func write(_ v: V, _ p: UnsafeMutablePointer<Float>) { UnsafeMutableRawPointer(p).storeBytes(of: v, as: V.self) }
        var a0 = V(), a1 = V(), a2 = V(), a3 = V(), a4 = V(), a5 = V(), a6 = V(), a7 = V(), a8 = V()
        var r0 = input, d = gradient
        for _ in 0..<height {
            let r1 = r0 + inputRowStride, r2 = r1 + inputRowStride
            for x in 0..<width {
                let g = read(d)
                a0 = a0.addingProduct(V(repeating: r0[x]), g)
                a1 = a1.addingProduct(V(repeating: r0[x + 1]), g)
                a2 = a2.addingProduct(V(repeating: r0[x + 2]), g)
                a3 = a3.addingProduct(V(repeating: r1[x]), g)
                a4 = a4.addingProduct(V(repeating: r1[x + 1]), g)
                a5 = a5.addingProduct(V(repeating: r1[x + 2]), g)
                a6 = a6.addingProduct(V(repeating: r2[x]), g)
                a7 = a7.addingProduct(V(repeating: r2[x + 1]), g)
                a8 = a8.addingProduct(V(repeating: r2[x + 2]), g)
                d += lanes
            }
            r0 = r1
        }
        write(a0, sums); write(a1, sums + 8); write(a2, sums + 16)
        write(a3, sums + 24); write(a4, sums + 32); write(a5, sums + 40)
        write(a6, sums + 48); write(a7, sums + 56); write(a8, sums + 64)
    }
}
