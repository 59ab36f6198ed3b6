extension CheckpointStore {
    /// Puts a checkpoint made elsewhere (downloaded from object storage) into the store, only if
    /// it verifies.
    ///
    /// `fill` writes the checkpoint's three files into a fresh hidden staging directory; the
    /// directory is then verified completely by `load(path:)`, synced, and renamed to `step-<n>` —
    /// the same commit point as `write(_:)`, so a crash or a failed verification leaves only a
    /// hidden directory that the next write removes.
    ///
    /// - Throws: `CheckpointError` from verification (the staging directory is removed), `.invalidInput`
    ///   when the store already has a checkpoint of that step, or whatever `fill` throws.
    public func install(step: Int, fill: (_ staging: String) throws -> Void) throws -> (checkpoint: Checkpoint, info: CheckpointInfo) {
        if !DurableFile.exists(directory) {
            try DurableFile.makeDirectories(directory)
            try DurableFile.syncDirectory(DurableFile.parent(of: directory))
        }
        try removeLeftovers()
        let name = Self.directoryName(step: step)
        let finalPath = path(of: name)
        guard !DurableFile.exists(finalPath) else {
            throw CheckpointError(.invalidInput, "\(finalPath) already exists; not replacing it with a downloaded copy")
        }
        let staging = path(of: Self.stagingPrefix + name + "-" + String(UInt64.random(in: 0...UInt64.max), radix: 16))
        try DurableFile.makeDirectory(staging)
        do {
            try fill(staging)
            let (checkpoint, info) = try load(path: staging)
            guard info.step == step else {
                throw CheckpointError(.inconsistent, "\(staging)/\(Self.manifestFile): step \(info.step), expected \(step)")
            }
            try DurableFile.syncDirectory(staging)
            try DurableFile.rename(staging, to: finalPath)
            try DurableFile.syncDirectory(directory)
            return (checkpoint, CheckpointInfo(path: finalPath, manifest: info.manifest))
        } catch {
            try? DurableFile.removeTree(staging)
            throw error
        }
    }
}
