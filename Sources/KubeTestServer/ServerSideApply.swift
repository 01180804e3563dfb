import Foundation
import SluiceModel

/// Server-side apply, as structured-merge-diff does it for the shapes Sluice's objects have:
/// every write records in `metadata.managedFields` which fields which manager set (`Apply` or
/// `Update`); an apply that changes a field another manager owns is a 409 naming both, unless
/// `force=true` takes it over; a field a manager stops applying is removed unless another owns it.
/// Fields are owned at the granularity the type gives: maps by key, lists with a merge key (the
/// built-in kinds' `patchMergeKey`, a CRD's `x-kubernetes-list-map-keys`) by element, scalar
/// sets by value, other lists whole.
enum FieldOwnership {
    /// One step of a field path.
    enum Step: Hashable, Comparable {
        case field(String)
        /// A list element by its key fields (`k:{"name":"app"}`).
        case key(String)
        /// A set element by value (`v:"x"`).
        case value(String)

        var encoded: String {
            switch self {
            case .field(let f): "f:\(f)"
            case .key(let k): "k:\(k)"
            case .value(let v): "v:\(v)"
            }
        }

        init?(encoded: String) {
            let body = String(encoded.dropFirst(2))
            switch encoded.prefix(2) {
            case "f:": self = .field(body)
            case "k:": self = .key(body)
            case "v:": self = .value(body)
            default: return nil
            }
        }
    }

    typealias Path = [Step]

    static func canonical(_ v: JSONValue) -> String {
        String(decoding: (try? JSONEncoder.sorted.encode(v)) ?? Data(), as: UTF8.self)
    }

    /// The leaf fields a value sets, with their values.
    /// `custom`: a custom resource's fields outside `metadata`, merged only as its schema says
    /// (`x-kubernetes-list-type`), never by the built-in kinds' merge keys.
    static func leaves(_ value: JSONValue, schema: JSONValue?, custom: Bool? = nil, field: String = "", parent: String = "",
                       at path: Path = []) -> [Path: JSONValue] {
        let custom = custom ?? (schema != nil)
        switch value {
        case .object(let fields) where !fields.isEmpty:
            var out: [Path: JSONValue] = [:]
            for (key, v) in fields {
                if path.isEmpty, ["apiVersion", "kind"].contains(key) { continue }
                if path.isEmpty, key == "metadata" {
                    for (m, mv) in v.object ?? [:] where ["labels", "annotations", "finalizers", "ownerReferences"].contains(m) {
                        out.merge(leaves(mv, schema: nil, custom: false, field: m, parent: "metadata", at: [.field("metadata"), .field(m)])) { a, _ in a }
                    }
                    continue
                }
                let sub = schema?["properties"]?[key] ?? schema?["additionalProperties"].flatMap { $0.object != nil ? $0 : nil }
                out.merge(leaves(v, schema: sub, custom: custom, field: key, parent: field, at: path + [.field(key)])) { a, _ in a }
            }
            return out
        case .array(let items):
            if (!custom && Patching.mergedScalarLists.contains(field)) || schema?["x-kubernetes-list-type"]?.string == "set" {
                return Dictionary(uniqueKeysWithValues: items.map { (path + [.value(canonical($0))], $0) })
            }
            let keys: [String]? = schema?["x-kubernetes-list-type"]?.string == "map"
                ? schema?["x-kubernetes-list-map-keys"]?.array?.compactMap(\.string)
                : custom ? nil : Patching.mergeKey(for: field, parent: parent).map { [$0] }
            guard let keys, items.allSatisfy({ item in keys.allSatisfy { item[$0] != nil } }) else { return [path: value] }
            var out: [Path: JSONValue] = [:]
            for item in items {
                let id = JSONValue.object(Dictionary(uniqueKeysWithValues: keys.map { ($0, item[$0]!) }))
                let element = path + [.key(canonical(id))]
                out[element + [.field(".")]] = .null
                out.merge(leaves(item, schema: schema?["items"], custom: custom, field: "", parent: field, at: element)) { a, _ in a }
            }
            return out
        default:
            return [path: value]
        }
    }

