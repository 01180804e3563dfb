import Foundation
import SluiceCore
import SluiceModel
import SluiceTestKit
import Testing

/// Every manifest the repository ships parses, and every example is a valid spec.
@Suite struct RepositoryManifestTests {
    static func files(_ directory: String) -> [URL] {
        RepositoryFiles.yamlFiles(in: RepositoryFiles.root.appendingPathComponent(directory))
    }

    static func manifests(_ file: URL) throws -> [(ManifestDocument, Manifest)] {
        try ManifestParser.parse(String(contentsOf: file, encoding: .utf8)).map { doc in
            let (manifest, problems) = doc.manifest()
            #expect(problems == [], "\(file.lastPathComponent) document \(doc.index)")
            return (doc, try #require(manifest))
        }
    }

    static let readyTemplates: [AnalysisTemplate] = files("analysis-templates").flatMap { file in
        ((try? manifests(file)) ?? []).compactMap { if case .analysisTemplate(let t) = $0.1 { t } else { nil } }
    }

    @Test(arguments: files("crds") + files("examples") + files("analysis-templates"))
    func parses(file: URL) throws {
        #expect(try !RepositoryManifestTests.manifests(file).isEmpty)
    }

    @Test func theExamplesAreThere() {
        let names = Set(RepositoryManifestTests.files("examples").map(\.lastPathComponent))
        #expect(names.isSuperset(of: ["canary.yaml", "blue-green.yaml", "mirror-then-canary.yaml"]))
        #expect(RepositoryManifestTests.readyTemplates.count >= 2)
    }

    @Test(arguments: files("examples"))
    func exampleIsValid(file: URL) throws {
        let manifests = try RepositoryManifestTests.manifests(file).map(\.1)
        let templates = manifests.compactMap { if case .analysisTemplate(let t) = $0 { t } else { nil } }
        let validator = SpecValidator(
            templates: TemplateCatalog(templates + RepositoryManifestTests.readyTemplates),
            prometheus: PrometheusAllowlist(defaultAddress: "http://prometheus.istio-system:9090"))
        var rollouts = 0
        for manifest in manifests {
            switch manifest {
            case .rollout(let rollout):
                rollouts += 1
                #expect(validator.problems(in: rollout) == [], "\(rollout.metadata.name ?? "")")
            case .analysisTemplate(let template):
                #expect(validator.problems(in: template) == [], "\(template.metadata.name ?? "")")
            default:
                break
            }
        }
        #expect(rollouts == 1, "each example shows one Rollout with what it needs")
    }

    @Test(arguments: files("analysis-templates"))
    func readyTemplateIsValid(file: URL) throws {
        let validator = SpecValidator(prometheus: PrometheusAllowlist(defaultAddress: "http://prometheus.istio-system:9090"))
        for case (_, .analysisTemplate(let template)) in try RepositoryManifestTests.manifests(file) {
            #expect(template.isClusterScoped, "ready templates are ClusterAnalysisTemplates, usable from any namespace")
            #expect(validator.problems(in: template) == [])
        }
    }
}
