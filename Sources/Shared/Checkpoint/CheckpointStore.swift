import Core

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
    /// A checkpoint being written.
    static let stagingPrefix = ".tmp-"
    /// A checkpoint of the same step as the one being written, moved aside until the new one is
    /// in place. If a crash leaves it without a `step-` directory of its step, it is still that
    /// step's checkpoint: loading uses it and the next write moves it back.
    static let replacedPrefix = ".replaced-"
    /// A checkpoint being deleted by retention.
    static let retiredPrefix = ".retired-"

    public let directory: String
    /// How many complete checkpoints retention keeps; at least 1 (2 or more leaves a fallback
    /// if the newest is damaged later).
    public let keep: Int
    /// Crash-consistency tests stop writes part-way through with this; nil in production.
    var crashPlan: CrashPlan?

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
    /// directory, each file fsynced, and the staging directory fsynced. Checkpoints of later
    /// steps (a timeline the run abandoned by resuming from an earlier one) are then removed. A
    /// checkpoint of the same step is moved aside; the staging directory is renamed to its
    /// `step-` name — the commit point — and the parent directory fsynced. Retention then
    /// removes every directory older than the newest `keep` complete checkpoints. Removals go
    /// through a rename to a hidden name, so none is ever half-done under a `step-` name.
    /// Hidden directories left by an earlier crash are cleaned up first.
    ///
    /// A crash before the commit leaves the previous checkpoints loadable (a same-step copy
    /// that was moved aside still counts, and the next write moves it back); a crash after it
    /// leaves the new one. `CheckpointCrashTests` stops a write at every operation to check this.
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
            try step { try DurableFile.makeDirectories(directory) }
            // The new directory's own entry must be durable too, or the first checkpoint's
            // rename could survive a power cut that loses the directory holding it.
            try step { try DurableFile.syncDirectory(DurableFile.parent(of: directory)) }
        }
        try removeLeftovers()

        let name = Self.directoryName(step: checkpoint.metadata.step)
        let finalPath = path(of: name)
        let staging = path(of: Self.stagingPrefix + name + "-" + Self.uniqueSuffix())
        try step { try DurableFile.makeDirectory(staging) }
        let manifest: CheckpointManifest
        var replaced: String?
        do {
            manifest = try writeContents(of: checkpoint, into: staging)
            try step { try DurableFile.syncDirectory(staging) }
            // Later steps belong to a timeline the run abandoned when it resumed from an earlier
            // checkpoint; they go before the commit so that no crash can make resume pick them.
            for stale in try stepDirectories() where stale.step > checkpoint.metadata.step {
                try retire(stale.path)
            }
            if DurableFile.exists(finalPath) {
                let aside = path(of: Self.replacedPrefix + name + "-" + Self.uniqueSuffix())
                try step { try DurableFile.rename(finalPath, to: aside) }
                replaced = aside
            }
            try step { try DurableFile.rename(staging, to: finalPath) }
            try step { try DurableFile.syncDirectory(directory) }
        } catch is CrashPlan.Crashed {
            throw CrashPlan.Crashed()
        } catch {
            try? DurableFile.removeTree(staging)
            // Put the checkpoint that was moved aside back, so a failed replacement loses nothing.
            if let replaced, !DurableFile.exists(finalPath) { try? DurableFile.rename(replaced, to: finalPath) }
            throw error
        }
        // Failing to delete the old copy is harmless: it is hidden, and the next write removes it.
        if let replaced { try step { try DurableFile.removeTree(replaced) } }

        do {
            try applyRetention(written: checkpoint.metadata.step)
        } catch is CrashPlan.Crashed {
            throw CrashPlan.Crashed()
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

    /// The step of a hidden `<prefix>step-<digits>-<suffix>` name.
    static func step(ofHiddenName name: String, prefix: String) -> Int? {
        guard name.hasPrefix(prefix) else { return nil }
        let rest = name.dropFirst(prefix.count)
        guard let dash = rest.lastIndex(of: "-") else { return nil }
        return step(ofDirectoryName: String(rest[..<dash]))
    }

    func path(of name: String) -> String {
        directory.hasSuffix("/") ? directory + name : directory + "/" + name
    }

    /// Every checkpoint directory, ascending by step: the `step-<n>` directories, plus any
    /// same-step copy a crashed replacement left moved aside with no `step-<n>` to take its
    /// place. Staging and retired directories are never included.
    func stepDirectories() throws -> [(step: Int, path: String)] {
        let names = try DurableFile.entries(of: directory)
        var found: [Int: String] = [:]
        for name in names {
            if let step = Self.step(ofDirectoryName: name) { found[step] = path(of: name) }
        }
        for name in names.sorted() {
            if let step = Self.step(ofHiddenName: name, prefix: Self.replacedPrefix), found[step] == nil {
                found[step] = path(of: name)
            }
        }
        return found.map { (step: $0.key, path: $0.value) }.sorted { $0.step < $1.step }
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
            let sink = try step { try DurableFile.Sink(creating: staging + "/" + name) }
            try file.write(source: sink.path) { chunk in try append(chunk, to: sink) }
            files.append(try step { try sink.finish() })
        }
        // The chaos suite can kill the process here: tensor files written, no manifest.
        FaultPoint.reached(.midCheckpoint, step: metadata.step)
        let manifest = CheckpointManifest(metadata: metadata, weightsSHA256: checkpoint.weightsSHA256, files: files)
        let sink = try step { try DurableFile.Sink(creating: staging + "/" + Self.manifestFile) }
        try manifest.encoded().withUnsafeBytes { try append($0, to: sink) }
        _ = try step { try sink.finish() }
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

    /// Cleans up after a crashed write: deletes staging and retired directories, and finishes an
    /// interrupted replacement — the moved-aside copy is deleted if the new `step-` directory is
    /// in place, and moved back otherwise.
    func removeLeftovers() throws {
        for name in try DurableFile.entries(of: directory).sorted() {
            if name.hasPrefix(Self.stagingPrefix + "step-") || name.hasPrefix(Self.retiredPrefix + "step-") {
                try step { try DurableFile.removeTree(path(of: name)) }
            } else if let replacedStep = Self.step(ofHiddenName: name, prefix: Self.replacedPrefix) {
                let original = path(of: Self.directoryName(step: replacedStep))
                if DurableFile.exists(original) {
                    try step { try DurableFile.removeTree(path(of: name)) }
                } else {
                    try step { try DurableFile.rename(path(of: name), to: original) }
                    try step { try DurableFile.syncDirectory(directory) }
                }
            }
        }
    }

    /// Removes a checkpoint directory: first renamed to a hidden name (atomic), then deleted,
    /// so a crash part-way through a deletion never leaves a half-deleted `step-` directory
    /// that the next load would report as damaged.
    private func retire(_ checkpointPath: String) throws {
        let name = checkpointPath.split(separator: "/").last.map(String.init) ?? checkpointPath
        let aside = path(of: Self.retiredPrefix + name + "-" + Self.uniqueSuffix())
        try step { try DurableFile.rename(checkpointPath, to: aside) }
        try step { try DurableFile.removeTree(aside) }
    }

    /// Runs one file-system operation, first giving a crash plan the chance to stop the write.
    private func step<Result>(_ operation: () throws -> Result) throws -> Result {
        try crashPlan?.pass()
        return try operation()
    }

    /// Appends one chunk; at a planned crash, only the first half of the chunk reaches the file.
    private func append(_ chunk: UnsafeRawBufferPointer, to sink: DurableFile.Sink) throws {
        do {
            try crashPlan?.pass()
        } catch {
            try sink.append(UnsafeRawBufferPointer(rebasing: chunk.prefix(chunk.count / 2)))
            throw error
        }
        try sink.append(chunk)
    }

    private func applyRetention(written writtenStep: Int) throws {
        let directories = try stepDirectories()
        let complete = directories.filter { entry in
            entry.step <= writtenStep && (try? readManifest(in: entry.path)) != nil
        }
        guard complete.count > keep else { return }
        let oldestKept = complete[complete.count - keep].step
        for old in directories where old.step < oldestKept {
            try retire(old.path)
        }
    }

    private static func uniqueSuffix() -> String {
        String(UInt64.random(in: 0...UInt64.max), radix: 16)
    }
}
