/// Writes checkpoints atomically into one directory, keeps the newest few, and loads the newest
/// one that verifies.
///
/// Layout: `<directory>/step-000123/{weights.safetensors, optimizer.safetensors, manifest.json}`.
/// The write protocol (see `write(_:)` and docs/checkpoints.md) makes a crash at any moment leave
/// either the previous set of checkpoints or the previous set plus the new one, never a
/// half-written directory under a `step-` name. One store (one process) writes to a directory at
/// a time; readers may run concurrently.
public struct CheckpointStore: Sendable {
    public static let weightsFile = "weights.safetensors"
    public static let optimizerFile = "optimizer.safetensors"
    public static let manifestFile = "manifest.json"
    static let stagingPrefix = ".tmp-"
    static let replacedPrefix = ".old-"

    public let directory: String
    /// How many complete checkpoints retention keeps; at least 1 (2 or more leaves a fallback
    /// if the newest is damaged later).
    public let keep: Int

    public init(directory: String, keep: Int) {
        self.directory = directory
        self.keep = keep
    }

    /// `step-000123`: six digits at least, so that directory listings sort by step in practice;
    /// the store itself parses the number and never relies on the text order.
    public static func directoryName(step: Int) -> String {
        let digits = String(step)
        return "step-" + String(repeating: "0", count: max(0, 6 - digits.count)) + digits
    }

    /// Writes `checkpoint` as `step-<step>/` and applies retention.
    ///
    /// Protocol: the tensor files and then the manifest are written into a fresh hidden staging
    /// directory, each file fsynced; the staging directory is fsynced, renamed to its `step-`
    /// name, and the parent directory fsynced. The rename is the commit point. A checkpoint of
    /// the same step already present is moved aside first and deleted after the commit.
    /// Retention then removes checkpoints of later steps (a timeline the run has abandoned by
    /// resuming from an earlier one) and every directory older than the newest `keep` complete
    /// checkpoints. Leftover staging directories of an earlier crash are deleted first.
    ///
    /// - Returns: where the checkpoint was written and its manifest.
    /// - Throws: `CheckpointError` — `.invalidInput` for a bad checkpoint or `keep < 1`, `.io`
    ///   for a failed system call. If only retention fails, the message says the checkpoint itself
    ///   was written.
    @discardableResult
    public func write(_ checkpoint: Checkpoint) throws -> CheckpointInfo {
        guard keep >= 1 else {
            throw CheckpointError(.invalidInput, "checkpoint store \(directory): keep is \(keep), must be at least 1")
        }
        try checkpoint.validate()
        if !DurableFile.exists(directory) {
            try DurableFile.makeDirectories(directory)
            // The new directory's own entry must be durable too, or the first checkpoint's
            // rename could survive a power cut that loses the directory holding it.
            try DurableFile.syncDirectory(DurableFile.parent(of: directory))
        }
        try removeLeftovers()

        let name = Self.directoryName(step: checkpoint.metadata.step)
        let finalPath = path(of: name)
        let staging = path(of: Self.stagingPrefix + name + "-" + Self.uniqueSuffix())
        try DurableFile.makeDirectory(staging)
        let manifest: CheckpointManifest
        var replaced: String?
        do {
            manifest = try writeContents(of: checkpoint, into: staging)
            try DurableFile.syncDirectory(staging)
            if DurableFile.exists(finalPath) {
                let aside = path(of: Self.replacedPrefix + name + "-" + Self.uniqueSuffix())
                try DurableFile.rename(finalPath, to: aside)
                replaced = aside
            }
            try DurableFile.rename(staging, to: finalPath)
            try DurableFile.syncDirectory(directory)
        } catch {
            try? DurableFile.removeTree(staging)
            // Put the checkpoint that was moved aside back, so a failed replacement loses nothing.
            if let replaced, !DurableFile.exists(finalPath) { try? DurableFile.rename(replaced, to: finalPath) }
            throw error
        }
        // Failing to delete the old copy is harmless: it is hidden, and the next write removes it.
        if let replaced { try? DurableFile.removeTree(replaced) }

        do {
            try applyRetention(written: checkpoint.metadata.step)
        } catch {
            throw CheckpointError(.io, "checkpoint \(finalPath) was written, but retention failed: \(error)")
        }
        return CheckpointInfo(path: finalPath, manifest: manifest)
    }