    /// A set of paths as `fieldsV1`.
    static func encode(_ paths: Set<Path>) -> JSONValue {
        var root: [String: JSONValue] = [:]
        func insert(_ path: ArraySlice<Step>, into node: inout [String: JSONValue]) {
            guard let first = path.first else { return }
            let name = first == .field(".") ? "." : first.encoded
            var child = node[name]?.object ?? [:]
            insert(path.dropFirst(), into: &child)
            node[name] = .object(child)
        }
        for path in paths { insert(path[...], into: &root) }
        return .object(root)
    }

    /// `fieldsV1` back to paths (every leaf of the tree).
    static func decode(_ tree: JSONValue?) -> Set<Path> {
        var out: Set<Path> = []
        func walk(_ node: JSONValue, _ path: Path) {
            let children = node.object ?? [:]
            if children.isEmpty, !path.isEmpty { out.insert(path) }
            for (name, child) in children {
                if name == "." { out.insert(path + [.field(".")]); continue }
                if let step = Step(encoded: name) { walk(child, path + [step]) }
            }
        }
        if let tree { walk(tree, []) }
        return out
    }

    /// Removes the value at a path from an object (a list element by its key or value).
    static func remove(_ path: ArraySlice<Step>, from value: inout JSONValue) {
        guard let first = path.first else { return }
        let rest = path.dropFirst()
        switch (first, value) {
        case (.field(let f), .object(var fields)):
            if rest.isEmpty || rest == [.field(".")] {
                fields[f] = nil
            } else if var child = fields[f] {
                remove(rest, from: &child)
                fields[f] = child
            }
            value = .object(fields)
        case (.key(let k), .array(var items)):
            guard let id = try? JSONDecoder().decode(JSONValue.self, from: Data(k.utf8)),
                  let i = items.firstIndex(where: { item in (id.object ?? [:]).allSatisfy { item[$0.key] == $0.value } }) else { return }
            if rest.isEmpty || rest == [.field(".")] {
                items.remove(at: i)
            } else {
                remove(rest, from: &items[i])
            }
            value = .array(items)
        case (.value(let v), .array(let items)):
            value = .array(items.filter { canonical($0) != v })
        default:
            break
        }
    }

    static func describe(_ path: Path) -> String {
        path.map { step -> String in
            switch step {
            case .field(let f): return f == "." ? "" : ".\(f)"
            case .key(let k):
                // [name="app"], as structured-merge-diff prints a keyed element.
                let id = (try? JSONDecoder().decode(JSONValue.self, from: Data(k.utf8)))?.object ?? [:]
                return "[" + id.keys.sorted().map { "\($0)=\(id[$0]!.renderedForMessage)" }.joined(separator: ",") + "]"
            case .value(let v): return "[=\(v)]"
            }
        }.joined()
    }

    struct Entry {
        var manager: String
        var operation: String
        var subresource: String?
        var paths: Set<Path>
        var apiVersion: String?
        var time: String?

        /// The manager as the apiserver's conflict message prints it.
        var printed: String {
            var text = "\"\(manager)\""
            if let subresource { text += " with subresource \"\(subresource)\"" }
            guard operation == "Update" else { return text }
            return text + " using \(apiVersion ?? "")" + (time.map { " at \($0)" } ?? "")
        }
    }

    static func entries(_ object: JSONValue?) -> [Entry] {
        (object?["metadata"]?["managedFields"]?.array ?? []).map {
            Entry(manager: $0["manager"]?.string ?? "", operation: $0["operation"]?.string ?? "Update",
                  subresource: $0["subresource"]?.string, paths: decode($0["fieldsV1"]), apiVersion: $0["apiVersion"]?.string,
                  time: $0["time"]?.string)
        }
    }

