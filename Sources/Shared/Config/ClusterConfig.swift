/// The typed form of `cluster.yaml`. Every key is documented once, in docs/cluster-yaml.md, with its
/// type, default and meaning; the defaults below are those documented defaults.
///
/// Read it with `ClusterConfig.load(path:overrides:)`, which rejects unknown keys, wrong types and
/// out-of-range values with the key path and the line.
public struct ClusterConfig: Sendable, Equatable {
    public var run = Run()
    public var coordinator = Coordinator()
    public var workers = Workers()
    public var dataset = Dataset()
    public var model = Model()
    public var training = Training()
    public var reduce = Reduce()
    public var checkpoint = Checkpoint()
    public var faultTolerance = FaultTolerance()
    public var logging = Logging()
    public var security = Security()

    public init() {}

    public struct Run: Sendable, Equatable {
        public init() {}

        /// The run's name, used in logs and summaries.
        public var name = "canopy"
        /// Where checkpoints, metrics and the summary go; relative paths are relative to the
        /// working directory.
        public var directory = "runs/canopy"
    }

    public struct Coordinator: Sendable, Equatable {
        public init() {}

        /// Address the control socket binds to (`0.0.0.0` to accept workers of other machines).
        public var bind = "127.0.0.1"
        /// TCP port of the control socket; 0 picks a free one (local runs only).
        public var port = 7070
        /// Host name or address that workers on other machines use to reach the coordinator;
        /// empty means the bind address.
        public var advertise = ""
    }

    public struct Workers: Sendable, Equatable {
        public init() {}

        /// How many worker processes the coordinator starts on its own machine.
        public var local = 2
        /// Training waits until at least this many workers are up.
        public var min = 1
        /// No more than this many workers are admitted.
        public var max = 64
        /// Address a worker's ring socket binds to; its port is picked by the system.
        public var bind = "127.0.0.1"
    }

    public struct Dataset: Sendable, Equatable {
        public init() {}

        /// A directory of tiles (`tiles.csv` + PNGs, as `data/aerial-sample`).
        public var path = "data/aerial-sample"
        /// Every n-th tile (by sorted id) is held out for validation; 0 keeps none.
        public var validationEvery = 5
        /// Samples a worker decodes ahead of the one it is training on; bounds its memory.
        public var prefetch = 4
        /// A frozen manifest (`coordinator dataset freeze`) to train on instead of `path`; empty
        /// = train on the tile directory at `path`.
        public var manifest = ""
        /// A second frozen manifest whose samples are the held-out validation set instead of every
        /// `validationEvery`-th entry of `manifest`; empty = carve it from `manifest`.
        public var validationManifest = ""
        /// More held-out manifests, comma-separated paths: each one is measured and reported on
        /// its own, named by its manifest name (an unseen region of a training image, an unseen
        /// site), next to the all-canopy baseline on the same tiles.
        public var validationManifests = ""
        /// `validationManifests` as a list of paths, blanks around commas removed.
        public var validationManifestList: [String] {
            validationManifests.split(separator: ",").map { part in
                var path = part
                while path.first?.isWhitespace == true { path.removeFirst() }
                while path.last?.isWhitespace == true { path.removeLast() }
                return String(path)
            }.filter { !$0.isEmpty }
        }
        /// The run's dataset hash (`summary.json` `dataset_hash`) the samples must give; empty =
        /// not pinned. The coordinator pins it in the configuration it sends its workers, so a
        /// worker whose files differ refuses to train instead of training on other data.
        public var expectSha256 = ""
        /// Threads per worker that read and decode a lease's samples from the manifest.
        public var decodeThreads = 2
        /// A training sample that cannot be read or decoded: `fail` stops the run naming it;
        /// `quarantine` leaves it out of its step, logs it and lists it in the summary.
        public var onCorrupt = "fail"
        public static let corruptPolicies = ["fail", "quarantine"]
        /// Where a worker reads the run's files: `local` from the configured paths on its own
        /// machine (a shared filesystem, a copy); `coordinator` from the coordinator's sample
        /// server, through its local cache; `s3://BUCKET/PREFIX` from object storage, where the
        /// run's files are kept under the prefix at their relative paths, through the same cache
        /// and verified against the coordinator's index; `auto` locally when the configured path
        /// exists there, else from the coordinator.
        public var source = "auto"
        public static let sources = ["auto", "local", "coordinator"]
        /// The coordinator's sample server port, on `coordinator.bind`: 0 = one the system picks
        /// (announced to workers), -1 = no sample server (workers must have the files locally).
        public var servePort = 0
        /// The most each worker is sent by the sample server, MiB per second.
        public var serveRateMiB = 128.0
        /// `onCorrupt` is `quarantine`.
        public var quarantinesCorruptSamples: Bool { onCorrupt == "quarantine" }
    }

