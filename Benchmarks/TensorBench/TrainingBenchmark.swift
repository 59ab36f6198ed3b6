import Dataset
import Dispatch
import Model

/// CanopyNet training throughput on the shipped tiles, with 1 and 2 threads (or the counts given).
enum TrainingBenchmark {
    /// What `tensor-bench train` measures: `--threads N` (repeatable), `--batch B`, `--seconds S`.
    struct Options {
        var threadCounts = [1, 2]
        var batch = 4
        /// Time steps for at least this long (and at least 5 steps); 0 times exactly 5 steps.
        var seconds = 0.0

        /// Reads the flags after the mode and data directory; a malformed one names itself.
        init(_ arguments: ArraySlice<String>) {
            var threads: [Int] = []
            var rest = arguments
            while let flag = rest.popFirst() {
                guard let value = rest.popFirst() else { fatalError("tensor-bench train: \(flag) needs a value") }
                switch flag {
                case "--threads": threads.append(Self.positive(Int(value), flag, value))
                case "--batch": batch = Self.positive(Int(value), flag, value)
                case "--seconds":
                    guard let parsed = Double(value), parsed >= 0 else { fatalError("tensor-bench train: --seconds \(value) is not a non-negative number") }
                    seconds = parsed
                default: fatalError("tensor-bench train: unknown flag \(flag) (expected --threads, --batch, --seconds)")
                }
            }
            if !threads.isEmpty { threadCounts = threads }
        }

        private static func positive(_ value: Int?, _ flag: String, _ text: String) -> Int {
            guard let value, value > 0 else { fatalError("tensor-bench train: \(flag) \(text) is not a positive number") }
            return value
        }
    }

    static func report(dataPath: String, options: Options = Options([])) {
        let tiles: [Tile]
        do { tiles = try TileDirectory.open(dataPath).loadAll() } catch { print("cannot load \(dataPath): \(error)"); return }
        guard tiles.count >= options.batch else { print("\(dataPath) has \(tiles.count) tiles, fewer than --batch \(options.batch)"); return }
        for threads in options.threadCounts {
            let model = CanopyNet(settings: CanopyNet.Settings(threads: threads))
            var parameters = model.initialParameters(seed: 1)
            var trainer = CanopyNet.ReferenceTrainer(parameterCount: model.parameterCount)
            let batch = Array(tiles.prefix(options.batch))
            trainer.train(model, parameters: &parameters, batch: batch)
            var steps = 0
            let start = Stopwatch.now()
            repeat {
                trainer.train(model, parameters: &parameters, batch: batch)
                steps += 1
            } while steps < 5 || Stopwatch.now().wall - start.wall < options.seconds
            let time = Stopwatch.now() - start
            let samples = Double(steps * batch.count), flops = Double(model.flopsPerSample().training)
            // One thread runs every kernel inline on this thread; with more, count all threads.
            let cpu = threads == 1 ? time.cpu : time.processCPU
            print("train threads=\(threads): \(String(format: "%.2f", samples / time.wall)) samples/s wall, "
                  + "\(String(format: "%.2f", samples / cpu)) samples per CPU-second, "
                  + "conv \(String(format: "%.1f", samples * flops / cpu * 1e-9)) GFLOP per CPU-second")
            // For scripts/bench-canopynet-vs-torch.sh, in the same form as the PyTorch twin's line.
            print("RESULT {\"impl\": \"grove\", \"schema\": \"\(model.schemaName)\", \"threads\": \(threads), "
                  + "\"batch\": \(batch.count), \"steps\": \(steps), \"parameters\": \(model.parameterCount), "
                  + "\"wall\": \(time.wall), \"thread_cpu\": \(time.cpu), \"process_cpu\": \(time.processCPU), "
                  + "\"samples_per_s\": \(samples / time.wall)}")
        }
    }
}

extension TrainingBenchmark {
    /// Trains on three quarters of the tiles for `steps` steps and evaluates on the rest.
    static func fit(dataPath: String, steps: Int, batchSize: Int, learningRate: Float, settings: CanopyNet.Settings) {
        let tiles: [Tile]
        do { tiles = try TileDirectory.open(dataPath).loadAll().sorted { $0.id < $1.id } } catch { print("\(error)"); return }
        let heldOut = tiles.enumerated().filter { $0.offset % 4 == 3 }.map(\.element)
        let training = tiles.enumerated().filter { $0.offset % 4 != 3 }.map(\.element)
        let model = CanopyNet(settings: settings)
        var parameters = model.initialParameters(seed: 1)
        var trainer = CanopyNet.ReferenceTrainer(parameterCount: model.parameterCount, learningRate: learningRate)
        let start = DispatchTime.now().uptimeNanoseconds
        var order = SplitMixShuffle.permutation(training.count, seed: 0)
        var cursor = 0
        for step in 0..<steps {
            var batch: [Tile] = []
            for _ in 0..<batchSize {
                if cursor == order.count { order = SplitMixShuffle.permutation(training.count, seed: UInt64(step)); cursor = 0 }
                batch.append(training[order[cursor]])
                cursor += 1
            }
            let loss = trainer.train(model, parameters: &parameters, batch: batch)
            if step % 20 == 0 || step == steps - 1 { print("step \(step) loss \(loss)") }
        }
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9
        print("trained \(steps) steps x \(batchSize) in \(String(format: "%.1f", seconds)) s")
        let report = Evaluation.evaluate(model: model, parameters: parameters, tiles: heldOut)
        print(report)
        if CommandLine.arguments.contains("--sweep") {
            // Extraction settings are chosen on the training tiles, never on the held-out ones.
            for threshold: Float in [0.3, 0.5, 0.7] {
                for radius in [4, 6, 8, 10] {
                    var extraction = InstanceExtraction()
                    extraction.peakThreshold = threshold
                    extraction.suppressionRadius = radius
                    let r = Evaluation.evaluate(model: model, parameters: parameters, tiles: training, extraction: extraction)
                    print("sweep threshold \(threshold) radius \(radius): F1 \(String(format: "%.3f", r.f1)) "
                          + "P \(String(format: "%.3f", r.precision)) R \(String(format: "%.3f", r.recall)) count MAE \(r.countMeanAbsoluteError)")
                }
            }
        }
    }
}

import Core
enum SplitMixShuffle {
    static func permutation(_ count: Int, seed: UInt64) -> [Int] { SplitMix64.permutation(count: count, seed: seed) }
}