    static func write(_ entries: [Entry], to object: inout JSONValue, apiVersion: String) {
        let time = JSONValue.string(KubeTime(Date()).formatted)
        let list = entries.filter { !$0.paths.isEmpty }.map { e -> JSONValue in
            var m: [String: JSONValue] = ["manager": .string(e.manager), "operation": .string(e.operation), "apiVersion": .string(apiVersion),
                                          "time": time, "fieldsType": "FieldsV1", "fieldsV1": encode(e.paths)]
            if let sub = e.subresource { m["subresource"] = .string(sub) }
            return .object(m)
        }
        object["metadata"]?["managedFields"] = list.isEmpty ? nil : .array(list)
    }

    /// An apply by `manager` of `applied` onto `live` (nil: create): the object to write, or
    /// the conflicts.
    static func apply(_ applied: JSONValue, to live: JSONValue?, manager: String, force: Bool, schema: JSONValue?,
                      apiVersion: String) -> Result<JSONValue, APIError> {
        let current = live ?? ["metadata": [:]]
        var owners = entries(live)
        let mine = owners.firstIndex { $0.manager == manager && $0.operation == "Apply" }
        let before = mine.map { owners[$0].paths } ?? []
        let wanted = leaves(applied, schema: schema)
        let have = leaves(current, schema: schema)
        var conflicts: [(String, Path)] = []
        for (path, value) in wanted where path.last != .field(".") {
            for owner in owners where !(owner.manager == manager && owner.operation == "Apply") && owner.paths.contains(path) {
                if have[path] != value { conflicts.append((owner.printed, path)) }
            }
        }
        if !conflicts.isEmpty, !force {
            // Grouped by manager, as the apiserver's conflict error groups them.
            let byManager = Dictionary(grouping: conflicts, by: \.0)
            let lines = byManager.keys.sorted().map { who -> String in
                let paths = byManager[who]!.map { describe($0.1) }.sorted()
                return paths.count == 1 ? "conflict with \(who): \(paths[0])" : "conflicts with \(who):\n" + paths.map { "- \($0)" }.joined(separator: "\n")
            }
            let message = "Apply failed with \(conflicts.count) conflict\(conflicts.count == 1 ? "" : "s"): " + lines.joined(separator: "\n")
            return .failure(APIError(409, "Conflict", message, details: ["causes": .array(conflicts.map {
                ["reason": "FieldManagerConflict", "message": .string("conflict with \($0.0)"), "field": .string(describe($0.1))]
            })]))
        }
        var result = schema == nil ? Patching.strategic(current, applied) : merge(current, applied, schema: schema)
        // What this manager no longer applies, and nobody else owns, goes.
        let others = owners.filter { !($0.manager == manager && $0.operation == "Apply") }.reduce(into: Set<Path>()) { $0.formUnion($1.paths) }
        // Deepest first; at one depth a list element's own marker before its fields, since its
        // key fields are how it is found.
        let gone = before.subtracting(wanted.keys).subtracting(others).sorted {
            $0.count != $1.count ? $0.count > $1.count : ($0.last == .field(".")) && $1.last != .field(".")
        }
        for path in gone {
            remove(path[...], from: &result)
        }
        // Forced: the fields taken leave their old owners.
        let taken = Set(conflicts.map(\.1))
        for i in owners.indices { owners[i].paths.subtract(taken) }
        let entry = Entry(manager: manager, operation: "Apply", subresource: nil, paths: Set(wanted.keys))
        if let mine { owners[mine] = entry } else { owners.append(entry) }
        write(owners, to: &result, apiVersion: apiVersion)
        return .success(result)
    }

    /// An applied configuration merged into a custom resource as structured-merge-diff merges
    /// it: `metadata` as ObjectMeta's own schema says; elsewhere objects by field (whole when
    /// `x-kubernetes-map-type: atomic`), lists by `x-kubernetes-list-type` — `map` element by
    /// element on its keys, `set` by value, `atomic` (the default) replaced whole.
    static func merge(_ live: JSONValue, _ applied: JSONValue, schema: JSONValue?) -> JSONValue {
        guard case .object(var out) = live, case .object(let config) = applied else { return applied }
        for (key, value) in config {
            out[key] = key == "metadata" ? Patching.strategic(out[key] ?? .null, value, field: "metadata")
                : mergeValue(out[key], value, schema: schema?["properties"]?[key])
        }
        return .object(out)
    }

