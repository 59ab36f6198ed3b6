@testable import Dataset
import Testing

@Suite struct OrchardSynthTests {
    @Test func sameSeedGivesTheSameBytes() throws {
        let synth = try OrchardSynth()
        for index in [0, 1, 77, 500] {
            let a = SampleFile.encode(synth.sample(seed: 42, index: index).tile)
            let b = SampleFile.encode(synth.sample(seed: 42, index: index).tile)
            #expect(a == b)
        }
    }

    /// Content hashes recorded from a release build of the generator: a debug build, another
    /// machine or a later change that alters any byte fails here. Update them only on purpose.
    @Test func generatorOutputIsPinned() throws {
        let synth = try OrchardSynth()
        #expect(SampleFile.encodeWithContentHash(synth.sample(seed: 7, index: 0).tile).contentHash
                == "99e31d89721136132eecfd494fa142281cfd26a42e4bd3928fa1766928920e5c")
        #expect(SampleFile.encodeWithContentHash(synth.sample(seed: 7, index: 123).tile).contentHash
                == "313433456490f7219bcdde9db85b4e36947ae0d13d8bb3ba799714b76288c1d6")
    }

    @Test func differentSeedOrIndexGivesDifferentTiles() throws {
        let synth = try OrchardSynth()
        let base = synth.sample(seed: 42, index: 3).tile
        #expect(synth.sample(seed: 43, index: 3).tile.pixels != base.pixels)
        #expect(synth.sample(seed: 42, index: 4).tile.pixels != base.pixels)
        #expect(synth.sample(seed: 43, index: 3).tile.id != base.id)
    }

    @Test func targetsAgreeWithEachOther() throws {
        let synth = try OrchardSynth()
        for index in stride(from: 0, to: 2_000, by: 61) {
            let tile = synth.sample(seed: 7, index: index).tile
            #expect(tile.width == 128 && tile.height == 128)
            #expect(tile.bands == 3 || tile.bands == 4)
            var counts = [Int](repeating: 0, count: tile.trees.count + 1)
            for p in 0..<tile.pixelCount {
                #expect((tile.canopy[p] == 1) == (tile.instances[p] > 0))
                counts[Int(tile.instances[p])] += 1
            }
            #expect(tile.trees.map(\.id) == tile.trees.indices.map { UInt16($0 + 1) })
            #expect(tile.trees.map(\.visiblePixels) == Array(counts.dropFirst()))
            #expect(tile.trees.allSatisfy { $0.visiblePixels > 0 })
        }
    }

    @Test func coversVinesToLargeTreesWithNettingAndNIR() throws {
        let synth = try OrchardSynth(settings: { var s = OrchardSynth.Settings(); s.tilesPerSite = 1; return s }())
        let samples = (0..<160).map { synth.sample(seed: 1, index: $0) }
        let crops = Set(samples.map(\.labels.crop))
        #expect(crops.isSuperset(of: ["vine", "apple-uhd", "oak"]))
        #expect(samples.contains { $0.labels.netting })
        #expect(samples.contains { $0.tile.bands == 4 } && samples.contains { $0.tile.bands == 3 })
        let diameters = samples.flatMap { s in s.tile.trees.map { Double($0.radius * 2 * s.tile.groundSampleDistance) } }
        #expect(diameters.min()! < 1.0)
        #expect(diameters.max()! > 20)
        #expect(Set(samples.map(\.labels.split)) == ["train", "val", "test"])
    }

    @Test func nearInfraredIsBrightOverHealthyCanopy() throws {
        let synth = try OrchardSynth()
        let tile = try #require((0..<400).lazy.map { synth.sample(seed: 5, index: $0).tile }.first { $0.bands == 4 && $0.canopy.contains(1) && $0.canopy.contains(0) })
        let n = tile.pixelCount
        var canopy = (0.0, 0), ground = (0.0, 0)
        for p in 0..<n {
            let nir = Double(tile.pixels[3 * n + p])
            if tile.canopy[p] == 1 { canopy = (canopy.0 + nir, canopy.1 + 1) } else { ground = (ground.0 + nir, ground.1 + 1) }
        }
        #expect(canopy.0 / Double(canopy.1) > ground.0 / Double(ground.1) + 20)
    }

    @Test func sitesShareCropAndResolution() throws {
        let synth = try OrchardSynth()
        let first = (0..<8).map { synth.sample(seed: 9, index: $0) }
        #expect(Set(first.map(\.labels.site)).count == 1)
        #expect(Set(first.map(\.labels.crop)).count == 1)
        #expect(Set(first.map(\.tile.groundSampleDistance)).count == 1)
    }

    @Test func badSettingsAreRefused() {
        var settings = OrchardSynth.Settings()
        settings.width = 4
        #expect(throws: DatasetError.self) { try OrchardSynth(settings: settings) }
        settings = OrchardSynth.Settings()
        settings.nirShare = 1.5
        #expect(throws: DatasetError.self) { try OrchardSynth(settings: settings) }
    }
}

