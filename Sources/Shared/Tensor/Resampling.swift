/// x2 nearest-neighbour upsampling and channel concatenation: the decoder's glue, with their
/// adjoints (sum over each 2x2 block; split along channels).
public enum Upsample2x {
    /// Planes (sample, channel) are shared out over `pool`.
    public static func forward(_ input: Tensor, pool: ComputePool = .serial) -> Tensor {
        let s = input.shape
        var output = Tensor(zeros: TensorShape(s.batch, s.channels, 2 * s.height, 2 * s.width))
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
        var dx = Tensor(zeros: TensorShape(s.batch, s.channels, s.height / 2, s.width / 2))
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
    /// `[a, b]` along channels; the two inputs must agree in batch and spatial size.
    public static func forward(_ a: Tensor, _ b: Tensor) -> Tensor {
        let (sa, sb) = (a.shape, b.shape)
        precondition(sa.batch == sb.batch && sa.height == sb.height && sa.width == sb.width,
                     "cannot concatenate \(sa) and \(sb) along channels")
        var storage = [Float]()
        storage.reserveCapacity(sa.count + sb.count)
        for n in 0..<sa.batch {
            storage.append(contentsOf: a.storage[(n * sa.sampleSize)..<((n + 1) * sa.sampleSize)])
            storage.append(contentsOf: b.storage[(n * sb.sampleSize)..<((n + 1) * sb.sampleSize)])
        }
        return Tensor(shape: TensorShape(sa.batch, sa.channels + sb.channels, sa.height, sa.width), storage: storage)
    }

    /// Splits a gradient of the concatenation into the gradients of its two parts.
    public static func backward(outputGradient: Tensor, firstChannels: Int) -> (Tensor, Tensor) {
        let s = outputGradient.shape
        precondition(firstChannels >= 0 && firstChannels <= s.channels, "cannot split \(s) at channel \(firstChannels)")
        let first = firstChannels * s.plane
        var a = [Float](), b = [Float]()
        a.reserveCapacity(s.batch * first)
        b.reserveCapacity(s.count - s.batch * first)
        for n in 0..<s.batch {
            let start = n * s.sampleSize
            a.append(contentsOf: outputGradient.storage[start..<(start + first)])
            b.append(contentsOf: outputGradient.storage[(start + first)..<(start + s.sampleSize)])
        }
        return (Tensor(shape: TensorShape(s.batch, firstChannels, s.height, s.width), storage: a),
                Tensor(shape: TensorShape(s.batch, s.channels - firstChannels, s.height, s.width), storage: b))
    }
}
