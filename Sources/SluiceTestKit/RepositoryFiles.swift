import Foundation
import SluiceModel

/// Where the repository's own files (`crds/`, `examples/`, `analysis-templates/`) and the shared
/// test fixtures (`../shared/fixtures`, beside the checkout) are.
public enum RepositoryFiles {
    /// The checkout's root, found from this source file's location.
    public static let root: URL = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url
    }()

    /// `../shared/fixtures` beside the checkout, or `SLUICE_SHARED_FIXTURES` when set.
    public static var sharedFixtures: URL {
        if let path = ProcessInfo.processInfo.environment["SLUICE_SHARED_FIXTURES"] {
            return URL(fileURLWithPath: path)
        }
        return root.deletingLastPathComponent().appendingPathComponent("shared/fixtures")
    }

    /// The text of a file under the checkout's root.
    public static func text(_ relativePath: String) throws -> String {
        try String(contentsOf: root.appendingPathComponent(relativePath), encoding: .utf8)
    }

    /// The text of a file under the shared fixtures.
    public static func fixture(_ relativePath: String) throws -> String {
        try String(contentsOf: sharedFixtures.appendingPathComponent(relativePath), encoding: .utf8)
    }

    /// The `.yaml` and `.yml` files below a directory of the checkout (or of the shared
    /// fixtures), sorted by path.
    public static func yamlFiles(in directory: URL) -> [URL] {
        let walker = FileManager.default.enumerator(at: directory, includingPropertiesForKeys: nil)
        let files = (walker?.allObjects as? [URL] ?? []).filter { ["yaml", "yml"].contains($0.pathExtension) }
        return files.sorted { $0.path < $1.path }
    }

    /// The ClusterAnalysisTemplates in `analysis-templates/`: long, real PromQL.
    public static func readyTemplates() throws -> [AnalysisTemplate] {
        try yamlFiles(in: root.appendingPathComponent("analysis-templates")).flatMap { file in
            try ManifestParser.parse(String(contentsOf: file, encoding: .utf8)).compactMap { doc -> AnalysisTemplate? in
                guard case .analysisTemplate(let t)? = doc.manifest().manifest else { return nil }
                return t
            }
        }
    }
}
