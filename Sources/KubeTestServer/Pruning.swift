import SluiceModel

/// Prunes a value to a structural schema as kube-apiserver does: fields the schema does not
/// declare are dropped (unless `x-kubernetes-preserve-unknown-fields`), and their paths returned.
enum Pruning {
    static func prune(_ value: JSONValue, _ schema: JSONValue, path: String = "") -> (JSONValue, [String]) {
        guard case .object(let object) = value else {
            if case .array(let items) = value, let itemSchema = schema["items"] {
                var dropped: [String] = []
                let pruned = items.enumerated().map { i, item -> JSONValue in
                    let (p, d) = prune(item, itemSchema, path: "\(path)[\(i)]")
                    dropped += d
                    return p
                }
                return (.array(pruned), dropped)
            }
            return (value, [])
        }
        let preserve = schema["x-kubernetes-preserve-unknown-fields"] == .bool(true)
        let properties = schema["properties"]?.object
        let additional = schema["additionalProperties"]
        var out: [String: JSONValue] = [:]
        var dropped: [String] = []
        for (key, field) in object {
            let fieldPath = path.isEmpty ? key : "\(path).\(key)"
            if let sub = properties?[key] {
                let (p, d) = prune(field, sub, path: fieldPath)
                out[key] = p
                dropped += d
            } else if let additional, additional.object != nil {
                let (p, d) = prune(field, additional, path: fieldPath)
                out[key] = p
                dropped += d
            } else if preserve || additional == .bool(true) {
                out[key] = field
            } else {
                dropped.append(fieldPath)
            }
        }
        return (.object(out), dropped.sorted())
    }

    /// Prunes a custom resource: apiVersion, kind and metadata are always kept.
    static func pruneObject(_ object: JSONValue, schema: JSONValue) -> (JSONValue, [String]) {
        var body = object
        let meta = body["metadata"]
        let apiVersion = body["apiVersion"]
        let kind = body["kind"]
        let (pruned, dropped) = prune(body, schema)
        body = pruned
        body["metadata"] = meta
        body["apiVersion"] = apiVersion
        body["kind"] = kind
        return (body, dropped.filter { !$0.hasPrefix("metadata") && $0 != "apiVersion" && $0 != "kind" })
    }
}
