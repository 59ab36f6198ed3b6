import COpenBLAS
import Dispatch
import Foundation
import Model
import Tensor

/// One GEMM shape of CanopyNet, named after the layer and pass that uses it.
struct GemmShape {
    var name: String
    var m: Int, n: Int, k: Int
    /// B is read transposed (the weight-gradient product `dY * col^T`).
    var transposeB = false
    var flops: Double { 2 * Double(m) * Double(n) * Double(k) }
}

/// Measures Grove's GEMM and OpenBLAS `cblas_sgemm` on the same operands in the same process.
enum GemmBenchmark {
    /// Best-of-`repeats` seconds per call of `body`, after one warm-up call.
    static func time(repeats: Int, _ body: () -> Void) -> Double {
        body()
        var best = Double.infinity
        for _ in 0..<repeats {
            let start = DispatchTime.now().uptimeNanoseconds
            body()
            best = min(best, Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9)
        }
        return best
    }

    /// GFLOP/s of Grove (1 and 2 threads) and OpenBLAS (1 and 2 threads) for one shape.
    static func run(_ shape: GemmShape, repeats: Int) -> (grove1: Double, grove2: Double, blas1: Double, blas2: Double) {
        let (m, n, k) = (shape.m, shape.n, shape.k)
        let a = (0..<(m * k)).map { Float(($0 * 7919) % 1000) / 1000 - 0.5 }
        let b = (0..<(k * n)).map { Float(($0 * 104_729) % 1000) / 1000 - 0.5 }
        var c = [Float](repeating: 0, count: m * n)
        func grove(_ threads: Int) -> Double {
            let pool = ComputePool(threads: threads)
            return a.withUnsafeBufferPointer { pa in
                b.withUnsafeBufferPointer { pb in
                    c.withUnsafeMutableBufferPointer { pc in
                        let viewA = MatrixView(pa.baseAddress!, rowMajorLeading: k)
                        let viewB = shape.transposeB
                            ? MatrixView(pb.baseAddress!, rowMajorLeading: k).transposed
                            : MatrixView(pb.baseAddress!, rowMajorLeading: n)
                        return time(repeats: repeats) {
                            GEMM.multiply(m: m, n: n, k: k, a: viewA, b: viewB, c: pc.baseAddress!, ldc: n,
                                          accumulate: false, pool: pool)
                        }
                    }
                }
            }
        }
        func blas(_ threads: Int) -> Double {
            openblas_set_num_threads(Int32(threads))
            return time(repeats: repeats) {
                cblas_sgemm(CblasRowMajor, CblasNoTrans, shape.transposeB ? CblasTrans : CblasNoTrans,
                            Int32(m), Int32(n), Int32(k), 1, a, Int32(k), b, Int32(shape.transposeB ? k : n),
                            0, &c, Int32(n))
            }
        }
        let g1 = grove(1), g2 = grove(2), b1 = blas(1), b2 = blas(2)
        return (shape.flops / g1 * 1e-9, shape.flops / g2 * 1e-9, shape.flops / b1 * 1e-9, shape.flops / b2 * 1e-9)
    }
}

extension GemmBenchmark {
    static func report(_ model: CanopyNet) {
        let shapes = [GemmShape(name: "square 512", m: 512, n: 512, k: 512),
                      GemmShape(name: "conv 16x(144)x4096", m: 16, n: 4096, k: 144)]
        for s in shapes {
            let r = run(s, repeats: 5)
            print(s.name, r)
        }
    }
}
