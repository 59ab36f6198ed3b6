import Core
import Dataset
import Testing
@testable import Model

/// CanopyNet's backward pass reports where its gradient is complete (`gradientSuffixes`), which is
/// what lets a ring sum the finished part while the backward pass goes on: every report must come
/// in the declared order, and the part it declares final must never change afterwards.
struct CanopyNetGradientSuffixTests {
    @Test(arguments: [1, 2, 3])
    func everyReportedSuffixIsFinalAndTheGradientIsUnchanged(depth: Int) {
        var settings = CanopyNet.Settings(inputBands: 3, baseWidth: 2, depth: depth, threads: 1)
        settings.groups = 2
        let model = CanopyNet(settings: settings)
        let side = 8 << depth
        let tiles = [Fixtures.tile(id: "a", width: side, height: side, crowns: [(5, 5, 4), (12, 11, 3)], seed: 1),
                     Fixtures.tile(id: "b", width: side, height: side, crowns: [(9, 7, 5)], seed: 2)]
        let parameters = model.initialParameters(seed: 11)

        var plain = [Float](repeating: 0, count: model.parameterCount)
        let plainLoss = parameters.withUnsafeBufferPointer { p in
            plain.withUnsafeMutableBufferPointer { model.accumulateGradient(parameters: p, samples: tiles, into: $0) }
        }

        var reported = [Float](repeating: 0, count: model.parameterCount)
        var offsets: [Int] = []
        var snapshots: [[Float]] = []
        let loss = parameters.withUnsafeBufferPointer { p in
            reported.withUnsafeMutableBufferPointer { g in
                model.accumulateGradient(parameters: p, samples: tiles, into: g, forwardEnded: {}, finalFrom: { offset in
                    offsets.append(offset)
                    snapshots.append(Array(g[offset...]))
                })
            }
        }

        #expect(loss == plainLoss)
        #expect(reported.map(\.bitPattern) == plain.map(\.bitPattern))
        #expect(offsets == model.gradientSuffixes)
        #expect(offsets.last == 0, "the last report covers the whole gradient")
        #expect(zip(offsets, offsets.dropFirst()).allSatisfy { $0 > $1 }, "offsets must decrease: \(offsets)")
        for (offset, snapshot) in zip(offsets, snapshots) {
            #expect(snapshot.map(\.bitPattern) == reported[offset...].map(\.bitPattern), "gradient from \(offset) changed after it was reported final")
        }
        // Every parameter tensor starts at a reported offset: none is completed in two parts.
        #expect(Set(model.layout.entries.filter { $0.name.hasSuffix(".weight") }.map(\.offset)) == Set(offsets))
    }
}
