import Core
import Dataset
import Tensor
import Testing
@testable import Model

/// CanopyNet's layout, targets, cost model, and its full forward/backward against finite
/// differences on a configuration small enough to probe every parameter.
struct CanopyNetTests {
    static func tiny(threads: Int = 1) -> CanopyNet {
        var settings = CanopyNet.Settings(inputBands: 3, baseWidth: 2, depth: 1, threads: threads)
        settings.groups = 2
        return CanopyNet(settings: settings)
    }

    @Test func layoutFollowsTheDocumentedOrder() {
        let model = CanopyNet(settings: CanopyNet.Settings(baseWidth: 4, depth: 2))
        let names = model.layout.entries.map(\.name)
        #expect(names.prefix(4) == ["enc0.conv1.weight", "enc0.conv1.gamma", "enc0.conv1.beta", "enc0.conv2.weight"])
        #expect(names.suffix(2) == ["head.weight", "head.bias"])
        #expect(names.firstIndex(of: "dec1.conv1.weight")! < names.firstIndex(of: "dec0.conv1.weight")!)
        #expect(model.layout["dec0.conv1.weight"]!.shape == [4, 8 + 4, 3, 3])
        #expect(model.layout["enc2.conv2.weight"]!.shape == [16, 16, 3, 3])
        #expect(model.parameterCount == model.layout.entries.map(\.count).reduce(0, +))
        #expect(model.initialParameters(seed: 7).count == model.parameterCount)
        #expect(model.schemaHash != CanopyNet(settings: CanopyNet.Settings(baseWidth: 4, depth: 1)).schemaHash)
    }

    @Test func flopsCountEveryConvolution() {
        // width 2, depth 1, 8x8: enc0 3->2, 2->2 at 64 px; enc1 2->4, 4->4 at 16 px;
        // dec0 6->2, 2->2 at 64 px; head 2->2 (1x1) at 64 px.
        let flops = Self.tiny().flopsPerSample(height: 8, width: 8)
        let macs = 64 * 2 * 27 + 64 * 2 * 18 + 16 * 4 * 18 + 16 * 4 * 36 + 64 * 2 * 54 + 64 * 2 * 18 + 64 * 2 * 2
        #expect(flops.forward == 2 * macs)
        #expect(flops.training == 3 * flops.forward - 2 * 64 * 2 * 27)
    }

    @Test func centreHeatmapPeaksAtEachTree() {
        let model = CanopyNet(settings: CanopyNet.Settings())
        let tile = Fixtures.tile(width: 32, height: 32, crowns: [(8.5, 10.5, 4), (24.5, 20.5, 12)])
        let heat = model.centreHeatmap(tile)
        #expect(heat[10 * 32 + 8] == 1 && heat[20 * 32 + 24] == 1)
        // Small crown: sigma is the 2-pixel minimum, so 2 pixels away the value is exp(-1/2).
        #expect(abs(heat[10 * 32 + 10] - 0.60653) < 1e-4)
        // Large crown: sigma = 0.25 * 12 = 3.
        #expect(abs(heat[20 * 32 + 27] - 0.60653) < 1e-4)
        #expect(heat[0] == 0)
    }

    @Test func predictGivesProbabilitiesPerPixel() {
        let model = Self.tiny()
        let tile = Fixtures.tile(width: 8, height: 8, crowns: [(4, 4, 2)])
        let (canopy, centres) = model.predict(parameters: model.initialParameters(seed: 3), tile: tile)
        #expect(canopy.count == 64 && centres.count == 64)
        #expect(canopy.allSatisfy { $0 > 0 && $0 < 1 } && centres.allSatisfy { $0 > 0 && $0 < 1 })
    }

