/// The adjoint of the patch matrix (col2im): folds the gradient of `ConvPatches` back onto the
/// input image.
///
/// Row `(c * k + ky) * k + kx` of the column matrix holds, for each output pixel, the gradient of
/// the input value the kernel tap `(ky, kx)` of channel `c` saw there. Tasks are whole input
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

    /// Adds every column entry back onto the input pixel it was read from.
    ///
    /// `columns` covers the output rows `outputRows` only: row r of the column matrix holds
    /// `outputRows.count * W'` values. Callers fold a band of output rows at a time so that the
    /// column matrix stays small enough for L2.
    static func fold(_ conv: Conv2D, columns: UnsafePointer<Float>, outputRows: Range<Int>, height: Int, width: Int,
                     into input: UnsafeMutablePointer<Float>, pool: ComputePool) {
        let out = conv.outputShape(TensorShape(1, conv.inChannels, height, width))
        let (ow, k, s, pad) = (out.width, conv.kernel, conv.stride, conv.padding)
        let band = outputRows.count * ow
        let src = SharedPointer(columns), dst = SharedPointer(input)
        pool.forEach(conv.inChannels) { c in
            let plane = dst + c * height * width
            for ky in 0..<k {
                for kx in 0..<k {
                    let row = src + ((c * k + ky) * k + kx) * band
                    let valid = validRange(conv, kx: kx, width: width, outWidth: ow)
                    for oy in outputRows {
                        let iy = oy * s - pad + ky
                        guard iy >= 0 && iy < height else { continue }
                        let line = plane + iy * width - pad + kx, from = row + (oy - outputRows.lowerBound) * ow
                        if s == 1 {
                            // Contiguous: written without index products so that it vectorises.
                            let to = line + valid.lowerBound, source = from + valid.lowerBound
                            for i in 0..<valid.count { to[i] += source[i] }
                        } else {
                            var to = line + valid.lowerBound * s
                            for ox in valid { to.pointee += from[ox]; to += s }
                        }
                    }
                }
            }
        }
    }
}
