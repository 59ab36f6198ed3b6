import Core

extension ClusterConfig {
    /// Tells a future reader which rules produced `canonicalText`; bump it if the format changes,
    /// so that old and new hashes can never be confused.
    static let canonicalFormat = "grove-cluster-config-v1"

    /// One `section.key=value` line per setting, in schema order, values as YAML literals
    /// (strings quoted and escaped, doubles in shortest round-trip form).
    ///
    /// It covers every setting, including defaults, so two runs whose files differ only in
    /// comments, key order or spelled-out defaults get the same text.
    public var canonicalText: String {
        var text = Self.canonicalFormat + "\n"
        let defaults = ClusterConfig()
        for field in ConfigSchema.fields {
            if ConfigSchema.hashedOnlyWhenSet.contains(field.path) && field.get(self) == field.get(defaults) { continue }
            text += "\(field.path)=\(field.get(self).literal)\n"
        }
        return text
    }

    /// SHA-256 of `canonicalText`, as lower-case hex: recorded in checkpoints and the run
    /// directory so that a result can be traced to the exact configuration that produced it.
    public var canonicalHash: String {
        SHA256.hex(Array(canonicalText.utf8))
    }

    /// The effective configuration as YAML, every section and key present, for the run
    /// directory. Loading the text gives back an equal configuration.
    public func rendered() -> String {
        var text = "# Effective Grove configuration; canonical hash \(canonicalHash)\n"
        var section = ""
        for field in ConfigSchema.fields {
            if field.section != section {
                section = field.section
                text += "\(section):\n"
            }
            text += "  \(field.key): \(field.get(self).literal)\n"
        }
        return text
    }
}
