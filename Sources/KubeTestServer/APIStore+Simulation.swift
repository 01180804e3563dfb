import Foundation
import SluiceModel

/// kube-controller-manager's Deployment and ReplicaSet controllers, simulated on the server's
/// own clock: a pass every `controllerStep` seconds (never inside a write's response), with pods
/// modelled per ReplicaSet. The Deployment controller follows the real one's rolling update
/// (`reconcileNewReplicaSet`, `reconcileOldReplicaSets` with `maxSurge`/`maxUnavailable` rounded
/// as it rounds them, `minReadySeconds`), its `scale` for paused Deployments (proportional
/// scaling), adoption, revisions, `revisionHistoryLimit`, and its conditions. Pods follow the
/// annotation `kubetestserver.sluice.dev/simulate` on the ReplicaSet, its pod template or its
/// Deployment: `ready` (the default: ready one pass after creation), `ready-after-<seconds>`,
/// `never`, or `crash-after-<seconds>` (ready, then not ready again that long after).
extension APIStore {
    public static let simulateAnnotation = "kubetestserver.sluice.dev/simulate"
    static let revisionAnnotation = "deployment.kubernetes.io/revision"

    /// One pod of a ReplicaSet: when it was made, and when it became ready.
    struct Pod: Sendable {
        var created: Date
        var ready: Date?
    }

    enum PodBehaviour: Equatable {
        case readyAfter(Double)
        case never
        case crashAfter(Double)

        init(_ value: String?, step: Double) {
            guard let value else {
                self = .readyAfter(step)
                return
            }
            if value == "never" {
                self = .never
            } else if value.hasPrefix("ready-after-"), let s = Double(value.dropFirst("ready-after-".count)) {
                self = .readyAfter(s)
            } else if value.hasPrefix("crash-after-"), let s = Double(value.dropFirst("crash-after-".count)) {
                self = .crashAfter(s)
            } else {
                self = .readyAfter(step)
            }
        }
    }

    var deploymentsKey: String { "apps/deployments" }
    var replicaSetsKey: String { "apps/replicasets" }

    /// One pass of both controllers over every namespace.
    public func runControllers(now: Date = Date()) {
        guard let rsInfo = resource(apiVersion: "apps/v1", plural: "replicasets"),
              let deployInfo = resource(apiVersion: "apps/v1", plural: "deployments") else { return }
        for key in objects.keys.filter({ $0.resource == deploymentsKey }).sorted(by: { $0.name < $1.name }) {
            syncDeployment(key, rsInfo: rsInfo, deployInfo: deployInfo, now: now)
        }
        for key in objects.keys.filter({ $0.resource == replicaSetsKey }).sorted(by: { $0.name < $1.name }) {
            syncReplicaSet(key, rsInfo: rsInfo, now: now)
        }
    }

    // MARK: Deployment controller

    /// `maxSurge` (rounded up) and `maxUnavailable` (rounded down) of a Deployment, as
    /// `ResolveFenceposts` gives them (both zero makes maxUnavailable 1).
    static func fenceposts(_ deployment: JSONValue) -> (surge: Int, unavailable: Int) {
        let replicas = Int(deployment["spec"]?["replicas"]?.number ?? 1)
        let rolling = deployment["spec"]?["strategy"]?["rollingUpdate"]
        func value(_ v: JSONValue?, _ fallback: String, roundUp: Bool) -> Int {
            if let n = v?.number { return Int(n) }
            let text = v?.string ?? fallback
            guard text.hasSuffix("%"), let percent = Int(text.dropLast()) else { return Int(text) ?? 0 }
            return roundUp ? (replicas * percent + 99) / 100 : replicas * percent / 100
        }
        let surge = value(rolling?["maxSurge"], "25%", roundUp: true)
        var unavailable = value(rolling?["maxUnavailable"], "25%", roundUp: false)
        if surge == 0, unavailable == 0 { unavailable = 1 }
        // deploymentutil.MaxUnavailable: never more than the replicas.
        return (surge, min(unavailable, replicas))
    }

