import Checkpoint
import Foundation

extension RunDirectory {
    /// The summary of this run when it is already complete — its summary says it committed at
    /// least `totalSteps` steps and the newest verified checkpoint is of that very step — else nil.
    ///
    /// A coordinator asks before it touches anything: running a finished run again must leave
    /// every file of its directory as it was.
    ///
    /// - Throws: `TrainingError` `run.summary` when `summary.json` exists but cannot be read (never
    ///   taken as "not complete": that would overwrite a finished run's results).
    public func completedRun(totalSteps: Int, store: CheckpointStore) throws -> RunSummary? {
        guard FileManager.default.fileExists(atPath: summary) else { return nil }
        let previous: RunSummary
        do {
            previous = try RunSummary.read(from: summary)
        } catch let error as TrainingError {
            throw TrainingError(code: error.code, error.message + "; move it aside to train on from the newest checkpoint, "
                                + "or add --from-scratch to start over")
        }
        guard previous.steps >= totalSteps, let newest = try store.loadNewestVerified(),
              newest.checkpoint.metadata.step == previous.steps else { return nil }
        return previous
    }
}
