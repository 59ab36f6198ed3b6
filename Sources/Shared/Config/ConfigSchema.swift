/// Every key of `cluster.yaml`, in the order of the shipped file and of docs/cluster-yaml.md.
///
/// Every number has a finite range, chosen so that nothing derived from it can overflow or trap:
/// step counts times batch sizes stay far inside `Int`, and every duration converts to a
/// `Duration` and to milliseconds in a `UInt32` (the wire's heartbeat interval). Intervals have a
/// floor too: a heartbeat every 0.1 ms kept the coordinator busy doing nothing else.
///
/// Ranges here are what one field allows on its own; rules between fields (`micro_batch` divides
/// `global_batch`, `workers.min <= workers.max`) live in `ClusterConfig+Validation.swift`.
enum ConfigSchema {
    static let fields: [ConfigField] = [
        .name("run", "name", \.run.name),
        .text("run", "directory", \.run.directory),

        .host("coordinator", "bind", \.coordinator.bind),
        .integer("coordinator", "port", \.coordinator.port, 0...65535),
        .advertise("coordinator", "advertise", \.coordinator.advertise),

        .integer("workers", "local", \.workers.local, 0...1024),
        .integer("workers", "min", \.workers.min, 1...4096),
        .integer("workers", "max", \.workers.max, 1...4096),
        .host("workers", "bind", \.workers.bind),

        .text("dataset", "path", \.dataset.path),
        .integer("dataset", "validation_every", \.dataset.validationEvery, 0...1_000_000),
        .integer("dataset", "prefetch", \.dataset.prefetch, 0...256),
        .text("dataset", "manifest", \.dataset.manifest, allowEmpty: true),
        .text("dataset", "validation_manifest", \.dataset.validationManifest, allowEmpty: true),
        .text("dataset", "validation_manifests", \.dataset.validationManifests, allowEmpty: true),
        .text("dataset", "expect_sha256", \.dataset.expectSha256, allowEmpty: true),
        .integer("dataset", "decode_threads", \.dataset.decodeThreads, 1...64),
        .choice("dataset", "on_corrupt", \.dataset.onCorrupt, ClusterConfig.Dataset.corruptPolicies),
        .choiceOrLocation("dataset", "source", \.dataset.source, ClusterConfig.Dataset.sources),
        .integer("dataset", "serve_port", \.dataset.servePort, -1...65535),
        .number("dataset", "serve_rate_mib", \.dataset.serveRateMiB, .between(0.01, 1_000_000)),

        .choice("model", "name", \.model.name, ClusterConfig.Model.knownNames),
        .integer("model", "hidden", \.model.hidden, 1...1_048_576),
        .integer("model", "window", \.model.window, 0...16),
        .integer("model", "pixels_per_tile", \.model.pixelsPerTile, 0...(1 << 24)),
        .integer("model", "base_width", \.model.baseWidth, 1...256),
        .integer("model", "depth", \.model.depth, 0...6),
        .integer("model", "threads", \.model.threads, 1...256),

        .integer("training", "steps", \.training.steps, 1...Limits.steps),
        .integer("training", "samples", \.training.samples, 0...Limits.samples),
        .integer("training", "global_batch", \.training.globalBatch, 1...(1 << 20)),
        .integer("training", "micro_batch", \.training.microBatch, 1...(1 << 20)),
        .choice("training", "optimizer", \.training.optimizer, ["sgd", "momentum", "adam"]),
        .number("training", "learning_rate", \.training.learningRate, .between(0, 1000, lowerInclusive: false)),
        .choice("training", "schedule", \.training.schedule, ["constant", "cosine"]),
        .integer("training", "warmup_steps", \.training.warmupSteps, 0...Limits.steps),
        .number("training", "min_learning_rate", \.training.minLearningRate, .between(0, 1000)),
        .number("training", "momentum", \.training.momentum, .halfOpen(0, 1)),
        .number("training", "beta2", \.training.beta2, .halfOpen(0, 1)),
        .number("training", "epsilon", \.training.epsilon, .between(0, 1, lowerInclusive: false)),
        .number("training", "weight_decay", \.training.weightDecay, .between(0, 1000)),
        .unsigned("training", "seed", \.training.seed),
        .integer("training", "eval_every", \.training.evalEvery, 0...Limits.steps),
        .flag("training", "augment_flip", \.training.augmentFlip),
        .flag("training", "augment_rotate90", \.training.augmentRotate90),
        .number("training", "augment_brightness", \.training.augmentBrightness, .halfOpen(0, 1)),
        .number("training", "augment_contrast", \.training.augmentContrast, .halfOpen(0, 1)),
        .number("training", "augment_band_gain", \.training.augmentBandGain, .halfOpen(0, 1)),
        .text("training", "init_from", \.training.initFrom, allowEmpty: true),
        .choice("training", "init_optimizer", \.training.initOptimizer, ["", "fresh", "checkpoint"]),

        .choice("reduce", "mode", \.reduce.mode, ["exact", "fp32", "fp16"]),
        .integer("reduce", "chunk_kib", \.reduce.chunkKiB, 1...65536),
        .integer("reduce", "bucket_kib", \.reduce.bucketKiB, 0...1_048_576),

        .text("checkpoint", "directory", \.checkpoint.directory),
        .integer("checkpoint", "interval", \.checkpoint.interval, 0...Limits.steps),
        .integer("checkpoint", "keep", \.checkpoint.keep, 1...1000),
        .objectLocation("checkpoint", "remote", \.checkpoint.remote),
        .integer("checkpoint", "remote_part_mib", \.checkpoint.remotePartMiB, 5...5120),

        .number("fault_tolerance", "heartbeat_interval", \.faultTolerance.heartbeatInterval, .between(0.01, 3600)),
        .integer("fault_tolerance", "missed_heartbeats", \.faultTolerance.missedHeartbeats, 1...1000),
        .number("fault_tolerance", "collective_timeout", \.faultTolerance.collectiveTimeout, .between(0.01, 86400)),
        .number("fault_tolerance", "wait_for_workers", \.faultTolerance.waitForWorkers, .between(0.01, 604_800)),
        .number("fault_tolerance", "step_timeout", \.faultTolerance.stepTimeout, .between(0.01, 86400)),
        .number("fault_tolerance", "drain_timeout", \.faultTolerance.drainTimeout, .between(0.01, 86400)),
        .text("fault_tolerance", "spot_aws", \.faultTolerance.spotAws, allowEmpty: true),
        .text("fault_tolerance", "spot_gcp", \.faultTolerance.spotGcp, allowEmpty: true),
        .text("fault_tolerance", "spot_azure", \.faultTolerance.spotAzure, allowEmpty: true),
        .number("fault_tolerance", "spot_poll_interval", \.faultTolerance.spotPollInterval, .between(0.01, 3600)),

        .choice("logging", "level", \.logging.level, ["trace", "debug", "info", "notice", "warning", "error", "critical"]),
        .integer("logging", "progress_every", \.logging.progressEvery, 1...Limits.steps),
        .flag("logging", "tensorboard", \.logging.tensorboard),
        .text("logging", "status_bind", \.logging.statusBind),
        .integer("logging", "status_port", \.logging.statusPort, -1...65535),
        .number("logging", "price_per_worker_hour", \.logging.pricePerWorkerHour, .between(0, 1_000_000)),
        .flag("logging", "timeline", \.logging.timeline),

        .text("security", "keys", \.security.keys, allowEmpty: true),
        .flag("security", "insecure", \.security.insecure),
        .text("security", "metrics_token_file", \.security.metricsTokenFile, allowEmpty: true),
    ]

