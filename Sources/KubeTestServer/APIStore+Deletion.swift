import Foundation
import SluiceModel

/// Deletion as kube-apiserver and the controllers behind it carry it out: finalizers, the
/// garbage collector's propagation policies, and the namespace lifecycle.
extension APIStore {
    /// With finalizers, marks the object deleted (deletionTimestamp); without, removes it. Its
    /// dependents (by ownerReferences) go as `propagationPolicy` says: Background (the default)
    /// deletes them after it, Foreground before it (it waits with the `foregroundDeletion`
    /// finalizer), Orphan leaves them without the reference. A Namespace turns Terminating and
    /// goes once everything in it has.
    public func delete(_ info: ResourceInfo, namespace: String?, name: String, uid: String? = nil,
                       resourceVersion: String? = nil, propagation: String? = nil, dryRun: Bool = false) throws(APIError) -> JSONValue {
        let key = key(info, namespace, name)
        guard var object = objects[key] else { throw .notFound(info, name) }
        let meta = object["metadata"]
        if let uid, uid != meta?["uid"]?.string {
            throw APIError(409, "Conflict", "Operation cannot be fulfilled on \(info.plural) \"\(name)\": Precondition failed: UID in precondition: \(uid), UID in object meta: \(meta?["uid"]?.string ?? "")")
        }
        if let resourceVersion, resourceVersion != meta?["resourceVersion"]?.string {
            throw APIError(409, "Conflict", "Operation cannot be fulfilled on \(info.plural) \"\(name)\": Precondition failed: ResourceVersion in precondition: \(resourceVersion), ResourceVersion in object meta: \(meta?["resourceVersion"]?.string ?? "")")
        }
        if let policy = propagation, !["Background", "Foreground", "Orphan"].contains(policy) {
            throw .invalid(info, name, [FieldError(.notSupported, "propagationPolicy", value: .string(policy),
                                                   "supported values: \"Foreground\", \"Background\", \"Orphan\"")])
        }
        let isNamespace = info.plural == "namespaces" && info.group.isEmpty
        if isNamespace, ["default", "kube-system", "kube-public"].contains(name) {
            throw APIError(403, "Forbidden", "namespaces \"\(name)\" is forbidden: this namespace may not be deleted",
                           details: ["name": .string(name), "kind": "namespaces"])
        }
        if isNamespace, meta?["deletionTimestamp"] != nil {
            throw APIError(409, "Conflict", "Operation cannot be fulfilled on namespaces \"\(name)\": The system is ensuring all content is removed from this namespace.  Upon completion, this namespace will automatically be purged by the system.",
                           details: ["name": .string(name), "kind": "namespaces"])
        }
        if dryRun { return object }
        let objectUID = meta?["uid"]?.string ?? ""
        var finalizers = meta?["finalizers"]?.array?.compactMap(\.string) ?? []
        let dependents = self.dependents(of: objectUID)
        // Orphan and Foreground always go through their finalizer, as the real store adds it and
        // the garbage collector takes it off.
        if propagation == "Orphan", !finalizers.contains("orphan") {
            finalizers.append("orphan")
        } else if propagation == "Foreground", !finalizers.contains("foregroundDeletion") {
            finalizers.append("foregroundDeletion")
        }
        if !finalizers.isEmpty || isNamespace {
            guard meta?["deletionTimestamp"] == nil else { return object }
            let previous = object
            object["metadata"]?["finalizers"] = finalizers.isEmpty ? nil : .array(finalizers.map(JSONValue.string))
            object["metadata"]?["deletionTimestamp"] = .string(KubeTime(Date()).formatted)
            if info.hasGeneration { object["metadata"]?["generation"] = .number((meta?["generation"]?.number ?? 1) + 1) }
            if isNamespace { object["status"] = ["phase": "Terminating"] }
            object["metadata"]?["resourceVersion"] = .string(nextRevision())
            objects[key] = object
            record("MODIFIED", info, key.namespace, object, previous: previous)
            if propagation == "Foreground" {
                for dependent in dependents { deleteDependent(dependent, propagation: "Foreground") }
                releaseForegroundOwners()
            }
            if propagation == "Orphan" {
                for dependent in dependents { orphan(dependent, from: objectUID) }
                release(finalizer: "orphan", key)
            }
            if isNamespace { sweep(namespace: name) }
            return objects[key] ?? object
        }
        remove(info, key, object)
        return object
    }

    /// Removes an object for good, then what it owned (in the background) and what waited on it.
    func remove(_ info: ResourceInfo, _ key: Key, _ object: JSONValue) {
        let previous = object
        var object = object
        objects[key] = nil
        pods[key] = nil
        object["metadata"]?["resourceVersion"] = .string(nextRevision())
        record("DELETED", info, key.namespace, object, previous: previous)
        if let uid = object["metadata"]?["uid"]?.string {
            for dependent in dependents(of: uid) { deleteDependent(dependent, propagation: "Background") }
        }
        releaseForegroundOwners()
        if !key.namespace.isEmpty { sweep(namespace: key.namespace) }
    }

