import ArgumentParser
import Core
import Dataset
import Foundation

/// `coordinator dataset ...`: build and curate the sample catalog, freeze manifests, and measure
/// how fast a manifest can be read.
struct DatasetCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dataset",
        abstract: "Build the sample catalog, freeze manifests, and inspect them.",
        subcommands: [Import.self, Synth.self, Freeze.self, List.self, Show.self, Scan.self, Mosaic.self, Render.self, Score.self]
    )

    /// The option every subcommand shares.
    struct CatalogOptions: ParsableArguments {
        @Option(name: .long, help: "Catalog directory; sample files and manifests live under it.")
        var catalog = "data/catalog"

        /// Commands that add samples create the catalog; the others require it to exist.
        func open(create: Bool = false) throws -> Catalog { try Catalog(directory: catalog, create: create) }
    }

    struct Import: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Import a tile directory (tiles.csv, instances.csv and PNGs) into the catalog.")
        @OptionGroup var options: CatalogOptions
        @Argument(help: "The tile directory, e.g. data/aerial-sample.") var directory: String
        @Option(help: "Catalog source name (default: the directory's name).") var source: String?
        @Option(help: "Crop of tiles whose tiles.csv has no crop column.") var crop = "unknown"

        func run() throws {
            let catalog = try options.open(create: true)
            let summary = try catalog.import(tileDirectory: directory, source: source, crop: crop)
            print("imported \(directory): \(summary.added) added, \(summary.unchanged) already present")
        }
    }

    struct Synth: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Generate synthetic orchard samples into the catalog.")
        @OptionGroup var options: CatalogOptions
        @Option(help: "Samples to generate.") var count: Int
        @Option(help: "Seed; the same seed gives the same samples.") var seed: UInt64 = 0
        @Option(help: "Index of the first sample (to extend an earlier run).") var start = 0
        @Option(help: "Generator threads.") var threads = ProcessInfo.processInfo.activeProcessorCount
        @Option(help: "Tile side in pixels.") var size = 128
        @Option(name: .customLong("tiles-per-site"), help: "Tiles per site (a site fixes crop, layout, resolution and colours).")
        var tilesPerSite = 64
        @Flag(help: "Sites without trees (soil, grass, shrubs, shadows; ids syn-neg-s<seed>-…) instead of orchards.")
        var negatives = false

        func validate() throws {
            guard count > 0, start >= 0 else { throw ValidationError("--count must be positive and --start not negative") }
        }

        func run() throws {
            var settings = OrchardSynth.Settings()
            settings.width = size
            settings.height = size
            settings.negatives = negatives
            settings.tilesPerSite = tilesPerSite
            let synth = try OrchardSynth(settings: settings)
            let catalog = try options.open(create: true)
            let clock = ContinuousClock()
            let began = clock.now
            var added = 0, unchanged = 0, fileBytes = 0, rawBytes = 0
            var done = 0
            try synth.prepareChunks(seed: seed, indices: start..<start + count, chunkSize: 1_024, threads: threads) { prepared throws(DatasetError) in
                let summary = try catalog.insert(prepared)
                added += summary.added
                unchanged += summary.unchanged
                for sample in prepared {
                    fileBytes += sample.bytes.count
                    rawBytes += sample.record.width * sample.record.height * (sample.record.bands + 3)
                }
                done += prepared.count
                let seconds = (clock.now - began).inSeconds
                FileHandle.standardError.write(Data("\r\(done)/\(count) samples, \(Int(Double(done) / seconds)) per second".utf8))
            }
            let seconds = (clock.now - began).inSeconds
            FileHandle.standardError.write(Data("\n".utf8))
            print("synthesised \(count) samples (seed \(seed), \(threads) threads) in \(format(seconds)) s: \(Int(Double(count) / seconds)) samples/s")
            print("\(added) added, \(unchanged) already present; files \(format(Double(fileBytes) / 1e6)) MB for \(format(Double(rawBytes) / 1e6)) MB of planes and targets (ratio \(format(Double(rawBytes) / Double(max(1, fileBytes)))))")
        }
    }

    struct Freeze: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Freeze the answer of a catalog query as an immutable, hashed manifest.",
            discussion: """
                QUERY is a predicate over the samples table (crop = 'apple' AND tree_count > 5), which \
                selects samples in id order, or a full read-only SELECT whose first column is the sample id.
                """)
        @OptionGroup var options: CatalogOptions
        @Option(help: "Manifest name (letters, digits, '.', '_', '-').") var name: String
        @Option(help: "Predicate or SELECT over the samples table.") var query: String

        func run() throws {
            let manifest = try options.open().freeze(name: name, query: query)
            print("froze \(manifest.name): \(manifest.count) samples, sha256 \(manifest.sha256)")
            print("manifest: \(options.catalog)/manifests/\(manifest.name).json")
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Summarise the catalog's samples and manifests.")
        @OptionGroup var options: CatalogOptions

        func run() throws {
            let catalog = try options.open()
            print("catalog \(options.catalog): \(try catalog.count()) samples, schema version \(try catalog.schemaVersion)")
            let groups = try catalog.summary()
            if !groups.isEmpty {
                print("source / crop / split: samples, mean trees, mean canopy fraction")
                for g in groups {
                    print("  \(g.source) / \(g.crop) / \(g.split): \(g.samples), \(format(g.meanTreeCount)), \(format(g.meanCanopyFraction))")
                }
            }
            let manifests = try catalog.manifests()
            print("manifests: \(manifests.count)")
            for m in manifests { print("  \(m.name)  \(m.count) samples  \(m.createdAt)  \(m.sha256.prefix(16))  \(m.query)") }
        }
    }

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Verify and describe one manifest.")
        @OptionGroup var options: CatalogOptions
        @Argument(help: "Manifest name.") var name: String
        @Option(help: "Entries to list.") var entries = 10

        func run() throws {
            let catalog = try options.open()
            let manifest = try catalog.manifest(named: name)
            let current = try catalog.stateHash()
            print("manifest \(manifest.name) (hash verified)")
            print("  sha256        \(manifest.sha256)")
            print("  samples       \(manifest.count)")
            print("  created       \(manifest.createdAt)")
            print("  query         \(manifest.query)")
            print("  catalog state \(manifest.catalogState)\(manifest.catalogState == current ? " (current)" : " (catalog has changed since)")")
            for entry in manifest.entries.prefix(max(0, entries)) { print("  \(entry.id)  \(entry.sha256.prefix(16))  \(entry.path)") }
            if manifest.count > entries { print("  ... \(manifest.count - entries) more") }
        }
    }

    struct Scan: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Read and decode every sample of a manifest through the input pipeline, and report its speed.")
        @OptionGroup var options: CatalogOptions
        @Argument(help: "Manifest name.") var name: String
        @Option(help: "Pipeline threads.") var threads = 2
        @Option(help: "Samples per micro-batch.") var batch = 8
        @Option(help: "Micro-batches fetched ahead.") var prefetch = 4
        @Flag(help: "Trust each file's SHA-256 trailer instead of recomputing it (gzip CRC-32 still checked).")
        var trustTrailers = false

        func run() throws {
            let catalog = try options.open()
            let manifest = try catalog.manifest(named: name)
            let clock = ContinuousClock()
            let began = clock.now
            let pipeline = try SamplePipeline(
                entries: manifest.entries, source: catalog.source,
                settings: SamplePipeline.Settings(threads: threads, microBatchSize: batch, prefetchBatches: prefetch,
                                                  verifyContentHashes: !trustTrailers))
            while try pipeline.next() != nil {}
            let seconds = (clock.now - began).inSeconds
            let stats = pipeline.statistics
            print("scanned \(stats.samplesDelivered) samples of \(name) with \(threads) threads in \(format(seconds)) s")
            print("  \(Int(Double(stats.samplesDelivered) / seconds)) samples/s; \(format(Double(stats.bytesRead) / 1e6 / seconds)) MB/s read, \(format(Double(stats.bytesDecoded) / 1e6 / seconds)) MB/s decoded")
            print("  consumer waited \(format(stats.waitTime.inSeconds)) s; fetch+decode \(format(stats.workTime.inSeconds)) thread-seconds")
        }
    }
}

private func format(_ value: Double) -> String { String(format: "%.2f", value) }