    func syncDeployment(_ key: Key, rsInfo: ResourceInfo, deployInfo: ResourceInfo, now: Date) {
        guard var deployment = objects[key], deployment["metadata"]?["deletionTimestamp"] == nil else { return }
        let uid = deployment["metadata"]?["uid"]?.string ?? ""
        let namespace = key.namespace
        let replicas = Int(deployment["spec"]?["replicas"]?.number ?? 1)
        let template = deployment["spec"]?["template"] ?? [:]
        let paused = deployment["spec"]?["paused"] == .bool(true)
        adoptReplicaSets(deployment, key: key, rsInfo: rsInfo)
        var owned = ownedReplicaSets(uid: uid, namespace: namespace)
        var newKey = owned.first { APIStore.sameTemplate($0.value["spec"]?["template"], template) }?.key
        let maxRevision = owned.values.compactMap { Int($0["metadata"]?["annotations"]?[APIStore.revisionAnnotation]?.string ?? "") }.max() ?? 0
        let recreate = deployment["spec"]?["strategy"]?["type"]?.string == "Recreate"
        var (surge, maxUnavailable) = APIStore.fenceposts(deployment)
        if recreate { (surge, maxUnavailable) = (0, 0) }
        var created = false
        // A scaling event (the size changed, the template did not): `sync`, which scales in
        // proportion and leaves the Progressing condition alone, as for a paused Deployment.
        let scaling = !owned.isEmpty && newKey != nil && owned.values.contains { rs in
            APIStore.specReplicas(rs) > 0 && rs["metadata"]?["annotations"]?["deployment.kubernetes.io/desired-replicas"]?.string
                .map { Int($0) != replicas } ?? false
        }
        if !paused, !scaling {
            if newKey == nil {
                // A new ReplicaSet at the size the surge allows.
                let current = owned.values.reduce(0) { $0 + Int($1["spec"]?["replicas"]?.number ?? 0) }
                let size = owned.isEmpty ? replicas : max(0, min(replicas + surge - current, replicas))
                newKey = createReplicaSet(deployment, key: key, replicas: size, revision: maxRevision + 1, rsInfo: rsInfo)
                created = true
                owned = ownedReplicaSets(uid: uid, namespace: namespace)
            } else if let k = newKey, let rs = objects[k], Int(rs["metadata"]?["annotations"]?[APIStore.revisionAnnotation]?.string ?? "") ?? 0 < maxRevision {
                // An old template back: its ReplicaSet becomes the newest revision.
                var bumped = rs
                bumped["metadata"]?["annotations"]?[APIStore.revisionAnnotation] = .string(String(maxRevision + 1))
                put(rsInfo, k, bumped, type: "MODIFIED")
                owned = ownedReplicaSets(uid: uid, namespace: namespace)
            }
            if let newKey {
                if recreate {
                    recreateUpdate(deployment, newKey: newKey, owned: owned, rsInfo: rsInfo)
                } else {
                    rollingUpdate(deployment, newKey: newKey, owned: owned, surge: surge, maxUnavailable: maxUnavailable, rsInfo: rsInfo)
                }
            }
        } else {
            scalePaused(deployment, newKey: newKey, owned: owned, surge: surge, rsInfo: rsInfo)
        }
        owned = ownedReplicaSets(uid: uid, namespace: namespace)
        cleanUpOldReplicaSets(deployment, newKey: newKey, owned: owned, paused: paused, rsInfo: rsInfo)
        owned = ownedReplicaSets(uid: uid, namespace: namespace)
        // The Deployment's revision is its new ReplicaSet's.
        if let newKey, let revision = objects[newKey]?["metadata"]?["annotations"]?[APIStore.revisionAnnotation],
           deployment["metadata"]?["annotations"]?[APIStore.revisionAnnotation] != revision {
            var annotations = deployment["metadata"]?["annotations"]?.object ?? [:]
            annotations[APIStore.revisionAnnotation] = revision
            deployment["metadata"]?["annotations"] = .object(annotations)
            put(deployInfo, key, deployment, type: "MODIFIED")
        }
        syncDeploymentStatus(key, newKey: newKey, owned: owned, created: created, maxUnavailable: maxUnavailable, scaling: scaling,
                             deployInfo: deployInfo, now: now)
    }

    func ownedReplicaSets(uid: String, namespace: String) -> [Key: JSONValue] {
        objects.filter { $0.key.resource == replicaSetsKey && $0.key.namespace == namespace
            && ($0.value["metadata"]?["ownerReferences"]?.array ?? []).contains { $0["uid"]?.string == uid && $0["controller"] == .bool(true) } }
    }

