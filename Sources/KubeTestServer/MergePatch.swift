import SluiceModel

/// RFC 7386 merge patch, RFC 6902 JSON patch, and the strategic merge patch kubectl sends for
/// built-in kinds (lists of objects merged by their `name`, or `containerPort`/`port` keys).
enum Patching {
    static func merge(_ target: JSONValue, _ patch: JSONValue) -> JSONValue {
        guard case .object(let p) = patch else { return patch }
        var out = target.object ?? [:]
        for (key, value) in p {
            if value == .null { out[key] = nil } else { out[key] = merge(out[key] ?? .null, value) }
        }
        return .object(out)
    }

    /// The merge keys of the built-in kinds' lists, by field name (from their Go types'
    /// `patchMergeKey`): lists not named here are replaced whole, as atomic lists are.
    static let mergeKeys: [String: String] = [
        "containers": "name", "initContainers": "name", "ephemeralContainers": "name", "env": "name", "volumes": "name",
        "volumeMounts": "mountPath", "volumeDevices": "devicePath", "imagePullSecrets": "name", "hostAliases": "ip",
        "conditions": "type", "ownerReferences": "uid", "resourceClaims": "name", "readinessGates": "conditionType",
        "topologySpreadConstraints": "topologyKey", "schedulingGates": "name",
    ]
    /// Lists of scalars that merge (their patchStrategy is merge) rather than replace.
    static let mergedScalarLists: Set<String> = ["finalizers"]

    /// A strategic merge patch as kube-apiserver applies one to a built-in kind: maps merge,
    /// `null` deletes, lists with a merge key merge by it (`ports` by `containerPort` in a
    /// container and by `port` in a Service), others are replaced; and the directives kubectl
    /// sends: `$patch: replace|delete|merge`, `$retainKeys`, `$setElementOrder/<list>` and
    /// `$deleteFromPrimitiveList/<list>`.
    static func strategic(_ target: JSONValue, _ patch: JSONValue, field: String = "", parent: String = "") -> JSONValue {
        switch (target, patch) {
        case (_, .object(let p)) where p["$patch"] == "replace":
            var replaced = p
            replaced["$patch"] = nil
            return .object(replaced)
        case (.object(var t), .object(let p)):
            if p["$patch"] == "delete" { return .null }
            if let retain = p["$retainKeys"]?.array?.compactMap(\.string) {
                t = t.filter { retain.contains($0.key) }
            }
            for (key, value) in p.sorted(by: { $0.key < $1.key }) where !key.hasPrefix("$") {
                if value == .null {
                    t[key] = nil
                } else {
                    let merged = strategic(t[key] ?? .null, value, field: key, parent: field)
                    t[key] = merged == .null && value.object?["$patch"] == "delete" ? nil : merged
                }
            }
            for (key, value) in p where key.hasPrefix("$deleteFromPrimitiveList/") {
                let list = String(key.dropFirst("$deleteFromPrimitiveList/".count))
                let gone = value.array ?? []
                if case .array(let items) = t[list] { t[list] = .array(items.filter { !gone.contains($0) }) }
            }
            for (key, value) in p where key.hasPrefix("$setElementOrder/") {
                let list = String(key.dropFirst("$setElementOrder/".count))
                guard case .array(let items) = t[list], let order = value.array else { continue }
                let mergeKey = mergeKey(for: list, parent: field)
                func id(_ item: JSONValue) -> JSONValue { mergeKey.flatMap { item[$0] } ?? item }
                let orderIDs = order.map { o in mergeKey.flatMap { o[$0] } ?? o }
                let sorted = items.enumerated().sorted { a, b in
                    let ia = orderIDs.firstIndex(of: id(a.element)) ?? Int.max
                    let ib = orderIDs.firstIndex(of: id(b.element)) ?? Int.max
                    return ia != ib ? ia < ib : a.offset < b.offset
                }.map(\.element)
                t[list] = .array(sorted)
            }
            return .object(t)
        case (.array(let t), .array(let p)):
            if mergedScalarLists.contains(field) {
                var out = t
                for item in p where !out.contains(item) { out.append(item) }
                return .array(out)
            }
            guard let mergeKey = mergeKey(for: field, parent: parent) else {
                // Atomic: replaced, without the directives' entries.
                return .array(p.filter { $0.object?["$patch"] == nil })
            }
            if p.contains(where: { $0.object?["$patch"] == "replace" }) {
                return .array(p.filter { $0.object?["$patch"] == nil })
            }
            var out = t
            for item in p {
                let key = item[mergeKey]
                if item.object?["$patch"] == "delete" {
                    out.removeAll { $0[mergeKey] == key }
                } else if let i = out.firstIndex(where: { $0[mergeKey] == key }) {
                    out[i] = strategic(out[i], item, field: "", parent: field)
                } else {
                    var added = item
                    added["$patch"] = nil
                    out.append(strategic(.null, added, field: "", parent: field))
                }
            }
            return .array(out)
        case (_, .object(var p)):
            // Nothing to merge into: the patch's own content, directives taken out.
            if p["$patch"] == "delete" { return .null }
            for key in p.keys where key.hasPrefix("$") { p[key] = nil }
            return strategic(.object([:]), .object(p), field: field, parent: parent)
        default:
            return patch
        }
    }

