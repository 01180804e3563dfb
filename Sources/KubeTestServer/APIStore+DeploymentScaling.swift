import Foundation
import SluiceModel

/// The simulated Deployment controller's scaling other than a rolling update: Recreate, the
/// `scale` of paused Deployments and scaling events, the history limit, and the writes and
/// hashes the controllers share.
extension APIStore {
    /// `rolloutRecreate`: every old ReplicaSet to zero; once their pods are gone, the new one to full size.
    func recreateUpdate(_ deployment: JSONValue, newKey: Key, owned: [Key: JSONValue], rsInfo: ResourceInfo) {
        let olds = owned.filter { $0.key != newKey }
        let running = olds.filter { APIStore.specReplicas($0.value) > 0 }
        if !running.isEmpty {
            for key in running.keys { scale(rsInfo, key, to: 0) }
            return
        }
        guard !olds.values.contains(where: { Int($0["status"]?["replicas"]?.number ?? 0) > 0 }) else { return }
        scale(rsInfo, newKey, to: Int(deployment["spec"]?["replicas"]?.number ?? 1))
    }

    /// A paused Deployment's `scale`: one active ReplicaSet (or none: the newest) is brought to
    /// the Deployment's size; a saturated new one scales the others to zero; otherwise a size
    /// change is spread over the ReplicaSets in proportion to their sizes, as the real controller
    /// spreads it (the larger first, the remainder to the newest).
    func scalePaused(_ deployment: JSONValue, newKey: Key?, owned: [Key: JSONValue], surge: Int, rsInfo: ResourceInfo) {
        let replicas = Int(deployment["spec"]?["replicas"]?.number ?? 1)
        let active = owned.filter { APIStore.specReplicas($0.value) > 0 }
        // Every ReplicaSet it scales records the size it was scaled for.
        defer { annotateSizes(owned.keys, replicas: replicas, surge: surge, rsInfo: rsInfo) }
        if active.count <= 1 {
            let newest = owned.max { ($0.value["metadata"]?["creationTimestamp"]?.string ?? "", $0.key.name) < ($1.value["metadata"]?["creationTimestamp"]?.string ?? "", $1.key.name) }
            if let key = active.first?.key ?? newKey ?? newest?.key { scale(rsInfo, key, to: replicas) }
            return
        }
        if let newKey, let newRS = objects[newKey], APIStore.specReplicas(newRS) == replicas, APIStore.available(newRS) >= replicas {
            for key in active.keys where key != newKey { scale(rsInfo, key, to: 0) }
            return
        }
        let allowed = replicas > 0 ? replicas + surge : 0
        let total = active.values.reduce(0) { $0 + APIStore.specReplicas($1) }
        let add = allowed - total
        guard add != 0 else { return }
        // getReplicaSetProportion: each ReplicaSet's size scaled from the max-replicas it was
        // sized for to the new allowed size, rounded, capped by what is left to add; larger
        // first (newer on a tie) when growing, smaller first (older on a tie) when shrinking;
        // the leftover to the first.
        func created(_ k: Key) -> String { objects[k]?["metadata"]?["creationTimestamp"]?.string ?? "" }
        let ordered = active.sorted { a, b in
            let (x, y) = (APIStore.specReplicas(a.value), APIStore.specReplicas(b.value))
            if x != y { return add > 0 ? x > y : x < y }
            return add > 0 ? (created(a.key), a.key.name) > (created(b.key), b.key.name) : (created(a.key), a.key.name) < (created(b.key), b.key.name)
        }
        let statusReplicas = Int(deployment["status"]?["replicas"]?.number ?? Double(total))
        var added = 0
        var sizes: [Key: Int] = [:]
        for (key, rs) in ordered {
            let size = APIStore.specReplicas(rs)
            var share = 0
            if size > 0, added != add {
                let annotated = Int(rs["metadata"]?["annotations"]?["deployment.kubernetes.io/max-replicas"]?.string ?? "") ?? statusReplicas
                let fraction = replicas == 0 ? -size : Int((Double(size * allowed) / Double(max(annotated, 1))).rounded()) - size
                share = add > 0 ? min(fraction, add - added) : max(fraction, add - added)
            }
            sizes[key] = size + share
            added += share
        }
        if let first = ordered.first?.key { sizes[first] = max(0, (sizes[first] ?? 0) + add - added) }
        for (key, size) in sizes { scale(rsInfo, key, to: size) }
    }

