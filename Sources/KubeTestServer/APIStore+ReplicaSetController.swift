import Foundation
import SluiceModel

/// The simulated ReplicaSet controller: each ReplicaSet's pods kept at its size and aged by
/// how they are told to behave; its status counted from them.
extension APIStore {

    /// Sets by hand how the pods of a ReplicaSet behave from now on (the values of the
    /// `simulate` annotation); nil goes back to what the annotations say.
    public func setPodBehaviour(_ value: String?, namespace: String, replicaSet: String) {
        podBehaviour[Key(resource: replicaSetsKey, namespace: namespace, name: replicaSet)] = value
    }

    func behaviour(of rs: JSONValue) -> PodBehaviour {
        let key = Key(resource: replicaSetsKey, namespace: rs["metadata"]?["namespace"]?.string ?? "", name: rs["metadata"]?["name"]?.string ?? "")
        let value = podBehaviour[key] ?? rs["metadata"]?["annotations"]?[APIStore.simulateAnnotation]?.string
            ?? rs["spec"]?["template"]?["metadata"]?["annotations"]?[APIStore.simulateAnnotation]?.string
        return PodBehaviour(value, step: controllerStep)
    }

    func syncReplicaSet(_ key: Key, rsInfo: ResourceInfo, now: Date) {
        guard let rs = objects[key] else { return }
        let wanted = Int(rs["spec"]?["replicas"]?.number ?? 1)
        var list = pods[key] ?? []
        // Fewer pods: the unready go first, then the newest.
        if list.count > wanted {
            list.sort { ($0.ready == nil ? 0 : 1, $1.created) < ($1.ready == nil ? 0 : 1, $0.created) }
            list.removeFirst(list.count - wanted)
        }
        while list.count < wanted { list.append(Pod(created: now, ready: nil)) }
        let behaviour = behaviour(of: rs)
        let minReady = rs["spec"]?["minReadySeconds"]?.number ?? 0
        var ready = 0
        var available = 0
        for i in list.indices {
            switch behaviour {
            case .never:
                list[i].ready = nil
            case .readyAfter(let s):
                if list[i].ready == nil, now.timeIntervalSince(list[i].created) >= s { list[i].ready = now }
            case .crashAfter(let s):
                if list[i].ready == nil, now.timeIntervalSince(list[i].created) >= controllerStep,
                   now.timeIntervalSince(list[i].created) < controllerStep + s {
                    list[i].ready = now
                }
                if let r = list[i].ready, now.timeIntervalSince(r) >= s { list[i].ready = nil }
            }
            if let r = list[i].ready {
                ready += 1
                if now.timeIntervalSince(r) >= minReady { available += 1 }
            }
        }
        pods[key] = list
        // As the real ReplicaSetStatus serializes: `replicas` always, the other counts only when not
        // zero, `terminatingReplicas` (a pointer) always once the controller has written status.
        var status: [String: JSONValue] = ["replicas": .number(Double(list.count)), "observedGeneration": rs["metadata"]?["generation"] ?? 1,
                                           "terminatingReplicas": 0]
        if !list.isEmpty { status["fullyLabeledReplicas"] = .number(Double(list.count)) }
        if ready > 0 { status["readyReplicas"] = .number(Double(ready)) }
        if available > 0 { status["availableReplicas"] = .number(Double(available)) }
        setStatus(rsInfo, key: key, .object(status))
    }
}
