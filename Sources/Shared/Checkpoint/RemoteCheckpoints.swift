import Core
import Foundation
import ObjectStore

/// A copy of a run's checkpoints in object storage, laid out like the local store:
/// `<prefix>/step-000120/{weights.safetensors, optimizer.safetensors, manifest.json}`.
///
/// The protocol mirrors the local one with what object storage offers instead of `rename`: a
/// checkpoint counts as present remotely only when its `manifest.json` exists, so
/// - an upload sends the tensor files first (each checked, as it is read, against the size and
///   SHA-256 its local manifest records) and the manifest last;
/// - anything that replaces or removes a checkpoint deletes its manifest first.
/// A crash at any moment therefore leaves every remote manifest pointing at complete files, and
/// a half-uploaded checkpoint is only a directory without a manifest, never chosen by
/// `restoreNewestVerified(into:)` (which verifies every byte it downloads anyway).
///
/// One writer per prefix at a time: the run's coordinator.
public struct RemoteCheckpoints: Sendable {
    public let storage: any ObjectStorage
    public let location: ObjectLocation
    /// How many complete checkpoints retention keeps remotely.
    public let keep: Int
    /// Part size of uploads and downloads, in bytes (at least S3's 5 MiB minimum).
    public let partSize: Int

    public init(storage: any ObjectStorage, location: ObjectLocation, keep: Int, partSize: Int = 16 << 20) {
        precondition(partSize >= MultipartUpload.minimumPartSize, "part size \(partSize) is below S3's minimum")
        self.storage = storage
        self.location = location
        self.keep = max(1, keep)
        self.partSize = partSize
    }

    /// One `step-<n>/` directory in the store.
    public struct Entry: Sendable, Equatable {
        public var step: Int
        public var objects: [ObjectInfo]
        /// Whether its manifest is there: only then is it a checkpoint.
        public var complete: Bool
    }

    /// Everything under the prefix, by step, ascending. Keys that are not `step-<n>/<file>` are ignored.
    public func entries() throws -> [Entry] {
        let root = location.key("")
        var byStep: [Int: [ObjectInfo]] = [:]
        for object in try storage.list(prefix: root) {
            let relative = object.key.dropFirst(root.count)
            let parts = relative.split(separator: "/", omittingEmptySubsequences: false)
            guard parts.count == 2, let step = CheckpointStore.step(ofDirectoryName: String(parts[0])) else { continue }
            byStep[step, default: []].append(object)
        }
        return byStep.keys.sorted().map { step in
            let objects = byStep[step]!
            let manifest = key(step: step, file: CheckpointStore.manifestFile)
            return Entry(step: step, objects: objects, complete: objects.contains { $0.key == manifest })
        }
    }

    /// `s3://bucket/prefix/step-000120/weights.safetensors` without the scheme and bucket.
    public func key(step: Int, file: String) -> String {
        location.key(CheckpointStore.directoryName(step: step) + "/" + file)
    }

    /// What an upload did, for the log and the measurements.
    public struct UploadReport: Sendable {
        public var step: Int
        public var bytes: Int
        public var seconds: Double
        /// Remote checkpoints removed by retention or because they belonged to an abandoned timeline.
        public var removed: [Int]
    }

    /// Uploads the local checkpoint `info` (tensor files, then the manifest) and applies retention.
    ///
    /// Before anything is sent, remote checkpoints of this step and of later steps are
    /// removed, manifest first: a later step belongs to a timeline the run abandoned when it
    /// resumed from an earlier checkpoint, and must never be chosen by a resume again.
    ///
    /// - Throws: `ObjectStoreError` from the store; `CheckpointError` `.checksumMismatch` when a
    ///   file read for upload differs from its manifest (the local copy changed under the upload);
    ///   in both cases no manifest was sent.
    @discardableResult
    public func upload(_ info: CheckpointInfo) throws -> UploadReport {
        let started = ContinuousClock.now
        let step = info.step
        var removed: [Int] = []
        for entry in try entries() where entry.step >= step {
            try remove(entry)
            if entry.step > step { removed.append(entry.step) }
        }
        var bytes = 0
        for file in info.manifest.files {
            let local = info.path + "/" + file.name
            let sent = try storage.upload(file: local, to: key(step: step, file: file.name), partSize: partSize)
            guard sent.size == file.size, sent.sha256 == file.sha256 else {
                throw CheckpointError(.checksumMismatch, "\(local) read for upload has \(sent.size) bytes with SHA-256 \(sent.sha256), "
                                      + "but its manifest says \(file.size) bytes with \(file.sha256); not publishing step \(step)")
            }
            bytes += sent.size
        }
        // The chaos suite can kill the process here: tensor files uploaded, no manifest.
        FaultPoint.reached(.midUpload, step: step)
        let manifestPath = info.path + "/" + CheckpointStore.manifestFile
        let manifestBytes = try DurableFile.read(manifestPath, maximumSize: CheckpointManifest.maximumSize)
        let reread = try CheckpointManifest(decoding: manifestBytes, source: manifestPath)
        guard reread.step == step, reread.files == info.manifest.files, reread.weightsSHA256 == info.manifest.weightsSHA256 else {
            throw CheckpointError(.inconsistent, "\(manifestPath) changed while step \(step) was being uploaded; not publishing it")
        }
        try storage.put(key(step: step, file: CheckpointStore.manifestFile), manifestBytes)
        bytes += manifestBytes.count
        removed += try applyRetention(written: step)
        return UploadReport(step: step, bytes: bytes, seconds: (ContinuousClock.now - started).seconds, removed: removed)
    }

