// allreduce-perf: ring all-reduce over real ZeroMQ TCP links between processes of this machine,
// reported nccl-tests style against the loopback limit of the same transport measured in the same
// run. Results are printed, never asserted. See docs/benchmarks.md.
//
//   swift build -c release --product allreduce-perf
//   .build/release/allreduce-perf -n 2 --sizes 4KiB..256MiB --mode all --iters 20 --warmup 5
//   .build/release/allreduce-perf -n 4 --sizes-mib 16 100 --mode fp32 --peer-format

import Foundation

let options: PerfOptions
do {
    options = try PerfOptions.parse(Array(CommandLine.arguments.dropFirst()))
} catch {
    FileHandle.standardError.write(Data("\(error.message)\n".utf8))
    exit(error.code == "perf.help" ? 0 : 2)
}

do {
    switch options.role {
    case .driver:
        try PerfDriver(options: options).run()
    case .rank(let rank, let control, let parentPID):
        try RankProcess(options: options, rank: rank, control: control, parentPID: parentPID).run()
    }
} catch {
    FileHandle.standardError.write(Data("allreduce-perf: \(error)\n".utf8))
    exit(1)
}
