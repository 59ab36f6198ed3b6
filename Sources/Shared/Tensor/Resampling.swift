/// x2 nearest-neighbour upsampling and channel concatenation: the decoder's glue, with their
/// adjoints (sum over each 2x2 block; split along channels).
public enum Upsample2x {
    /// Planes (sample, channel) are shared out over `pool`.
    public static func forward(_ input: Tensor, pool: ComputePool = .serial) -> Tensor {
        let s = input.shape
        var output = Tensor(uninitialized: TensorShape(s.batch, s.channels, 2 * s.height, 2 * s.width))
        guard s.count > 0 else { return output }
        let ow = 2 * s.width
        input.storage.withUnsafeBufferPointer { xs in
            output.storage.withUnsafeMutableBufferPointer { ys in
                let x = SharedPointer(xs.baseAddress!), y = SharedPointer(ys.baseAddress!)
                pool.forEach(s.batch * s.channels) { plane in
                    let src = x + plane * s.plane, dst = y + plane * 4 * s.plane
                    for iy in 0..<s.height {
                        let row = dst + 2 * iy * ow
                        for ix in 0..<s.width {
                            let v = src[iy * s.width + ix]
                            row[2 * ix] = v
                            row[2 * ix + 1] = v
                        }
                        (row + ow).update(from: row, count: ow)
                    }
                }
            }
        }
        return output
    }

    public static func backward(outputGradient: Tensor, pool: ComputePool = .serial) -> Tensor {
        let s = outputGradient.shape
        precondition(s.height % 2 == 0 && s.width % 2 == 0, "upsample gradient \(s) must have even height and width")
        var dx = Tensor(uninitialized: TensorShape(s.batch, s.channels, s.height / 2, s.width / 2))
        guard s.count > 0 else { return dx }
        let (h, w) = (s.height / 2, s.width / 2)
        outputGradient.storage.withUnsafeBufferPointer { gs in
            dx.storage.withUnsafeMutableBufferPointer { dxs in
                let g = SharedPointer(gs.baseAddress!), out = SharedPointer(dxs.baseAddress!)
                pool.forEach(s.batch * s.channels) { plane in
                    let src = g + plane * s.plane, dst = out + plane * h * w
                    for y in 0..<h {
                        for x in 0..<w {
                            let top = src + 2 * y * s.width + 2 * x
                            dst[y * w + x] = (top[0] + top[1]) + (top[s.width] + top[s.width + 1])
                        }
                    }
                }
            }
        }
        return dx
    }
}

public enum ChannelConcat {
    /// `[a, b]` along channels; the two inputs must agree in batch and spatial size. Each
    /// (sample, part) copy is a task of `pool`.
    public static func forward(_ a: Tensor, _ b: Tensor, pool: ComputePool = .serial) -> Tensor {
        let (sa, sb) = (a.shape, b.shape)
        precondition(sa.batch == sb.batch && sa.height == sb.height && sa.width == sb.width,
                     "cannot concatenate \(sa) and \(sb) along channels")
        let shape = TensorShape(sa.batch, sa.channels + sb.channels, sa.height, sa.width)
        guard shape.count > 0 else { return Tensor(zeros: shape) }
        var storage = [Float](unsafeUninitializedCapacity: shape.count) { _, initialized in initialized = shape.count }
        let (sizeA, sizeB, size) = (sa.sampleSize, sb.sampleSize, shape.sampleSize)
        a.storage.withUnsafeBufferPointer { (xa: UnsafeBufferPointer<Float>) in
            b.storage.withUnsafeBufferPointer { (xb: UnsafeBufferPointer<Float>) in
                storage.withUnsafeMutableBufferPointer { (out: inout UnsafeMutableBufferPointer<Float>) in
                    let to = SharedPointer<Float>(out.baseAddress!)
                    // An empty part has no base address; it is never read (its copies have length 0).
                    let pa = xa.baseAddress.map { SharedPointer<Float>($0) } ?? to
                    let pb = xb.baseAddress.map { SharedPointer<Float>($0) } ?? to
                    pool.forEach(2 * sa.batch) { (task: Int) in
                        let n = task / 2
                        if task % 2 == 0 {
                            (to + n * size).update(from: pa + n * sizeA, count: sizeA)
                        } else {
                            (to + (n * size + sizeA)).update(from: pb + n * sizeB, count: sizeB)
                        }
                    }
                }
            }
        }
        return Tensor(shape: shape, storage: storage)
    }

    /// Splits a gradient of the concatenation into the gradients of its two parts.
    public static func backward(outputGradient: Tensor, firstChannels: Int, pool: ComputePool = .serial) -> (Tensor, Tensor) {
        let s = outputGradient.shape
        precondition(firstChannels >= 0 && firstChannels <= s.channels, "cannot split \(s) at channel \(firstChannels)")
        let first = firstChannels * s.plane, second = s.sampleSize - first
        let shapeA = TensorShape(s.batch, firstChannels, s.height, s.width)
        let shapeB = TensorShape(s.batch, s.channels - firstChannels, s.height, s.width)
        guard s.count > 0 else { return (Tensor(zeros: shapeA), Tensor(zeros: shapeB)) }
        var a = [Float](unsafeUninitializedCapacity: shapeA.count) { _, n in n = shapeA.count }
        var b = [Float](unsafeUninitializedCapacity: shapeB.count) { _, n in n = shapeB.count }
        let size = s.sampleSize
        outputGradient.storage.withUnsafeBufferPointer { (gs: UnsafeBufferPointer<Float>) in
            a.withUnsafeMutableBufferPointer { (xa: inout UnsafeMutableBufferPointer<Float>) in
                b.withUnsafeMutableBufferPointer { (xb: inout UnsafeMutableBufferPointer<Float>) in
                    let g = SharedPointer<Float>(gs.baseAddress!)
                    // An empty part has no base address; it is never written (its copies have length 0).
                    let pa = xa.baseAddress.map { SharedPointer<Float>($0) } ?? g
                    let pb = xb.baseAddress.map { SharedPointer<Float>($0) } ?? g
                    pool.forEach(2 * s.batch) { (task: Int) in
                        let n = task / 2
                        if task % 2 == 0 {
                            (pa + n * first).update(from: g + n * size, count: first)
                        } else {
                            (pb + n * second).update(from: g + (n * size + first), count: second)
                        }
                    }
                }
            }
        }
        return (Tensor(shape: shapeA, storage: a), Tensor(shape: shapeB, storage: b))
    }
}