    /// Keys added after the canonical format was fixed: at their default they are left out of
    /// the canonical text, so that every configuration that does not use them keeps the hash its
    /// checkpoints recorded (and a run made before them can still be resumed).
    static let hashedOnlyWhenSet: Set<String> = [
        "dataset.validation_manifests", "training.augment_flip", "training.augment_rotate90",
        "training.augment_brightness", "training.augment_contrast", "training.augment_band_gain",
        "training.init_from", "training.init_optimizer",
        "dataset.source", "dataset.serve_port", "dataset.serve_rate_mib",
        "checkpoint.remote", "checkpoint.remote_part_mib",
        "security.keys", "security.insecure", "security.metrics_token_file",
        "reduce.bucket_kib",
    ]

    /// Section names in file order.
    static let sections: [String] = fields.reduce(into: []) { names, field in
        if names.last != field.section { names.append(field.section) }
    }

    static func field(section: String, key: String) -> ConfigField? {
        fields.first { $0.section == section && $0.key == key }
    }

    static func keys(of section: String) -> [String] {
        fields.filter { $0.section == section }.map(\.key)
    }
}

/// Upper bounds shared by several keys.
enum Limits {
    /// Steps, step intervals and warm-up: a billion steps is beyond any run, and times the largest
    /// global batch (2^20) stays below 2^50.
    static let steps = 1_000_000_000
    /// Samples of a sample budget: 2^40 (a trillion), so `samples + global_batch - 1` cannot overflow.
    static let samples = 1 << 40
}