    @Test func fullModelGradientMatchesFiniteDifferences() {
        let model = Self.tiny()
        let tiles = [Fixtures.tile(id: "a", width: 16, height: 16, crowns: [(5, 5, 4), (12, 11, 3)], seed: 1),
                     Fixtures.tile(id: "b", width: 16, height: 16, crowns: [(9, 5, 5)], seed: 2)]
        // Random (not initial) parameters so that every block, shift and head weight matters.
        var parameters = GradientFixture.random(model.parameterCount, seed: 5).map { 0.5 * $0 }
        for entry in model.layout.entries where entry.name.hasSuffix("gamma") {
            for i in entry.offset..<(entry.offset + entry.count) { parameters[i] = 1 + 0.6 * parameters[i] }
        }
        var analytic = [Float](repeating: 0, count: model.parameterCount)
        let batch = parameters.withUnsafeBufferPointer { p in
            analytic.withUnsafeMutableBufferPointer { g in model.accumulateGradient(parameters: p, samples: tiles, into: g) }
        }
        let direct = parameters.withUnsafeBufferPointer { model.loss(parameters: $0, samples: tiles) }
        #expect(batch.perSample == direct.map { Float($0) })
        var probe = parameters
        var numeric = [Float](repeating: 0, count: parameters.count)
        let epsilon: Float = 1e-3
        for i in 0..<parameters.count {
            probe[i] = parameters[i] + epsilon
            let up = probe.withUnsafeBufferPointer { model.loss(parameters: $0, samples: tiles) }.reduce(0, +)
            probe[i] = parameters[i] - epsilon
            let down = probe.withUnsafeBufferPointer { model.loss(parameters: $0, samples: tiles) }.reduce(0, +)
            probe[i] = parameters[i]
            numeric[i] = Float((up - down) / (2 * Double(epsilon)))
        }
        // Element by element, ReLU and max-pool kinks and float32 rounding limit the agreement...
        let error = Fixtures.relativeError(analytic, numeric)
        #expect(error < 3e-2, "relative gradient error \(error)")
        // ...so each parameter tensor is also checked along its own analytic gradient direction
        // v = g / |g|, where no cancellation hides an error: the slope (L(p + e v) - L(p - e v)) / 2e
        // must equal g . v = |g|; a wrong g points elsewhere and the measured slope falls short.
        // The loss comes back in Double, so a step small enough to cross few kinks is usable.
        for entry in model.layout.entries {
            let slice = Array(analytic[entry.offset..<(entry.offset + entry.count)])
            let norm = slice.map { Double($0) * Double($0) }.reduce(0, +).squareRoot()
            let direction = slice.map { Float(Double($0) / max(norm, 1e-30)) }
            func shifted(_ step: Float) -> Double {
                var p = parameters
                for i in 0..<entry.count { p[entry.offset + i] += step * direction[i] }
                return p.withUnsafeBufferPointer { model.loss(parameters: $0, samples: tiles) }.reduce(0, +)
            }
            let step: Float = 1e-4
            let numericSlope = (shifted(step) - shifted(-step)) / (2 * Double(step))
            let analyticSlope = (0..<entry.count).map { Double(analytic[entry.offset + $0]) * Double(direction[$0]) }.reduce(0, +)
            let part = abs(numericSlope - analyticSlope) / max(abs(analyticSlope), 1e-3)
            #expect(part < 2e-2, "\(entry.name): slope \(analyticSlope) analytic vs \(numericSlope) numeric")
        }
    }

    @Test func gradientBitsDoNotDependOnThreadCount() {
        let tiles = [Fixtures.tile(id: "a", width: 32, height: 32, crowns: [(10, 12, 6), (22, 20, 8)], seed: 3),
                     Fixtures.tile(id: "b", width: 32, height: 32, crowns: [(16, 16, 9)], seed: 4)]
        func gradient(threads: Int) -> ([Float], [Float]) {
            var settings = CanopyNet.Settings(baseWidth: 4, depth: 2, threads: threads)
            settings.groups = 2
            let model = CanopyNet(settings: settings)
            let parameters = model.initialParameters(seed: 11)
            var g = [Float](repeating: 0, count: model.parameterCount)
            let loss = parameters.withUnsafeBufferPointer { p in
                g.withUnsafeMutableBufferPointer { model.accumulateGradient(parameters: p, samples: tiles, into: $0) }
            }
            return (g, loss.perSample)
        }
        let (g1, l1) = gradient(threads: 1), (g2, l2) = gradient(threads: 2)
        #expect(g1.map(\.bitPattern) == g2.map(\.bitPattern))
        #expect(l1.map(\.bitPattern) == l2.map(\.bitPattern))
        #expect(g1.contains { $0 != 0 })
    }

    @Test func fourBandTilesUseTheNearInfraredMean() {
        var settings = CanopyNet.Settings(inputBands: 4, baseWidth: 2, depth: 1)
        settings.bandMeans = [0.1, 0.2, 0.3, 0.4]
        let model = CanopyNet(settings: settings)
        #expect(model.layout["enc0.conv1.weight"]!.shape == [2, 4, 3, 3])
        let tile = Fixtures.tile(width: 8, height: 8, bands: 4, crowns: [(4, 4, 3)])
        let input = model.makeInput([tile])
        #expect(input.shape == TensorShape(1, 4, 8, 8))
        #expect(abs(input[0, 3, 2, 5] - (Float(tile.pixels[3 * 64 + 2 * 8 + 5]) / 255 - 0.4)) < 1e-6)
        let (canopy, _) = model.predict(parameters: model.initialParameters(seed: 1), tile: tile)
        #expect(canopy.count == 64)
    }

    @Test func settingsRejectBadValuesByName() {
        var settings = CanopyNet.Settings()
        settings.inputBands = 5
        #expect(throws: CanopyNet.SettingsError.self) { try settings.validate() }
        do { try settings.validate() } catch { #expect(error.message.contains("inputBands is 5")) }
        #expect(throws: CanopyNet.SettingsError.self) { try CanopyNet(checking: settings) }
        settings.inputBands = 4
        settings.bandMeans = [0.5, 0.5]
        do { _ = try CanopyNet(checking: settings) } catch { #expect(error.message.contains("bandMeans has 2 values")) }
        #expect((try? CanopyNet(checking: CanopyNet.Settings(baseWidth: 4)))?.parameterCount == 30_854)
    }
}

enum GradientFixture {
    static func random(_ count: Int, seed: UInt64) -> [Float] {
        var generator = SplitMix64(seed: seed)
        return (0..<count).map { _ in generator.nextUnitFloat() * 2 - 1 }
    }
}
