import Foundation
import SluiceModel

/// `fieldValidation`: what happens to fields the schema does not declare.
public enum FieldValidation: String, Sendable {
    case strict = "Strict", warn = "Warn", ignore = "Ignore"
}

public struct WriteResult: Sendable {
    public var object: JSONValue
    /// `Warning` headers to send.
    public var warnings: [String]
    /// 201 for a create, else 200.
    public var code: Int
}

extension APIStore {
    public func create(_ info: ResourceInfo, namespace: String?, _ body: JSONValue,
                       validation: FieldValidation = .warn) throws(APIError) -> WriteResult {
        var object = body
        var meta = object["metadata"]?.object ?? [:]
        if meta["name"]?.string == nil, let prefix = meta["generateName"]?.string {
            meta["name"] = .string(prefix + String(UUID().uuidString.lowercased().prefix(5)))
        }
        guard let name = meta["name"]?.string, !name.isEmpty else {
            throw .invalid(info, "", field: "metadata.name", message: "Required value: name or generateName is required")
        }
        if info.namespaced {
            guard let namespace else { throw APIError(400, "BadRequest", "a namespace is required for \(info.plural)") }
            if let given = meta["namespace"]?.string, given != namespace {
                throw APIError(400, "BadRequest", "the namespace of the provided object does not match the namespace sent on the request")
            }
            meta["namespace"] = .string(namespace)
        } else {
            meta["namespace"] = nil
        }
        let key = key(info, namespace, name)
        guard objects[key] == nil else {
            throw APIError(409, "AlreadyExists", "\(info.plural)\(info.group.isEmpty ? "" : "." + info.group) \"\(name)\" already exists",
                           details: ["name": .string(name), "group": .string(info.group), "kind": .string(info.plural)])
        }
        object["metadata"] = .object(meta)
        if info.isCustomResourceDefinition { try CustomResourceDefinitionValidation.validate(object, info: info) }
        BuiltinDefaults.apply(&object, info)
        let warnings = try prune(&object, info, validation: validation)
        if info.statusSubresource, info.isCustom || info.plural != "customresourcedefinitions" { object["status"] = nil }
        try validateCustom(&object, old: nil, info, name: name)
        meta = object["metadata"]?.object ?? [:]
        meta["uid"] = .string(UUID().uuidString.lowercased())
        meta["creationTimestamp"] = .string(KubeTime(Date()).formatted)
        meta["resourceVersion"] = .string(nextRevision())
        meta["generation"] = 1
        meta["deletionTimestamp"] = nil
        object["metadata"] = .object(meta)
        object["apiVersion"] = .string(info.apiVersion)
        object["kind"] = .string(info.kind)
        if info.isCustomResourceDefinition { object = establish(object) }
        objects[key] = object
        record("ADDED", info, key.namespace, object, previous: nil)
        if info.group == "apps" { simulate(namespace: key.namespace) }
        return WriteResult(object: objects[key] ?? object, warnings: warnings, code: 201)
    }

    /// PUT: custom resources need the resourceVersion they were read at; a stale one is 409. The
    /// main endpoint ignores status when status is a subresource; `/status` ignores all but status.
    public func update(_ info: ResourceInfo, namespace: String?, name: String, _ body: JSONValue, subresource: String? = nil,
                       validation: FieldValidation = .warn, requireVersion: Bool? = nil) throws(APIError) -> WriteResult {
        let key = key(info, namespace, name)
        guard let old = objects[key] else { throw .notFound(info, name) }
        let oldVersion = old["metadata"]?["resourceVersion"]?.string
        if let given = body["metadata"]?["resourceVersion"]?.string {
            if given != oldVersion { throw .conflict(info, name) }
        } else if requireVersion ?? info.isCustom {
            throw .invalid(info, name, field: "metadata.resourceVersion", message: "Invalid value: 0x0: must be specified for an update")
        }
        var new: JSONValue
        var warnings: [String] = []
        if subresource == "status" {
            new = old
            var incoming = body
            warnings = try prune(&incoming, info, validation: validation)
            new["status"] = incoming["status"]
        } else {
            new = body
            BuiltinDefaults.apply(&new, info)
            warnings = try prune(&new, info, validation: validation)
            if info.statusSubresource { new["status"] = old["status"] }
            var meta = new["metadata"]?.object ?? [:]
            for field in ["uid", "creationTimestamp", "deletionTimestamp", "generation", "namespace", "name"] { meta[field] = old["metadata"]?[field] }
            new["metadata"] = .object(meta)
        }
        new["apiVersion"] = .string(info.apiVersion)
        new["kind"] = .string(info.kind)
        try validateCustom(&new, old: old, info, name: name)
        return try commit(info, key, old: old, new: new, warnings: warnings)
    }

