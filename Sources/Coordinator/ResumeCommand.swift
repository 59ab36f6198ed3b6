import ArgumentParser
import Checkpoint
import Foundation
import Training

struct ResumeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "resume",
        abstract: "Continues a run from the newest verified checkpoint in its directory (or in checkpoint.remote when the directory has none)."
    )

    @OptionGroup var options: ConfigOptions

    func run() throws {
        guard let directory = options.runDirectory else {
            throw ValidationError("resume needs --run-dir DIR")
        }
        // The run's own effective configuration, unless another one is named.
        if options.config == nil && !FileManager.default.fileExists(atPath: directory + "/config.yaml") {
            FileHandle.standardError.write(Data("error: \(directory) has no config.yaml and no checkpoint: it is not a run directory, nothing to resume\n".utf8))
            throw ExitCode(1)
        }
        let config = options.load(defaultPath: options.config ?? directory + "/config.yaml")
        let checkpoints = RunDirectory(path: directory, checkpointDirectory: config.checkpoint.directory).checkpoints
        let found = (try? CheckpointStore(directory: checkpoints, keep: config.checkpoint.keep).list()) ?? []
        if found.isEmpty && !config.checkpoint.remote.isEmpty {
            // A new machine: the run's checkpoints are only in object storage.
            let remoteSteps: [Int]
            do {
                remoteSteps = try RemoteCheckpoints.configured(by: config)?.entries().filter(\.complete).map(\.step) ?? []
            } catch {
                FileHandle.standardError.write(Data("error: cannot read checkpoint.remote \(config.checkpoint.remote): \(error)\n".utf8))
                throw ExitCode(1)
            }
            guard !remoteSteps.isEmpty else {
                FileHandle.standardError.write(Data("error: no checkpoint in \(checkpoints) nor in \(config.checkpoint.remote); nothing to resume (use `coordinator run` to start)\n".utf8))
                throw ExitCode(1)
            }
        } else if found.isEmpty {
            FileHandle.standardError.write(Data("error: no checkpoint in \(checkpoints); nothing to resume (use `coordinator run` to start)\n".utf8))
            throw ExitCode(1)
        }
        try runCoordinator(CoordinatorRuntime.Settings(config: config))
    }
}
