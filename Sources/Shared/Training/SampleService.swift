import Config
import Core
import Dataset
import Foundation
import Wire

/// What the coordinator's sample server serves, and how it answers one request: built once at
/// start from the run's configuration, then asked from the server's own thread.
///
/// It serves exactly the run's files and nothing else: with a tile directory, `tiles.csv`,
/// `instances.csv` and every image `tiles.csv` lists (the index, with each file's size and
/// SHA-256, computed here once); with manifests, the run's manifest files (the index) and every
/// sample file they list, relative to the catalog directory. Any other path — absolute, with
/// `..`, a file of the catalog that is not in the run — is refused, as is a file over
/// `maxFileBytes` or a request that does not decode.
public struct SampleService: Sendable {
    /// The directory paths are relative to.
    public let root: String
    public let index: [Wire.IndexedFile]
    /// SHA-256 of the index as sent (`Wire.indexHash`), announced in the run configuration.
    public let indexHash: [UInt8]
    /// Every path that may be requested: the index's and the manifests' sample files.
    let servable: Set<String>
    public let maxFileBytes: Int

    public init(root: String, index: [Wire.IndexedFile], samplePaths: [String], maxFileBytes: Int = 64 << 20) {
        self.root = root
        self.index = index
        indexHash = Wire.indexHash(index)
        servable = Set(index.map(\.path)).union(samplePaths)
        self.maxFileBytes = maxFileBytes
    }

    /// The service for a run's configuration, as the coordinator sees its files.
    public static func forRun(_ config: ClusterConfig) throws -> SampleService {
        let dataset = config.dataset
        if dataset.manifest.isEmpty {
            let directory = try TileDirectory.open(dataset.path)
            let index = try directory.fileList.map { try indexed($0, under: dataset.path) }
            return SampleService(root: dataset.path, index: index, samplePaths: [])
        }
        let root = Manifest.catalogDirectory(ofManifestAt: dataset.manifest)
        var index: [Wire.IndexedFile] = [], samples: [String] = []
        for path in [dataset.manifest, dataset.validationManifest] + dataset.validationManifestList where !path.isEmpty {
            let relative = Self.relativeManifestPath(path)
            guard !index.contains(where: { $0.path == relative }) else { continue }
            let file = try indexed(relative, under: root)
            index.append(file)
            samples += try Manifest.load(path).entries.map(\.path)
        }
        return SampleService(root: root, index: index, samplePaths: samples)
    }

    /// A manifest's path relative to its catalog (`manifests/NAME.json`): the last two components
    /// of the path the configuration names, as `Manifest.catalogDirectory` strips them.
    public static func relativeManifestPath(_ path: String) -> String {
        let url = URL(fileURLWithPath: path)
        return url.deletingLastPathComponent().lastPathComponent + "/" + url.lastPathComponent
    }

    private static func indexed(_ relative: String, under root: String) throws -> Wire.IndexedFile {
        let bytes = try LocalDirectorySource(root: root).read(path: relative)
        return Wire.IndexedFile(path: relative, size: UInt64(bytes.count), sha256: SHA256.hash(bytes))
    }

    /// The encoded reply to one encoded request (a `sampleRefused` for anything that is not a
    /// request this service serves).
    public func answer(_ frame: [UInt8]) -> [UInt8] {
        let message: Wire.Message
        do { message = try Wire.decode(frame).1 } catch {
            return Self.encode(.sampleRefused(Wire.SampleRefused(request: 0, reason: .malformed, text: "\(error)")))
        }
        switch message {
        case .indexRequest(let request):
            return Self.encode(.sampleIndex(Wire.SampleIndex(request: request.request, files: index)))
        case .sampleRequest(let request):
            return Self.encode(serve(request))
        default:
            return Self.encode(.sampleRefused(Wire.SampleRefused(
                request: 0, reason: .malformed, text: "a \(message.kind) is not a request of the sample channel")))
        }
    }

    func serve(_ request: Wire.SampleRequest) -> Wire.Message {
        func refuse(_ reason: Wire.SampleRefused.Reason, _ text: String) -> Wire.Message {
            .sampleRefused(Wire.SampleRefused(request: request.request, reason: reason, text: text))
        }
        guard servable.contains(request.path) else {
            return refuse(.notInRun, "'\(request.path.escapedForLog)' is not a file of this run")
        }
        do {
            let bytes = try LocalDirectorySource(root: root, maxFileBytes: maxFileBytes).read(path: request.path)
            return .sampleData(Wire.SampleData(request: request.request, bytes: bytes))
        } catch {
            if error.code == "source.too-large" { return refuse(.tooLarge, "\(request.path) is over the \(maxFileBytes)-byte limit of the sample server") }
            return refuse(.unreadable, "\(request.path): \(error.message)")
        }
    }

    static func encode(_ message: Wire.Message) -> [UInt8] {
        Wire.encode(message, generation: Generation(0), sender: WorkerID(0), incarnation: Incarnation(0))
    }
}
