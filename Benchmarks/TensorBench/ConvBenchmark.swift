import Core
import Foundation
import Tensor

/// CanopyNet's 3x3 convolutions (default width 8, depth 3, 128x128 tiles, batch 4), forward, input
/// gradient and weight gradient, through the patch-matrix GEMM and through the direct kernel, in the same
/// process: best-of-N CPU time of the calling thread with one thread, wall time with two.
enum ConvBenchmark {
    struct Layer {
        var name: String
        var conv: Conv2D
        var side: Int
    }

    static let layers: [Layer] = [
        Layer(name: "enc0.conv1", conv: Conv2D(inChannels: 3, outChannels: 8, kernel: 3), side: 128),
        Layer(name: "enc0.conv2", conv: Conv2D(inChannels: 8, outChannels: 8, kernel: 3), side: 128),
        Layer(name: "dec0.conv1", conv: Conv2D(inChannels: 24, outChannels: 8, kernel: 3), side: 128),
        Layer(name: "enc1.conv2", conv: Conv2D(inChannels: 16, outChannels: 16, kernel: 3), side: 64),
        Layer(name: "dec1.conv1", conv: Conv2D(inChannels: 48, outChannels: 16, kernel: 3), side: 64),
        Layer(name: "enc2.conv2", conv: Conv2D(inChannels: 32, outChannels: 32, kernel: 3), side: 32),
        Layer(name: "dec2.conv1", conv: Conv2D(inChannels: 96, outChannels: 32, kernel: 3), side: 32),
        Layer(name: "enc3.conv2", conv: Conv2D(inChannels: 64, outChannels: 64, kernel: 3), side: 16),
    ]

    static func report(batch: Int = 4, repeats: Int = 7) {
        // As in training (CanopyNet sets it): freed buffers stay in the process, so page faults of
        // fresh outputs and scratch do not blur the comparison of the two algorithms.
        print("allocator keeps freed memory: \(AllocatorPolicy.retainFreedMemory())")
        let cpu = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8))?
            .split(separator: "\n").first { $0.hasPrefix("model name") }?.split(separator: ":").last?
            .trimmingCharacters(in: .whitespaces) ?? "unknown CPU"
        let load = (try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8))?.split(separator: " ").first ?? "?"
        print("machine: \(cpu), \(ProcessInfo.processInfo.activeProcessorCount) cores, load average \(load); "
              + "reference: the patch-matrix GEMM on the same tensors; peak \(GemmBenchmark.peakPerCore) GFLOP/s per core")
        print("3x3 convolutions of CanopyNet, batch \(batch): GFLOP/s (1 thread: thread CPU time; 2 threads: wall), best of \(repeats)")
        print("| layer | pass | patches 1t | direct 1t | direct / patches 1t | patches 2t | direct 2t | direct / patches 2t |")
        print("| --- | --- | --- | --- | --- | --- | --- | --- |")
        for layer in layers {
            let conv = layer.conv
            let shape = TensorShape(batch, conv.inChannels, layer.side, layer.side)
            let x = Tensor(shape: shape) { Float(($0 * 7919) % 1000) / 1000 - 0.5 }
            let w = (0..<conv.weightCount).map { Float(($0 * 104_729) % 1000) / 1000 - 0.5 }
            let dy = Tensor(shape: conv.outputShape(shape)) { Float(($0 * 31) % 1000) / 1000 - 0.5 }
            let flops = Double(batch * conv.flops(height: layer.side, width: layer.side))
            for pass in ["forward", "input grad", "weight grad"] {
                var figures: [Double] = []
                for threads in [1, 2] {
                    for algorithm in [Conv2D.Algorithm.patches, .direct] {
                        let pool = ComputePool(threads: threads)
                        let time = w.withUnsafeBufferPointer { w in
                            GemmBenchmark.best(repeats: repeats) {
                                if pass == "forward" {
                                    _ = conv.forward(x, weight: w, bias: nil, pool: pool, algorithm: algorithm)
                                } else if pass == "input grad" {
                                    _ = conv.inputGradient(outputGradient: dy, inputShape: shape, weight: w, pool: pool, algorithm: algorithm)
                                } else {
                                    var dw = [Float](repeating: 0, count: conv.weightCount)
                                    dw.withUnsafeMutableBufferPointer { dw in
                                        _ = conv.backward(input: x, outputGradient: dy, weight: w, weightGradient: dw, biasGradient: nil,
                                                          needsInputGradient: false, pool: pool, algorithm: algorithm)
                                    }
                                }
                            }
                        }
                        figures.append(flops / (threads == 1 ? time.cpu : time.wall) * 1e-9)
                    }
                }
                func f(_ v: Double) -> String { String(format: "%.1f", v) }
                print("| \(layer.name) \(conv.inChannels)->\(conv.outChannels) @\(layer.side) | \(pass) | \(f(figures[0])) | \(f(figures[1])) | "
                      + "\(String(format: "%.2f", figures[1] / figures[0])) | \(f(figures[2])) | \(f(figures[3])) | \(String(format: "%.2f", figures[3] / figures[2])) |")
            }
        }
    }
}