    /// ReplicaSets without a controller whose labels the Deployment's selector matches become its own.
    func adoptReplicaSets(_ deployment: JSONValue, key: Key, rsInfo: ResourceInfo) {
        // The whole selector, matchExpressions included, as ClaimReplicaSets reads it.
        let text = Selector.text(of: deployment["spec"]?["selector"])
        guard !text.isEmpty, let selector = try? Selector(labels: text, fields: nil) else { return }
        for (k, rs) in objects where k.resource == replicaSetsKey && k.namespace == key.namespace {
            let references = rs["metadata"]?["ownerReferences"]?.array ?? []
            guard !references.contains(where: { $0["controller"] == .bool(true) }), rs["metadata"]?["deletionTimestamp"] == nil else { continue }
            guard selector.matches(rs) else { continue }
            var adopted = rs
            adopted["metadata"]?["ownerReferences"] = .array(references + [ownerReference(deployment)])
            put(rsInfo, k, adopted, type: "MODIFIED")
        }
    }

    func ownerReference(_ deployment: JSONValue) -> JSONValue {
        ["apiVersion": "apps/v1", "kind": "Deployment", "name": deployment["metadata"]?["name"] ?? "",
         "uid": deployment["metadata"]?["uid"] ?? "", "controller": true, "blockOwnerDeletion": true]
    }

    func createReplicaSet(_ deployment: JSONValue, key: Key, replicas: Int, revision: Int, rsInfo: ResourceInfo) -> Key {
        let template = deployment["spec"]?["template"] ?? [:]
        let hash = APIStore.templateHash(template, collisionCount: deployment["status"]?["collisionCount"]?.number.map { Int($0) })
        let rsKey = Key(resource: replicaSetsKey, namespace: key.namespace, name: "\(key.name)-\(hash)")
        var podTemplate = template
        var podLabels = podTemplate["metadata"]?["labels"]?.object ?? [:]
        podLabels["pod-template-hash"] = .string(hash)
        podTemplate["metadata"] = .object((podTemplate["metadata"]?.object ?? [:]).merging(["labels": .object(podLabels)]) { _, new in new })
        var selector = deployment["spec"]?["selector"] ?? [:]
        var matchLabels = selector["matchLabels"]?.object ?? [:]
        matchLabels["pod-template-hash"] = .string(hash)
        selector["matchLabels"] = .object(matchLabels)
        // The Deployment's annotations, less kubectl's, with the revision and sizes the controller adds.
        var annotations = (deployment["metadata"]?["annotations"]?.object ?? [:])
            .filter { $0.key != "kubectl.kubernetes.io/last-applied-configuration" && $0.key != APIStore.revisionAnnotation }
        let (surge, _) = APIStore.fenceposts(deployment)
        let size = Int(deployment["spec"]?["replicas"]?.number ?? 1)
        annotations[APIStore.revisionAnnotation] = .string(String(revision))
        annotations["deployment.kubernetes.io/desired-replicas"] = .string(String(size))
        annotations["deployment.kubernetes.io/max-replicas"] = .string(String(size + surge))
        var spec: [String: JSONValue] = ["replicas": .number(Double(replicas)), "selector": selector, "template": podTemplate]
        spec["minReadySeconds"] = deployment["spec"]?["minReadySeconds"]
        let rs: JSONValue = ["apiVersion": "apps/v1", "kind": "ReplicaSet",
                             "metadata": ["name": .string(rsKey.name), "namespace": .string(key.namespace), "labels": .object(podLabels),
                                          "uid": .string(UUID().uuidString.lowercased()), "generation": 1,
                                          "creationTimestamp": .string(KubeTime(Date()).formatted),
                                          "annotations": .object(annotations), "ownerReferences": [ownerReference(deployment)]],
                             "spec": .object(spec)]
        put(rsInfo, rsKey, rs, type: "ADDED")
        return rsKey
    }

    func scale(_ rsInfo: ResourceInfo, _ key: Key, to size: Int) {
        guard var rs = objects[key], Int(rs["spec"]?["replicas"]?.number ?? 0) != size else { return }
        rs["spec"]?["replicas"] = .number(Double(size))
        let generation = rs["metadata"]?["generation"]?.number ?? 1
        rs["metadata"]?["generation"] = .number(generation + 1)
        put(rsInfo, key, rs, type: "MODIFIED")
    }