    public enum PatchType: String, Sendable {
        case merge = "application/merge-patch+json"
        case json = "application/json-patch+json"
        case strategic = "application/strategic-merge-patch+json"
        case apply = "application/apply-patch+yaml"
    }

    public func patch(_ info: ResourceInfo, namespace: String?, name: String, type: PatchType, _ patch: JSONValue,
                      subresource: String? = nil, validation: FieldValidation = .warn) throws(APIError) -> WriteResult {
        let key = key(info, namespace, name)
        guard let old = objects[key] else { throw .notFound(info, name) }
        var new: JSONValue
        switch type {
        case .merge, .apply:
            new = Patching.merge(old, patch)
        case .strategic:
            guard !info.isCustom else {
                throw APIError(415, "UnsupportedMediaType", "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml")
            }
            new = Patching.strategic(old, patch)
        case .json:
            do { new = try Patching.json(old, patch) } catch {
                throw APIError(error.code, error.code == 422 ? "Invalid" : "BadRequest", error.message)
            }
        }
        // A resourceVersion in the patch is a precondition; otherwise the patch applies to the current object.
        if let wanted = patch["metadata"]?["resourceVersion"]?.string, type != .json, wanted != old["metadata"]?["resourceVersion"]?.string {
            throw .conflict(info, name)
        }
        new["metadata"]?["resourceVersion"] = old["metadata"]?["resourceVersion"]
        return try update(info, namespace: namespace, name: name, new, subresource: subresource, validation: validation, requireVersion: false)
    }

    /// With finalizers, marks the object deleted (deletionTimestamp); without, removes it.
    public func delete(_ info: ResourceInfo, namespace: String?, name: String, uid: String? = nil,
                       resourceVersion: String? = nil) throws(APIError) -> JSONValue {
        let key = key(info, namespace, name)
        guard var object = objects[key] else { throw .notFound(info, name) }
        let meta = object["metadata"]
        if let uid, uid != meta?["uid"]?.string {
            throw APIError(409, "Conflict", "Operation cannot be fulfilled on \(info.plural) \"\(name)\": Precondition failed: UID in precondition: \(uid), UID in object meta: \(meta?["uid"]?.string ?? "")")
        }
        if let resourceVersion, resourceVersion != meta?["resourceVersion"]?.string {
            throw APIError(409, "Conflict", "Operation cannot be fulfilled on \(info.plural) \"\(name)\": Precondition failed: ResourceVersion in precondition: \(resourceVersion), ResourceVersion in object meta: \(meta?["resourceVersion"]?.string ?? "")")
        }
        if !(meta?["finalizers"]?.array ?? []).isEmpty {
            guard meta?["deletionTimestamp"] == nil else { return object }
            object["metadata"]?["deletionTimestamp"] = .string(KubeTime(Date()).formatted)
            object["metadata"]?["generation"] = .number((meta?["generation"]?.number ?? 1) + 1)
            object["metadata"]?["resourceVersion"] = .string(nextRevision())
            let previous = objects[key]
            objects[key] = object
            record("MODIFIED", info, key.namespace, object, previous: previous)
            return object
        }
        let previous = object
        objects[key] = nil
        object["metadata"]?["resourceVersion"] = .string(nextRevision())
        record("DELETED", info, key.namespace, object, previous: previous)
        return object
    }

