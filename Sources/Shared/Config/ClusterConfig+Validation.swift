extension ClusterConfig {
    /// Checks every range and every rule between settings, for a configuration built in code.
    ///
    /// `load(path:overrides:)` already does this; errors thrown here name the key and say
    /// "default value" as their origin, since nothing was written anywhere.
    public func validate() throws(ConfigError) {
        try validate(origins: [:])
    }

    /// Validation with the origin of each key that was written, so that an error points at the
    /// line or `--set` argument that set the offending value.
    func validate(origins: [String: ConfigError.Origin]) throws(ConfigError) {
        func origin(_ path: String) -> ConfigError.Origin { origins[path] ?? .defaults }

        for field in ConfigSchema.fields {
            let value = field.get(self)
            guard let problem = field.rangeProblem(value) else { continue }
            var suggestion: String?
            if case let .choice(choices) = field.kind, case let .text(text) = value {
                suggestion = NameSuggestion.nearest(to: text, in: choices)
            }
            if case let .choiceOrLocation(choices) = field.kind, case let .text(text) = value, !text.hasPrefix("s3://") {
                suggestion = NameSuggestion.nearest(to: text, in: choices)
            }
            throw ConfigError(problem, keyPath: field.path, origin: origin(field.path),
                              expected: field.expected, found: value.literal + (field.problemDetail(value).map { " (\($0))" } ?? ""),
                              suggestion: suggestion)
        }

        // A rule between two keys blames the first, unless only the second was written: the
        // user changed that one, so that is the line to point at.
        func conflict(_ first: (path: String, expected: String, found: String),
                      _ second: (path: String, expected: String, found: String)) -> ConfigError {
            let blamed = origins[first.path] == nil && origins[second.path] != nil ? second : first
            return ConfigError(.inconsistent, keyPath: blamed.path, origin: origin(blamed.path),
                               expected: blamed.expected, found: blamed.found)
        }
        let global = training.globalBatch, micro = training.microBatch
        if global % micro != 0 {
            throw conflict(("training.micro_batch", "a divisor of training.global_batch (\(global))", "\(micro)"),
                           ("training.global_batch", "a multiple of training.micro_batch (\(micro))", "\(global)"))
        }
        if training.samples != 0 && training.samples < global {
            throw conflict(("training.samples", "0 (no budget) or at least training.global_batch (\(global))",
                            "\(training.samples)"),
                           ("training.global_batch", "at most training.samples (\(training.samples))", "\(global)"))
        }
        if workers.min > workers.max {
            throw conflict(("workers.min", "at most workers.max (\(workers.max))", "\(workers.min)"),
                           ("workers.max", "at least workers.min (\(workers.min))", "\(workers.max)"))
        }
        if workers.local > workers.max {
            throw conflict(("workers.local", "at most workers.max (\(workers.max))", "\(workers.local)"),
                           ("workers.max", "at least workers.local (\(workers.local))", "\(workers.max)"))
        }
        if !dataset.validationManifest.isEmpty && dataset.manifest.isEmpty {
            throw conflict(("dataset.validation_manifest", "empty unless dataset.manifest names the training manifest",
                            "'\(dataset.validationManifest)'"),
                           ("dataset.manifest", "the training manifest that goes with dataset.validation_manifest", "''"))
        }
        if !dataset.validationManifests.isEmpty && dataset.manifest.isEmpty {
            throw conflict(("dataset.validation_manifests", "empty unless dataset.manifest names the training manifest",
                            "'\(dataset.validationManifests)'"),
                           ("dataset.manifest", "the training manifest that goes with dataset.validation_manifests", "''"))
        }
        if !training.initFrom.isEmpty && training.initOptimizer.isEmpty {
            // Nothing to blame but the line that names the checkpoint: the missing key has none.
            throw ConfigError(.inconsistent, keyPath: "training.init_from", origin: origin("training.init_from"),
                              expected: "a checkpoint together with training.init_optimizer: fresh (a zero optimizer state) "
                                  + "or checkpoint (the checkpoint's moments)",
                              found: ConfigField.Value.text(training.initFrom).literal + " without training.init_optimizer")
        }
        if training.initFrom.isEmpty && !training.initOptimizer.isEmpty {
            throw conflict(("training.init_optimizer", "empty unless training.init_from names a checkpoint",
                            "'\(training.initOptimizer)'"),
                           ("training.init_from", "the checkpoint that goes with training.init_optimizer", "''"))
        }
        let rate = training.learningRate, floor = training.minLearningRate
        if training.schedule == "cosine" && floor > rate {
            throw conflict(("training.min_learning_rate", "at most training.learning_rate (\(rate)) with the cosine schedule",
                            "\(floor)"),
                           ("training.learning_rate", "at least training.min_learning_rate (\(floor)) with the cosine schedule",
                            "\(rate)"))
        }
    }
}

extension ConfigField.Value {
    /// The value as YAML text: what `rendered()` writes and what error messages show.
    ///
    /// Doubles use Swift's shortest round-tripping form, so reading the text back gives the same
    /// bits; strings are always quoted, so `"no"` stays a string.
    var literal: String {
        switch self {
        case let .integer(value): "\(value)"
        case let .unsigned(value): "\(value)"
        case let .number(value): "\(value)"
        case let .text(value): quoted(value)
        case let .flag(value): value ? "true" : "false"
        }
    }
}
