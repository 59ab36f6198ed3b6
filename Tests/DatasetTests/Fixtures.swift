@testable import Dataset
import Foundation

/// Small deterministic tiles and scratch directories shared by the dataset tests.
enum Fixtures {
    /// A tile whose every byte depends on `seed`, with two trees.
    static func tile(id: String = "t-0001", width: Int = 12, height: Int = 9, bands: Int = 3, seed: Int = 1) -> Tile {
        let count = width * height
        let pixels = (0..<bands * count).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ seed &* 7) }
        let canopy = (0..<count).map { UInt8(($0 + seed) % 3 == 0 ? 1 : 0) }
        let instances = (0..<count).map { canopy[$0] == 1 ? UInt16(1 + $0 % 2) : 0 }
        let trees = [
            TreeInstance(id: 1, centerX: 2.5, centerY: -1.25, radius: 3, visiblePixels: instances.filter { $0 == 1 }.count),
            TreeInstance(id: 2, centerX: 7, centerY: 4.5, radius: 2.75, visiblePixels: instances.filter { $0 == 2 }.count),
        ]
        return Tile(id: id, width: width, height: height, bands: bands, groundSampleDistance: 0.1,
                    pixels: pixels, canopy: canopy, instances: instances, trees: trees)
    }

    /// A fresh empty directory under the system's temporary directory.
    static func scratchDirectory(_ name: String = #function) -> String {
        let safe = name.filter { $0.isLetter || $0.isNumber }
        let path = NSTemporaryDirectory() + "grove-dataset-\(safe)-\(UUID().uuidString.prefix(8))"
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    /// The repository's vendored aerial sample, found relative to this source file.
    static var aerialSample: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("data/aerial-sample").path
    }
}
