import Foundation
import KubeClient
import KubeTestServer
import Logging
import SluiceModel
import Testing

@Suite struct DeploymentSimulatorTests {
    static func deployment(image: String, paused: Bool = false, simulate: String? = nil) -> JSONValue {
        var d: JSONValue = ["apiVersion": "apps/v1", "kind": "Deployment", "metadata": ["name": "checkout"],
                            "spec": ["replicas": 3, "paused": .bool(paused), "selector": ["matchLabels": ["app": "checkout"]],
                                     "template": ["metadata": ["labels": ["app": "checkout"]],
                                                  "spec": ["containers": [["name": "app", "image": .string(image)]]]]]]
        if let simulate { d["metadata"]?["annotations"] = [APIStore.simulateAnnotation: .string(simulate)] }
        return d
    }

    static func replicaSets(_ client: KubernetesClient) async throws -> [String: Double] {
        let list: (items: [JSONValue], resourceVersion: String) = try await client.listAll(.replicaSets, namespace: "shop")
        return Dictionary(uniqueKeysWithValues: list.items.map { ($0["metadata"]!["name"]!.string!, $0["spec"]?["replicas"]?.number ?? -1) })
    }

    @Test func unpausedDeploymentsRollOutAndPausedOnesDoNot() async throws {
        try await SemanticsTests.withServer { client, _ in
            let _: JSONValue = try await client.create(.deployments, namespace: "shop", Self.deployment(image: "a:1"))
            var d: JSONValue = try await client.get(.deployments, namespace: "shop", name: "checkout")
            #expect(d["status"]?["updatedReplicas"] == 3)
            #expect(d["status"]?["availableReplicas"] == 3)
            #expect(d["status"]?["observedGeneration"] == d["metadata"]?["generation"])
            var sets = try await Self.replicaSets(client)
            #expect(sets.count == 1)
            let first = try #require(sets.keys.first)
            let rs: JSONValue = try await client.get(.replicaSets, namespace: "shop", name: first)
            #expect(rs["metadata"]?["labels"]?["pod-template-hash"]?.string.map { first.hasSuffix($0) } == true)
            #expect(rs["status"]?["readyReplicas"] == 3)
            // Paused: a template change waits.
            let _: JSONValue = try await client.patch(.deployments, namespace: "shop", name: "checkout", .merge(Data(#"{"spec":{"paused":true}}"#.utf8)))
            let _: JSONValue = try await client.patch(.deployments, namespace: "shop", name: "checkout",
                                                      .strategicMerge(Data(#"{"spec":{"template":{"spec":{"containers":[{"name":"app","image":"a:2"}]}}}}"#.utf8)))
            sets = try await Self.replicaSets(client)
            #expect(sets == [first: 3])
            d = try await client.get(.deployments, namespace: "shop", name: "checkout")
            #expect(d["status"]?["updatedReplicas"] == 0)
            // Unpaused: a new ReplicaSet takes over, the old one goes to zero.
            let _: JSONValue = try await client.patch(.deployments, namespace: "shop", name: "checkout", .merge(Data(#"{"spec":{"paused":false}}"#.utf8)))
            sets = try await Self.replicaSets(client)
            #expect(sets.count == 2)
            #expect(sets[first] == 0)
            #expect(sets.filter { $0.key != first }.values.first == 3)
            d = try await client.get(.deployments, namespace: "shop", name: "checkout")
            #expect(d["status"]?["updatedReplicas"] == 3)
        }
    }

    @Test func statusNeverOrAfterADelay() async throws {
        try await SemanticsTests.withServer { client, _ in
            let _: JSONValue = try await client.create(.deployments, namespace: "shop", Self.deployment(image: "a:1", simulate: "never"))
            let stuck: JSONValue = try await client.get(.deployments, namespace: "shop", name: "checkout")
            #expect(stuck["status"] == nil)
            var slow = Self.deployment(image: "a:1", simulate: "ready-after-0.2")
            slow["metadata"]?["name"] = "slow"
            let created: JSONValue = try await client.create(.deployments, namespace: "shop", slow)
            #expect(created["status"] == nil)
            let stream: AsyncThrowingStream<WatchLine<JSONValue>, Error> = try await client.watch(
                .deployments, namespace: "shop", selectors: Selectors(fields: "metadata.name=slow"),
                resourceVersion: created["metadata"]!["resourceVersion"]!.string!, timeoutSeconds: 10, allowBookmarks: false)
            var ready = false
            for try await line in stream {
                if case .modified(let d) = line.event, d["status"]?["availableReplicas"] == 3 {
                    ready = true
                    break
                }
            }
            #expect(ready)
        }
    }
}
