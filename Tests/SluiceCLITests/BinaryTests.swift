import Foundation
import SluiceTestKit
import Testing

/// The built `sluice` and `kubectl-sluice` executables, run as a CI job or kubectl would run them.
@Suite struct BinaryTests {
    /// The directory the test bundle was built into holds the package's executables.
    static let buildDirectory: URL = {
        var url = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        while url.path != "/", !FileManager.default.isExecutableFile(atPath: url.appendingPathComponent("sluice").path) {
            url.deleteLastPathComponent()
        }
        return url
    }()

    static let kubectl = ["/usr/local/bin/kubectl", "/usr/bin/kubectl"].first { FileManager.default.isExecutableFile(atPath: $0) }

    struct Run {
        var status: Int32
        var stdout: String
    }

    static func run(_ executable: String, _ args: [String], environment: [String: String] = [:], stdin: String = "") async throws -> Run {
        try await withCheckedThrowingContinuation { continuation in
            // Blocking waits stay off the cooperative threads.
            DispatchQueue.global().async {
                continuation.resume(with: Result {
                    let process = Process()
                    process.executableURL = URL(fileURLWithPath: executable)
                    process.arguments = args
                    process.currentDirectoryURL = RepositoryFiles.root
                    process.environment = ["PATH": "\(buildDirectory.path):/usr/local/bin:/usr/bin:/bin", "HOME": NSTemporaryDirectory()]
                        .merging(environment) { _, new in new }
                    let out = Pipe()
                    process.standardOutput = out
                    process.standardError = FileHandle.nullDevice
                    let input = Pipe()
                    process.standardInput = input
                    try process.run()
                    input.fileHandleForWriting.write(Data(stdin.utf8))
                    try input.fileHandleForWriting.close()
                    let data = out.fileHandleForReading.readDataToEndOfFile()
                    process.waitUntilExit()
                    return Run(status: process.terminationStatus, stdout: String(decoding: data, as: UTF8.self))
                })
            }
        }
    }

    @Test func exitCodesAreWhatCIReads() async throws {
        let sluice = Self.buildDirectory.appendingPathComponent("sluice").path
        #expect(FileManager.default.isExecutableFile(atPath: sluice), "built beside the tests")
        let clean = try await Self.run(sluice, ["lint", "-f", "examples/", "-f", "analysis-templates/"])
        #expect(clean.status == 0)
        #expect(clean.stdout == "9 files, 26 documents: no problems\n")
        let text = try String(contentsOf: RepositoryFiles.root.appendingPathComponent("examples/canary.yaml"), encoding: .utf8)
        let bad = try Scratch.file(text.replacingOccurrences(of: "- setWeight: 25", with: "- setWeight: 125"))
        let failed = try await Self.run(sluice, ["lint", "-f", bad], environment: ["GITHUB_ACTIONS": "true"])
        #expect(failed.status == 1)
        #expect(failed.stdout.hasPrefix("::error file=\(bad),line="))
        let unreadable = try await Self.run(sluice, ["lint", "-f", "no-such-dir/"])
        #expect(unreadable.status == 2)
        let usage = try await Self.run(sluice, ["lint"])
        #expect(usage.status == 64, "no -f is a usage error")
        let piped = try await Self.run(sluice, ["lint", "-f", "-"], stdin: text.replacingOccurrences(of: "- setWeight: 25", with: "- setWeight: 125"))
        #expect(piped.status == 1)
        #expect(piped.stdout.hasPrefix("-:157: spec.strategy.canary.steps[4].setWeight: 125 is outside 0...100"), "\(piped.stdout)")
        let plan = try await Self.run(sluice, ["plan", "-f", "examples/canary.yaml", "-o", "json"])
        #expect(plan.status == 0)
        #expect(plan.stdout.contains("\"shortestToPromotion\" : 510"))
    }

    @Test(.enabled(if: kubectl != nil, "needs kubectl")) func kubectlRunsItAsAPlugin() async throws {
        let run = try await Self.run(Self.kubectl!, ["sluice", "lint", "-f", "examples/"])
        #expect(run.status == 0)
        #expect(run.stdout == "3 files, 20 documents: no problems\n")
    }
}
