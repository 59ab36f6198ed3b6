import Collective
import Core
import Dataset
import Foundation
import Model
import Wire

/// A worker's step up to the all-reduce, the same for a run's worker and for the tuner: read and
/// decode the micro-batches' samples on their own threads (augmented by data epoch), run the
/// forward and backward pass of each, and keep one gradient per micro-batch and one loss per
/// sample. A sample with the wrong band count is refused by name; one that cannot be read is
/// left out (`dataset.on_corrupt: quarantine`) or ends the step with its `DatasetError`.
struct StepExecutor {
    let setup: RunSetup
    /// The model that computes (the tuner builds one per candidate thread count).
    let model: any TrainableModel
    let decodeThreads: Int
    let prefetch: Int

    init(setup: RunSetup, model: (any TrainableModel)? = nil, decodeThreads: Int? = nil, prefetch: Int? = nil) {
        self.setup = setup
        self.model = model ?? setup.model
        self.decodeThreads = decodeThreads ?? setup.config.dataset.decodeThreads
        self.prefetch = prefetch ?? setup.config.dataset.prefetch
    }

    /// What one micro-batch did, for the timeline and the fault points.
    struct MicroBatchTiming {
        var index: Int
        /// When its samples were ready (the data wait ended), when its forward pass ended, when
        /// its backward pass ended.
        var dataReady: ContinuousClock.Instant
        var forwardEnded: ContinuousClock.Instant
        var ended: ContinuousClock.Instant
    }

    struct Output {
        var gradients: [[Float]]
        var losses: [Wire.SampleLoss]
        /// Time the computation waited for samples.
        var waited: Duration
    }

    /// Computes the gradients of `microBatches` (positions in the training list) at `parameters`.
    ///
    /// - Parameters:
    ///   - dataEpochs: each sample's data epoch (its augmentation); nil: none.
    ///   - prepared: samples already being read for this lease (`SampleSet.prepare`).
    ///   - onQuarantine: a sample left out of the step, with why.
    ///   - onForwardEnded: called at the end of each micro-batch's forward pass, with its index.
    ///   - onMicroBatch: called after each micro-batch, with its timing.
    ///   - onLastMicroBatch: when given, the last micro-batch's gradient is computed into a
    ///     `FinishingGradient` that is handed to this call, with the gradients of the micro-batches
    ///     before it, when that micro-batch's samples are ready: the caller can sum each part as the
    ///     backward pass completes it. The gradient ends complete (or abandoned, when this throws)
    ///     and is also in the output.
    func gradients(
        _ microBatches: [[Int]], parameters: [Float], dataEpochs: [[Int]]?, prepared: SampleSet.PreparedLease? = nil,
        onQuarantine: (Int, Error) -> Void = { _, _ in }, onForwardEnded: (Int) -> Void = { _ in },
        onMicroBatch: (MicroBatchTiming) -> Void = { _ in },
        onLastMicroBatch: ((_ earlier: [[Float]], _ last: FinishingGradient) -> Void)? = nil
    ) throws -> Output {
        let clock = ContinuousClock()
        var gradients: [[Float]] = []
        var losses: [Wire.SampleLoss] = []
        var finishing: FinishingGradient?
        // A step that fails here releases whoever waits for the rest of the gradient.
        defer { if let finishing, !finishing.isComplete { finishing.abandon() } }
        let waited = try setup.training.forEachMicroBatch(microBatches, threads: decodeThreads, prefetch: prefetch,
                                                          prepared: prepared, dataEpochs: dataEpochs) { batch in
            let tiles = batch.tiles
            let start = clock.now
            let index = gradients.count
            for tile in tiles where tile.bands != model.inputBands {
                throw DatasetError(code: "sample.bands", "sample \(tile.id) has \(tile.bands) bands but the model "
                                   + "\(model.schemaName) takes \(model.inputBands); select samples of one band count")
            }
            for bad in batch.quarantined { onQuarantine(bad.position, bad.error) }
            var forwardEnd = start
            func compute(into g: UnsafeMutableBufferPointer<Float>, finalFrom: (Int) -> Void) {
                guard !tiles.isEmpty else { return }
                let loss = parameters.withUnsafeBufferPointer { p in
                    model.accumulateGradient(parameters: p, samples: tiles, into: g, forwardEnded: {
                        forwardEnd = clock.now
                        onForwardEnded(index)
                    }, finalFrom: finalFrom)
                }
                for (position, value) in zip(batch.positions, loss.perSample) {
                    losses.append(Wire.SampleLoss(sample: UInt32(position), loss: value))
                }
            }
            let gradient: [Float]
            if let onLastMicroBatch, index == microBatches.count - 1 {
                let last = FinishingGradient(count: parameters.count)
                finishing = last
                onLastMicroBatch(gradients, last)
                compute(into: last.values, finalFrom: { last.markFinal(from: $0) })
                last.markFinal(from: 0)
                gradient = last.array()
            } else {
                var own = [Float](repeating: 0, count: parameters.count)
                own.withUnsafeMutableBufferPointer { compute(into: $0, finalFrom: { _ in }) }
                gradient = own
            }
            onMicroBatch(MicroBatchTiming(index: index, dataReady: start, forwardEnded: forwardEnd, ended: clock.now))
            gradients.append(gradient)
        }
        return Output(gradients: gradients, losses: losses, waited: waited)
    }
}