    public struct Model: Sendable, Equatable {
        public init() {}

        /// Which model to train: `pixel-mlp` or `canopy-net`.
        public var name = "canopy-net"
        /// Hidden units of `pixel-mlp`.
        public var hidden = 32
        /// Neighbourhood radius in pixels of `pixel-mlp`'s input window (1 = 3x3).
        public var window = 1
        /// Pixels sampled per tile and step by `pixel-mlp` (0 = every pixel).
        public var pixelsPerTile = 1024
        /// Channels of `canopy-net`'s first level; each level down doubles them.
        public var baseWidth = 8
        /// Down-sampling levels of `canopy-net`'s encoder.
        public var depth = 3
        /// Compute threads per worker (`canopy-net`); results do not depend on it.
        public var threads = 1
    }

    public struct Training: Sendable, Equatable {
        public init() {}

        /// Optimizer steps to run; the run stops at whichever of `steps` and `samples` comes first.
        public var steps = 150
        /// Sample budget (0 = no budget; `steps` decides).
        public var samples = 0
        /// Samples per step, summed over all workers.
        public var globalBatch = 16
        /// Samples per micro-batch, the unit dealt to workers; must divide `global_batch`.
        public var microBatch = 2
        /// `sgd`, `momentum` or `adam` (AdamW when `weight_decay` > 0).
        public var optimizer = "adam"
        /// Peak learning rate: the constant rate, or the top of the warmup ramp of `cosine`.
        public var learningRate = 0.01
        /// `constant` or `cosine` (cosine decay to `min_learning_rate` at the last step).
        public var schedule = "constant"
        /// Steps over which the learning rate ramps linearly up to `learning_rate`.
        public var warmupSteps = 0
        /// Where `cosine` ends; ignored by `constant`.
        public var minLearningRate = 0.0
        /// Momentum of `momentum`, beta1 of `adam`.
        public var momentum = 0.9
        /// Decay rate of `adam`'s second-moment estimate.
        public var beta2 = 0.999
        /// Added to `adam`'s denominator so that a zero gradient history does not divide by zero.
        public var epsilon = 1e-8
        /// L2 penalty for `sgd` and `momentum`; decoupled decay (AdamW) for `adam`.
        public var weightDecay = 0.0
        /// Seeds initialisation, data order and sampling.
        public var seed: UInt64 = 42
        /// Committed steps between two evaluations on the held-out samples (0 = only at the end).
        public var evalEvery = 50
        /// Training-sample augmentation, drawn from (seed, sample, data epoch) alone: a random
        /// horizontal/vertical flip, a random multiple of 90 degrees (square tiles), and the
        /// largest brightness shift (fraction of full scale), contrast change and per-band gain
        /// change (fractions of 1); 0 turns a photometric one off.
        public var augmentFlip = false
        public var augmentRotate90 = false
        public var augmentBrightness = 0.0
        public var augmentContrast = 0.0
        public var augmentBandGain = 0.0
        /// A checkpoint directory whose weights a new run starts from instead of `seed`'s random
        /// initialisation (empty = none). Read by the coordinator only, when the run directory
        /// holds no checkpoint of its own; a resume continues from the run's checkpoints.
        public var initFrom = ""
        /// With `init_from`, and only then: `fresh` (a zero optimizer state) or `checkpoint` (the
        /// checkpoint's moments); there is no default, so the choice is always written down.
        public var initOptimizer = ""
    }

