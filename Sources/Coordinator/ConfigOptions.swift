import ArgumentParser
import Config
import Foundation

/// The options every run command takes: the configuration file, the run directory and overrides.
struct ConfigOptions: ParsableArguments {
    @Option(name: .long, help: "The cluster configuration (YAML). Defaults to ./cluster.yaml when it exists.")
    var config: String?

    @Option(name: .customLong("run-dir"), help: "The run directory (overrides run.directory).")
    var runDirectory: String?

    @Option(name: .customLong("set"), help: ArgumentHelp("Overrides one setting, e.g. --set training.steps=20 (repeatable).", valueName: "section.key=value"))
    var overrides: [String] = []

    /// Loads, applies overrides and validates; exits with code 2 and the error on a bad configuration.
    ///
    /// - Parameters:
    ///   - defaultPath: the file read when `--config` is not given.
    ///   - path: a file read instead of `--config` (a run's own `config.yaml`).
    ///   - forced: overrides applied after the user's, which they cannot undo.
    func load(defaultPath: String? = nil, path forcedPath: String? = nil, forced: [String] = []) -> ClusterConfig {
        var path = forcedPath ?? config ?? defaultPath
        if path == nil, FileManager.default.fileExists(atPath: "cluster.yaml") { path = "cluster.yaml" }
        var extra = overrides
        if let runDirectory { extra.append("run.directory=\(runDirectory)") }
        extra += forced
        do {
            return try ClusterConfig.load(path: path, overrides: extra)
        } catch {
            FileHandle.standardError.write(Data("error: \(error.description)\n".utf8))
            Foundation.exit(ConfigError.exitCode)
        }
    }
}
