import ArgumentParser
import Core
import Wire

@main
struct CoordinatorCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "coordinator",
        abstract: "Runs a Grove training job: deals steps to workers, commits, checkpoints.",
        version: "coordinator \(GroveVersion.string) (wire protocol \(Wire.major).\(Wire.minor))",
        subcommands: [RunCommand.self, ResumeCommand.self, SlurmCommand.self, EvaluateCommand.self, PredictCommand.self, ExportCommand.self, StatusCommand.self, DatasetCommand.self, TuneCommand.self, KeysCommand.self],
        defaultSubcommand: RunCommand.self
    )
}
