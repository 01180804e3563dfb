import ArgumentParser
import Foundation
import SluiceCore
import SluiceModel

public struct Plan: ParsableCommand {
    public static let configuration = CommandConfiguration(
        abstract: "Show the timeline each Rollout's release will follow and the worst-case exposure to a bad version.",
        discussion: "Analysis templates are looked up in the same files; give them with -f too.")

    @Option(name: [.short, .customLong("filename")], help: "A manifest file or directory (repeatable); - reads standard input.")
    public var files: [String] = []

    @Option(name: [.short, .customLong("output")], help: "text or json.")
    public var output: OutputFormat = .text

    public init() {}

    public func validate() throws {
        if files.isEmpty { throw ValidationError("give at least one file or directory with -f") }
    }

    public func run() throws {
        let result = Plan.execute(files: files, output: output)
        try result.emit()
    }

    public static func execute(files: [String], output: OutputFormat) -> CommandOutput {
        let set = ManifestSet(paths: files)
        if !set.unreadable.isEmpty {
            return CommandOutput(stdout: set.unreadable.sorted().map { $0.text + "\n" }.joined(), exitCode: 2)
        }
        let templates = TemplateCatalog(set.templates.map(\.1))
        let timelines = set.rollouts.map { Timeline(rollout: $0.1, templates: templates) }
        if timelines.isEmpty {
            return CommandOutput(stdout: "no Rollout in the given files\n", exitCode: 1)
        }
        switch output {
        case .json: return CommandOutput(stdout: encodeJSON(timelines), exitCode: 0)
        case .text: return CommandOutput(stdout: timelines.map(\.text).joined(separator: "\n"), exitCode: 0)
        }
    }
}