    /// The desired-replicas and max-replicas annotations the controller keeps on ReplicaSets with replicas.
    func annotateSizes(_ keys: Dictionary<Key, JSONValue>.Keys, replicas: Int, surge: Int, rsInfo: ResourceInfo) {
        for key in keys {
            guard var rs = objects[key], APIStore.specReplicas(rs) > 0 else { continue }
            let annotations = ["deployment.kubernetes.io/desired-replicas": JSONValue.string(String(replicas)),
                               "deployment.kubernetes.io/max-replicas": .string(String(replicas + surge))]
            if annotations.allSatisfy({ rs["metadata"]?["annotations"]?[$0.key] == $0.value }) { continue }
            let merged = (rs["metadata"]?["annotations"]?.object ?? [:]).merging(annotations) { _, new in new }
            rs["metadata"]?["annotations"] = .object(merged)
            put(rsInfo, key, rs, type: "MODIFIED")
        }
    }

    /// `cleanupDeployment`, run when the Deployment is paused or its stored status says the
    /// rollout is complete: of the old ReplicaSets not being deleted, the `count - limit` oldest by
    /// revision are looked at, and each of them that is fully scaled down (spec and status at zero,
    /// its generation observed) is deleted. One that still has pods is skipped, not replaced by a
    /// newer one, so a stuck rollout can keep more than the limit.
    func cleanUpOldReplicaSets(_ deployment: JSONValue, newKey: Key?, owned: [Key: JSONValue], paused: Bool, rsInfo: ResourceInfo) {
        guard paused || APIStore.deploymentComplete(deployment) else { return }
        let limit = Int(deployment["spec"]?["revisionHistoryLimit"]?.number ?? 10)
        func revision(_ rs: JSONValue) -> Int { Int(rs["metadata"]?["annotations"]?[APIStore.revisionAnnotation]?.string ?? "") ?? 0 }
        func created(_ rs: JSONValue) -> String { rs["metadata"]?["creationTimestamp"]?.string ?? "" }
        let alive = owned.filter { $0.key != newKey && $0.value["metadata"]?["deletionTimestamp"] == nil }
            .sorted { (revision($0.value), created($0.value), $0.key.name) < (revision($1.value), created($1.value), $1.key.name) }
        let diff = alive.count - limit
        guard diff > 0 else { return }
        for (key, rs) in alive.prefix(diff) {
            let generation = Int(rs["metadata"]?["generation"]?.number ?? 0)
            let observed = Int(rs["status"]?["observedGeneration"]?.number ?? 0)
            guard APIStore.specReplicas(rs) == 0, Int(rs["status"]?["replicas"]?.number ?? 0) == 0, generation <= observed else { continue }
            pods[key] = nil
            remove(rsInfo, key, rs)
        }
    }

    /// `DeploymentComplete` on the stored status: every replica updated and available, none
    /// old, and the current generation observed.
    static func deploymentComplete(_ deployment: JSONValue) -> Bool {
        let replicas = Int(deployment["spec"]?["replicas"]?.number ?? 1)
        let status = deployment["status"]
        func n(_ field: String) -> Int { Int(status?[field]?.number ?? 0) }
        return n("updatedReplicas") == replicas && n("replicas") == replicas && n("availableReplicas") == replicas
            && n("observedGeneration") >= Int(deployment["metadata"]?["generation"]?.number ?? 0)
    }

    func setStatus(_ info: ResourceInfo, key: Key, _ status: JSONValue) {
        guard var object = objects[key], object["status"] != status else { return }
        object["status"] = status
        put(info, key, object, type: "MODIFIED")
    }

    /// Stores a controller's write: a new resourceVersion and a watch event.
    func put(_ info: ResourceInfo, _ key: Key, _ object: JSONValue, type: String) {
        var object = object
        object["metadata"]?["resourceVersion"] = .string(nextRevision())
        let previous = objects[key]
        objects[key] = object
        record(type, info, key.namespace, object, previous: previous)
    }

    /// The Deployment controller's `pod-template-hash`, as `controller.ComputeHash` computes it
    /// (see `PodTemplateHash`): the same names a real cluster gives the same template.
    static func templateHash(_ template: JSONValue, collisionCount: Int? = nil) -> String {
        PodTemplateHash.compute(template, collisionCount: collisionCount)
    }

    /// Two pod templates are the same but for the `pod-template-hash` label.
    static func sameTemplate(_ a: JSONValue?, _ b: JSONValue?) -> Bool {
        func strip(_ t: JSONValue?) -> JSONValue? {
            var t = t
            t?["metadata"]?["labels"]?["pod-template-hash"] = nil
            if t?["metadata"]?["labels"] == [:] { t?["metadata"]?["labels"] = nil }
            return t
        }
        return strip(a) == strip(b)
    }
}
