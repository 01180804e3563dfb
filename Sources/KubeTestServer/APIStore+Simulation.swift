import Foundation
import SluiceModel

/// The Deployment and ReplicaSet controllers, simulated. Per object, the annotation
/// `kubetestserver.sluice.dev/simulate` chooses: `ready` (default: status at once),
/// `ready-after-<seconds>` (status after a delay), or `never` (no status, as a stuck rollout).
extension APIStore {
    public static let simulateAnnotation = "kubetestserver.sluice.dev/simulate"

    enum Simulation: Equatable {
        case ready(after: Double)
        case never

        init(_ object: JSONValue) {
            let value = object["metadata"]?["annotations"]?[APIStore.simulateAnnotation]?.string ?? "ready"
            if value == "never" {
                self = .never
            } else if value.hasPrefix("ready-after-"), let seconds = Double(value.dropFirst("ready-after-".count)) {
                self = .ready(after: seconds)
            } else {
                self = .ready(after: 0)
            }
        }
    }

    var deploymentsKey: String { "apps/deployments" }
    var replicaSetsKey: String { "apps/replicasets" }

    /// Runs the controllers over a namespace after a Deployment or ReplicaSet changed.
    func simulate(namespace: String) {
        guard let rsInfo = resource(apiVersion: "apps/v1", plural: "replicasets"),
              let deployInfo = resource(apiVersion: "apps/v1", plural: "deployments") else { return }
        for (key, deployment) in objects where key.resource == deploymentsKey && key.namespace == namespace {
            rollOut(deployment, key: key, rsInfo: rsInfo, deployInfo: deployInfo)
        }
        for (key, rs) in objects where key.resource == replicaSetsKey && key.namespace == namespace {
            let sim = Simulation(rs)
            guard sim != .never else { continue }
            let replicas = rs["spec"]?["replicas"]?.number ?? 1
            let status: JSONValue = ["replicas": .number(replicas), "fullyLabeledReplicas": .number(replicas), "readyReplicas": .number(replicas),
                                     "availableReplicas": .number(replicas), "observedGeneration": rs["metadata"]?["generation"] ?? 1]
            later(sim) { store in store.setStatus(rsInfo, key: key, status) }
        }
    }

    /// An unpaused Deployment gets a ReplicaSet for its template (named `<deployment>-<hash>`,
    /// labelled `pod-template-hash`) at full size, and its other ReplicaSets scaled to zero.
    func rollOut(_ deployment: JSONValue, key: Key, rsInfo: ResourceInfo, deployInfo: ResourceInfo) {
        let name = key.name
        let uid = deployment["metadata"]?["uid"]?.string ?? ""
        let replicas = deployment["spec"]?["replicas"]?.number ?? 1
        let template = deployment["spec"]?["template"] ?? [:]
        let hash = APIStore.templateHash(template)
        let owned = objects.filter { $0.key.resource == replicaSetsKey && $0.key.namespace == key.namespace
            && ($0.value["metadata"]?["ownerReferences"]?.array ?? []).contains { $0["uid"]?.string == uid } }
        let paused = deployment["spec"]?["paused"] == .bool(true)
        if !paused {
            let rsKey = Key(resource: replicaSetsKey, namespace: key.namespace, name: "\(name)-\(hash)")
            if objects[rsKey] == nil {
                var podTemplate = template
                podTemplate["metadata"]?["labels"]?["pod-template-hash"] = .string(hash)
                var selector = deployment["spec"]?["selector"] ?? [:]
                selector["matchLabels"]?["pod-template-hash"] = .string(hash)
                var labels = template["metadata"]?["labels"] ?? [:]
                labels["pod-template-hash"] = .string(hash)
                let rs: JSONValue = ["apiVersion": "apps/v1", "kind": "ReplicaSet",
                                     "metadata": ["name": .string(rsKey.name), "namespace": .string(key.namespace), "labels": labels,
                                                  "uid": .string(UUID().uuidString.lowercased()), "generation": 1,
                                                  "creationTimestamp": .string(KubeTime(Date()).formatted),
                                                  "annotations": deployment["metadata"]?["annotations"] ?? [:],
                                                  "ownerReferences": [["apiVersion": "apps/v1", "kind": "Deployment", "name": .string(name),
                                                                       "uid": .string(uid), "controller": true, "blockOwnerDeletion": true]]],
                                     "spec": ["replicas": .number(replicas), "selector": selector, "template": podTemplate]]
                put(rsInfo, rsKey, rs, type: "ADDED")
            }
            for (rsKey, rs) in objects where rsKey.resource == replicaSetsKey && rsKey.namespace == key.namespace
                && (owned[rsKey] != nil || rsKey.name == "\(name)-\(hash)") {
                let size = rsKey.name == "\(name)-\(hash)" ? replicas : 0
                if rs["spec"]?["replicas"]?.number != size {
                    var scaled = rs
                    scaled["spec"]?["replicas"] = .number(size)
                    put(rsInfo, rsKey, scaled, type: "MODIFIED")
                }
            }
        }
        let sim = Simulation(deployment)
        guard sim != .never else { return }
        later(sim) { store in store.deploymentStatus(deployInfo, key: key, hash: hash, replicas: replicas) }
    }

