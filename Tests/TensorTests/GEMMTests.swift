import Testing
@testable import Tensor

/// GEMM against a Double-precision triple loop, on shapes that exercise every edge of the blocking,
/// and the bitwise thread-count invariance the training cluster relies on.
struct GEMMTests {
    struct Case: Sendable, CustomStringConvertible {
        var m: Int, n: Int, k: Int
        var transposeA = false, transposeB = false, accumulate = false
        var description: String { "\(m)x\(n)x\(k) tA=\(transposeA) tB=\(transposeB) acc=\(accumulate)" }
    }

    static let cases: [Case] = [
        Case(m: 1, n: 1, k: 1),
        Case(m: 5, n: 7, k: 3),
        Case(m: 4, n: 24, k: 256),
        Case(m: 13, n: 50, k: 300),
        Case(m: 70, n: 101, k: 513, accumulate: true),
        Case(m: 9, n: 30, k: 17, transposeA: true),
        Case(m: 6, n: 97, k: 260, transposeB: true),
        Case(m: 65, n: 25, k: 33, transposeA: true, transposeB: true, accumulate: true),
    ]

    /// Runs GEMM on seeded operands stored in the layout the case asks for.
    static func run(_ c: Case, threads: Int) -> (result: [Float], reference: [Double], bound: [Double]) {
        let a = GradientCheck.random(c.m * c.k, seed: 1), b = GradientCheck.random(c.k * c.n, seed: 2)
        let start = GradientCheck.random(c.m * c.n, seed: 3)
        var out = c.accumulate ? start : [Float](repeating: .nan, count: c.m * c.n)
        // Logical A[i, p] lives at a[i * k + p] (or a[p * m + i] when stored transposed).
        func elementA(_ i: Int, _ p: Int) -> Float { c.transposeA ? a[p * c.m + i] : a[i * c.k + p] }
        func elementB(_ p: Int, _ j: Int) -> Float { c.transposeB ? b[j * c.k + p] : b[p * c.n + j] }
        var reference = [Double](repeating: 0, count: c.m * c.n), bound = reference
        for i in 0..<c.m {
            for j in 0..<c.n {
                var sum = c.accumulate ? Double(start[i * c.n + j]) : 0, magnitude = abs(sum)
                for p in 0..<c.k {
                    sum += Double(elementA(i, p)) * Double(elementB(p, j))
                    magnitude += abs(Double(elementA(i, p)) * Double(elementB(p, j)))
                }
                reference[i * c.n + j] = sum
                bound[i * c.n + j] = magnitude
            }
        }
        a.withUnsafeBufferPointer { pa in
            b.withUnsafeBufferPointer { pb in
                out.withUnsafeMutableBufferPointer { po in
                    let viewA = c.transposeA ? MatrixView(pa.baseAddress!, rowMajorLeading: c.m).transposed
                                             : MatrixView(pa.baseAddress!, rowMajorLeading: c.k)
                    let viewB = c.transposeB ? MatrixView(pb.baseAddress!, rowMajorLeading: c.k).transposed
                                             : MatrixView(pb.baseAddress!, rowMajorLeading: c.n)
                    GEMM.multiply(m: c.m, n: c.n, k: c.k, a: viewA, b: viewB, c: po.baseAddress!, ldc: c.n,
                                  accumulate: c.accumulate, pool: ComputePool(threads: threads))
                }
            }
        }
        return (out, reference, bound)
    }

    @Test(arguments: cases)
    func matchesNaiveReference(_ c: Case) {
        let (result, reference, bound) = Self.run(c, threads: 2)
        for i in 0..<result.count {
            // Float32 rounding of a sum of k products is bounded by about k * eps * sum|a*b|.
            let tolerance = 1e-6 * Double(c.k + 2) * bound[i] + 1e-6
            #expect(abs(Double(result[i]) - reference[i]) <= tolerance, "element \(i) of \(c)")
        }
    }

    @Test(arguments: cases)
    func sameBitsForAnyThreadCount(_ c: Case) {
        let one = Self.run(c, threads: 1).result
        for threads in [2, 3, 5] {
            let many = Self.run(c, threads: threads).result
            #expect(one.map(\.bitPattern) == many.map(\.bitPattern), "\(threads) threads differ from 1 on \(c)")
        }
    }

    @Test func zeroDepthClearsOrKeepsOutput() {
        var out: [Float] = [1, 2, 3, 4]
        let dummy: [Float] = [0]
        dummy.withUnsafeBufferPointer { p in
            let view = MatrixView(p.baseAddress!, rowMajorLeading: 0)
            out.withUnsafeMutableBufferPointer { o in
                GEMM.multiply(m: 2, n: 2, k: 0, a: view, b: view, c: o.baseAddress!, ldc: 2, accumulate: true)
                #expect(Array(o) == [1, 2, 3, 4])
                GEMM.multiply(m: 2, n: 2, k: 0, a: view, b: view, c: o.baseAddress!, ldc: 2, accumulate: false)
                #expect(Array(o) == [0, 0, 0, 0])
            }
        }
    }
}

/// The dot-product GEMM used for weight gradients (`C = A * B^T`, both contiguous along k).
struct TransposedGEMMTests {
    static let shapes: [(m: Int, n: Int, k: Int)] = [(1, 1, 1), (3, 5, 7), (8, 24, 512), (17, 25, 1030), (9, 50, 13)]

    static func run(_ m: Int, _ n: Int, _ k: Int, threads: Int, accumulate: Bool) -> (result: [Float], reference: [Double]) {
        let a = GradientCheck.random(m * k, seed: 4), b = GradientCheck.random(n * k, seed: 5)
        let start = GradientCheck.random(m * n, seed: 6)
        var out = accumulate ? start : [Float](repeating: .nan, count: m * n)
        var reference = [Double](repeating: 0, count: m * n)
        for i in 0..<m {
            for j in 0..<n {
                var sum = accumulate ? Double(start[i * n + j]) : 0
                for p in 0..<k { sum += Double(a[i * k + p]) * Double(b[j * k + p]) }
                reference[i * n + j] = sum
            }
        }
        a.withUnsafeBufferPointer { pa in
            b.withUnsafeBufferPointer { pb in
                out.withUnsafeMutableBufferPointer { po in
                    GEMM.multiplyByTranspose(m: m, n: n, k: k, a: MatrixView(pa.baseAddress!, rowMajorLeading: k),
                                             b: MatrixView(pb.baseAddress!, rowMajorLeading: k), c: po.baseAddress!, ldc: n,
                                             accumulate: accumulate, pool: ComputePool(threads: threads))
                }
            }
        }
        return (out, reference)
    }

    @Test func matchesNaiveReference() {
        for (m, n, k) in Self.shapes {
            for accumulate in [false, true] {
                let (result, reference) = Self.run(m, n, k, threads: 2, accumulate: accumulate)
                for i in 0..<result.count {
                    #expect(abs(Double(result[i]) - reference[i]) <= 1e-6 * Double(k + 2) + 1e-6, "\(m)x\(n)x\(k) element \(i)")
                }
            }
        }
    }

    @Test func sameBitsForAnyThreadCount() {
        for (m, n, k) in Self.shapes {
            let one = Self.run(m, n, k, threads: 1, accumulate: true).result
            let three = Self.run(m, n, k, threads: 3, accumulate: true).result
            #expect(one.map(\.bitPattern) == three.map(\.bitPattern), "\(m)x\(n)x\(k)")
        }
    }
}
