import Dataset

/// Where `RunSetup` reads a run's files: the paths of the configuration on this machine, or the
/// coordinator's sample server (`RemoteDataset`), under the same configured paths. The samples,
/// their order and the dataset hash are the same either way.
public struct DatasetReader: Sendable {
    /// Nil: this machine's files.
    public let remote: RemoteDataset?

    public static let local = DatasetReader(remote: nil)

    public static func remote(_ dataset: RemoteDataset) -> DatasetReader { DatasetReader(remote: dataset) }

    /// The manifest the configuration names at `path`, verified; its sample files may then be read.
    func manifest(_ path: String) throws -> Manifest {
        guard let remote else { return try Manifest.load(path) }
        let relative = SampleService.relativeManifestPath(path)
        let manifest = try Manifest.decode(try remote.read(path: relative), origin: "\(path) (\(relative) from \(remote.server))")
        remote.register(manifest.entries)
        return manifest
    }

    /// The sample files of the catalog of the manifest at `path`.
    func samples(ofManifestAt path: String) -> any SampleSource {
        remote ?? LocalDirectorySource(root: Manifest.catalogDirectory(ofManifestAt: path))
    }

    /// The tile directory the configuration names at `path`, all its tiles decoded.
    func tiles(_ path: String) throws -> [Tile] {
        try TileDirectory.open(path, files: remote).loadAll()
    }
}
