import ArgumentParser
import Foundation
import SluiceCore
import SluiceModel

/// `sluice`, also installed as `kubectl-sluice`.
public struct SluiceCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "sluice",
        abstract: "Progressive delivery for Kubernetes and Istio.",
        subcommands: [Lint.self, Plan.self])

    public init() {}
}

public enum OutputFormat: String, ExpressibleByArgument, Sendable {
    case text, json
}

/// What a command printed and the exit code it ends with.
public struct CommandOutput: Sendable, Equatable {
    public var stdout: String
    public var exitCode: Int32

    public init(stdout: String, exitCode: Int32) {
        self.stdout = stdout
        self.exitCode = exitCode
    }

    /// Prints the output and ends the command with its exit code.
    func emit() throws {
        print(stdout, terminator: "")
        if exitCode != 0 { throw ExitCode(exitCode) }
    }
}

func encodeJSON<T: Encodable>(_ value: T) -> String {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
    return String(decoding: (try? encoder.encode(value)) ?? Data(), as: UTF8.self) + "\n"
}
