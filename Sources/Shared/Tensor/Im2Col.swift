/// The im2col expansion behind `Conv2D`, and its adjoint (col2im) for the input gradient.
///
/// Row `(c * k + ky) * k + kx` of the column matrix holds, for each output pixel, the input value
/// the kernel tap `(ky, kx)` of channel `c` sees there (zero in the padding). Tasks are whole input
/// channels, so the fold's sums never cross threads and keep their order.
enum Im2Col {
    /// The output pixels `lo..<hi` of one output row whose tap `kx` lands inside the input.
    @inline(__always)
    static func validRange(_ conv: Conv2D, kx: Int, width: Int, outWidth: Int) -> Range<Int> {
        // ix = ox * stride - padding + kx must satisfy 0 <= ix < width.
        let first = max(0, (conv.padding - kx + conv.stride - 1) / conv.stride)
        let reach = width - 1 + conv.padding - kx
        let last = reach < 0 ? 0 : min(outWidth, reach / conv.stride + 1)
        return first..<max(first, last)
    }

    static func expand(_ conv: Conv2D, input: UnsafePointer<Float>, height: Int, width: Int,
                       into columns: UnsafeMutablePointer<Float>, pool: ComputePool) {
        let out = conv.outputShape(TensorShape(1, conv.inChannels, height, width))
        let (oh, ow, k, s, pad) = (out.height, out.width, conv.kernel, conv.stride, conv.padding)
        let src = SharedPointer(input), dst = SharedPointer(columns)
        pool.forEach(conv.inChannels) { c in
            let plane = src + c * height * width
            for ky in 0..<k {
                for kx in 0..<k {
                    let row = dst + ((c * k + ky) * k + kx) * oh * ow
                    let valid = validRange(conv, kx: kx, width: width, outWidth: ow)
                    for oy in 0..<oh {
                        let target = row + oy * ow
                        let iy = oy * s - pad + ky
                        guard iy >= 0 && iy < height, !valid.isEmpty else {
                            target.update(repeating: 0, count: ow)
                            continue
                        }
                        if valid.lowerBound > 0 { target.update(repeating: 0, count: valid.lowerBound) }
                        if valid.upperBound < ow { (target + valid.upperBound).update(repeating: 0, count: ow - valid.upperBound) }
                        let line = plane + iy * width - pad + kx
                        if s == 1 {
                            (target + valid.lowerBound).update(from: line + valid.lowerBound, count: valid.count)
                        } else {
                            for ox in valid { target[ox] = line[ox * s] }
                        }
                    }
                }
            }
        }
    }

    /// Adds every column entry back onto the input pixel it was read from.
    static func fold(_ conv: Conv2D, columns: UnsafePointer<Float>, height: Int, width: Int,
                     into input: UnsafeMutablePointer<Float>, pool: ComputePool) {
        let out = conv.outputShape(TensorShape(1, conv.inChannels, height, width))
        let (oh, ow, k, s, pad) = (out.height, out.width, conv.kernel, conv.stride, conv.padding)
        let src = SharedPointer(columns), dst = SharedPointer(input)
        pool.forEach(conv.inChannels) { c in
            let plane = dst + c * height * width
            for ky in 0..<k {
                for kx in 0..<k {
                    let row = src + ((c * k + ky) * k + kx) * oh * ow
                    let valid = validRange(conv, kx: kx, width: width, outWidth: ow)
                    for oy in 0..<oh {
                        let iy = oy * s - pad + ky
                        guard iy >= 0 && iy < height else { continue }
                        let line = plane + iy * width - pad + kx, from = row + oy * ow
                        for ox in valid { line[ox * s] += from[ox] }
                    }
                }
            }
        }
    }
}