    func deploymentStatus(_ info: ResourceInfo, key: Key, hash: String, replicas: Double) {
        guard let deployment = objects[key] else { return }
        let owned = objects.filter { $0.key.resource == replicaSetsKey && $0.key.namespace == key.namespace
            && ($0.value["metadata"]?["ownerReferences"]?.array ?? []).contains { $0["uid"] == deployment["metadata"]?["uid"] } }
        let total = owned.values.reduce(0.0) { $0 + ($1["spec"]?["replicas"]?.number ?? 0) }
        let updated = owned.first { $0.key.name == "\(key.name)-\(hash)" }?.value["spec"]?["replicas"]?.number ?? 0
        let status: JSONValue = ["observedGeneration": deployment["metadata"]?["generation"] ?? 1, "replicas": .number(total),
                                 "updatedReplicas": .number(updated), "readyReplicas": .number(total), "availableReplicas": .number(total),
                                 "conditions": [["type": "Available", "status": "True", "reason": "MinimumReplicasAvailable"],
                                                ["type": "Progressing", "status": "True",
                                                 "reason": .string(updated == replicas ? "NewReplicaSetAvailable" : "ReplicaSetUpdated")]]]
        setStatus(info, key: key, status)
    }

    func setStatus(_ info: ResourceInfo, key: Key, _ status: JSONValue) {
        guard var object = objects[key], object["status"] != status else { return }
        object["status"] = status
        put(info, key, object, type: "MODIFIED")
    }

    /// Stores a controller's write: a new resourceVersion and a watch event, no further simulation.
    func put(_ info: ResourceInfo, _ key: Key, _ object: JSONValue, type: String) {
        var object = object
        object["metadata"]?["resourceVersion"] = .string(nextRevision())
        let previous = objects[key]
        objects[key] = object
        record(type, info, key.namespace, object, previous: previous)
    }

    func later(_ sim: Simulation, _ body: @escaping @Sendable (isolated APIStore) -> Void) {
        guard case .ready(let delay) = sim else { return }
        if delay <= 0 {
            body(self)
        } else {
            Task {
                try? await Task.sleep(for: .seconds(delay))
                await self.run(body)
            }
        }
    }

    func run(_ body: @Sendable (isolated APIStore) -> Void) { body(self) }

    /// The Deployment controller's `pod-template-hash`: stable for a template, ten characters.
    static func templateHash(_ template: JSONValue) -> String {
        let data = (try? JSONEncoder.sorted.encode(template)) ?? Data()
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in data {
            h ^= UInt64(byte)
            h = h &* 0x0000_0100_0000_01B3
        }
        let digits = Array("bcdfghjklmnpqrstvwxz2456789")
        return String((0..<10).map { _ in let d = digits[Int(h % 27)]; h /= 27; return d })
    }
}