@Suite struct OrchardSynthBatchTests {
    @Test func preparedBatchesDoNotDependOnTheThreadCount() throws {
        let synth = try OrchardSynth()
        let one = synth.prepare(seed: 11, indices: 100..<108, threads: 1)
        let three = synth.prepare(seed: 11, indices: 100..<108, threads: 3)
        #expect(one.map(\.bytes) == three.map(\.bytes))
        #expect(one.map(\.record) == three.map(\.record))
        #expect(one.map(\.record.id) == (100..<108).map { OrchardSynth.sampleID(seed: 11, index: $0) })
        #expect(one.allSatisfy { $0.record.labels.synthetic && $0.record.labels.source == "synthetic" })
    }

    @Test func chunksArriveInOrderAndCoverTheRange() throws {
        let synth = try OrchardSynth(settings: { var s = OrchardSynth.Settings(); s.width = 16; s.height = 16; return s }())
        var ids: [String] = []
        var sizes: [Int] = []
        try synth.prepareChunks(seed: 4, indices: 5..<16, chunkSize: 4, threads: 2) { chunk throws(DatasetError) in
            sizes.append(chunk.count)
            ids += chunk.map(\.record.id)
        }
        #expect(sizes == [4, 4, 3])
        #expect(ids == (5..<16).map { OrchardSynth.sampleID(seed: 4, index: $0) })
    }

    @Test func negativeSitesHaveGreenShrubsButNoCanopy() throws {
        var settings = OrchardSynth.Settings()
        settings.negatives = true
        let synth = try OrchardSynth(settings: settings)
        var shrubbySites = 0, bareSites = 0
        for site in 0..<12 {
            let sample = synth.sample(seed: 3, index: site * settings.tilesPerSite)
            #expect(sample.tile.id == "syn-neg-s3-" + String(OrchardSynth.sampleID(seed: 3, index: site * 64).dropFirst(7)))
            #expect(sample.tile.canopy.allSatisfy { $0 == 0 } && sample.tile.instances.allSatisfy { $0 == 0 } && sample.tile.trees.isEmpty)
            #expect(sample.labels.crop == "none" && sample.labels.synthetic && sample.labels.site.hasPrefix("synth-neg-s3-"))
            // Shrubs: dark green pixels, greener than red, on a tile that is labelled all background.
            let n = sample.tile.pixelCount
            let green = (0..<n).filter { p in
                let r = Int(sample.tile.pixels[p]), g = Int(sample.tile.pixels[n + p])
                return g > r + 12 && g < 130
            }.count
            if green > n / 50 { shrubbySites += 1 } else { bareSites += 1 }
        }
        #expect(shrubbySites >= 4 && bareSites >= 1, "\(shrubbySites) shrubby, \(bareSites) bare")
        // A pure function of (seed, index), like the orchards, and another stream than theirs.
        #expect(synth.sample(seed: 3, index: 5).tile == synth.sample(seed: 3, index: 5).tile)
        #expect(synth.sample(seed: 3, index: 5).tile.pixels != (try OrchardSynth()).sample(seed: 3, index: 5).tile.pixels)
    }
}