    static func mergeValue(_ live: JSONValue?, _ applied: JSONValue, schema: JSONValue?) -> JSONValue {
        switch (live, applied) {
        case (.object(var out)?, .object(let config)):
            guard schema?["x-kubernetes-map-type"]?.string != "atomic" else { return applied }
            for (key, value) in config {
                let sub = schema?["properties"]?[key] ?? schema?["additionalProperties"].flatMap { $0.object != nil ? $0 : nil }
                out[key] = mergeValue(out[key], value, schema: sub)
            }
            return .object(out)
        case (.array(let lhs)?, .array(let rhs)):
            let type = schema?["x-kubernetes-list-type"]?.string
            guard type == "set" || type == "map" else { return applied }
            let keys = schema?["x-kubernetes-list-map-keys"]?.array?.compactMap(\.string) ?? []
            func id(_ item: JSONValue) -> String {
                type == "set" ? canonical(item) : canonical(.object(Dictionary(uniqueKeysWithValues: keys.map { ($0, item[$0] ?? .null) })))
            }
            return .array(mergeList(lhs, rhs, id: id) { l, r in type == "set" ? r : mergeValue(l, r, schema: schema?["items"]) })
        default:
            return applied
        }
    }

    /// structured-merge-diff's `visitListItems`: items only the live list has keep their place;
    /// items both have follow the applied order, merged; new items go where the applied list puts them.
    static func mergeList(_ lhs: [JSONValue], _ rhs: [JSONValue], id: (JSONValue) -> String,
                          merge: (JSONValue?, JSONValue) -> JSONValue) -> [JSONValue] {
        let lIDs = lhs.map(id), rIDs = rhs.map(id)
        let lIndex = Dictionary(lIDs.enumerated().map { ($1, $0) }) { a, _ in a }
        let rSet = Set(rIDs)
        var shared = rIDs.filter { lIndex[$0] != nil }[...]
        var out: [JSONValue] = []
        var merged: Set<String> = []
        var l = 0, r = 0
        while l < lhs.count || r < rhs.count {
            if l < lhs.count, r < rhs.count {
                if lIDs[l] == rIDs[r] {
                    merged.insert(rIDs[r])
                    out.append(merge(lhs[l], rhs[r]))
                    l += 1
                    r += 1
                    if !shared.isEmpty { shared.removeFirst() }
                    continue
                }
                if rSet.contains(lIDs[l]), let next = shared.first, next != lIDs[l] {
                    l += 1
                    continue
                }
            }
            if l < lhs.count {
                if !rSet.contains(lIDs[l]) {
                    out.append(lhs[l])
                    l += 1
                    continue
                } else if merged.contains(lIDs[l]) {
                    l += 1
                    continue
                }
            }
            if r < rhs.count {
                merged.insert(rIDs[r])
                out.append(merge(lIndex[rIDs[r]].map { lhs[$0] }, rhs[r]))
                if shared.first == rIDs[r] { shared.removeFirst() }
                r += 1
            }
        }
        return out
    }

    /// Any other write: the fields it changed now belong to `manager` (an Update), and no longer
    /// to anyone else.
    static func record(update new: inout JSONValue, old: JSONValue?, manager: String, subresource: String?, schema: JSONValue?, apiVersion: String) {
        var owners = entries(old)
        let before = leaves(old ?? [:], schema: schema)
        let after = leaves(new, schema: schema)
        let changed = Set(after.filter { before[$0.key] != $0.value }.map(\.key))
        guard !changed.isEmpty || old == nil else {
            new["metadata"]?["managedFields"] = old?["metadata"]?["managedFields"]
            return
        }
        for i in owners.indices { owners[i].paths.subtract(changed) }
        if let i = owners.firstIndex(where: { $0.manager == manager && $0.operation == "Update" && $0.subresource == subresource }) {
            owners[i].paths.formUnion(changed)
        } else {
            owners.append(Entry(manager: manager, operation: "Update", subresource: subresource, paths: changed))
        }
        write(owners, to: &new, apiVersion: apiVersion)
    }
}