    static func specReplicas(_ rs: JSONValue?) -> Int { Int(rs?["spec"]?["replicas"]?.number ?? 0) }
    static func available(_ rs: JSONValue?) -> Int { Int(rs?["status"]?["availableReplicas"]?.number ?? 0) }

    /// `rolloutRolling`: the new ReplicaSet up as far as the surge allows, then the old ones
    /// down as far as availability allows (unhealthy replicas first).
    func rollingUpdate(_ deployment: JSONValue, newKey: Key, owned: [Key: JSONValue], surge: Int, maxUnavailable: Int, rsInfo: ResourceInfo) {
        let replicas = Int(deployment["spec"]?["replicas"]?.number ?? 1)
        let newRS = objects[newKey]
        let newSize = APIStore.specReplicas(newRS)
        let total = owned.values.reduce(0) { $0 + APIStore.specReplicas($1) }
        // As rolloutRolling: a pass that scaled the new ReplicaSet up ends there.
        if newSize < replicas {
            let up = min(replicas + surge - total, replicas - newSize)
            if up > 0 {
                scale(rsInfo, newKey, to: newSize + up)
                return
            }
        } else if newSize > replicas {
            scale(rsInfo, newKey, to: replicas)
            return
        }
        // Old ones, oldest first.
        let olds = owned.filter { $0.key != newKey && APIStore.specReplicas($0.value) > 0 }
            .sorted { ($0.value["metadata"]?["creationTimestamp"]?.string ?? "", $0.key.name) < ($1.value["metadata"]?["creationTimestamp"]?.string ?? "", $1.key.name) }
        guard !olds.isEmpty else { return }
        let all = ownedReplicaSets(uid: deployment["metadata"]?["uid"]?.string ?? "", namespace: newKey.namespace)
        let allPods = all.values.reduce(0) { $0 + APIStore.specReplicas($1) }
        let minAvailable = replicas - maxUnavailable
        let current = objects[newKey]
        let newUnavailable = APIStore.specReplicas(current) - APIStore.available(current)
        var budget = allPods - minAvailable - newUnavailable
        guard budget > 0 else { return }
        // Unhealthy replicas of old ReplicaSets go first.
        for (key, rs) in olds where budget > 0 {
            let unhealthy = APIStore.specReplicas(rs) - APIStore.available(rs)
            let down = min(unhealthy, budget)
            if down > 0 {
                scale(rsInfo, key, to: APIStore.specReplicas(rs) - down)
                budget -= down
            }
        }
        // Then as many available ones as keep minAvailable.
        let now = ownedReplicaSets(uid: deployment["metadata"]?["uid"]?.string ?? "", namespace: newKey.namespace)
        let availablePods = now.values.reduce(0) { $0 + APIStore.available($1) }
        var toScale = availablePods - minAvailable
        guard toScale > 0 else { return }
        for (key, _) in olds where toScale > 0 {
            let size = APIStore.specReplicas(objects[key])
            let down = min(size, toScale)
            if down > 0 {
                scale(rsInfo, key, to: size - down)
                toScale -= down
            }
        }
    }

