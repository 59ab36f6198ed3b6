import Config
import Core
import Dataset
import Foundation
import Testing
@testable import Training
import Transport
import Wire

/// A worker's fetches from a real sample server over loopback: verified, cached, refused, rate
/// limited, and a hostile server's bytes never accepted.
@Suite(.serialized) struct RemoteDatasetClusteredTests {
    static let loopback = try! Endpoint(host: "127.0.0.1", port: nil)

    static func serve(_ service: SampleService, settings: ReplyServer.Settings = ReplyServer.Settings(),
                      tamper: @escaping @Sendable ([UInt8]) -> [UInt8]? = { $0 }) throws -> (ReplyServer, Endpoint) {
        let server = try ReplyServer(bind: loopback, origin: "test", settings: settings) { tamper(service.answer($0)) }
        let endpoint = try Endpoint.parse(server.endpoint, origin: "test")
        return (server, endpoint)
    }

    static func quick() -> RemoteDataset.Settings {
        var settings = RemoteDataset.Settings()
        settings.timeout = .milliseconds(500)
        return settings
    }

    @Test func fetchesVerifiesAndTheNextRunReadsOnlyTheCache() throws {
        let fixture = try SampleCatalogFixture()
        let service = try fixture.service()
        let (server, endpoint) = try Self.serve(service)
        defer { server.close() }
        let cacheDirectory = SampleCatalogFixture.scratch()
        let local = LocalDirectorySource(root: fixture.root)
        do {
            let remote = try RemoteDataset(server: endpoint, indexHash: service.indexHash,
                                           cache: try SampleCache(directory: cacheDirectory, maxBytes: 1 << 30))
            defer { remote.close() }
            let manifest = try DatasetReader.remote(remote).manifest(fixture.manifestPath)
            #expect(manifest == fixture.manifest)
            for entry in manifest.entries { #expect(try remote.read(path: entry.path) == local.read(path: entry.path)) }
            #expect(remote.statistics.fetched == 7 && remote.statistics.cacheHits == 0, "\(remote.statistics)")
        }
        // Another process on the same machine: everything from the cache, nothing asked.
        let requestsBefore = server.statistics.requests
        let again = try RemoteDataset(server: endpoint, indexHash: service.indexHash,
                                      cache: try SampleCache(directory: cacheDirectory, maxBytes: 1 << 30))
        defer { again.close() }
        let manifest = try DatasetReader.remote(again).manifest(fixture.manifestPath)
        for entry in manifest.entries { #expect(try again.read(path: entry.path) == local.read(path: entry.path)) }
        #expect(again.statistics.fetched == 0 && again.statistics.cacheHits == 7, "\(again.statistics)")
        #expect(server.statistics.requests == requestsBefore + 1, "only the index was asked for")
    }

    @Test func bytesThatDoNotVerifyAreFetchedAgainThenRefusedNamingSampleAndServer() throws {
        let fixture = try SampleCatalogFixture()
        let service = try fixture.service()
        // A server that flips one byte of every sample file (gzip) it sends; the manifest goes unharmed.
        let (server, endpoint) = try Self.serve(service) { reply in
            guard case .sampleData(var data)? = try? Wire.decode(reply).1, data.bytes.starts(with: [0x1F, 0x8B]) else { return reply }
            data.bytes[60] ^= 0x01
            return SampleService.encode(.sampleData(data))
        }
        defer { server.close() }
        let cache = try SampleCache(directory: SampleCatalogFixture.scratch(), maxBytes: 1 << 30)
        let remote = try RemoteDataset(server: endpoint, indexHash: service.indexHash, cache: cache, settings: Self.quick())
        defer { remote.close() }
        _ = try DatasetReader.remote(remote).manifest(fixture.manifestPath)
        let path = fixture.manifest.entries[2].path
        do {
            _ = try remote.read(path: path)
            Issue.record("a tampered sample was accepted")
        } catch {
            #expect(error.code == "source.hash-mismatch")
            #expect(error.message.contains(path) && error.message.contains(endpoint.description) && error.message.contains("3 attempts"), "\(error.message)")
        }
        #expect(remote.statistics.rejectedAnswers == 3 && cache.statistics.stored == 1, "only the manifest was cached: \(cache.statistics)")
    }

    @Test func truncatedAndGarbageAnswersAreErrorsNotTraps() throws {
        let fixture = try SampleCatalogFixture()
        let service = try fixture.service()
        // Cut every sample file's answer short, keeping the envelope and the request id.
        let (server, endpoint) = try Self.serve(service) { reply in
            guard case .sampleData(let data)? = try? Wire.decode(reply).1, data.bytes.starts(with: [0x1F, 0x8B]) else { return reply }
            return Array(reply.prefix(Wire.headerSize + 12))
        }
        defer { server.close() }
        let remote = try RemoteDataset(server: endpoint, indexHash: service.indexHash,
                                       cache: try SampleCache(directory: SampleCatalogFixture.scratch(), maxBytes: 1 << 30), settings: Self.quick())
        defer { remote.close() }
        _ = try DatasetReader.remote(remote).manifest(fixture.manifestPath)
        do {
            _ = try remote.read(path: fixture.manifest.entries[0].path)
            Issue.record("a truncated answer was accepted")
        } catch {
            #expect(error.code == "source.unreachable" && error.message.contains("undecodable"), "\(error.message)")
        }
    }

    @Test func anIndexOtherThanTheAnnouncedOneIsRefused() throws {
        let fixture = try SampleCatalogFixture()
        let service = try fixture.service()
        let (server, endpoint) = try Self.serve(service)
        defer { server.close() }
        var wrong = service.indexHash
        wrong[0] ^= 0xFF
        do {
            _ = try RemoteDataset(server: endpoint, indexHash: wrong, cache: try SampleCache(directory: SampleCatalogFixture.scratch(), maxBytes: 1 << 20),
                                  settings: Self.quick())
            Issue.record("an index with another hash was accepted")
        } catch let error as DatasetError {
            #expect(error.code == "source.index-mismatch" && error.message.contains(endpoint.description), "\(error.message)")
        }
    }

    @Test func pathsOutsideTheRunAreNotAskedAndServerRefusalsPassThrough() throws {
        let fixture = try SampleCatalogFixture()
        let full = try fixture.service()
        // A server that knows the index but none of the samples: it refuses them.
        let service = SampleService(root: fixture.root, index: full.index, samplePaths: [])
        let (server, endpoint) = try Self.serve(service)
        defer { server.close() }
        let remote = try RemoteDataset(server: endpoint, indexHash: service.indexHash,
                                       cache: try SampleCache(directory: SampleCatalogFixture.scratch(), maxBytes: 1 << 20), settings: Self.quick())
        defer { remote.close() }
        let asked = server.statistics.requests
        #expect(throws: DatasetError.self) { try remote.read(path: "catalog.sqlite") }
        #expect(server.statistics.requests == asked, "a path outside the run is refused before it is asked for")
        _ = try DatasetReader.remote(remote).manifest(fixture.manifestPath)
        do {
            _ = try remote.read(path: fixture.manifest.entries[0].path)
            Issue.record("a refused sample was read")
        } catch {
            #expect(error.code == "source.refused" && error.message.contains("not a file of this run"), "\(error.message)")
        }
    }

    @Test func eachWorkerIsRateLimitedOnItsOwn() throws {
        let root = SampleCatalogFixture.scratch()
        var generator = SplitMix64(seed: 5)
        let big = (0..<(512 << 10)).map { _ in UInt8(truncatingIfNeeded: generator.next()) }
        try Data(big).write(to: URL(fileURLWithPath: root + "/big.bin"))
        try Data([7]).write(to: URL(fileURLWithPath: root + "/small.bin"))
        let index = ["big.bin", "small.bin"].map { SampleCatalogFixture.indexed($0, root: root) }
        let service = SampleService(root: root, index: index, samplePaths: [])
        var settings = ReplyServer.Settings()
        settings.bytesPerSecondPerPeer = 256 * 1024
        settings.burstBytes = 64 * 1024
        let (server, endpoint) = try Self.serve(service, settings: settings)
        defer { server.close() }
        func dataset() throws -> RemoteDataset {
            var quick = Self.quick()
            quick.timeout = .seconds(20)
            return try RemoteDataset(server: endpoint, indexHash: service.indexHash,
                                     cache: try SampleCache(directory: SampleCatalogFixture.scratch(), maxBytes: 1 << 30), settings: quick)
        }
        let slow = try dataset(), other = try dataset()
        defer { slow.close(); other.close() }
        let clock = ContinuousClock()
        let start = clock.now
        let otherDone = Locked<Duration?>(nil)
        let thread = Thread {
            Thread.sleep(forTimeInterval: 0.2)  // while the big file waits for its rate
            let t = clock.now
            _ = try? other.read(path: "small.bin")
            otherDone.value = t.duration(to: clock.now)
        }
        thread.start()
        #expect(try slow.read(path: "big.bin") == big)
        let took = start.duration(to: clock.now)
        // (512 KiB + index - 64 KiB burst) at 256 KiB/s: 1.75 s at least.
        #expect(took >= .milliseconds(1700) && took < .seconds(15), "\(took)")
        while otherDone.value == nil { Thread.sleep(forTimeInterval: 0.01) }
        #expect(otherDone.value! < .milliseconds(500), "another worker waited for the first one's rate: \(otherDone.value!)")
    }

    /// The dataset hash and the samples a worker builds from fetched files are the coordinator's.
    @Test(arguments: [false, true])
    func aRemoteSetupEqualsTheLocalOne(manifest: Bool) throws {
        var config = ClusterConfigFixture.tiles()
        if manifest {
            let fixture = try SampleCatalogFixture(samples: 10)
            config.dataset.manifest = fixture.manifestPath
            config.dataset.validationEvery = 4
        }
        let service = try SampleService.forRun(config)
        let (server, endpoint) = try Self.serve(service)
        defer { server.close() }
        let remote = try RemoteDataset(server: endpoint, indexHash: service.indexHash,
                                       cache: try SampleCache(directory: SampleCatalogFixture.scratch(), maxBytes: 1 << 30))
        defer { remote.close() }
        let local = try RunSetup(config: config)
        let fetched = try RunSetup(config: config, reader: .remote(remote))
        #expect(fetched.datasetHash == local.datasetHash)
        #expect(fetched.validation == local.validation)
        #expect(fetched.training.count == local.training.count)
        let positions = Array(0..<local.training.count)
        #expect(try fetched.training.load(positions) == local.training.load(positions))
        #expect(remote.statistics.fetched > 0)
    }
}
