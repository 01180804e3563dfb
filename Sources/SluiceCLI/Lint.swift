import ArgumentParser
import Foundation
import SluiceCore
import SluiceModel

public struct Lint: ParsableCommand {
    public static let configuration = CommandConfiguration(
        abstract: "Check Rollouts and analysis templates, and the mesh objects they name, before they merge.",
        discussion: """
        Reads every YAML and JSON document of the files and directories given (recursively). \
        Exit status: 0 no problems, 1 problems found, 2 input that cannot be read.
        """)

    @Option(name: [.short, .customLong("filename")], help: "A manifest file or directory (repeatable); - reads standard input.")
    public var files: [String] = []

    @Option(name: [.short, .customLong("output")], help: "text or json.")
    public var output: OutputFormat = .text

    @Option(help: "The controller's --prometheus-address: with it, templates' addresses are checked as the controller would.")
    public var prometheusAddress: String?

    @Option(help: "An address the controller's --allow-prometheus allows (repeatable).")
    public var allowPrometheus: [String] = []

    public init() {}

    public func validate() throws {
        if files.isEmpty { throw ValidationError("give at least one file or directory with -f") }
    }

    public func run() throws {
        let allowlist = prometheusAddress != nil || !allowPrometheus.isEmpty
            ? PrometheusAllowlist(defaultAddress: prometheusAddress, allowed: allowPrometheus) : nil
        let result = Lint.execute(files: files, output: output, prometheus: allowlist,
                                  githubActions: ProcessInfo.processInfo.environment["GITHUB_ACTIONS"] == "true")
        try result.emit()
    }

    /// `prometheus`: the controller's allowlist, when known; without it addresses are not checked.
    public static func execute(files: [String], output: OutputFormat, prometheus: PrometheusAllowlist? = nil,
                               githubActions: Bool) -> CommandOutput {
        let set = ManifestSet(paths: files)
        let findings = set.unreadable.sorted() + Linter.lint(set, prometheus: prometheus)
        let code: Int32 = set.unreadable.isEmpty ? (findings.isEmpty ? 0 : 1) : 2
        switch output {
        case .json:
            struct Report: Encodable {
                var files: Int
                var documents: Int
                var findings: [Finding]
            }
            return CommandOutput(stdout: encodeJSON(Report(files: set.files, documents: set.sources.count, findings: findings)),
                                 exitCode: code)
        case .text:
            var out = findings.map { (githubActions ? $0.annotation : $0.text) + "\n" }.joined()
            if findings.isEmpty {
                out += "\(set.files) file\(set.files == 1 ? "" : "s"), \(set.sources.count) document\(set.sources.count == 1 ? "" : "s"): no problems\n"
            }
            return CommandOutput(stdout: out, exitCode: code)
        }
    }
}