    /// Status and conditions, as `syncRolloutStatus` writes them.
    func syncDeploymentStatus(_ key: Key, newKey: Key?, owned: [Key: JSONValue], created: Bool, maxUnavailable: Int, scaling: Bool,
                              deployInfo: ResourceInfo, now: Date) {
        guard let deployment = objects[key] else { return }
        let replicas = Int(deployment["spec"]?["replicas"]?.number ?? 1)
        let paused = deployment["spec"]?["paused"] == .bool(true)
        func sum(_ field: String) -> Int { owned.values.reduce(0) { $0 + Int($1["status"]?[field]?.number ?? 0) } }
        let total = sum("replicas")
        let ready = sum("readyReplicas")
        let available = sum("availableReplicas")
        let updated = newKey.flatMap { objects[$0] }.map { Int($0["status"]?["replicas"]?.number ?? 0) } ?? 0
        // `calculateStatus`: unavailable is what the ReplicaSets are sized for (surge included)
        // less what is available. The counts are `omitempty`: absent at zero; terminatingReplicas is
        // a pointer, always there.
        let unavailable = max(0, owned.values.reduce(0) { $0 + APIStore.specReplicas($1) } - available)
        var status: [String: JSONValue] = ["observedGeneration": deployment["metadata"]?["generation"] ?? 1, "terminatingReplicas": 0]
        for (field, value) in [("replicas", total), ("updatedReplicas", updated), ("readyReplicas", ready), ("availableReplicas", available),
                               ("unavailableReplicas", unavailable)] where value > 0 {
            status[field] = .number(Double(value))
        }
        if let count = deployment["status"]?["collisionCount"] { status["collisionCount"] = count }
        var conditions = deployment["status"]?["conditions"]?.array ?? []
        let stamp = JSONValue.string(KubeTime(now).formatted)
        func set(_ type: String, _ value: String, _ reason: String, _ message: String, progress: Bool) {
            let old = conditions.first { $0["type"]?.string == type }
            var c: [String: JSONValue] = ["type": .string(type), "status": .string(value), "reason": .string(reason), "message": .string(message)]
            let changed = old?["status"]?.string != value
            c["lastTransitionTime"] = changed ? stamp : old?["lastTransitionTime"] ?? stamp
            // lastUpdateTime moves with progress (and any change of reason), which the deadline counts from.
            c["lastUpdateTime"] = progress || changed || old?["reason"]?.string != reason ? stamp : old?["lastUpdateTime"] ?? stamp
            if let i = conditions.firstIndex(where: { $0["type"]?.string == type }) { conditions[i] = .object(c) } else { conditions.append(.object(c)) }
        }
        let minAvailable = replicas - maxUnavailable
        if available >= minAvailable {
            set("Available", "True", "MinimumReplicasAvailable", "Deployment has minimum availability.", progress: false)
        } else {
            set("Available", "False", "MinimumReplicasUnavailable", "Deployment does not have minimum availability.", progress: false)
        }
        let newName = newKey?.name ?? ""
        // DeploymentProgressing: more updated, ready or available replicas, or fewer old ones.
        let previous = deployment["status"]
        func n(_ v: JSONValue?, _ f: String) -> Int { Int(v?[f]?.number ?? 0) }
        let progressed = n(.object(status), "updatedReplicas") > n(previous, "updatedReplicas")
            || total - updated < n(previous, "replicas") - n(previous, "updatedReplicas")
            || ready > n(previous, "readyReplicas") || available > n(previous, "availableReplicas")
        let old = conditions.first { $0["type"]?.string == "Progressing" }
        let complete = newKey != nil && updated == replicas && available == replicas && total == replicas
        if scaling && !paused {
            // A scaling event leaves the Progressing condition as it is.
        } else if paused {
            // Paused: DeploymentPaused, unless the deadline was already missed.
            if old?["reason"]?.string != "DeploymentPaused", old?["reason"]?.string != "ProgressDeadlineExceeded" {
                set("Progressing", "Unknown", "DeploymentPaused", "Deployment is paused", progress: true)
            }
        } else if old?["reason"]?.string == "DeploymentPaused" {
            set("Progressing", "Unknown", "DeploymentResumed", "Deployment is resumed", progress: true)
        } else if complete {
            set("Progressing", "True", "NewReplicaSetAvailable", "ReplicaSet \"\(newName)\" has successfully progressed.", progress: old?["reason"]?.string != "NewReplicaSetAvailable")
        } else if created {
            set("Progressing", "True", "NewReplicaSetCreated", "Created new replica set \"\(newName)\"", progress: true)
        } else if progressed || old == nil || old?["reason"]?.string == "DeploymentResumed" || old?["reason"]?.string == "NewReplicaSetAvailable" {
            set("Progressing", "True", "ReplicaSetUpdated", "ReplicaSet \"\(newName)\" is progressing.", progress: true)
        } else if let since = old?["lastUpdateTime"]?.string.flatMap({ KubeTime(rfc3339: $0) }), old?["reason"]?.string != "ProgressDeadlineExceeded",
                  let deadline = deployment["spec"]?["progressDeadlineSeconds"]?.number,
                  now.timeIntervalSince1970 - since.secondsSince1970 > deadline {
            set("Progressing", "False", "ProgressDeadlineExceeded", "ReplicaSet \"\(newName)\" has timed out progressing.", progress: true)
        }
        status["conditions"] = .array(conditions.sorted { ($0["type"]?.string ?? "") < ($1["type"]?.string ?? "") })
        setStatus(deployInfo, key: key, .object(status))
    }
}
