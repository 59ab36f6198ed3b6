/// A part of a run's held-out tiles that is measured and reported on its own: the tiles of one
/// held-out manifest (`dataset.validation_manifests`). Splits exist because held-out tiles differ
/// in what the model could have learnt about them — a region of an image it trained on, or a site
/// it never saw — and a pooled score hides which one it is.
public struct ValidationSplit: Sendable, Equatable {
    /// The manifest's name (`Manifest.name`), printed and written in `summary.json`.
    public var name: String
    /// The manifest's path as configured.
    public var manifest: String
    /// Where the split's tiles are in `RunSetup.validation`.
    public var range: Range<Int>

    public init(name: String, manifest: String, range: Range<Int>) {
        self.name = name
        self.manifest = manifest
        self.range = range
    }
}