    /// The merge key of a list field, given the field that holds it.
    static func mergeKey(for field: String, parent: String) -> String? {
        if field == "ports" { return parent == "spec" ? "port" : "containerPort" }
        return mergeKeys[field]
    }

    struct Failure: Error {
        var code: Int
        var message: String
    }

    /// Applies RFC 6902 operations; a failed `test` is 422, a bad path 422.
    static func json(_ target: JSONValue, _ operations: JSONValue) throws(Failure) -> JSONValue {
        guard case .array(let ops) = operations else { throw Failure(code: 400, message: "a JSON patch is a list of operations") }
        var doc = target
        for op in ops {
            guard let name = op["op"]?.string, let path = op["path"]?.string else {
                throw Failure(code: 400, message: "each operation needs op and path")
            }
            let pointer = try parsePointer(path)
            switch name {
            case "add", "replace":
                guard let value = op["value"] else { throw Failure(code: 400, message: "\(name) needs a value") }
                doc = try set(doc, pointer[...], value, replace: name == "replace")
            case "remove":
                doc = try remove(doc, pointer[...])
            case "test":
                guard get(doc, pointer[...]) == op["value"] else {
                    throw Failure(code: 422, message: "the test operation failed at \(path)")
                }
            case "copy", "move":
                guard let from = op["from"]?.string, let value = get(doc, try parsePointer(from)[...]) else {
                    throw Failure(code: 422, message: "\(name): from path not found")
                }
                if name == "move" { doc = try remove(doc, try parsePointer(from)[...]) }
                doc = try set(doc, pointer[...], value, replace: false)
            default:
                throw Failure(code: 400, message: "unknown operation \(name)")
            }
        }
        return doc
    }

    static func parsePointer(_ path: String) throws(Failure) -> [String] {
        guard path.hasPrefix("/") else { throw Failure(code: 422, message: "path \(path) must start with /") }
        return path.split(separator: "/", omittingEmptySubsequences: false).dropFirst().map {
            $0.replacingOccurrences(of: "~1", with: "/").replacingOccurrences(of: "~0", with: "~")
        }
    }

    static func get(_ doc: JSONValue, _ path: ArraySlice<String>) -> JSONValue? {
        guard let key = path.first else { return doc }
        switch doc {
        case .object(let o): return o[key].flatMap { get($0, path.dropFirst()) }
        case .array(let a): return Int(key).flatMap { $0 < a.count && $0 >= 0 ? get(a[$0], path.dropFirst()) : nil }
        default: return nil
        }
    }

    static func set(_ doc: JSONValue, _ path: ArraySlice<String>, _ value: JSONValue, replace: Bool) throws(Failure) -> JSONValue {
        guard let key = path.first else { return value }
        switch doc {
        case .object(var o):
            if path.count == 1 {
                if replace, o[key] == nil { throw Failure(code: 422, message: "replace: /\(key) does not exist") }
                o[key] = value
            } else {
                guard let child = o[key] else { throw Failure(code: 422, message: "path /\(key) does not exist") }
                o[key] = try set(child, path.dropFirst(), value, replace: replace)
            }
            return .object(o)
        case .array(var a):
            let index = key == "-" ? a.count : Int(key) ?? -1
            guard index >= 0, index <= a.count else { throw Failure(code: 422, message: "index \(key) is out of range") }
            if path.count == 1 {
                if replace { guard index < a.count else { throw Failure(code: 422, message: "index \(key) is out of range") }; a[index] = value }
                else { a.insert(value, at: index) }
            } else {
                guard index < a.count else { throw Failure(code: 422, message: "index \(key) is out of range") }
                a[index] = try set(a[index], path.dropFirst(), value, replace: replace)
            }
            return .array(a)
        default:
            throw Failure(code: 422, message: "cannot descend into a scalar at \(key)")
        }
    }

    static func remove(_ doc: JSONValue, _ path: ArraySlice<String>) throws(Failure) -> JSONValue {
        guard let key = path.first else { throw Failure(code: 422, message: "cannot remove the whole document") }
        switch doc {
        case .object(var o):
            guard let child = o[key] else { throw Failure(code: 422, message: "path /\(key) does not exist") }
            if path.count == 1 { o[key] = nil } else { o[key] = try remove(child, path.dropFirst()) }
            return .object(o)
        case .array(var a):
            guard let index = Int(key), index >= 0, index < a.count else { throw Failure(code: 422, message: "index \(key) is out of range") }
            if path.count == 1 { a.remove(at: index) } else { a[index] = try remove(a[index], path.dropFirst()) }
            return .array(a)
        default:
            throw Failure(code: 422, message: "cannot descend into a scalar at \(key)")
        }
    }
}

import Foundation