    func commit(_ info: ResourceInfo, _ key: Key, old: JSONValue, new input: JSONValue, warnings: [String]) throws(APIError) -> WriteResult {
        var new = input
        new["metadata"]?["resourceVersion"] = old["metadata"]?["resourceVersion"]
        if new == old { return WriteResult(object: old, warnings: warnings, code: 200) }
        if content(old) != content(new) {
            new["metadata"]?["generation"] = .number((old["metadata"]?["generation"]?.number ?? 1) + 1)
        }
        new["metadata"]?["resourceVersion"] = .string(nextRevision())
        let deleting = new["metadata"]?["deletionTimestamp"] != nil && (new["metadata"]?["finalizers"]?.array ?? []).isEmpty
        if deleting {
            objects[key] = nil
            record("DELETED", info, key.namespace, new, previous: old)
        } else {
            if info.isCustomResourceDefinition {
                try CustomResourceDefinitionValidation.validate(new, info: info)
                new = establish(new)
            }
            objects[key] = new
            record("MODIFIED", info, key.namespace, new, previous: old)
        }
        if info.group == "apps" { simulate(namespace: key.namespace) }
        return WriteResult(object: objects[key] ?? new, warnings: warnings, code: 200)
    }

    /// A custom resource gets its schema's defaults, then must pass its schema and its rules.
    func validateCustom(_ object: inout JSONValue, old: JSONValue?, _ info: ResourceInfo, name: String) throws(APIError) {
        guard let schema = info.schema, !info.isCustomResourceDefinition else { return }
        object = SchemaDefaults.applyToObject(object, schema)
        let errors = CustomResourceValidation.errors(object, old: old.map { SchemaDefaults.applyToObject($0, schema) }, schema: schema)
        guard errors.isEmpty else { throw .invalid(info, name, errors) }
    }

    /// What `generation` counts: everything but metadata and status.
    func content(_ object: JSONValue) -> JSONValue {
        var copy = object
        copy["metadata"] = nil
        copy["status"] = nil
        return copy
    }

    /// Prunes a custom resource to its schema; Strict refuses unknown fields, Warn reports them.
    func prune(_ object: inout JSONValue, _ info: ResourceInfo, validation: FieldValidation) throws(APIError) -> [String] {
        guard let schema = info.schema else { return [] }
        let (pruned, dropped) = Pruning.pruneObject(object, schema: schema)
        if !dropped.isEmpty, validation == .strict {
            let list = dropped.map { "unknown field \"\($0)\"" }.joined(separator: ", ")
            throw APIError(400, "BadRequest", "\(info.kind) in version \"\(info.version)\" cannot be handled as a \(info.kind): strict decoding error: \(list)")
        }
        object = pruned
        return validation == .warn ? dropped.map { "unknown field \"\($0)\"" } : []
    }

    /// A CustomResourceDefinition is accepted at once: its resources are registered and its
    /// status says Established.
    func establish(_ crd: JSONValue) -> JSONValue {
        for info in ResourceInfo.fromCRD(crd) { register(info) }
        var out = crd
        out["status"] = ["acceptedNames": crd["spec"]?["names"] ?? [:],
                         "conditions": [["type": "Established", "status": "True", "reason": "InitialNamesAccepted", "message": "the initial names have been accepted",
                                         "lastTransitionTime": .string(KubeTime(Date()).formatted)],
                                        ["type": "NamesAccepted", "status": "True", "reason": "NoConflicts", "message": "no conflicts found",
                                         "lastTransitionTime": .string(KubeTime(Date()).formatted)]],
                         "storedVersions": .array((crd["spec"]?["versions"]?.array ?? []).compactMap { $0["name"] })]
        return out
    }
}
