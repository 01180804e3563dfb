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
}

public struct Lint: ParsableCommand {
    public static let configuration = CommandConfiguration(
        abstract: "Check Rollouts and analysis templates, and the mesh objects they name, before they merge.",
        discussion: """
        Reads every YAML and JSON document of the files and directories given (recursively). \
        Exit status: 0 no problems, 1 problems found, 2 input that cannot be read.
        """)

    @Option(name: [.short, .customLong("filename")], help: "A manifest file or directory (repeatable).")
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
        print(result.stdout, terminator: "")
        if result.exitCode != 0 { throw ExitCode(result.exitCode) }
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

public struct Plan: ParsableCommand {
    public static let configuration = CommandConfiguration(
        abstract: "Show the timeline each Rollout's release will follow and the worst-case exposure to a bad version.",
        discussion: "Analysis templates are looked up in the same files; give them with -f too.")

    @Option(name: [.short, .customLong("filename")], help: "A manifest file or directory (repeatable).")
    public var files: [String] = []

    @Option(name: [.short, .customLong("output")], help: "text or json.")
    public var output: OutputFormat = .text

    public init() {}

    public func validate() throws {
        if files.isEmpty { throw ValidationError("give at least one file or directory with -f") }
    }

    public func run() throws {
        let result = Plan.execute(files: files, output: output)
        print(result.stdout, terminator: "")
        if result.exitCode != 0 { throw ExitCode(result.exitCode) }
    }

    public static func execute(files: [String], output: OutputFormat) -> CommandOutput {
        let set = ManifestSet(paths: files)
        if !set.unreadable.isEmpty {
            return CommandOutput(stdout: set.unreadable.sorted().map { $0.text + "\n" }.joined(), exitCode: 2)
        }
        let templates = TemplateCatalog(set.all { if case .analysisTemplate(let t) = $0 { t } else { nil } }.map(\.1))
        let timelines = set.all { if case .rollout(let r) = $0 { r } else { nil } }.map { Timeline(rollout: $0.1, templates: templates) }
        if timelines.isEmpty {
            return CommandOutput(stdout: "no Rollout in the given files\n", exitCode: 1)
        }
        switch output {
        case .json: return CommandOutput(stdout: encodeJSON(timelines), exitCode: 0)
        case .text: return CommandOutput(stdout: timelines.map(\.text).joined(separator: "\n"), exitCode: 0)
        }
    }
}

func encodeJSON<T: Encodable>(_ value: T) -> String {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
    return String(decoding: (try? encoder.encode(value)) ?? Data(), as: UTF8.self) + "\n"
}

extension Timeline {
    /// The timeline as a table, then the promotion time and the exposure.
    public var text: String {
        func at(_ x: Double) -> String { "+" + Timeline.format(x) }
        var lines = ["Rollout \(rollout) (\(strategy), \(steps.count) steps)"]
        lines.append("  step  at        canary  mirror  header routes  action")
        for step in steps {
            let headers = step.headerRoutes.isEmpty ? "-" : step.headerRoutes.joined(separator: ",")
            let cols = [String(step.index).padding(toLength: 4, withPad: " ", startingAt: 0),
                        at(step.startsAt).padding(toLength: 8, withPad: " ", startingAt: 0),
                        "\(step.canaryWeight)%".padding(toLength: 6, withPad: " ", startingAt: 0),
                        (step.mirrorPercentage > 0 ? "\(step.mirrorPercentage)%" : "-").padding(toLength: 6, withPad: " ", startingAt: 0),
                        headers.padding(toLength: 13, withPad: " ", startingAt: 0), step.action]
            lines.append("  " + cols.joined(separator: "  "))
            if let gate = step.gate {
                lines += gate.metrics.map { "          " + Timeline.describe($0) }
                lines += Timeline.describeMissing(gate)
                lines.append("          gate passes at \(at(step.endsAt)) at the earliest")
            }
        }
        if let background {
            lines.append("  background analysis from step \(background.fromStep ?? 0) until promotion:")
            lines += background.metrics.map { "          " + Timeline.describe($0) }
            lines += Timeline.describeMissing(background)
        }
        var promotion = "  shortest time to full promotion: \(Timeline.format(shortestToPromotion))"
        if !waitsForPromotion.isEmpty {
            promotion += " (if the promote command comes at once at step\(waitsForPromotion.count > 1 ? "s" : "") "
                + waitsForPromotion.map(String.init).joined(separator: ", ") + ")"
        }
        lines.append(promotion + ", then the Deployment's own rollout")
        if let seconds = exposure.seconds, let from = exposure.from, let until = exposure.until {
            lines.append("  worst-case exposure: \(Timeline.format(seconds)) at up to \(exposure.maxShare ?? 0)% of requests "
                         + "(\(Timeline.share(exposure.averageShare)) on average): a version that turns bad at \(at(from)) "
                         + "is failed by \(exposure.caughtBy ?? "") at \(at(until))")
        } else {
            lines.append("  worst-case exposure: unbounded: no gating analysis measures the canary while it serves users")
        }
        if let start = exposure.fromStartSeconds, let by = exposure.fromStartCaughtBy, let when = exposure.fromStartCaughtAt {
            lines.append(start == 0
                ? "  bad from the start: failed by \(by) at \(at(when)), before it serves users"
                : "  bad from the start: failed by \(by) at \(at(when)), after serving users for \(Timeline.format(start)) at \(Timeline.share(exposure.fromStartAverageShare)) of requests on average")
        }
        if exposure.unguardedBeforePromotion > 0 {
            lines.append("  unguarded: the last \(Timeline.format(exposure.unguardedBeforePromotion)) before promotion, no gate measures the canary")
        }
        return lines.joined(separator: "\n") + "\n"
    }

    static func share(_ x: Double?) -> String {
        guard let x else { return "0%" }
        return x.rounded() == x ? "\(Int(x))%" : "\(x)%"
    }

    static func describeMissing(_ gate: Gate) -> [String] {
        (gate.missingTemplates ?? []).map { "          \($0): not found in the given files (add them with -f); its metrics are left out" }
    }

    static func describe(_ m: MetricPlan) -> String {
        let times = m.measuredAt.map { "+" + format($0) }
        let shown = times.count > 6 ? times.prefix(5).joined(separator: ", ") + ", ... (\(times.count))" : times.joined(separator: ", ")
        let count = m.count == 0 ? "until promotion" : "\(m.count)×"
        var text = "\(m.template)/\(m.metric): \(count) every \(format(m.interval)), window \(format(m.window)); measures at \(shown)"
        if m.failureLimit > 0 { text += "; fails after \(m.failureLimit + 1) failures" }
        if m.dryRun { text += " (dry run, never gates)" }
        return text
    }
}
