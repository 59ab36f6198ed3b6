/// The patch matrix of a convolution over one sample, packed into GEMM panels straight from the
/// image, so no im2col matrix is ever written.
///
/// Row `r = (c * k + ky) * k + kx` (a kernel tap of an input channel), column `q = oy * W' + ox`
/// (an output pixel): the input value that tap sees at that pixel, zero in the padding. With
/// The weight gradient `dY * P^T` reads the same rows through `RowSource`.
public struct ConvPatches: PanelSource, @unchecked Sendable {
    let conv: Conv2D
    let input: UnsafePointer<Float>
    let height: Int, width: Int
    let outHeight: Int, outWidth: Int

    /// - Parameter input: one sample, `inChannels x height x width`; it must outlive the GEMM.
    public init(_ conv: Conv2D, input: UnsafePointer<Float>, height: Int, width: Int) {
        let out = conv.outputShape(TensorShape(1, conv.inChannels, height, width))
        self.conv = conv
        self.input = input
        self.height = height
        self.width = width
        self.outHeight = out.height
        self.outWidth = out.width
    }

    /// Panel row p is patch row k0 + p; panel columns are output pixels `columns..<columns+count`.
    public func pack(columns: Int, count: Int, k0: Int, depth: Int, into panel: UnsafeMutablePointer<Float>) {
        for p in 0..<depth {
            let row = panel + p * GEMM.nr
            gather(patch: k0 + p, pixels: columns, count: count, into: row, step: 1)
            if count < GEMM.nr { (row + count).update(repeating: 0, count: GEMM.nr - count) }
        }
    }

    /// Writes the values of one patch row at output pixels `pixels..<pixels+count` to
    /// `target[0], target[step], ...`, one output row segment at a time.
    @inline(__always)
    func gather(patch: Int, pixels: Int, count: Int, into target: UnsafeMutablePointer<Float>, step: Int) {
        let k = conv.kernel, s = conv.stride, pad = conv.padding
        let channel = patch / (k * k), tap = patch % (k * k), ky = tap / k, kx = tap % k
        let plane = input + channel * height * width
        let valid = Im2Col.validRange(conv, kx: kx, width: width, outWidth: outWidth)
        var q = pixels, written = 0
        while written < count {
            let oy = q / outWidth, ox = q % outWidth
            let run = min(count - written, outWidth - ox)
            let out = target + written * step
            let iy = oy * s - pad + ky
            if iy < 0 || iy >= height || valid.isEmpty {
                for i in 0..<run { out[i * step] = 0 }
            } else {
                let line = plane + iy * width - pad + kx
                let lo = min(max(valid.lowerBound, ox), ox + run), hi = max(min(valid.upperBound, ox + run), lo)
                for i in 0..<(lo - ox) { out[i * step] = 0 }
                if step == 1 && s == 1 {
                    (out + (lo - ox)).update(from: line + lo, count: hi - lo)
                } else {
                    // Pointer strides instead of index products keep this loop free of overflow checks.
                    var from = UnsafePointer(line + lo * s), to = out + (lo - ox) * step
                    for _ in lo..<hi {
                        to.pointee = from.pointee
                        from += s
                        to += step
                    }
                }
                for i in (hi - ox)..<run { out[i * step] = 0 }
            }
            written += run
            q += run
        }
    }
}
