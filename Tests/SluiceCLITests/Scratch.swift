import Foundation

/// Files the CLI tests write, all under one directory that is removed when the tests exit.
enum Scratch {
    static let directory: URL = {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("sluice-cli-tests-\(UUID().uuidString)")
        try? FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        atexit { try? FileManager.default.removeItem(at: Scratch.directory) }
        return url
    }()

    /// A fresh directory inside the scratch directory.
    static func newDirectory() throws -> URL {
        let url = directory.appendingPathComponent(UUID().uuidString)
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    /// Writes `text` to a new file and returns its path.
    static func file(_ text: String, name: String = "rollout.yaml") throws -> String {
        let url = try newDirectory().appendingPathComponent(name)
        try Data(text.utf8).write(to: url)
        return url.path
    }
}
