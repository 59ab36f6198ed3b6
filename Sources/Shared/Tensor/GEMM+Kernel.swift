extension GEMM {
    /// The `4 x 24` register tile: twelve 8-lane accumulators, three loads of B and four broadcasts
    /// of A per step of k. Each accumulator lane sees its products in increasing k, one fused
    /// multiply-add each, starting from C (when `load`) or from zero.
    @inline(__always)
    static func kernel(
        depth: Int, a: UnsafePointer<Float>, b: UnsafePointer<Float>, c: UnsafeMutablePointer<Float>,
        ldc: Int, load: Bool
    ) {
        typealias V = SIMD8<Float>
        @inline(__always) func read(_ p: UnsafePointer<Float>) -> V { UnsafeRawPointer(p).loadUnaligned(as: V.self) }
        @inline(__always) func write(_ v: V, _ p: UnsafeMutablePointer<Float>) { UnsafeMutableRawPointer(p).storeBytes(of: v, as: V.self) }
        let c0 = c, c1 = c + ldc, c2 = c + 2 * ldc, c3 = c + 3 * ldc
        var a00 = V(), a01 = V(), a02 = V()
        var a10 = V(), a11 = V(), a12 = V()
        var a20 = V(), a21 = V(), a22 = V()
        var a30 = V(), a31 = V(), a32 = V()
        if load {
            a00 = read(c0); a01 = read(c0 + 8); a02 = read(c0 + 16)
            a10 = read(c1); a11 = read(c1 + 8); a12 = read(c1 + 16)
            a20 = read(c2); a21 = read(c2 + 8); a22 = read(c2 + 16)
            a30 = read(c3); a31 = read(c3 + 8); a32 = read(c3 + 16)
        }
        var pa = a, pb = b
        for _ in 0..<depth {
            let b0 = read(pb), b1 = read(pb + 8), b2 = read(pb + 16)
            var s = V(repeating: pa[0])
            a00 = a00.addingProduct(s, b0); a01 = a01.addingProduct(s, b1); a02 = a02.addingProduct(s, b2)
            s = V(repeating: pa[1])
            a10 = a10.addingProduct(s, b0); a11 = a11.addingProduct(s, b1); a12 = a12.addingProduct(s, b2)
            s = V(repeating: pa[2])
            a20 = a20.addingProduct(s, b0); a21 = a21.addingProduct(s, b1); a22 = a22.addingProduct(s, b2)
            s = V(repeating: pa[3])
            a30 = a30.addingProduct(s, b0); a31 = a31.addingProduct(s, b1); a32 = a32.addingProduct(s, b2)
            pa += 4
            pb += 24
        }
        write(a00, c0); write(a01, c0 + 8); write(a02, c0 + 16)
        write(a10, c1); write(a11, c1 + 8); write(a12, c1 + 16)
        write(a20, c2); write(a21, c2 + 8); write(a22, c2 + 16)
        write(a30, c3); write(a31, c3 + 8); write(a32, c3 + 16)
    }
}
