import Foundation
import Yams

extension ClusterConfig {
    /// Reads `cluster.yaml`, applies `--set` overrides, validates, and returns the configuration.
    ///
    /// Keys missing from the file keep their defaults. Overrides are applied in order after the
    /// file, so the last `--set` of a key wins; validation runs once at the end, so an override
    /// can repair an out-of-range value in the file.
    ///
    /// - Parameters:
    ///   - path: The YAML file; nil starts from the defaults alone.
    ///   - overrides: `section.key=value` strings (the argument of each `--set`); the value is read
    ///     as a YAML scalar, so `training.steps=20` is an integer and `run.name="20"` a string.
    /// - Throws: `ConfigError` naming the key path, the line or `--set` argument, what was
    ///   expected and what was found.
    public static func load(path: String?, overrides: [String] = []) throws(ConfigError) -> ClusterConfig {
        guard let path else { return try parse(yaml: "", source: "defaults", overrides: overrides) }
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw ConfigError(.unreadable, keyPath: "", origin: .file(name: path, line: 0, column: 0),
                              expected: "a readable UTF-8 YAML file",
                              found: "an error (\(error.localizedDescription))")
        }
        return try parse(yaml: text, source: path, overrides: overrides)
    }

    /// Like `load`, from YAML text already in memory. `source` names the text in messages.
    public static func parse(yaml: String, source: String, overrides: [String] = []) throws(ConfigError) -> ClusterConfig {
        var reader = ConfigReader(source: source)
        try reader.readDocument(yaml)
        for override in overrides { try reader.applyOverride(override) }
        try reader.config.validate(origins: reader.origins)
        return reader.config
    }
}

/// Walks a composed YAML document and `--set` arguments into a `ClusterConfig`, remembering where
/// each key was written so that validation can point at it.
struct ConfigReader {
    let source: String
    var config = ClusterConfig()
    var origins: [String: ConfigError.Origin] = [:]

    init(source: String) { self.source = source }

    func origin(of node: Node) -> ConfigError.Origin {
        .file(name: source, line: node.mark?.line ?? 0, column: node.mark?.column ?? 0)
    }

    mutating func readDocument(_ yaml: String) throws(ConfigError) {
        let root: Node?
        do {
            root = try Yams.compose(yaml: yaml)
        } catch {
            throw ConfigError(yamlError: error, source: source, text: yaml)
        }
        guard let root, !root.isNull else { return }
        guard case let .mapping(sections) = root else {
            throw ConfigError(.notMapping, keyPath: "", origin: origin(of: root),
                              expected: "a mapping of sections (" + ConfigSchema.sections.joined(separator: ", ") + ")",
                              found: root.foundDescription)
        }
        for (sectionNode, body) in sections {
            let section = sectionNode.string ?? ""
            guard ConfigSchema.sections.contains(section) else {
                throw ConfigError(.unknownSection, keyPath: section, origin: origin(of: sectionNode),
                                  expected: "a section (" + ConfigSchema.sections.joined(separator: ", ") + ")",
                                  found: quoted(section),
                                  suggestion: NameSuggestion.nearest(to: section, in: ConfigSchema.sections))
            }
            if body.isNull { continue }  // a section with every key commented out
            guard case let .mapping(keys) = body else {
                throw ConfigError(.notMapping, keyPath: section, origin: origin(of: body),
                                  expected: "a mapping of \(section) keys", found: body.foundDescription)
            }
            for (keyNode, value) in keys {
                let field = try lookUp(section: section, key: keyNode.string ?? "", origin: origin(of: keyNode))
                try assign(field, value, origin: origin(of: value))
            }
        }
    }

    /// Applies one `section.key=value` argument.
    mutating func applyOverride(_ argument: String) throws(ConfigError) {
        let origin = ConfigError.Origin.override(argument)
        guard let equals = argument.firstIndex(of: "="),
              let dot = argument[..<equals].firstIndex(of: ".") else {
            throw ConfigError(.badOverride, keyPath: "", origin: origin,
                              expected: "section.key=value (for example training.steps=20)",
                              found: quoted(argument))
        }
        // Spaces around the names (`--set "training.steps = 20"`) are not part of them.
        let section = argument[..<dot].trimmingCharacters(in: .whitespaces)
        let key = argument[argument.index(after: dot)..<equals].trimmingCharacters(in: .whitespaces)
        let text = String(argument[argument.index(after: equals)...])
        guard ConfigSchema.sections.contains(section) else {
            throw ConfigError(.unknownSection, keyPath: section, origin: origin,
                              expected: "a section (" + ConfigSchema.sections.joined(separator: ", ") + ")",
                              found: quoted(section),
                              suggestion: NameSuggestion.nearest(to: section, in: ConfigSchema.sections))
        }
        let field = try lookUp(section: section, key: key, origin: origin)
        let node: Node
        do {
            node = try Yams.compose(yaml: text) ?? Node("", Tag(.null))
        } catch {
            throw ConfigError(.syntax, keyPath: field.path, origin: origin,
                              expected: "a YAML scalar", found: quoted(text))
        }
        try assign(field, node, origin: origin)
    }

    private func lookUp(section: String, key: String, origin: ConfigError.Origin) throws(ConfigError) -> ConfigField {
        if let field = ConfigSchema.field(section: section, key: key) { return field }
        let known = ConfigSchema.keys(of: section)
        var suggestion = NameSuggestion.nearest(to: key, in: known).map { "\(section).\($0)" }
        if suggestion == nil {
            // The right key in the wrong section (`run.seed` for `training.seed`).
            suggestion = ConfigSchema.fields.first { $0.key == key }?.path
        }
        throw ConfigError(.unknownKey, keyPath: "\(section).\(key)", origin: origin,
                          expected: "a key of \(section) (" + known.joined(separator: ", ") + ")",
                          found: quoted(key), suggestion: suggestion)
    }

    private mutating func assign(_ field: ConfigField, _ node: Node, origin: ConfigError.Origin) throws(ConfigError) {
        do {
            field.set(&config, try field.decode(node))
            origins[field.path] = origin
        } catch {
            throw ConfigError(error.kind, keyPath: field.path, origin: origin,
                              expected: field.expected, found: node.foundDescription)
        }
    }
}

extension Node {
    fileprivate var isNull: Bool {
        if case .scalar = self { return tagName == .null }
        return false
    }
}
