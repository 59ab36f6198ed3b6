// grove-fuzz: libFuzzer targets for every decoder that reads bytes from outside the process.
//
//   grove-fuzz list                       the targets, one a line
//   grove-fuzz seeds DIR                  writes each target's seed inputs to DIR/<target>/
//   grove-fuzz TARGET [libFuzzer flags] [corpus dirs | files]
//
// One binary holds every target (one link of the sanitized modules instead of one per target);
// the first argument picks the target and the rest goes to libFuzzer unchanged, so a crash file
// replays with `grove-fuzz TARGET crash-…`. docs/fuzzing.md says how to run and add targets.

import CLibFuzzer
import Foundation

let targets: [FuzzTarget] = [
    wireTarget, ringFrameTarget, sampleTarget, safetensorsTarget, checkpointManifestTarget,
    datasetManifestTarget, clusterYAMLTarget, httpRequestTarget, metadataTarget, stateStreamTarget, sealedRingFrameTarget,
]

/// The target libFuzzer's callback runs: set once, before the driver starts.
nonisolated(unsafe) var selected: FuzzTarget?

func usage() -> Never {
    FileHandle.standardError.write(Data("usage: grove-fuzz list | seeds DIR | TARGET [libFuzzer flags] [corpus...]\n".utf8))
    exit(2)
}

var arguments = CommandLine.arguments
guard arguments.count >= 2 else { usage() }
switch arguments[1] {
case "list":
    for target in targets { print("\(target.name)\t\(target.summary)") }
    exit(0)
case "seeds":
    guard arguments.count == 3 else { usage() }
    do {
        for target in targets { try target.writeSeeds(into: arguments[2]) }
    } catch {
        FileHandle.standardError.write(Data("grove-fuzz: cannot write seeds: \(error)\n".utf8))
        exit(1)
    }
    exit(0)
case let name:
    guard let target = targets.first(where: { $0.name == name }) else {
        FileHandle.standardError.write(Data("grove-fuzz: no target '\(name)'; targets: \(targets.map(\.name).joined(separator: ", "))\n".utf8))
        exit(2)
    }
    selected = target
}

// libFuzzer reads argv itself: hand it the program name and everything after the target name.
arguments.remove(at: 1)
var cArguments: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
var argc = Int32(arguments.count)
let status = cArguments.withUnsafeMutableBufferPointer { buffer in
    var argv = buffer.baseAddress
    return LLVMFuzzerRunDriver(&argc, &argv) { data, size in
        selected!.run(UnsafeRawBufferPointer(start: data, count: size))
        return 0
    }
}
exit(status)
