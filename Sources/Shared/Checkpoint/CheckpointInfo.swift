/// A complete checkpoint on disk: where it is and what its manifest says.
///
/// "Complete" means the directory has a manifest that parses; whether its files still match the
/// manifest is only known after `CheckpointStore.load(path:)` has verified them.
public struct CheckpointInfo: Sendable, Equatable {
    /// The checkpoint's directory (`<store directory>/step-000123`).
    public var path: String
    public var manifest: CheckpointManifest

    public var step: Int { manifest.step }

    public init(path: String, manifest: CheckpointManifest) {
        self.path = path
        self.manifest = manifest
    }
}
