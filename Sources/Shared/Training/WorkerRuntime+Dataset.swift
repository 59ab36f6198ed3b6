import Config
import Core
import Dataset
import Foundation
import Logging
import ObjectStore
import Wire

extension WorkerRuntime {
    /// The run's setup, with the files read from where `dataset.source` says: this machine's copy
    /// at the configured paths, or the coordinator's sample server through the local cache.
    func makeSetup(_ config: ClusterConfig, samples: Wire.SampleChannel?) throws -> RunSetup {
        let dataset = config.dataset
        let localPath = dataset.manifest.isEmpty ? dataset.path + "/tiles.csv" : dataset.manifest
        let fetch: Bool
        let store = dataset.source.hasPrefix("s3://") ? dataset.source : nil
        switch dataset.source {
        case "local": fetch = false
        case "coordinator": fetch = true
        case _ where store != nil: fetch = true
        default: fetch = !FileManager.default.fileExists(atPath: localPath)
        }
        guard fetch else {
            logger.notice("dataset: reading the run's files on this machine at \(dataset.manifest.isEmpty ? dataset.path : dataset.manifest) (dataset.source \(dataset.source))")
            return try RunSetup(config: config)
        }
        guard let samples else {
            throw TrainingError(code: "dataset.no-source",
                                "the run's files are not on this machine at \(localPath), and the coordinator at \(settings.coordinator) serves none "
                                + "(its dataset.serve_port is -1, or it speaks protocol 1.\(Wire.samplesMinor - 1) or older); "
                                + "copy the dataset there or let the coordinator serve it (dataset.source \(dataset.source))")
        }
        let coordinator = try Endpoint.parse(settings.coordinator, origin: "--coordinator")
        let server = try Endpoint(host: coordinator.host, port: samples.port)
        let cache = try SampleCache(directory: settings.cacheDirectory, maxBytes: settings.cacheMaxBytes)
        let held = cache.statistics
        var objects: (storage: any ObjectStorage, location: ObjectLocation)?
        if let store {
            let location = try ObjectLocation.parse(store, origin: "dataset.source")
            objects = (S3Client(bucket: location.bucket, environment: try AWSEnvironment.resolve()), location)
        }
        let remote = try RemoteDataset(server: server, indexHash: samples.indexSha256, cache: cache, objects: objects,
                                       security: settings.security)
        let origin = store.map { "\($0), verified against the index of the coordinator's sample server \(server)" }
            ?? "the coordinator's sample server \(server)"
        logger.notice("dataset: fetching the run's files from \(origin) (dataset.source \(dataset.source))",
                      metadata: ["cache": "\(cache.directory)", "cache_limit_mib": "\(settings.cacheMaxBytes >> 20)",
                                 "cache_files": "\(held.entries)", "cache_mib": "\(held.bytes >> 20)"])
        self.remote = remote
        return try RunSetup(config: config, reader: .remote(remote))
    }

    /// What the sample channel and the cache did in this incarnation (nothing for local files).
    func logDatasetStatistics(_ logger: Logger) {
        guard let remote else { return }
        let s = remote.statistics, c = remote.cache.statistics
        logger.notice("samples: \(s.fetched) fetched (\(s.fetchedBytes) bytes), \(s.cacheHits) read from the cache",
                      metadata: ["rejected_answers": "\(s.rejectedAnswers)", "cache_files": "\(c.entries)", "cache_bytes": "\(c.bytes)",
                                 "cache_evicted": "\(c.evicted)", "cache_damaged": "\(c.damaged)"])
    }

    /// The cache directory when neither `--cache-dir` nor `GROVE_CACHE_DIR` names one:
    /// `$XDG_CACHE_HOME/grove/samples`, else `$HOME/.cache/grove/samples`, else under /tmp.
    public static func defaultCacheDirectory(environment: [String: String] = ProcessInfo.processInfo.environment) -> String {
        if let xdg = environment["XDG_CACHE_HOME"], xdg.hasPrefix("/") { return xdg + "/grove/samples" }
        if let home = environment["HOME"], home.hasPrefix("/") { return home + "/.cache/grove/samples" }
        return "/tmp/grove-samples-\(getuid())"
    }
}
