import Foundation
import KubeTestServer
import SluiceModel
import SluiceTestKit
import Testing

/// What a second `kubectl apply` sends (a three-way strategic merge patch with its directives),
/// `kubectl scale` and `kubectl rollout status`, against the test server.
@Suite struct KubectlWorkflowTests {
    static func manifest(containers: String, finalizers: String, strategy: String) -> String {
        """
        apiVersion: apps/v1
        kind: Deployment
        metadata:
          name: web
          namespace: default
          finalizers: [\(finalizers)]
        spec:
          replicas: 2
          selector: {matchLabels: {app: web}}
          strategy: \(strategy)
          template:
            metadata: {labels: {app: web}}
            spec:
              containers:
        \(containers)
        """
    }

    @Test func applyingTwiceGivesWhatTheSecondManifestSays() async throws {
        try await KubectlTests.withServer { server, k in
            let first = Self.manifest(containers: """
                      - {name: app, image: "web:1", env: [{name: A, value: "1"}, {name: B, value: "2"}]}
                      - {name: sidecar, image: "proxy:1"}
                """, finalizers: "example.com/a, example.com/b",
                strategy: "{type: RollingUpdate, rollingUpdate: {maxSurge: 1, maxUnavailable: 0}}")
            var r = try await k("apply", "-f", "-", stdin: first)
            #expect(r.status == 0, "\(r.output)")
            let second = Self.manifest(containers: """
                      - {name: sidecar, image: "proxy:2"}
                      - {name: app, image: "web:2", env: [{name: A, value: "1"}, {name: C, value: "3"}]}
                """, finalizers: "example.com/a", strategy: "{type: Recreate}")
            r = try await k("apply", "-f", "-", stdin: second)
            #expect(r.status == 0, "\(r.output)")
            let sent = await server.store.writes.last { $0.verb == "PATCH" }?.body ?? ""
            #expect(sent.contains("$setElementOrder/containers") && sent.contains("$retainKeys") && sent.contains("$deleteFromPrimitiveList/finalizers"),
                    "kubectl sent the directives: \(sent)")
            r = try await k("get", "deployment", "web", "-o", "json")
            let live = try JSONDecoder().decode(JSONValue.self, from: Data(r.output.utf8))
            let containers = live["spec"]?["template"]?["spec"]?["containers"]?.array ?? []
            #expect(containers.compactMap { $0["name"]?.string } == ["sidecar", "app"], "the order the manifest gives ($setElementOrder)")
            #expect(containers.compactMap { $0["image"]?.string } == ["proxy:2", "web:2"])
            #expect(containers.last?["env"]?.array?.compactMap { $0["name"]?.string } == ["A", "C"], "B removed, C added")
            #expect(live["metadata"]?["finalizers"]?.array?.compactMap(\.string) == ["example.com/a"], "$deleteFromPrimitiveList")
            #expect(live["spec"]?["strategy"] == ["type": "Recreate"], "$retainKeys drops rollingUpdate: \(live["spec"]?["strategy"] ?? .null)")
            // Let the Deployment go (its finalizer is not ours to keep).
            r = try await k("patch", "deployment", "web", "--type", "merge", "-p", #"{"metadata":{"finalizers":null}}"#)
            #expect(r.status == 0, "\(r.output)")
        }
    }

    @Test func scaleAndRolloutStatusWork() async throws {
        try await KubectlTests.withServer { server, k in
            await server.store.setControllerStep(0.05)
            var r = try await k("apply", "-f", "-", stdin: Self.manifest(containers: "              - {name: app, image: \"web:1\"}",
                                                                       finalizers: "", strategy: "{type: RollingUpdate}"))
            #expect(r.status == 0, "\(r.output)")
            r = try await k("rollout", "status", "deployment/web", "--timeout=20s")
            #expect(r.status == 0 && r.output.contains("successfully rolled out"), "\(r.output)")
            r = try await k("scale", "deployment/web", "--replicas=5")
            #expect(r.status == 0 && r.output.contains("scaled"), "\(r.output)")
            r = try await k("rollout", "status", "deployment/web", "--timeout=20s")
            #expect(r.status == 0, "\(r.output)")
            r = try await k("get", "deployment", "web", "-o", "jsonpath={.status.availableReplicas}")
            #expect(r.output == "5", "\(r.output)")
        }
    }
}
