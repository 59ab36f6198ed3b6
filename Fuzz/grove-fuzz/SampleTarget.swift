import Core
@testable import Dataset

/// Sample files (`SampleFile.decodeWithContentHash`, SampleDecoder.swift).
///
/// Mutating gzip bytes mostly breaks the CRC, so two of three modes let the fuzzer write the
/// decompressed content and compress it here. Input: one mode byte, then
/// - 0: a whole file as it would be read from disk, hash verified;
/// - 1: content, compressed here, decoded with the trailer trusted (no hash check);
/// - 2: content whose trailer is replaced by its true hash, compressed, hash verified.
/// Oracle: a sample that decodes re-encodes to content that decodes to the same content.
/// The fuzz script caps single allocations, so a header that claims more pixels than the file can
/// hold is a finding too.
let sampleTarget = FuzzTarget(
    name: "sample",
    summary: "sample files (Dataset/SampleFile.swift, SampleDecoder.swift)",
    run: { data in
        guard let mode = data.first else { return }
        var bytes = Array(data.dropFirst())
        var verify = true
        switch mode % 3 {
        case 0: break
        case 1: bytes = Gzip.compress(bytes); verify = false
        default:
            if bytes.count >= SampleFile.trailerSize {
                bytes.removeLast(SampleFile.trailerSize)
                bytes += SHA256.hash(bytes)
            }
            bytes = Gzip.compress(bytes)
        }
        guard let (tile, _) = try? SampleFile.decodeWithContentHash(bytes, origin: "fuzz", verifyHash: verify) else { return }
        let content = SampleFile.content(tile)
        guard let (again, _) = try? SampleFile.decodeWithContentHash(Gzip.compress(content), origin: "re-encoded") else {
            finding("a decoded sample does not decode after encoding")
        }
        guard SampleFile.content(again) == content else { finding("a sample is not stable under encode(decode(_))") }
    },
    seeds: {
        func tile(width: Int, height: Int, bands: Int, trees: Int) -> Tile {
            let pixels = width * height
            return Tile(id: "seed-\(width)x\(height)x\(bands)", width: width, height: height, bands: bands, groundSampleDistance: 0.1,
                        pixels: (0..<pixels * bands).map { UInt8(truncatingIfNeeded: $0 * 7) },
                        canopy: (0..<pixels).map { UInt8($0 % 2) },
                        instances: (0..<pixels).map { UInt16($0 % (trees + 1)) },
                        trees: (0..<trees).map { TreeInstance(id: UInt16($0 + 1), centerX: 1.5, centerY: 2.5, radius: 1, visiblePixels: 3) })
        }
        let small = tile(width: 4, height: 3, bands: 3, trees: 2)
        let single = tile(width: 1, height: 1, bands: 1, trees: 0)
        return [
            (name: "file-4x3x3", bytes: [0] + SampleFile.encode(small)),
            (name: "content-4x3x3", bytes: [1] + SampleFile.content(small)),
            (name: "content-rehashed-4x3x3", bytes: [2] + SampleFile.content(small)),
            (name: "content-1x1x1", bytes: [1] + SampleFile.content(single)),
        ]
    }
)
