import COpenBLAS
import Foundation
import Tensor

/// One GEMM shape of CanopyNet, named after the layer and pass that uses it.
struct GemmShape {
    var name: String
    var m: Int, n: Int, k: Int
    /// A is read transposed (the input-gradient product `W^T * dY`).
    var transposeA = false
    /// B is read transposed (the weight-gradient product `dY * P^T`).
    var transposeB = false
    var flops: Double { 2 * Double(m) * Double(n) * Double(k) }
}

/// Measures Grove's GEMM and OpenBLAS `cblas_sgemm` on the same operands in the same process.
enum GemmBenchmark {
    /// The peak this machine's documentation gives for one core (AVX2/AVX-512 FMA at ~3.6 GHz).
    static let peakPerCore = 115.0

    /// Best-of-`repeats` time of `body` after one warm-up call: wall time, and CPU time (which on
    /// one thread is the figure least disturbed by other processes on the machine).
    static func best(repeats: Int, _ body: () -> Void) -> Stopwatch {
        body()
        var best = Stopwatch(wall: .infinity, cpu: .infinity)
        for _ in 0..<repeats {
            let t = Stopwatch.measure(body)
            best = Stopwatch(wall: min(best.wall, t.wall), cpu: min(best.cpu, t.cpu), processCPU: min(best.processCPU, t.processCPU))
        }
        return best
    }

    struct Result {
        var grove1: Stopwatch, grove2: Stopwatch, blas1: Stopwatch, blas2: Stopwatch
    }

    static func run(_ shape: GemmShape, repeats: Int) -> Result {
        let (m, n, k) = (shape.m, shape.n, shape.k)
        let a = (0..<(m * k)).map { Float(($0 * 7919) % 1000) / 1000 - 0.5 }
        let b = (0..<(k * n)).map { Float(($0 * 104_729) % 1000) / 1000 - 0.5 }
        var c = [Float](repeating: 0, count: m * n)
        // Stored shapes: A is m x k (or k x m when transposed), B is k x n (or n x k).
        let lda = shape.transposeA ? m : k, ldb = shape.transposeB ? k : n
        func grove(_ threads: Int) -> Stopwatch {
            let pool = ComputePool(threads: threads)
            return a.withUnsafeBufferPointer { pa in
                b.withUnsafeBufferPointer { pb in
                    c.withUnsafeMutableBufferPointer { pc in
                        let viewA = shape.transposeA ? MatrixView(pa.baseAddress!, rowMajorLeading: lda).transposed
                                                     : MatrixView(pa.baseAddress!, rowMajorLeading: lda)
                        let viewB = shape.transposeB ? MatrixView(pb.baseAddress!, rowMajorLeading: ldb).transposed
                                                     : MatrixView(pb.baseAddress!, rowMajorLeading: ldb)
                        // Weight gradients go through the dot-product kernel, as in Conv2D.
                        if shape.transposeB && !shape.transposeA {
                            return best(repeats: repeats) {
                                GEMM.multiplyByTranspose(m: m, n: n, k: k, a: viewA, b: MatrixView(pb.baseAddress!, rowMajorLeading: ldb),
                                                         c: pc.baseAddress!, ldc: n, accumulate: false, pool: pool)
                            }
                        }
                        return best(repeats: repeats) {
                            GEMM.multiply(m: m, n: n, k: k, a: viewA, b: viewB, c: pc.baseAddress!, ldc: n,
                                          accumulate: false, pool: pool)
                        }
                    }
                }
            }
        }
        func blas(_ threads: Int) -> Stopwatch {
            openblas_set_num_threads(Int32(threads))
            return best(repeats: repeats) {
                cblas_sgemm(CblasRowMajor, shape.transposeA ? CblasTrans : CblasNoTrans,
                            shape.transposeB ? CblasTrans : CblasNoTrans,
                            Int32(m), Int32(n), Int32(k), 1, a, Int32(lda), b, Int32(ldb), 0, &c, Int32(n))
            }
        }
        return Result(grove1: grove(1), grove2: grove(2), blas1: blas(1), blas2: blas(2))
    }

    /// Products one training step of the default CanopyNet (width 8, depth 3) runs per 128x128
    /// sample — the smallest and largest of each kind — plus a square reference.
    static func shapes() -> [GemmShape] {
        [
            GemmShape(name: "enc0.conv2 forward", m: 8, n: 16384, k: 72),
            GemmShape(name: "dec0.conv1 forward", m: 8, n: 16384, k: 216),
            GemmShape(name: "enc1.conv2 forward", m: 16, n: 4096, k: 144),
            GemmShape(name: "dec2.conv1 forward", m: 32, n: 1024, k: 864),
            GemmShape(name: "enc3.conv2 forward", m: 64, n: 256, k: 576),
            GemmShape(name: "dec0.conv1 weight grad", m: 8, n: 216, k: 16384, transposeB: true),
            GemmShape(name: "dec2.conv1 weight grad", m: 32, n: 864, k: 1024, transposeB: true),
            GemmShape(name: "dec0.conv1 input grad", m: 216, n: 16384, k: 8, transposeA: true),
            GemmShape(name: "enc3.conv2 input grad", m: 576, n: 256, k: 64, transposeA: true),
            GemmShape(name: "square 512 (reference)", m: 512, n: 512, k: 512),
        ]
    }

    static func report() {
        print("OpenBLAS: \(String(cString: openblas_get_config())), core \(String(cString: openblas_get_corename()))")
        print("GEMM, GFLOP/s. 1 thread: per CPU-second of the calling thread (wall in brackets); 2 threads: wall.")
        print("| shape (m x n x k) | Grove 1t | OpenBLAS 1t | Grove/OpenBLAS 1t | Grove 1t / peak | Grove 2t | OpenBLAS 2t | Grove/OpenBLAS 2t |")
        print("| --- | --- | --- | --- | --- | --- | --- | --- |")
        for shape in shapes() {
            let repeats = max(3, min(50, Int(2e9 / shape.flops)))
            let r = run(shape, repeats: repeats)
            func rate(_ seconds: Double) -> Double { shape.flops / seconds * 1e-9 }
            let g1 = rate(r.grove1.cpu), b1 = rate(r.blas1.cpu), g2 = rate(r.grove2.wall), b2 = rate(r.blas2.wall)
            let cells = [
                "\(shape.name) \(shape.m)x\(shape.n)x\(shape.k)",
                String(format: "%.1f (%.1f)", g1, rate(r.grove1.wall)),
                String(format: "%.1f (%.1f)", b1, rate(r.blas1.wall)),
                String(format: "%.2f", g1 / b1),
                String(format: "%.2f", g1 / peakPerCore),
                String(format: "%.1f", g2), String(format: "%.1f", b2), String(format: "%.2f", g2 / b2),
            ]
            print("| " + cells.joined(separator: " | ") + " |")
        }
    }
}