    public struct Reduce: Sendable, Equatable {
        public init() {}

        /// `exact`, `fp32` or `fp16`.
        public var mode = "exact"
        /// Largest frame on a ring link, in KiB.
        public var chunkKiB = 1024
        /// Smallest gradient bucket summed while the backward pass goes on, in KiB of float32
        /// gradient; 0 (the default) = one sum after the backward pass.
        public var bucketKiB = 0
    }

    public struct Checkpoint: Sendable, Equatable {
        public init() {}

        /// Relative to the run directory unless absolute.
        public var directory = "checkpoints"
        /// A checkpoint every this many committed steps (0 = only at the end).
        public var interval = 10
        /// How many checkpoints to keep.
        public var keep = 3
        /// `s3://BUCKET/PREFIX` to upload every checkpoint to, or empty for none.
        public var remote = ""
        /// Part size of multipart uploads and ranged downloads, in MiB.
        public var remotePartMiB = 16
    }

    public struct FaultTolerance: Sendable, Equatable {
        public init() {}

        /// Seconds between heartbeats.
        public var heartbeatInterval = 1.0
        /// Missed heartbeats before a worker is declared down.
        public var missedHeartbeats = 3
        /// Seconds a ring member waits for its neighbour before the collective fails.
        public var collectiveTimeout = 30.0
        /// Seconds any one step may take at the most, the first ones (which also move the state)
        /// included. Later steps get ten times the median of recent steps, at least
        /// `collective_timeout` plus the heartbeat timeout; a member silent on its lease past
        /// that is ejected and the step dealt again.
        public var stepTimeout = 300.0
        /// Seconds the run waits for `workers.min` workers before it gives up.
        public var waitForWorkers = 120.0
        /// Seconds a worker that received a preemption notice may take to finish or hand back
        /// its lease before it leaves.
        public var drainTimeout = 30.0
        /// Base URL of the AWS instance metadata service to watch for spot interruption notices
        /// (`http://169.254.169.254` on EC2); empty = not watched.
        public var spotAws = ""
        /// Base URL of the GCE metadata server to watch for preemption
        /// (`http://metadata.google.internal`); empty = not watched.
        public var spotGcp = ""
        /// Base URL of Azure's instance metadata service to watch for `Preempt` scheduled events
        /// (`http://169.254.169.254`); empty = not watched.
        public var spotAzure = ""
        /// Seconds between two polls of a metadata service.
        public var spotPollInterval = 5.0
    }

    public struct Logging: Sendable, Equatable {
        public init() {}

        /// `trace`, `debug`, `info`, `notice`, `warning`, `error` or `critical`.
        public var level = "info"
        /// Committed steps between two progress lines when standard error is not a terminal (on
        /// a terminal one line is redrawn at every step).
        public var progressEvery = 10
        /// Whether the coordinator writes TensorBoard event files to `tensorboard/`.
        public var tensorboard = true
        /// Address of the coordinator's status server (`/`, `/status`, `/metrics`).
        public var statusBind = "127.0.0.1"
        /// Its port: 0 picks a free one (printed at start), -1 turns the server off.
        public var statusPort = 0
        /// Price of one worker for one hour, for the report's cost per sample; 0 = not known.
        public var pricePerWorkerHour = 0.0
        /// Whether workers record a per-step timeline (chrome://tracing format) in the run
        /// directory.
        public var timeline = false
    }

    public struct Security: Sendable, Equatable {
        public init() {}

        /// Directory of the cluster's keys (`coordinator keys create`): `coordinator.key`,
        /// `authorized_keys`, and `worker.key` for local workers. Empty: no keys, which is allowed
        /// only for loopback binds or with `insecure`.
        public var keys = ""
        /// Lets the coordinator bind beyond loopback without keys (a private network); said in
        /// every log and in `/status`.
        public var insecure = false
        /// A file (mode 0600) holding a token that also opens `/metrics` (for Prometheus), apart
        /// from the status server's own token; empty: only the status token.
        public var metricsTokenFile = ""
    }
}
