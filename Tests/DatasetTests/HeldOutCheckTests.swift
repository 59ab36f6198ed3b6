@testable import Dataset
import Testing

/// Which evaluated tiles were trained on, or lie within a margin of a training tile of their image.
@Suite struct HeldOutCheckTests {
    static func record(_ id: String, image: String?, x: Int = 0, y: Int = 0, side: Int = 128) -> SampleRecord {
        SampleRecord(id: id, path: "p/\(id)", contentHash: "h", labels: SampleLabels(
                         source: "s", site: "site", crop: "c", split: "x", origin: image.map { TileOrigin(image: $0, x: x, y: y) }),
                     width: side, height: side, bands: 3, groundSampleDistance: 0.1, canopyFraction: 0, treeCount: 0,
                     meanTreeArea: 0, addedAt: "")
    }

    @Test func marginsAreMeasuredBetweenTileEdgesOfTheSameImage() {
        let training = [Self.record("t", image: "a", x: 0, y: 0)]
        let evaluated = [
            Self.record("t", image: "a", x: 0, y: 0),             // trained on
            Self.record("touching", image: "a", x: 128, y: 0),    // gap 0
            Self.record("diagonal", image: "a", x: 200, y: 200),  // gap 72 on both axes
            Self.record("far", image: "a", x: 256, y: 0),         // gap exactly 128: not within 128
            Self.record("other-image", image: "b", x: 0, y: 0),
            Self.record("unknown", image: nil),
        ]
        let check = HeldOutCheck.check(evaluated: evaluated, training: training, margin: 128)
        #expect(check == HeldOutCheck(trained: ["t"], nearTraining: ["touching", "diagonal"], unplaced: ["unknown"]))
        #expect(HeldOutCheck.check(evaluated: evaluated, training: training, margin: 129).nearTraining == ["touching", "diagonal", "far"])
        #expect(HeldOutCheck.check(evaluated: evaluated, training: training, margin: 0).nearTraining.isEmpty)
    }
}
