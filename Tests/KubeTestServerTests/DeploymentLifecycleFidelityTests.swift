import Foundation
import KubeClient
import KubeTestServer
import SluiceModel
import Testing

/// The simulated Deployment controller's conditions, adoption and pausing, held to
/// kube-controller-manager: `checkPausedConditions`, `SetDeploymentCondition`,
/// `syncRolloutStatus`, `ClaimReplicaSets` and the paused `sync`.
@Suite struct DeploymentLifecycleTests {
    typealias D = DeploymentSimulatorTests

    static func patch(_ client: KubernetesClient, _ json: String) async throws {
        let _: JSONValue = try await client.patch(.deployments, namespace: "shop", name: "web", .merge(Data(json.utf8)))
    }

    static func revision(_ object: JSONValue?) -> JSONValue? { object?["metadata"]?["annotations"]?["deployment.kubernetes.io/revision"] }

    /// Paused: Progressing Unknown/DeploymentPaused; resumed: Unknown/DeploymentResumed. As
    /// `SetDeploymentCondition` keeps it, lastTransitionTime changes only when the status does,
    /// while lastUpdateTime moves with every new reason and, during a rollout, with progress.
    @Test func pausingAndResumingSetTheProgressingCondition() async throws {
        try await D.withServer { client, _ in
            let _: JSONValue = try await client.create(.deployments, namespace: "shop", D.deployment(image: "web:1"))
            let rolled = try await D.until(client, D.complete)
            let before = try #require(D.condition(rolled, "Progressing"))
            #expect(before["status"] == "True" && before["reason"] == "NewReplicaSetAvailable")
            let stream: AsyncThrowingStream<WatchLine<JSONValue>, Error> = try await client.watch(
                .deployments, namespace: "shop", resourceVersion: rolled["metadata"]?["resourceVersion"]?.string, timeoutSeconds: 40,
                allowBookmarks: false)
            let watching = Task {
                var seen: [JSONValue] = []
                for try await line in stream {
                    guard case .modified(let d) = line.event else { continue }
                    if let c = D.condition(d, "Progressing") { seen.append(c) }
                    if D.complete(d), Self.revision(d) == "2" { break }
                }
                return seen
            }
            // Conditions carry whole seconds: each step waits past the second of the one before.
            try await Task.sleep(for: .milliseconds(1100))
            try await Self.patch(client, #"{"spec":{"paused":true}}"#)
            _ = try await D.until(client, D.isPaused)
            try await Task.sleep(for: .milliseconds(1100))
            // A new template while paused, with pods slow enough for the rollout to span seconds.
            try await Self.patch(client, """
                {"spec":{"template":{"metadata":{"annotations":{"\(APIStore.simulateAnnotation)":"ready-after-1"}},"spec":{"containers":[{"name":"app","image":"web:2"}]}}}}
                """)
            try await Task.sleep(for: .milliseconds(1100))
            try await Self.patch(client, #"{"spec":{"paused":false}}"#)
            let seen = try await watching.value
            let conditions = ([before] + seen).reduce(into: [JSONValue]()) { out, c in if out.last != c { out.append(c) } }
            func field(_ c: JSONValue, _ name: String) -> String { c[name]?.string ?? "" }
            let p = try #require(conditions.firstIndex { $0["reason"] == "DeploymentPaused" }, "\(conditions)")
            let r = try #require(conditions.firstIndex { $0["reason"] == "DeploymentResumed" }, "\(conditions)")
            let (paused, resumed) = (conditions[p], conditions[r])
            #expect(r == p + 1, "nothing in between, not even the template change: \(conditions)")
            #expect(paused["status"] == "Unknown" && paused["message"] == "Deployment is paused")
            #expect(resumed["status"] == "Unknown" && resumed["message"] == "Deployment is resumed")
            #expect(field(paused, "lastTransitionTime") > field(before, "lastTransitionTime"), "True → Unknown is a transition")
            #expect(field(paused, "lastUpdateTime") > field(before, "lastUpdateTime"))
            #expect(field(resumed, "lastTransitionTime") == field(paused, "lastTransitionTime"), "Unknown → Unknown is not")
            #expect(field(resumed, "lastUpdateTime") > field(paused, "lastUpdateTime"), "but the condition was updated")
            // The rollout that follows: True throughout, one transition, updates as it progresses.
            let rollout = Array(conditions[(r + 1)...])
            #expect(!rollout.isEmpty && rollout.allSatisfy { $0["status"] == "True" }, "\(rollout)")
            #expect(rollout.last?["reason"] == "NewReplicaSetAvailable")
            #expect(Set(rollout.map { field($0, "lastTransitionTime") }).count == 1, "\(rollout)")
            #expect(field(rollout.first ?? [:], "lastTransitionTime") > field(resumed, "lastTransitionTime"), "Unknown → True")
            let updates = rollout.map { field($0, "lastUpdateTime") }
            #expect(Set(updates).count >= 2 && updates == updates.sorted(), "lastUpdateTime moves with progress: \(updates)")
            for (a, b) in zip(conditions, conditions.dropFirst()) {
                #expect((a["status"] == b["status"]) == (field(a, "lastTransitionTime") == field(b, "lastTransitionTime")),
                        "lastTransitionTime changes exactly when status does: \(a) → \(b)")
            }
        }
    }

    /// A ReplicaSet without a controller whose labels the Deployment's selector matches is
    /// adopted (the controller reference `AdoptReplicaSet` patches in), then scaled down as an
    /// old one; one whose labels do not match is left alone.
    @Test func aMatchingOrphanReplicaSetIsAdopted() async throws {
        try await D.withServer { client, _ in
            func replicaSet(_ name: String, _ app: String) -> JSONValue {
                ["apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": ["name": .string(name), "labels": ["app": .string(app)]],
                 "spec": ["replicas": 2, "selector": ["matchLabels": ["app": .string(app)]],
                          "template": ["metadata": ["labels": ["app": .string(app)]], "spec": ["containers": [["name": "app", "image": "web:0"]]]]]]
            }
            let _: JSONValue = try await client.create(.replicaSets, namespace: "shop", replicaSet("orphan", "web"))
            let _: JSONValue = try await client.create(.replicaSets, namespace: "shop", replicaSet("stranger", "other"))
            let deployment: JSONValue = try await client.create(.deployments, namespace: "shop", D.deployment(image: "web:1"))
            let uid = try #require(deployment["metadata"]?["uid"])
            var adopted: JSONValue?
            for _ in 0..<200 {
                let rs: JSONValue = try await client.get(.replicaSets, namespace: "shop", name: "orphan")
                if rs["metadata"]?["ownerReferences"] != nil {
                    adopted = rs
                    break
                }
                try await Task.sleep(for: .milliseconds(50))
            }
            let reference: JSONValue = [["apiVersion": "apps/v1", "kind": "Deployment", "name": "web", "uid": uid,
                                         "controller": true, "blockOwnerDeletion": true]]
            #expect(adopted?["metadata"]?["ownerReferences"] == reference, "\(adopted?["metadata"] ?? .null)")
            let done = try await D.until(client, D.complete)
            #expect(Self.revision(done) == "1", "the adopted one has no revision: the Deployment's own is the first")
            var orphan: JSONValue = try await client.get(.replicaSets, namespace: "shop", name: "orphan")
            for _ in 0..<100 where orphan["spec"]?["replicas"] != 0 {
                try await Task.sleep(for: .milliseconds(50))
                orphan = try await client.get(.replicaSets, namespace: "shop", name: "orphan")
            }
            #expect(orphan["spec"]?["replicas"] == 0, "an old ReplicaSet of the Deployment now: scaled down")
            let stranger: JSONValue = try await client.get(.replicaSets, namespace: "shop", name: "stranger")
            #expect(stranger["metadata"]?["ownerReferences"] == nil)
            #expect(stranger["spec"]?["replicas"] == 2)
            // A selector of matchExpressions only claims it too (the whole selector counts).
            var other = D.deployment(image: "other:1")
            other["metadata"]?["name"] = "other"
            other["spec"]?["selector"] = ["matchExpressions": [["key": "app", "operator": "In", "values": ["other"]]]]
            other["spec"]?["template"]?["metadata"]?["labels"] = ["app": "other"]
            let owner: JSONValue = try await client.create(.deployments, namespace: "shop", other)
            var claimed: JSONValue = try await client.get(.replicaSets, namespace: "shop", name: "stranger")
            for _ in 0..<200 where claimed["metadata"]?["ownerReferences"] == nil {
                try await Task.sleep(for: .milliseconds(50))
                claimed = try await client.get(.replicaSets, namespace: "shop", name: "stranger")
            }
            #expect(claimed["metadata"]?["ownerReferences"]?.array?.first?["uid"] == owner["metadata"]?["uid"])
        }
    }

    /// A template change while paused (the end of the recording `paused-midrollout-scale`):
    /// nothing rolls, no new ReplicaSet, and as no ReplicaSet matches the template any more,
    /// `updatedReplicas` (zero) disappears from the status. Resumed, it rolls.
    @Test func aTemplateChangeWhilePausedRollsNothing() async throws {
        let recorded = try D.recordedStatuses("paused-midrollout-scale")
        let last = try #require(recorded.last)
        #expect(last["updatedReplicas"] == nil && recorded.dropLast().last?["updatedReplicas"] == 3, "as recorded")
        try await D.withServer { client, _ in
            let _: JSONValue = try await client.create(.deployments, namespace: "shop", D.deployment(image: "web:1"))
            _ = try await D.until(client, D.complete)
            try await Self.patch(client, #"{"spec":{"paused":true}}"#)
            let paused = try await D.until(client) { D.isPaused($0) && $0["status"]?["observedGeneration"] == $0["metadata"]?["generation"] }
            #expect(paused["status"]?["updatedReplicas"] == 4)
            let before: ObjectList<JSONValue> = try await client.list(.replicaSets, namespace: "shop")
            try await Self.patch(client, #"{"spec":{"template":{"spec":{"containers":[{"name":"app","image":"web:2"}]}}}}"#)
            let generation = (paused["metadata"]?["generation"]?.number ?? 0) + 1
            let changed = try await D.until(client) { $0["status"]?["observedGeneration"]?.number == generation }
            let status = changed["status"] ?? [:]
            #expect(status["updatedReplicas"] == nil, "\(status)")
            #expect(status["replicas"] == 4 && status["readyReplicas"] == 4 && status["availableReplicas"] == 4)
            #expect(Set((status.object ?? [:]).keys).subtracting(["conditions"]) == Set((last.object ?? [:]).keys),
                    "the same fields as the recording's last status: \(status)")
            #expect(D.isPaused(changed) && Self.revision(changed) == "1")
            try await Task.sleep(for: .milliseconds(500))
            let after: ObjectList<JSONValue> = try await client.list(.replicaSets, namespace: "shop")
            #expect(after.items.compactMap { $0["metadata"]?["name"]?.string } == before.items.compactMap { $0["metadata"]?["name"]?.string })
            #expect(after.items.map { Int($0["spec"]?["replicas"]?.number ?? -1) } == [4])
            let later: JSONValue = try await client.get(.deployments, namespace: "shop", name: "web")
            #expect(later["status"]?["updatedReplicas"] == nil && later["status"]?["observedGeneration"]?.number == generation, "and it stays gone")
            try await Self.patch(client, #"{"spec":{"paused":false}}"#)
            let resumed = try await D.until(client) { D.complete($0) && Self.revision($0) == "2" }
            #expect(resumed["status"]?["updatedReplicas"] == 4)
            let sets: ObjectList<JSONValue> = try await client.list(.replicaSets, namespace: "shop")
            #expect(sets.items.count == 2)
        }
    }
}
