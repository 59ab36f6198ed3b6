/// The version of this build of Grove, printed by `--version` beside the wire protocol version.
///
/// A constant rather than `git describe`: SwiftPM cannot run a command at build time without a
/// build plugin. Raise it with every release.
public enum GroveVersion {
    public static let string = "0.9.0"
}
