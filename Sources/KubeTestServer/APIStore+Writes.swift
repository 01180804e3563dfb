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
                       validation: FieldValidation = .warn, dryRun: Bool = false, fieldManager: String? = nil) throws(APIError) -> WriteResult {
        var object = body
        var meta = object["metadata"]?.object ?? [:]
        if let version = meta["resourceVersion"]?.string, !version.isEmpty, version != "0" {
            throw APIError(500, "InternalError", "Internal error occurred: resourceVersion should not be set on objects to be created")
        }
        if meta["name"]?.string == nil, let prefix = meta["generateName"]?.string {
            meta["name"] = .string(prefix + String(UUID().uuidString.lowercased().prefix(5)))
        }
        guard let name = meta["name"]?.string, !name.isEmpty else {
            throw .invalid(info, "", [FieldError(.required, "metadata.name", "name or generateName is required")])
        }
        if info.namespaced {
            guard let namespace else { throw APIError(400, "BadRequest", "a namespace is required for \(info.plural)") }
            if let given = meta["namespace"]?.string, given != namespace {
                throw APIError(400, "BadRequest", "the namespace of the provided object does not match the namespace sent on the request")
            }
            meta["namespace"] = .string(namespace)
            try admitIntoNamespace(info, namespace: namespace, name: name)
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
        let errors = BuiltinValidation.errors(object, old: nil, info: info)
        guard errors.isEmpty else { throw .invalid(info, name, errors) }
        if let fieldManager, info.group != "apiextensions.k8s.io" {
            FieldOwnership.record(update: &object, old: nil, manager: fieldManager, subresource: nil, schema: info.schema, apiVersion: info.apiVersion)
        }
        meta = object["metadata"]?.object ?? [:]
        meta["uid"] = .string(UUID().uuidString.lowercased())
        meta["creationTimestamp"] = .string(KubeTime(Date()).formatted)
        // A dry run uses up no revision.
        meta["resourceVersion"] = dryRun ? nil : .string(nextRevision())
        meta["generation"] = info.hasGeneration ? 1 : nil
        meta["deletionTimestamp"] = nil
        object["metadata"] = .object(meta)
        object["apiVersion"] = .string(info.apiVersion)
        object["kind"] = .string(info.kind)
        if info.plural == "namespaces", info.group.isEmpty {
            object["spec"] = ["finalizers": ["kubernetes"]]
            object["status"] = ["phase": "Active"]
        }
        if dryRun { return WriteResult(object: object, warnings: warnings, code: 201) }
        if info.isCustomResourceDefinition { object = establish(object) }
        objects[key] = object
        record("ADDED", info, key.namespace, object, previous: nil)
        collectIfOrphaned(info, key)
        return WriteResult(object: objects[key] ?? object, warnings: warnings, code: 201)
    }

    /// PUT: custom resources need the resourceVersion they were read at; a stale one is 409. The
    /// main endpoint ignores status when status is a subresource; `/status` ignores all but status.
    public func update(_ info: ResourceInfo, namespace: String?, name: String, _ body: JSONValue, subresource: String? = nil,
                       validation: FieldValidation = .warn, requireVersion: Bool? = nil, dryRun: Bool = false,
                       fieldManager: String? = nil) throws(APIError) -> WriteResult {
        let key = key(info, namespace, name)
        guard let old = objects[key] else { throw .notFound(info, name) }
        if let given = body["metadata"]?["name"]?.string, given != name {
            throw APIError(400, "BadRequest", "the name of the object (\(given)) does not match the name on the URL (\(name))")
        }
        // A uid in the body is a precondition: a stale copy of a re-created object is a conflict.
        if let uid = body["metadata"]?["uid"]?.string, !uid.isEmpty, uid != old["metadata"]?["uid"]?.string {
            throw APIError(409, "Conflict", "Operation cannot be fulfilled on \(info.plural)\(info.group.isEmpty ? "" : "." + info.group) \"\(name)\": Precondition failed: UID in precondition: \(uid), UID in object meta: \(old["metadata"]?["uid"]?.string ?? "")",
                           details: ["name": .string(name), "group": .string(info.group), "kind": .string(info.plural)])
        }
        var metaErrors: [FieldError] = []
        if old["metadata"]?["deletionTimestamp"] != nil, subresource == nil {
            let before = Set(old["metadata"]?["finalizers"]?.array?.compactMap(\.string) ?? [])
            let added = Set((body["metadata"]?["finalizers"]?.array?.compactMap(\.string) ?? []).filter { !before.contains($0) }).sorted()
            if !added.isEmpty {
                metaErrors.append(FieldError(.forbidden, "metadata.finalizers",
                                             "no new finalizers can be added if the object is being deleted, found new finalizers []string{\(added.map { "\"\($0)\"" }.joined(separator: ", "))}"))
            }
        }
        guard metaErrors.isEmpty else { throw .invalid(info, name, metaErrors) }
        let oldVersion = old["metadata"]?["resourceVersion"]?.string
        if let given = body["metadata"]?["resourceVersion"]?.string {
            if given != oldVersion { throw .conflict(info, name) }
        } else if requireVersion ?? info.isCustom {
            throw .invalid(info, name, [FieldError(.invalid, "metadata.resourceVersion", value: .number(0), "must be specified for an update")])
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
        try validateCustom(&new, old: old, info, name: name, statusOnly: subresource == "status")
        let errors = BuiltinValidation.errors(new, old: old, info: info)
        guard errors.isEmpty else { throw .invalid(info, name, errors) }
        if let fieldManager, info.group != "apiextensions.k8s.io" {
            FieldOwnership.record(update: &new, old: old, manager: fieldManager, subresource: subresource, schema: info.schema, apiVersion: info.apiVersion)
        } else if new["metadata"]?["managedFields"] == nil {
            new["metadata"]?["managedFields"] = old["metadata"]?["managedFields"]
        }
        return try commit(info, key, old: old, new: new, warnings: warnings, dryRun: dryRun)
    }

    public enum PatchType: String, Sendable {
        case merge = "application/merge-patch+json"
        case json = "application/json-patch+json"
        case strategic = "application/strategic-merge-patch+json"
        case apply = "application/apply-patch+yaml"
    }

    public func patch(_ info: ResourceInfo, namespace: String?, name: String, type: PatchType, _ patch: JSONValue,
                      subresource: String? = nil, validation: FieldValidation = .warn, dryRun: Bool = false,
                      fieldManager: String? = nil, force: Bool = false) throws(APIError) -> WriteResult {
        let key = key(info, namespace, name)
        if type == .apply {
            // Server-side apply: the manager's fields, merged; created when absent.
            guard let manager = fieldManager, !manager.isEmpty else {
                throw APIError(422, "Invalid", "PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Required value: is required for apply patch",
                               details: ["group": "meta.k8s.io", "kind": "PatchOptions",
                                         "causes": [["reason": "FieldValueRequired", "message": "Required value: is required for apply patch", "field": "fieldManager"]]])
            }
            var applied = patch
            applied["metadata"]?["name"] = .string(name)
            switch FieldOwnership.apply(applied, to: objects[key], manager: manager, force: force, schema: info.schema, apiVersion: info.apiVersion) {
            case .failure(let error): throw error
            case .success(var result):
                if objects[key] == nil {
                    result["metadata"]?["resourceVersion"] = nil
                    return try create(info, namespace: namespace, result, validation: validation, dryRun: dryRun)
                }
                result["metadata"]?["resourceVersion"] = objects[key]?["metadata"]?["resourceVersion"]
                return try update(info, namespace: namespace, name: name, result, subresource: subresource, validation: validation,
                                  requireVersion: false, dryRun: dryRun)
            }
        }
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
        return try update(info, namespace: namespace, name: name, new, subresource: subresource, validation: validation, requireVersion: false,
                          dryRun: dryRun, fieldManager: fieldManager)
    }

    func commit(_ info: ResourceInfo, _ key: Key, old: JSONValue, new input: JSONValue, warnings: [String],
                dryRun: Bool = false) throws(APIError) -> WriteResult {
        var new = input
        new["metadata"]?["resourceVersion"] = old["metadata"]?["resourceVersion"]
        if new == old { return WriteResult(object: old, warnings: warnings, code: 200) }
        if info.hasGeneration, content(old, info) != content(new, info) {
            new["metadata"]?["generation"] = .number((old["metadata"]?["generation"]?.number ?? 1) + 1)
        }
        if dryRun { return WriteResult(object: new, warnings: warnings, code: 200) }
        let isNamespace = info.plural == "namespaces" && info.group.isEmpty
        let deleting = new["metadata"]?["deletionTimestamp"] != nil && (new["metadata"]?["finalizers"]?.array ?? []).isEmpty && !isNamespace
        if deleting {
            remove(info, key, new)
        } else {
            if info.isCustomResourceDefinition {
                try CustomResourceDefinitionValidation.validate(new, info: info)
                new = establish(new)
            }
            new["metadata"]?["resourceVersion"] = .string(nextRevision())
            objects[key] = new
            record("MODIFIED", info, key.namespace, new, previous: old)
        }
        return WriteResult(object: objects[key] ?? new, warnings: warnings, code: 200)
    }

    /// A custom resource gets its schema's defaults, then must pass its schema and its rules.
    func validateCustom(_ object: inout JSONValue, old: JSONValue?, _ info: ResourceInfo, name: String,
                        statusOnly: Bool = false) throws(APIError) {
        guard let schema = info.schema, !info.isCustomResourceDefinition else { return }
        object = SchemaDefaults.applyToObject(object, schema)
        let errors = CustomResourceValidation.errors(object, old: old.map { SchemaDefaults.applyToObject($0, schema) }, schema: schema,
                                                     statusOnly: statusOnly)
        guard errors.isEmpty else { throw .invalid(info, name, errors) }
    }

    /// What `generation` counts: everything but metadata and status; a custom resource without
    /// a status subresource counts its status too; a Deployment counts its annotations.
    func content(_ object: JSONValue, _ info: ResourceInfo) -> JSONValue {
        var copy = object
        copy["metadata"] = nil
        if info.statusSubresource || !info.isCustom { copy["status"] = nil }
        if info.group == "apps", info.plural == "deployments" { copy["annotations"] = object["metadata"]?["annotations"] ?? [:] }
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