    /// Deletes every checkpoint under the prefix (a run started over), manifests first.
    public func removeAll() throws {
        for entry in try entries().reversed() { try remove(entry) }
    }

    /// Downloads the newest remote checkpoint that verifies into `store` (which must not already
    /// hold that step) and returns it, with a report for each newer one that did not verify.
    ///
    /// - Returns: nil when the prefix holds no complete checkpoint.
    /// - Throws: `ObjectStoreError` when the store cannot be read — never taken as "no
    ///   checkpoint", which would start the run over; `.noVerifiedCheckpoint` when complete
    ///   checkpoints exist and none verifies.
    public func restoreNewestVerified(into store: CheckpointStore) throws -> (checkpoint: Checkpoint, info: CheckpointInfo, damaged: [DamageReport])? {
        var damaged: [DamageReport] = []
        for entry in try entries().reversed() where entry.complete {
            let source = "\(storage.name)/\(location.key(CheckpointStore.directoryName(step: entry.step)))"
            do {
                let (checkpoint, info) = try store.install(step: entry.step) { staging in try download(entry, into: staging, source: source) }
                return (checkpoint, info, damaged)
            } catch let error as CheckpointError {
                damaged.append(DamageReport(path: source, step: entry.step, error: error))
            }
        }
        if damaged.isEmpty { return nil }
        throw CheckpointError(.noVerifiedCheckpoint, "\(storage.name)/\(location.prefix): none of the \(damaged.count) checkpoints verifies: "
                              + damaged.map(\.description).joined(separator: "; "))
    }

    private func download(_ entry: Entry, into staging: String, source: String) throws {
        let manifestKey = key(step: entry.step, file: CheckpointStore.manifestFile)
        guard let size = entry.objects.first(where: { $0.key == manifestKey })?.size, size <= CheckpointManifest.maximumSize else {
            throw CheckpointError(.badManifest, "\(source)/\(CheckpointStore.manifestFile) is larger than \(CheckpointManifest.maximumSize) bytes")
        }
        guard let manifestBytes = try storage.get(manifestKey, range: nil) else {
            throw CheckpointError(.incomplete, "\(source)/\(CheckpointStore.manifestFile) disappeared while it was being read")
        }
        let manifest = try CheckpointManifest(decoding: manifestBytes, source: "\(source)/\(CheckpointStore.manifestFile)")
        for file in manifest.files {
            // Only the two names a checkpoint has: a manifest must not name a path to write to.
            guard [CheckpointStore.weightsFile, CheckpointStore.optimizerFile].contains(file.name) else {
                throw CheckpointError(.badManifest, "\(source)/\(CheckpointStore.manifestFile) lists an unknown file \"\(file.name)\"")
            }
            let objectKey = key(step: entry.step, file: file.name)
            guard let remote = entry.objects.first(where: { $0.key == objectKey }), remote.size == file.size else {
                throw CheckpointError(.checksumMismatch, "\(source)/\(file.name) is missing or not \(file.size) bytes as its manifest says")
            }
            try storage.download(objectKey, size: file.size, to: staging + "/" + file.name, partSize: partSize)
        }
        let sink = try DurableFile.Sink(creating: staging + "/" + CheckpointStore.manifestFile)
        try manifestBytes.withUnsafeBytes { try sink.append($0) }
        _ = try sink.finish()
    }

    /// Manifest first, then the rest: never a manifest without its files.
    private func remove(_ entry: Entry) throws {
        let manifestKey = key(step: entry.step, file: CheckpointStore.manifestFile)
        if entry.complete { try storage.delete(manifestKey) }
        for object in entry.objects where object.key != manifestKey { try storage.delete(object.key) }
    }

    /// Keeps the newest `keep` complete checkpoints up to `written` and removes every entry older
    /// than the oldest of them, complete or not. Returns the steps removed.
    private func applyRetention(written: Int) throws -> [Int] {
        let all = try entries()
        let complete = all.filter { $0.complete && $0.step <= written }
        guard complete.count > keep else { return [] }
        let oldestKept = complete[complete.count - keep].step
        var removed: [Int] = []
        for entry in all where entry.step < oldestKept {
            try remove(entry)
            removed.append(entry.step)
        }
        return removed
    }
}

extension Duration {
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) * 1e-18 }
}
