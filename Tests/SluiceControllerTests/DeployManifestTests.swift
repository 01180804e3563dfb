import Foundation
import SluiceModel
import SluiceTestKit
import Testing

/// `deploy/` renders with kustomize, and holds what the README says it installs.
@Suite struct DeployManifestTests {
    @Test func kubectlKustomizeRendersTheController() throws {
        guard let kubectl = ["/usr/local/bin/kubectl", "/usr/bin/kubectl"].first(where: FileManager.default.isExecutableFile(atPath:)) else {
            #expect(ProcessInfo.processInfo.environment["CI"] != "true", "kubectl must be installed in CI")
            print("skipped: kubectl is not installed")
            return
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: kubectl)
        process.arguments = ["kustomize", RepositoryFiles.root.appendingPathComponent("deploy").path]
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        try process.run()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationStatus == 0, "\(text)")
        let documents = try ManifestParser.parse(text)
        let kinds = documents.compactMap { $0.json["kind"]?.string }.sorted()
        #expect(kinds == ["ClusterRole", "ClusterRoleBinding", "Deployment", "Namespace", "Role", "RoleBinding", "ServiceAccount"])
        let deployment = try #require(documents.first { $0.json["kind"] == "Deployment" }?.json)
        let container = deployment["spec"]?["template"]?["spec"]?["containers"]?.array?.first
        #expect(container?["securityContext"]?["readOnlyRootFilesystem"] == true)
        #expect(container?["securityContext"]?["capabilities"]?["drop"] == ["ALL"])
        #expect(deployment["spec"]?["template"]?["spec"]?["securityContext"]?["runAsNonRoot"] == true)
    }
}
