import Foundation
@testable import KubeTestServer
import SluiceModel
import Testing

/// `pod-template-hash` as a real cluster computes it: the recorded kube-controller-manager 1.36
/// named the ReplicaSets of this Deployment `web-6444769cf` (image `web:1`) and `web-85d5b476dd`
/// (image `web:2`); kubectl against the test server must see the same names.
@Suite struct PodTemplateHashTests {
    static func manifest(image: String) -> String {
        """
        apiVersion: apps/v1
        kind: Deployment
        metadata: {name: web, namespace: default}
        spec:
          replicas: 4
          progressDeadlineSeconds: 15
          selector: {matchLabels: {app: web}}
          template:
            metadata: {labels: {app: web}}
            spec:
              containers:
              - {name: web, image: "\(image)"}
        """
    }

    @Test func replicaSetsAreNamedAsTheRealControllerNamesThem() async throws {
        try await KubectlTests.withServer { server, k in
            await server.store.setControllerStep(0.05)
            for (image, name) in [("web:1", "web-6444769cf"), ("web:2", "web-85d5b476dd")] {
                var r = try await k("apply", "-f", "-", stdin: Self.manifest(image: image))
                #expect(r.status == 0, "\(r.output)")
                r = try await k("rollout", "status", "deployment/web", "--timeout=20s")
                #expect(r.status == 0, "\(r.output)")
                r = try await k("get", "rs", "-o", "jsonpath={.items[*].metadata.name}")
                #expect(r.output.split(separator: " ").contains(Substring(name)), "\(image): \(r.output)")
                r = try await k("get", "rs", name, "-o", "jsonpath={.metadata.labels.pod-template-hash}")
                #expect(r.output == String(name.dropFirst("web-".count)), "\(r.output)")
            }
        }
    }

    @Test func everyGoTypeTheTemplateReachesIsKnownAndACollisionCountChangesTheHash() {
        #expect(PodTemplateHash.unresolvedTypes.isEmpty, "\(PodTemplateHash.unresolvedTypes)")
        let template: JSONValue = ["metadata": ["labels": ["app": "web"]], "spec": ["containers": [["name": "web", "image": "web:1"]]]]
        #expect(PodTemplateHash.compute(template) != PodTemplateHash.compute(template, collisionCount: 1))
        #expect(PodTemplateHash.compute(template, collisionCount: 1) != PodTemplateHash.compute(template, collisionCount: 2))
    }
}
