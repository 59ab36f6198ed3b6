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
    func gradients(
        _ microBatches: [[Int]], parameters: [Float], dataEpochs: [[Int]]?, prepared: SampleSet.PreparedLease? = nil,
        onQuarantine: (Int, Error) -> Void = { _, _ in }, onForwardEnded: (Int) -> Void = { _ in },
        onMicroBatch: (MicroBatchTiming) -> Void = { _ in }
    ) throws -> Output {
        let clock = ContinuousClock()
        var gradients: [[Float]] = []
        var losses: [Wire.SampleLoss] = []
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
            var gradient = [Float](repeating: 0, count: parameters.count)
            var forwardEnd = start
            if !tiles.isEmpty {
                let loss = parameters.withUnsafeBufferPointer { p in
                    gradient.withUnsafeMutableBufferPointer { g in
                        model.accumulateGradient(parameters: p, samples: tiles, into: g, forwardEnded: {
                            forwardEnd = clock.now
                            onForwardEnded(index)
                        })
                    }
                }
                for (position, value) in zip(batch.positions, loss.perSample) {
                    losses.append(Wire.SampleLoss(sample: UInt32(position), loss: value))
                }
            }
            onMicroBatch(MicroBatchTiming(index: index, dataReady: start, forwardEnded: forwardEnd, ended: clock.now))
            gradients.append(gradient)
        }
        return Output(gradients: gradients, losses: losses, waited: waited)
    }
}
