import SluiceModel

/// How a schema node looks to CEL, with the size bounds the real server derives from it
/// (k8s.io/apiserver `SchemaDeclType`): the most elements a value can have (a string's bytes, a
/// list's items, a map's entries), estimated from the 3 MiB request limit when the schema does
/// not bound it, and the fewest bytes a value takes in JSON.
final class CELDeclType: @unchecked Sendable {
    enum Kind {
        case object, list, map, string, bytes, int, double, bool, timestamp, duration, dyn
    }

    let kind: Kind
    /// Object fields by name; lists' items and maps' values are `element`.
    let fields: [String: CELDeclType]
    let element: CELDeclType?
    let maxElements: Int64
    let minSerializedSize: Int64

    init(kind: Kind, fields: [String: CELDeclType] = [:], element: CELDeclType? = nil, maxElements: Int64 = 0, minSerializedSize: Int64) {
        self.kind = kind
        self.fields = fields
        self.element = element
        self.maxElements = maxElements
        self.minSerializedSize = minSerializedSize
    }

    /// The largest request the API server accepts; sizes that the schema leaves open are
    /// estimated from it.
    static let maxRequestSizeBytes: Int64 = 3 * 1024 * 1024

    /// A map's keys: a plain string type with no size of its own, as in the real server.
    static let mapKey = CELDeclType(kind: .string, minSerializedSize: 2)

    /// The CEL view of `schema`; nil where the real server exposes nothing to rules.
    /// `isResourceRoot`: the root of a custom resource or of an embedded resource, where
    /// `apiVersion`, `kind` and `metadata.name`/`generateName` are always declared.
    static func from(_ schema: JSONValue, isResourceRoot: Bool) -> CELDeclType? {
        if schema["x-kubernetes-int-or-string"]?.bool == true {
            let max = schema["maxLength"]?.int.map { Int64(Swift.max(0, $0)) * 4 } ?? maxRequestSizeBytes - 2
            return CELDeclType(kind: .dyn, maxElements: max, minSerializedSize: 1)
        }
        var schema = schema
        if isResourceRoot { schema = withTypeAndObjectMeta(schema) }
        switch schema["type"]?.string {
        case "array":
            guard let items = schema["items"], let element = from(items, isResourceRoot: items.embeddedResource) else { return nil }
            let max = schema["maxItems"]?.int.map { Int64(Swift.max(0, $0)) } ?? (maxRequestSizeBytes - 2) / (element.minSerializedSize + 1)
            return CELDeclType(kind: .list, element: element, maxElements: max, minSerializedSize: 2)
        case "object":
            if let values = schema["additionalProperties"], values.object != nil {
                guard let element = from(values, isResourceRoot: values.embeddedResource) else { return nil }
                let max = schema["maxProperties"]?.int.map { Int64(Swift.max(0, $0)) } ?? (maxRequestSizeBytes - 2) / (element.minSerializedSize + 6)
                return CELDeclType(kind: .map, element: element, maxElements: max, minSerializedSize: 2)
            }
            return object(schema)
        case "string":
            return string(schema)
        case "boolean": return CELDeclType(kind: .bool, minSerializedSize: 4)
        case "number": return CELDeclType(kind: .double, minSerializedSize: 1)
        case "integer": return CELDeclType(kind: .int, minSerializedSize: 1)
        default: return nil
        }
    }

    private static func object(_ schema: JSONValue) -> CELDeclType {
        let required = Set(schema["required"]?.array?.compactMap(\.string) ?? [])
        var fields: [String: CELDeclType] = [:]
        var minSize: Int64 = 2
        for (name, property) in schema["properties"]?.object ?? [:] {
            guard let type = from(property, isResourceRoot: property.embeddedResource) else { continue }
            fields[name] = type
            if required.contains(name), property["default"] == nil {
                minSize += Int64(name.count) + type.minSerializedSize + 4
            }
        }
        return CELDeclType(kind: .object, fields: fields, minSerializedSize: minSize)
    }

    private static func string(_ schema: JSONValue) -> CELDeclType {
        let maxLength = schema["maxLength"]?.int.map { Int64(Swift.max(0, $0)) }
        switch schema["format"]?.string {
        case "byte": return CELDeclType(kind: .bytes, maxElements: maxLength ?? maxRequestSizeBytes - 2, minSerializedSize: 2)
        case "duration": return CELDeclType(kind: .duration, maxElements: 32, minSerializedSize: 3)
        case "date": return CELDeclType(kind: .timestamp, maxElements: 12, minSerializedSize: 12)
        case "date-time": return CELDeclType(kind: .timestamp, maxElements: 32, minSerializedSize: 21)
        default:
            let enumLength = schema["enum"]?.array.map { $0.compactMap { $0.string?.utf8.count }.max() ?? 0 }
            let max = maxLength.map { $0 * 4 } ?? enumLength.map(Int64.init) ?? maxRequestSizeBytes - 2
            return CELDeclType(kind: .string, maxElements: max, minSerializedSize: 2)
        }
    }

    private static func withTypeAndObjectMeta(_ schema: JSONValue) -> JSONValue {
        let p = schema["properties"]
        if p?["kind"]?["type"] == "string", p?["apiVersion"]?["type"] == "string", p?["metadata"]?["type"] == "object",
           p?["metadata"]?["properties"]?["name"]?["type"] == "string", p?["metadata"]?["properties"]?["generateName"]?["type"] == "string" {
            return schema
        }
        var out = schema
        var properties = p?.object ?? [:]
        properties["apiVersion"] = ["type": "string"]
        properties["kind"] = ["type": "string"]
        properties["metadata"] = ["type": "object", "properties": ["name": ["type": "string"], "generateName": ["type": "string"]]]
        out["properties"] = .object(properties)
        return out
    }
}

extension JSONValue {
    var embeddedResource: Bool { self["x-kubernetes-embedded-resource"]?.bool == true }
}
