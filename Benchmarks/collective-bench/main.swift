// Measures the all-reduce's hot loops and whole in-process reduces against memcpy measured in the
// same run, and prints the figures; nothing is asserted.
//
//   swift run -c release collective-bench [MiB]     (default 100 MiB of float32 gradients)

import Collective
import Core
import Foundation

let mebibytes = CommandLine.arguments.dropFirst().first.flatMap(Int.init) ?? 100
let count = mebibytes << 18  // floats
let floatBytes = Double(count * 4)

/// Best wall time of `repeats` runs of `body`, in seconds.
func best(_ repeats: Int = 3, _ body: () -> Void) -> Double {
    var fastest = Double.infinity
    for _ in 0..<repeats {
        let start = ContinuousClock.now
        body()
        fastest = min(fastest, (ContinuousClock.now - start).inSeconds)
    }
    return fastest
}

func row(_ name: String, bytes: Double, seconds: Double, reference: Double) {
    let gbps = bytes / seconds / 1e9
    print(String(format: "%-44@ %8.2f ms %8.2f GB/s %8.2fx memcpy", name as NSString, seconds * 1e3, gbps, gbps / reference))
}

print("collective-bench: \(mebibytes) MiB of float32 (\(count) values), \(ProcessInfo.processInfo.activeProcessorCount) cores")
var generator = SplitMix64(seed: 1)
let values = (0..<count).map { _ in (generator.nextUnitFloat() - 0.5) * 8 }
var copy = [Float](repeating: 0, count: count)

let memcpySeconds = best {
    copy.withUnsafeMutableBytes { out in values.withUnsafeBytes { out.copyMemory(from: $0) } }
}
let memcpyRate = floatBytes / memcpySeconds / 1e9
row("memcpy (reference)", bytes: floatBytes, seconds: memcpySeconds, reference: memcpyRate)

let codec = ExactBlockCodec(totalMicroBatches: 128)  // 64-bit sums
let narrowCodec = ExactBlockCodec(totalMicroBatches: 64)  // 32-bit sums
var fields = [UInt8](repeating: 0, count: ExactBlockCodec.blockCount(for: count))
var sums = [Int64](repeating: 0, count: count)
var narrowSums = [Int32](repeating: 0, count: count)
values.withUnsafeBufferPointer { input in
    let scan = best { fields.withUnsafeMutableBufferPointer { ExactBlockCodec.mergeExponents(of: input, into: $0) } }
    row("exact: block exponents (read floats)", bytes: floatBytes, seconds: scan, reference: memcpyRate)
    let encode = best {
        fields.withUnsafeBufferPointer { f in sums.withUnsafeMutableBufferPointer { codec.accumulate(input, fields: f, into: $0) } }
    }
    row("exact: encode + add into int64 (read floats)", bytes: floatBytes, seconds: encode, reference: memcpyRate)
    let decode = best {
        fields.withUnsafeBufferPointer { f in
            sums.withUnsafeBufferPointer { s in copy.withUnsafeMutableBufferPointer { _ = codec.decode(s, fields: f, into: $0) } }
        }
    }
    row("exact: decode int64 to float (write floats)", bytes: floatBytes, seconds: decode, reference: memcpyRate)
    let narrowEncode = best {
        fields.withUnsafeBufferPointer { f in narrowSums.withUnsafeMutableBufferPointer { narrowCodec.accumulate(input, fields: f, into: $0) } }
    }
    row("exact: encode + add into int32 (read floats)", bytes: floatBytes, seconds: narrowEncode, reference: memcpyRate)
    let narrowDecode = best {
        fields.withUnsafeBufferPointer { f in
            narrowSums.withUnsafeBufferPointer { s in copy.withUnsafeMutableBufferPointer { _ = narrowCodec.decode(s, fields: f, into: $0) } }
        }
    }
    row("exact: decode int32 to float (write floats)", bytes: floatBytes, seconds: narrowDecode, reference: memcpyRate)

    var halves = [UInt8](repeating: 0, count: count * 2)
    let narrow = best { halves.withUnsafeMutableBytes { HalfConversion.narrow(input, into: $0) } }
    row("fp16: narrow float32 -> float16 (read floats)", bytes: floatBytes, seconds: narrow, reference: memcpyRate)
    let widen = best { halves.withUnsafeBytes { h in copy.withUnsafeMutableBufferPointer { HalfConversion.widen(h, into: $0) } } }
    row("fp16: widen float16 -> float32 (write floats)", bytes: floatBytes, seconds: widen, reference: memcpyRate)
}

/// CPU time used by the whole process so far, in seconds: on a shared machine the wall time of
/// a multi-threaded reduce mostly measures the other tenants, the CPU time measures the reduce.
func processCPUSeconds() -> Double {
    var time = timespec()
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &time)
    return Double(time.tv_sec) + Double(time.tv_nsec) * 1e-9
}

// Whole reduces on in-process rings, one micro-batch per member, each member keeping its reducer
// across steps as the training loop does. Rank 0 reports the best step's wall time and the CPU
// time all members used in it. Bus bandwidth as nccl-tests counts it: each member moves
// 2 (N - 1) / N of the vector.
for worldSize in [1, 2, 4] {
    for mode in ReduceMode.allCases {
        let links = InProcessRing.make(worldSize: worldSize)
        let times = RingThreads.run(worldSize) { rank -> (wall: Double, cpu: Double) in
            let reducer = try! RingAllReduce(link: links[rank], settings: AllReduceSettings(mode: mode))
            var cpu = Double.infinity
            let wall = best(3) {
                let before = processCPUSeconds()
                _ = try! reducer.sum(microBatches: [values], count: count, totalMicroBatches: worldSize)
                cpu = min(cpu, processCPUSeconds() - before)
            }
            return (wall, cpu)
        }
        let (seconds, cpu) = times[0]
        let moved = floatBytes * 2 * Double(worldSize - 1) / Double(worldSize)
        let bus = worldSize > 1 ? String(format: "%6.2f GB/s bus", moved / seconds / 1e9) : "   (no traffic)"
        print(String(format: "all-reduce %-5@ world %d: %7.1f ms wall, %7.1f ms CPU (all members), %@, %5.1fx one memcpy",
                     mode.rawValue as NSString, worldSize, seconds * 1e3, cpu * 1e3, bus as NSString, seconds / memcpySeconds))
    }
}