extension ClusterConfig.Model {
    /// The models the executables know how to build; `model.name` must be one of them.
    public static let knownNames = ["pixel-mlp", "canopy-net"]
}

// Builders that tie a key to a property of `ClusterConfig` through a key path, so that reading
// and writing a field cannot disagree about which property it is.
extension ConfigField {
    typealias Path<T> = WritableKeyPath<ClusterConfig, T> & Sendable

    static func integer(_ section: String, _ key: String, _ path: Path<Int>, _ range: ClosedRange<Int>) -> ConfigField {
        ConfigField(section: section, key: key, kind: .integer(range),
                    get: { .integer($0[keyPath: path]) },
                    set: { if case let .integer(value) = $1 { $0[keyPath: path] = value } })
    }

    static func unsigned(_ section: String, _ key: String, _ path: Path<UInt64>) -> ConfigField {
        ConfigField(section: section, key: key, kind: .unsigned,
                    get: { .unsigned($0[keyPath: path]) },
                    set: { if case let .unsigned(value) = $1 { $0[keyPath: path] = value } })
    }

    static func number(_ section: String, _ key: String, _ path: Path<Double>, _ range: NumberRange) -> ConfigField {
        ConfigField(section: section, key: key, kind: .number(range),
                    get: { .number($0[keyPath: path]) },
                    set: { if case let .number(value) = $1 { $0[keyPath: path] = value } })
    }

    static func host(_ section: String, _ key: String, _ path: Path<String>) -> ConfigField {
        textual(section, key, path, .host)
    }

    static func advertise(_ section: String, _ key: String, _ path: Path<String>) -> ConfigField {
        textual(section, key, path, .advertise)
    }

    static func text(_ section: String, _ key: String, _ path: Path<String>, allowEmpty: Bool = false) -> ConfigField {
        textual(section, key, path, .text(allowEmpty: allowEmpty))
    }

    static func name(_ section: String, _ key: String, _ path: Path<String>) -> ConfigField {
        textual(section, key, path, .name)
    }

    static func objectLocation(_ section: String, _ key: String, _ path: Path<String>) -> ConfigField {
        textual(section, key, path, .objectLocation)
    }

    static func choiceOrLocation(_ section: String, _ key: String, _ path: Path<String>, _ choices: [String]) -> ConfigField {
        textual(section, key, path, .choiceOrLocation(choices))
    }

    static func choice(_ section: String, _ key: String, _ path: Path<String>, _ choices: [String]) -> ConfigField {
        textual(section, key, path, .choice(choices))
    }

    static func flag(_ section: String, _ key: String, _ path: Path<Bool>) -> ConfigField {
        ConfigField(section: section, key: key, kind: .flag,
                    get: { .flag($0[keyPath: path]) },
                    set: { if case let .flag(value) = $1 { $0[keyPath: path] = value } })
    }

    private static func textual(_ section: String, _ key: String, _ path: Path<String>, _ kind: Kind) -> ConfigField {
        ConfigField(section: section, key: key, kind: kind,
                    get: { .text($0[keyPath: path]) },
                    set: { if case let .text(value) = $1 { $0[keyPath: path] = value } })
    }
}
