// hash-bench: Core's SHA-256 (swift-crypto) against the portable Swift implementation it replaced,
// in the same invocation. Results are printed, never asserted.
//
//   hash-bench [--runs N] [--mib M]
//
// Two shapes, because Grove hashes both: one large buffer (a streamed state or a checkpoint's
// weights, M MiB) and many small ones (sample files, 44 KB each, the size of a synthetic 128x128
// tile). Each figure is the median over N runs; both hashers must agree on every digest.

import Core
import Foundation

func bench() {
    let arguments = Array(CommandLine.arguments.dropFirst())
    func option(_ name: String, _ fallback: Int) -> Int {
        guard let index = arguments.firstIndex(of: name), index + 1 < arguments.count, let value = Int(arguments[index + 1]) else { return fallback }
        return value
    }
    let runs = option("--runs", 5), mib = option("--mib", 256)

    var generator = SystemRandomNumberGenerator()
    let bulk = (0..<(mib << 20)).map { _ in UInt8.random(in: 0...255, using: &generator) }
    let smallSize = 44 * 1024
    let smallCount = (16 << 20) / smallSize

    func median(_ values: [Double]) -> Double { let s = values.sorted(); return s[s.count / 2] }
    func seconds(_ body: () -> Void) -> Double {
        let start = ContinuousClock.now
        body()
        return start.duration(to: .now).inSeconds
    }

    struct Shape { let name: String; let bytes: Int; let library: () -> [UInt8]; let portable: () -> [UInt8] }
    let shapes = [
        Shape(name: "one \(mib) MiB buffer", bytes: bulk.count,
              library: { bulk.withUnsafeBytes { var h = SHA256(); h.update($0); return h.finalize() } },
              portable: { bulk.withUnsafeBytes { var h = PortableSHA256(); h.update($0); return h.finalize() } }),
        Shape(name: "\(smallCount) files of \(smallSize / 1024) KiB", bytes: smallCount * smallSize,
              library: { bulk.withUnsafeBytes { all in
                  (0..<smallCount).reduce(into: [UInt8]()) { acc, i in acc = SHA256.hash(UnsafeRawBufferPointer(rebasing: all[(i * smallSize)..<((i + 1) * smallSize)])) } } },
              portable: { bulk.withUnsafeBytes { all in
                  (0..<smallCount).reduce(into: [UInt8]()) { acc, i in
                      var h = PortableSHA256(); h.update(UnsafeRawBufferPointer(rebasing: all[(i * smallSize)..<((i + 1) * smallSize)])); acc = h.finalize() } } }),
    ]

    var system = utsname()
    uname(&system)
    let machine = withUnsafeBytes(of: system.machine) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
    var loads = [Double](repeating: 0, count: 1)
    _ = getloadavg(&loads, 1)
    print("hash-bench: SHA-256, median of \(runs) runs; machine: \(machine), \(ProcessInfo.processInfo.activeProcessorCount) cores, load average \(String(format: "%.2f", loads[0]))")
    for shape in shapes {
        var digests: (library: [UInt8], portable: [UInt8]) = ([], [])
        var library: [Double] = [], portable: [Double] = []
        for _ in 0..<runs {  // interleaved, so load changes hit both alike
            library.append(seconds { digests.library = shape.library() })
            portable.append(seconds { digests.portable = shape.portable() })
        }
        guard digests.library == digests.portable else {
            print("hash-bench: the two hashers disagree on \(shape.name)")
            exit(1)
        }
        let l = median(library), p = median(portable)
        print(shape.name.padding(toLength: 26, withPad: " ", startingAt: 0)
              + String(format: " swift-crypto %7.3f GB/s   portable Swift %7.3f GB/s   %5.1fx faster", Double(shape.bytes) / l / 1e9, Double(shape.bytes) / p / 1e9, p / l))
    }
}

bench()