    /// The garbage collector deletes an object whose owners are all gone (it names uids that
    /// no object has).
    func collectIfOrphaned(_ info: ResourceInfo, _ key: Key) {
        guard let object = objects[key], let references = object["metadata"]?["ownerReferences"]?.array, !references.isEmpty else { return }
        let uids = Set(objects.values.compactMap { $0["metadata"]?["uid"]?.string })
        guard references.allSatisfy({ !uids.contains($0["uid"]?.string ?? "") }) else { return }
        remove(info, key, object)
    }

    /// The objects whose ownerReferences name `uid`.
    func dependents(of uid: String) -> [Key] {
        guard !uid.isEmpty else { return [] }
        return objects.filter { _, object in
            (object["metadata"]?["ownerReferences"]?.array ?? []).contains { $0["uid"]?.string == uid }
        }.map(\.key).sorted { ($0.resource, $0.namespace, $0.name) < ($1.resource, $1.namespace, $1.name) }
    }

    func info(for key: Key) -> ResourceInfo? {
        registry.values.first { storageKey($0) == key.resource }
    }

    func deleteDependent(_ key: Key, propagation: String) {
        guard let info = info(for: key), objects[key] != nil else { return }
        _ = try? delete(info, namespace: key.namespace.isEmpty ? nil : key.namespace, name: key.name, propagation: propagation)
    }

    func orphan(_ key: Key, from uid: String) {
        guard let info = info(for: key), var object = objects[key] else { return }
        let previous = object
        let references = (object["metadata"]?["ownerReferences"]?.array ?? []).filter { $0["uid"]?.string != uid }
        object["metadata"]?["ownerReferences"] = references.isEmpty ? nil : .array(references)
        object["metadata"]?["resourceVersion"] = .string(nextRevision())
        objects[key] = object
        record("MODIFIED", info, key.namespace, object, previous: previous)
    }

    /// Takes a garbage-collector finalizer off a deleted object; it goes if that was the last.
    func release(finalizer: String, _ key: Key) {
        guard let object = objects[key], let info = info(for: key) else { return }
        var released = object
        let rest = (object["metadata"]?["finalizers"]?.array?.compactMap(\.string) ?? []).filter { $0 != finalizer }
        released["metadata"]?["finalizers"] = rest.isEmpty ? nil : .array(rest.map(JSONValue.string))
        if rest.isEmpty {
            remove(info, key, released)
        } else {
            released["metadata"]?["resourceVersion"] = .string(nextRevision())
            objects[key] = released
            record("MODIFIED", info, key.namespace, released, previous: object)
        }
    }

    /// Owners deleted in the foreground go once their dependents have.
    func releaseForegroundOwners() {
        for (key, object) in objects where object["metadata"]?["deletionTimestamp"] != nil {
            let finalizers = object["metadata"]?["finalizers"]?.array?.compactMap(\.string) ?? []
            guard finalizers.contains("foregroundDeletion"), let uid = object["metadata"]?["uid"]?.string,
                  dependents(of: uid).isEmpty else { continue }
            release(finalizer: "foregroundDeletion", key)
        }
    }

    /// A terminating namespace: everything in it is deleted (finalizers honoured); once nothing
    /// is left, the namespace goes.
    func sweep(namespace: String) {
        guard let nsInfo = registry["v1/namespaces"], let ns = objects[key(nsInfo, nil, namespace)],
              ns["metadata"]?["deletionTimestamp"] != nil else { return }
        let inside = objects.keys.filter { $0.namespace == namespace }
        for key in inside where objects[key]?["metadata"]?["deletionTimestamp"] == nil {
            guard let info = info(for: key) else { continue }
            _ = try? delete(info, namespace: namespace, name: key.name)
        }
        if !objects.keys.contains(where: { $0.namespace == namespace }), let ns = objects[key(nsInfo, nil, namespace)] {
            remove(nsInfo, key(nsInfo, nil, namespace), ns)
        }
    }

    /// The namespace lifecycle admission: no creates in a namespace that does not exist or is
    /// being terminated.
    func admitIntoNamespace(_ info: ResourceInfo, namespace: String, name: String) throws(APIError) {
        guard let nsInfo = registry["v1/namespaces"] else { return }
        guard let ns = objects[key(nsInfo, nil, namespace)] else { throw .notFound(nsInfo, namespace) }
        if ns["metadata"]?["deletionTimestamp"] != nil {
            let resource = info.group.isEmpty ? info.plural : "\(info.plural).\(info.group)"
            throw APIError(403, "Forbidden", "\(resource) \"\(name)\" is forbidden: unable to create new content in namespace \(namespace) because it is being terminated",
                           details: ["name": .string(name), "group": .string(info.group), "kind": .string(info.plural),
                                     "causes": [["reason": "NamespaceTerminating", "message": .string("namespace \(namespace) is being terminated"),
                                                 "field": "metadata.namespace"]]])
        }
    }
}