    /// The complete checkpoints (a manifest that parses), oldest step first. Nothing is verified
    /// beyond the manifest; damaged or incomplete directories are left out.
    public func list() throws -> [CheckpointInfo] {
        try stepDirectories().compactMap { entry in
            guard let manifest = try? readManifest(in: entry.path), manifest.step == entry.step else { return nil }
            return CheckpointInfo(path: entry.path, manifest: manifest)
        }
    }

    /// The step of a `step-<digits>` name; nil for anything else (hidden staging directories,
    /// stray files, `step-+5`).
    static func step(ofDirectoryName name: String) -> Int? {
        guard name.hasPrefix("step-") else { return nil }
        let digits = name.utf8.dropFirst(5)
        guard !digits.isEmpty, digits.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else { return nil }
        return Int(name.dropFirst(5))
    }

    func path(of name: String) -> String {
        directory.hasSuffix("/") ? directory + name : directory + "/" + name
    }

    /// Every `step-<n>` directory, ascending by step (hidden staging directories are not included).
    func stepDirectories() throws -> [(step: Int, path: String)] {
        try DurableFile.entries(of: directory).compactMap { name -> (step: Int, path: String)? in
            guard let step = Self.step(ofDirectoryName: name) else { return nil }
            return (step, path(of: name))
        }
        .sorted { $0.step < $1.step }
    }

    private func writeContents(of checkpoint: Checkpoint, into staging: String) throws -> CheckpointManifest {
        let metadata = checkpoint.metadata
        let weights = SafetensorsFile(
            tensors: checkpoint.parameters,
            metadata: metadata.safetensorsMetadata.merging(["grove.content": "parameters"]) { $1 }
        )
        let optimizer = SafetensorsFile(
            tensors: checkpoint.optimizerState,
            metadata: ["grove.content": "optimizer", "grove.step": String(metadata.step)]
        )
        var files: [CheckpointManifest.FileEntry] = []
        for (name, file) in [(Self.weightsFile, weights), (Self.optimizerFile, optimizer)] {
            let sink = try DurableFile.Sink(creating: staging + "/" + name)
            try file.write(source: sink.path) { try sink.append($0) }
            files.append(try sink.finish())
        }
        let manifest = CheckpointManifest(metadata: metadata, weightsSHA256: checkpoint.weightsSHA256, files: files)
        let sink = try DurableFile.Sink(creating: staging + "/" + Self.manifestFile)
        try manifest.encoded().withUnsafeBytes { try sink.append($0) }
        _ = try sink.finish()
        return manifest
    }

    func readManifest(in checkpointPath: String) throws -> CheckpointManifest {
        let manifestPath = checkpointPath + "/" + Self.manifestFile
        guard DurableFile.exists(manifestPath) else {
            throw CheckpointError(.incomplete, "\(checkpointPath) has no \(Self.manifestFile): its write did not finish")
        }
        let bytes = try DurableFile.read(manifestPath, maximumSize: CheckpointManifest.maximumSize)
        return try CheckpointManifest(decoding: bytes, source: manifestPath)
    }

    /// Deletes staging and moved-aside directories left by a crashed write.
    private func removeLeftovers() throws {
        for name in try DurableFile.entries(of: directory)
        where name.hasPrefix(Self.stagingPrefix + "step-") || name.hasPrefix(Self.replacedPrefix + "step-") {
            try DurableFile.removeTree(path(of: name))
        }
    }

    private func applyRetention(written step: Int) throws {
        let directories = try stepDirectories()
        for stale in directories where stale.step > step {
            try DurableFile.removeTree(stale.path)
        }
        let complete = directories.filter { entry in
            entry.step <= step && (try? readManifest(in: entry.path)) != nil
        }
        guard complete.count > keep else { return }
        let oldestKept = complete[complete.count - keep].step
        for old in directories where old.step < oldestKept {
            try DurableFile.removeTree(old.path)
        }
    }

    private static func uniqueSuffix() -> String {
        String(UInt64.random(in: 0...UInt64.max), radix: 16)
    }
}
