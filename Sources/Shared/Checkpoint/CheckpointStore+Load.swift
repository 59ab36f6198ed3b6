import Core

extension CheckpointStore {
    /// Loads the newest checkpoint that verifies, reporting every newer one that did not.
    ///
    /// Directories are tried from the highest step down; each is fully verified by
    /// `load(path:)`. Staging directories of a crashed write are never considered; a same-step
    /// copy that a crashed replacement left moved aside counts as its step's checkpoint.
    ///
    /// - Returns: nil when the store holds no checkpoint directory at all (a fresh run).
    /// - Throws: `.noVerifiedCheckpoint` listing every damage report when checkpoint directories
    ///   exist but none verifies: starting from scratch then would silently throw away a run.
    public func loadNewestVerified() throws -> (checkpoint: Checkpoint, info: CheckpointInfo, damaged: [DamageReport])? {
        var damaged: [DamageReport] = []
        for entry in try stepDirectories().reversed() {
            do {
                let (checkpoint, info) = try load(path: entry.path)
                return (checkpoint, info, damaged)
            } catch let error as CheckpointError {
                damaged.append(DamageReport(path: entry.path, step: entry.step, error: error))
            }
        }
        if damaged.isEmpty { return nil }
        throw CheckpointError(
            .noVerifiedCheckpoint,
            "\(directory): none of the \(damaged.count) checkpoints verifies: "
                + damaged.map(\.description).joined(separator: "; ")
        )
    }

    /// Loads one checkpoint directory and verifies it completely.
    ///
    /// Checks, in order: the manifest exists, parses and has a known format version; its step
    /// matches the directory name; it lists exactly the two tensor files; each file has the
    /// recorded size (checked before reading, so a damaged manifest cannot make the loader
    /// allocate more than the file holds) and SHA-256; each parses as safetensors with tensors of
    /// the right prefix; the weights hash matches; and the run state in the checksummed weights
    /// file agrees with the manifest.
    ///
    /// - Throws: `CheckpointError` naming the file and the first check that failed.
    public func load(path checkpointPath: String) throws -> (checkpoint: Checkpoint, info: CheckpointInfo) {
        let manifest = try readManifest(in: checkpointPath)
        let manifestPath = checkpointPath + "/" + Self.manifestFile
        let directoryName = checkpointPath.split(separator: "/").last.map(String.init) ?? checkpointPath
        if let step = Self.step(ofDirectoryName: directoryName) ?? Self.step(ofHiddenName: directoryName, prefix: Self.replacedPrefix),
           step != manifest.step {
            throw CheckpointError(.inconsistent, "\(manifestPath): step \(manifest.step) does not match the directory name \(directoryName)")
        }
        let names = manifest.files.map(\.name)
        guard names.sorted() == [Self.optimizerFile, Self.weightsFile] else {
            throw CheckpointError(
                .badManifest,
                "\(manifestPath): lists files \(names), expected exactly \(Self.weightsFile) and \(Self.optimizerFile)"
            )
        }

        var loaded: [String: SafetensorsFile] = [:]
        for entry in manifest.files {
            let filePath = checkpointPath + "/" + entry.name
            guard DurableFile.exists(filePath) else {
                throw CheckpointError(.checksumMismatch, "\(filePath) is missing (listed in \(Self.manifestFile))")
            }
            let bytes = try DurableFile.read(filePath, expectedSize: entry.size)
            let digest = SHA256.hex(bytes)
            guard digest == entry.sha256 else {
                throw CheckpointError(.checksumMismatch, "\(filePath) has SHA-256 \(digest) but the manifest says \(entry.sha256)")
            }
            loaded[entry.name] = try SafetensorsFile(decoding: bytes, source: filePath)
        }
        let weights = loaded[Self.weightsFile]!
        let optimizer = loaded[Self.optimizerFile]!
        try requirePrefix(Checkpoint.parameterPrefix, in: weights, file: checkpointPath + "/" + Self.weightsFile)
        try requirePrefix(Checkpoint.optimizerPrefix, in: optimizer, file: checkpointPath + "/" + Self.optimizerFile)

        let checkpoint = Checkpoint(metadata: manifest.metadata, tensors: weights.tensors + optimizer.tensors)
        guard checkpoint.weightsSHA256 == manifest.weightsSHA256 else {
            throw CheckpointError(
                .inconsistent,
                "\(manifestPath): weights_sha256 \(manifest.weightsSHA256) does not match the parameters (\(checkpoint.weightsSHA256))"
            )
        }
        for (key, value) in manifest.metadata.safetensorsMetadata.sorted(by: { $0.key < $1.key })
        where weights.metadata[key] != value {
            throw CheckpointError(
                .inconsistent,
                "\(manifestPath) says \(key) = \"\(value)\" but \(Self.weightsFile) says \"\(weights.metadata[key] ?? "nothing")\""
            )
        }
        return (checkpoint, CheckpointInfo(path: checkpointPath, manifest: manifest))
    }

    private func requirePrefix(_ prefix: String, in contents: SafetensorsFile, file path: String) throws {
        for tensor in contents.tensors where !tensor.name.hasPrefix(prefix) {
            throw CheckpointError(.inconsistent, "\(path): tensor \"\(tensor.name)\" does not start with \(prefix)")
        }
    }
}
