import Foundation
import SluiceModel

/// The server's state: every object by resource, namespace and name, one global and increasing
/// resourceVersion, a log of changes for watches to replay, and the registry of resources.
public actor APIStore {
    struct Key: Hashable {
        var resource: String  // group/plural: shared by every version
        var namespace: String
        var name: String
    }

    public struct Change: Sendable {
        public var revision: Int
        public var type: String  // ADDED, MODIFIED, DELETED
        public var resource: String
        public var namespace: String
        public var object: JSONValue
        /// The object before this change (nil for ADDED): a watch with a selector tells from it
        /// whether the object started or stopped matching.
        public var previous: JSONValue?
    }

    public struct Write: Sendable {
        public var at: Date
        public var client: String
        public var verb: String
        public var path: String
        public var body: String
    }

    var objects: [Key: JSONValue] = [:]
    var revision = 100
    var changes: [Change] = []
    /// Changes at or below this revision are gone: a watch from before it is too old.
    var compactedRevision = 0
    /// How many changes a watch can replay; a resourceVersion older than that is "too old" (410).
    public var replayWindow: Int
    var registry: [String: ResourceInfo] = [:]
    var subscribers: [UUID: AsyncStream<Change>.Continuation] = [:]
    public private(set) var writes: [Write] = []
    /// ServiceAccount tokens minted by TokenRequest, and whom they authenticate.
    var tokens: [String: User] = [:]
    /// Pods of each ReplicaSet, as the simulated controllers keep them.
    var pods: [Key: [Pod]] = [:]
    /// Pod behaviour set by a test's hand, per ReplicaSet.
    var podBehaviour: [Key: String] = [:]
    /// Seconds between passes of the simulated Deployment and ReplicaSet controllers.
    public private(set) var controllerStep: Double = 0.2

    public func setControllerStep(_ seconds: Double) { controllerStep = max(0.01, seconds) }

    public init(replayWindow: Int = 1000) {
        self.replayWindow = replayWindow
        for info in ResourceInfo.builtins { registry["\(info.apiVersion)/\(info.plural)"] = info }
        // The namespaces every cluster starts with.
        for name in ["default", "kube-system", "kube-public", "kube-node-lease"] {
            revision += 1
            objects[Key(resource: "/namespaces", namespace: "", name: name)] = [
                "apiVersion": "v1", "kind": "Namespace",
                "metadata": ["name": .string(name), "uid": .string(UUID().uuidString.lowercased()), "resourceVersion": .string(String(revision)),
                             "creationTimestamp": .string(KubeTime(Date()).formatted), "labels": ["kubernetes.io/metadata.name": .string(name)]],
                "spec": ["finalizers": ["kubernetes"]], "status": ["phase": "Active"],
            ]
        }
    }

    func register(_ info: ResourceInfo) { registry["\(info.apiVersion)/\(info.plural)"] = info }

    public func resources() -> [ResourceInfo] { Array(registry.values).sorted { ($0.apiVersion, $0.plural) < ($1.apiVersion, $1.plural) } }

    public func resource(apiVersion: String, plural: String) -> ResourceInfo? { registry["\(apiVersion)/\(plural)"] }

    func storageKey(_ info: ResourceInfo) -> String { "\(info.group)/\(info.plural)" }

    /// Where an object is kept: cluster-scoped objects have no namespace.
    func key(_ info: ResourceInfo, _ namespace: String?, _ name: String) -> Key {
        Key(resource: storageKey(info), namespace: info.namespaced ? namespace ?? "" : "", name: name)
    }

    func nextRevision() -> String {
        revision += 1
        return String(revision)
    }

    public var currentRevision: Int { revision }

    func record(_ type: String, _ info: ResourceInfo, _ namespace: String, _ object: JSONValue, previous: JSONValue?) {
        let change = Change(revision: revision, type: type, resource: storageKey(info), namespace: namespace, object: object,
                            previous: previous)
        changes.append(change)
        if changes.count > replayWindow {
            let dropped = changes.count - replayWindow
            compactedRevision = changes[dropped - 1].revision
            changes.removeFirst(dropped)
        }
        for subscriber in subscribers.values { subscriber.yield(change) }
    }

    public func logWrite(client: String, verb: String, path: String, body: String) {
        writes.append(Write(at: Date(), client: client, verb: verb, path: path, body: body))
    }

    // MARK: Reads

    public func get(_ info: ResourceInfo, namespace: String?, name: String) throws(APIError) -> JSONValue {
        guard let object = objects[key(info, namespace, name)] else {
            throw .notFound(info, name)
        }
        return APIStore.converted(object, to: info)
    }

    /// Objects of a resource (in a namespace, or all), sorted by namespace and name, filtered.
    public func list(_ info: ResourceInfo, namespace: String?, selector: Selector) -> (items: [JSONValue], revision: String) {
        let resource = storageKey(info)
        let items = objects.filter { $0.key.resource == resource && (namespace == nil || $0.key.namespace == namespace) }
            .sorted { ($0.key.namespace, $0.key.name) < ($1.key.namespace, $1.key.name) }
            .map { APIStore.converted($0.value, to: info) }
            .filter(selector.matches)
        return (items, String(revision))
    }

    /// The list as it was at `revision` (what etcd's MVCC gives a paged list's later pages):
    /// the changes since are undone; nil when they are compacted away.
    public func list(_ info: ResourceInfo, namespace: String?, selector: Selector, at snapshot: Int) -> [JSONValue]? {
        if snapshot < compactedRevision { return nil }
        let resource = storageKey(info)
        var state: [Key: JSONValue] = objects.filter { $0.key.resource == resource }
        for change in changes.reversed() where change.revision > snapshot && change.resource == resource {
            let name = change.object["metadata"]?["name"]?.string ?? ""
            let key = Key(resource: resource, namespace: change.namespace, name: name)
            switch change.type {
            case "ADDED": state[key] = nil
            default: state[key] = change.previous ?? change.object
            }
        }
        return state.filter { namespace == nil || $0.key.namespace == namespace }
            .sorted { ($0.key.namespace, $0.key.name) < ($1.key.namespace, $1.key.name) }
            .map { APIStore.converted($0.value, to: info) }
            .filter(selector.matches)
    }

    /// The object as this version serves it (storage is shared across versions).
    /// Custom resources are defaulted on read too, as kube-apiserver defaults what it decodes
    /// from storage (an object stored before its CRD gained a default gets it).
    nonisolated static func converted(_ object: JSONValue, to info: ResourceInfo) -> JSONValue {
        var copy = object
        if let schema = info.schema, !info.isCustomResourceDefinition { copy = SchemaDefaults.applyToObject(copy, schema) }
        copy["apiVersion"] = .string(info.apiVersion)
        return copy
    }

    // MARK: Watch

    /// Changes after `revision`; nil when it is older than the replay window.
    public func changes(after revision: Int, resource info: ResourceInfo) -> [Change]? {
        if revision < compactedRevision { return nil }
        return changes.filter { $0.revision > revision && $0.resource == storageKey(info) }
    }

    public func subscribe() -> (UUID, AsyncStream<Change>) {
        let id = UUID()
        let (stream, continuation) = AsyncStream<Change>.makeStream()
        subscribers[id] = continuation
        return (id, stream)
    }

    public func unsubscribe(_ id: UUID) {
        subscribers[id]?.finish()
        subscribers[id] = nil
    }

    /// Makes every change older than the current revision unreplayable: the next watch from an
    /// older resourceVersion gets 410 (as after an etcd compaction).
    public func compact() {
        changes.removeAll()
        compactedRevision = revision
    }
}
