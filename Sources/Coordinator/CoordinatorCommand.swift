import ArgumentParser

@main
struct CoordinatorCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "coordinator",
        abstract: "Runs a Grove training job: deals steps to workers, commits, checkpoints.",
        subcommands: [RunCommand.self, ResumeCommand.self, EvaluateCommand.self, StatusCommand.self, DatasetCommand.self, TuneCommand.self],
        defaultSubcommand: RunCommand.self
    )
}
