// swift-tools-version: 6.1
//
// Grove: a data-parallel training cluster. Library targets live under Sources/Shared/, one folder
// each, in data-flow order; a target imports only targets listed above it (see DESIGN.md).

import Foundation
import PackageDescription

/// Hot numeric code is compiled for one fixed instruction set (AVX2 + FMA + F16C). Without it,
/// Swift on Linux targets baseline x86-64 and `SIMD.addingProduct` becomes a call to `fmaf`.
/// The set is fixed (never `native`) so that one binary computes the same bits on every
/// x86-64-v3 machine that runs it. `-fno-math-errno` lets square roots vectorise (they are exact
/// either way, so no result changes).
let numericFlags: [SwiftSetting] = [.unsafeFlags(["-Xcc", "-march=x86-64-v3", "-Xcc", "-fno-math-errno"])]

func shared(_ name: String, _ dependencies: [Target.Dependency] = [], numeric: Bool = false) -> Target {
    .target(
        name: name,
        dependencies: dependencies,
        path: "Sources/Shared/\(name)",
        swiftSettings: numeric ? numericFlags : []
    )
}

func tests(_ name: String, _ dependencies: [Target.Dependency], numeric: Bool = false) -> Target {
    .testTarget(name: name, dependencies: dependencies, swiftSettings: numeric ? numericFlags : [])
}

let package = Package(
    name: "Grove",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "coordinator", targets: ["Coordinator"]),
        .executable(name: "worker", targets: ["Worker"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        // SHA-256 with the CPU's SHA extensions (BoringSSL's assembly): several times the portable
        // Swift hasher it replaced, which made hashing half of a verified sample decode
        // (hash-bench; docs/benchmarks.md, "Hashing").
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
    ],
    targets: [
        // C libraries from Debian's -dev packages.
        .systemLibrary(name: "CZeroMQ", path: "Sources/CZeroMQ"),
        // libsodium (libzmq is built with it): AES-256-GCM for the sealed ring (SealedRingLink).
        .systemLibrary(name: "CSQLite", path: "Sources/CSQLite"),
        .systemLibrary(name: "CZlib", path: "Sources/CZlib"),
        .systemLibrary(name: "CPNG", path: "Sources/CPNG"),

        shared("Core", [.product(name: "Crypto", package: "swift-crypto")]),
        // S3: locations, credentials, Signature V4; below Config so that `checkpoint.remote` is
        // validated with the same parser the client uses.
        shared("ObjectStore", ["Core"]),
        shared("Config", ["Core", "ObjectStore", .product(name: "Yams", package: "Yams")]),
        shared("Dataset", ["Core", "CSQLite", "CZlib", "CPNG"]),
        shared("Tensor", ["Core"], numeric: true),
        shared("Model", ["Core", "Dataset", "Tensor"], numeric: true),
        shared("Collective", ["Core"], numeric: true),
        shared("Optim", ["Core"], numeric: true),
        shared("Checkpoint", ["Core", "ObjectStore"]),
        shared("Wire", ["Core"]),
        shared("Coordination", ["Core", "Wire"]),
        shared("Observability", ["Core"]),
        shared("Transport", ["Core", "Wire", "Collective", "CZeroMQ", .product(name: "Crypto", package: "swift-crypto")]),
        shared("Preemption", ["Core"]),
        shared("Training", [
            "Core", "ObjectStore", "Config", "Dataset", "Tensor", "Model", "Collective", "Optim", "Checkpoint",
            "Wire", "Coordination", "Transport", "Preemption", "Observability",
            .product(name: "Logging", package: "swift-log"),
        ]),

        .executableTarget(
            name: "Coordinator",
            dependencies: [
                "Training",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Sources/Coordinator"
        ),
        .executableTarget(
            name: "Worker",
            dependencies: [
                "Training",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Sources/Worker"
        ),

        // Benchmarks: results are printed, never asserted. OpenBLAS is linked only here, as a reference.
        .executableTarget(
            name: "collective-bench", dependencies: ["Collective"], path: "Benchmarks/collective-bench",
            swiftSettings: numericFlags
        ),
        .executableTarget(
            name: "allreduce-perf", dependencies: ["Collective", "Transport", "Core"], path: "Benchmarks/AllReducePerf",
            swiftSettings: numericFlags
        ),
        .systemLibrary(name: "COpenBLAS", path: "Benchmarks/COpenBLAS"),
        .executableTarget(
            name: "tensor-bench",
            dependencies: ["Core", "Tensor", "Model", "Dataset", "COpenBLAS"],
            path: "Benchmarks/TensorBench",
            exclude: ["canopynet_torch.py", "canopynet_ddp.py"],  // the PyTorch twins the CanopyNet comparisons run
            swiftSettings: numericFlags
        ),

        .executableTarget(name: "sample-bench", dependencies: ["Training", "Config", "Dataset", "Transport", "Core"], path: "Benchmarks/SampleBench"),
        .executableTarget(name: "hash-bench", dependencies: ["Core"], path: "Benchmarks/HashBench"),
        .executableTarget(name: "coordination-bench", dependencies: ["Coordination", "Wire", "Core"], path: "Benchmarks/CoordinationBench"),
        // The reference copy is plain libzmq on purpose: Grove's own code path is what is measured.
        .executableTarget(name: "state-transfer-bench", dependencies: ["Transport", "Wire", "Core", "CZeroMQ"],
                          path: "Benchmarks/StateTransferBench"),

        tests("CoreTests", ["Core"]),
        tests("ObjectStoreTests", ["ObjectStore"]),
        tests("ConfigTests", ["Config"]),
        tests("DatasetTests", ["Dataset"]),
        tests("TensorTests", ["Tensor"], numeric: true),
        tests("ModelTests", ["Model", "Dataset"], numeric: true),
        tests("CollectiveTests", ["Collective"], numeric: true),
        tests("OptimTests", ["Optim"]),
        tests("CheckpointTests", ["Checkpoint", "ObjectStore", "Core"]),
        tests("WireTests", ["Wire"]),
        tests("CoordinationTests", ["Coordination", "Wire"]),
        tests("ObservabilityTests", ["Observability"]),
        tests("TransportTests", ["Transport", "Collective", "Wire"]),
        tests("PreemptionTests", ["Preemption"]),
        tests("TrainingTests", ["Training", "Coordination", "Core"]),
        tests("EndToEndTests", ["Core", "ObjectStore", "Checkpoint", "Wire", "Transport", "CZeroMQ"]),
    ],
    swiftLanguageModes: [.v6]
)

// Fuzz targets (Fuzz/, docs/fuzzing.md): libFuzzer's driver replaces `main` and every module is
// built with `-sanitize=fuzzer,address`, so they exist only in the build that scripts/fuzz.sh runs
// (GROVE_FUZZ=1, a scratch path of its own) and never in the ordinary one.
if ProcessInfo.processInfo.environment["GROVE_FUZZ"] == "1" {
    package.targets += [
        .systemLibrary(name: "CLibFuzzer", path: "Fuzz/CLibFuzzer"),
        .executableTarget(
            name: "grove-fuzz",
            dependencies: ["CLibFuzzer", "Core", "Config", "Dataset", "Collective", "Checkpoint", "Wire", "Observability", "Preemption",
                           "Transport"],
            path: "Fuzz/grove-fuzz"
        ),
    ]
}
