import Foundation
import SluiceModel

/// A custom resource checked against its CRD's structural schema as kube-apiserver checks it
/// (k8s.io/kube-openapi's validator, its results turned into field errors by
/// apiextensions-apiserver): types, `nullable`, `enum`, bounds, lengths, `pattern`, `format`,
/// item and property counts, `required`, `additionalProperties`, int-or-string, and list types
/// `set` and `map`. Messages are the real server's.
enum SchemaValidation {
    static func errors(_ object: JSONValue, schema: JSONValue) -> [FieldError] {
        var out: [FieldError] = []
        for (key, value) in (object.object ?? [:]).sorted(by: { $0.key < $1.key }) where key != "metadata" {
            guard let sub = schema["properties"]?[key] else { continue }
            validate(value, sub, path: key, into: &out)
        }
        for key in requiredKeys(schema) where object[key] == nil {
            out.append(FieldError(.required, key, ""))
        }
        return out
    }

    static func requiredKeys(_ schema: JSONValue) -> [String] { schema["required"]?.array?.compactMap(\.string) ?? [] }

    /// The type name kube-openapi reports for a value of the wrong type.
    static func typeName(_ value: JSONValue) -> String {
        switch value {
        case .null: "null"
        case .bool: "boolean"
        case .number(let n): n.rounded() == n ? "integer" : "number"
        case .string: "string"
        case .array: "array"
        case .object: "object"
        }
    }

    static func validate(_ value: JSONValue, _ schema: JSONValue, path: String, into out: inout [FieldError]) {
        let type = schema["type"]?.string
        let intOrString = schema["x-kubernetes-int-or-string"] == .bool(true)
        if value == .null {
            if schema["nullable"] != .bool(true), let type {
                out.append(FieldError(.typeInvalid, path, value: .string("null"), "\(path) in body must be of type \(type): \"null\""))
            }
            return
        }
        if intOrString {
            let ok: Bool
            if case .string = value { ok = true } else if case .number(let n) = value { ok = n.rounded() == n } else { ok = false }
            if !ok {
                out.append(FieldError(.typeInvalid, path, value: .string(typeName(value)),
                                      "\(path) in body must be of type integer,string: \"\(typeName(value))\""))
                return
            }
        } else if let type, !matches(value, type) {
            out.append(FieldError(.typeInvalid, path, value: .string(typeName(value)),
                                  "\(path) in body must be of type \(type): \"\(typeName(value))\""))
            return
        }
        if let allowed = schema["enum"]?.array, !allowed.contains(value) {
            let list = allowed.map { $0.string.map { JSONValue.string($0).quotedForMessage } ?? JSONValue.string($0.renderedForMessage).quotedForMessage }
            out.append(FieldError(.notSupported, path, value: value, "supported values: " + list.joined(separator: ", ")))
        }
        switch value {
        case .string(let s):
            validateString(s, schema, path: path, into: &out)
        case .number(let n):
            validateNumber(n, schema, path: path, into: &out)
        case .array(let items):
            validateArray(items, schema, path: path, into: &out)
        case .object(let fields):
            validateObject(fields, schema, path: path, into: &out)
        default:
            break
        }
    }

    static func matches(_ value: JSONValue, _ type: String) -> Bool {
        switch (type, value) {
        case ("object", .object), ("array", .array), ("string", .string), ("boolean", .bool), ("number", .number): true
        case ("integer", .number(let n)): n.rounded() == n
        default: false
        }
    }

    static func validateString(_ s: String, _ schema: JSONValue, path: String, into out: inout [FieldError]) {
        let length = s.count
        if let max = schema["maxLength"]?.int, length > max {
            out.append(FieldError(.tooLong, path, "may not be more than \(max) \(max == 1 ? "byte" : "bytes")"))
        }
        if let min = schema["minLength"]?.int, length < min {
            out.append(FieldError(.invalid, path, value: .string(s), "\(path) in body should be at least \(min) chars long"))
        }
        if let pattern = schema["pattern"]?.string, let regex = try? NSRegularExpression(pattern: pattern),
           regex.firstMatch(in: s, range: NSRange(s.startIndex..., in: s)) == nil {
            out.append(FieldError(.invalid, path, value: .string(s), "\(path) in body should match '\(pattern)'"))
        }
        if let format = schema["format"]?.string, !formatHolds(format, s) {
            out.append(FieldError(.typeInvalid, path, value: .string(s), "\(path) in body must be of type \(format): \"\(s)\""))
        }
    }

    /// The string formats kube-apiserver checks (others are accepted as any string).
    static func formatHolds(_ format: String, _ s: String) -> Bool {
        func matches(_ pattern: String) -> Bool { s.range(of: pattern, options: .regularExpression) != nil }
        switch format {
        case "date-time":
            return matches(#"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$"#)
        case "date":
            return matches(#"^\d{4}-\d{2}-\d{2}$"#)
        case "uuid":
            return matches(#"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"#)
        case "byte":
            return Data(base64Encoded: s) != nil
        case "ipv4":
            let parts = s.split(separator: ".", omittingEmptySubsequences: false)
            return parts.count == 4 && parts.allSatisfy { Int($0).map { (0...255).contains($0) } ?? false }
        default:
            return true
        }
    }

    static func validateNumber(_ n: Double, _ schema: JSONValue, path: String, into out: inout [FieldError]) {
        let shown = JSONValue.number(n)
        func bound(_ key: String) -> String { schema[key].map(\.renderedForMessage) ?? "" }
        if let max = schema["maximum"]?.number {
            if schema["exclusiveMaximum"] == .bool(true) ? n >= max : n > max {
                let words = schema["exclusiveMaximum"] == .bool(true) ? "less than" : "less than or equal to"
                out.append(FieldError(.invalid, path, value: shown, "\(path) in body should be \(words) \(bound("maximum"))"))
            }
        }
        if let min = schema["minimum"]?.number {
            if schema["exclusiveMinimum"] == .bool(true) ? n <= min : n < min {
                let words = schema["exclusiveMinimum"] == .bool(true) ? "greater than" : "greater than or equal to"
                out.append(FieldError(.invalid, path, value: shown, "\(path) in body should be \(words) \(bound("minimum"))"))
            }
        }
        if let factor = schema["multipleOf"]?.number, factor > 0, (n / factor).rounded() != n / factor {
            out.append(FieldError(.invalid, path, value: shown, "\(path) in body should be a multiple of \(bound("multipleOf"))"))
        }
        if schema["format"]?.string == "int32", n < Double(Int32.min) || n > Double(Int32.max) {
            // kube-openapi's format check, reported without a field as the real server reports it.
            out.append(FieldError(.invalid, "<nil>", value: .string(""), "Checked value must be of type integer with format int32 in \(path)"))
        }
    }

    static func validateArray(_ items: [JSONValue], _ schema: JSONValue, path: String, into out: inout [FieldError]) {
        if let max = schema["maxItems"]?.int, items.count > max {
            out.append(FieldError(.tooMany, path, value: .number(Double(items.count)), "must have at most \(max) \(max == 1 ? "item" : "items")"))
        }
        if let min = schema["minItems"]?.int, items.count < min {
            out.append(FieldError(.invalid, path, value: .number(Double(items.count)), "\(path) in body should have at least \(min) items"))
        }
        if let itemSchema = schema["items"] {
            for (i, item) in items.enumerated() { validate(item, itemSchema, path: "\(path)[\(i)]", into: &out) }
        }
        switch schema["x-kubernetes-list-type"]?.string {
        case "set":
            // Each repeated value once, at its second place.
            var seen: [JSONValue] = []
            var reported: [JSONValue] = []
            for (i, item) in items.enumerated() {
                if seen.contains(item) {
                    if !reported.contains(item) { out.append(FieldError(.duplicate, "\(path)[\(i)]", value: item, "")) }
                    reported.append(item)
                } else {
                    seen.append(item)
                }
            }
        case "map":
            let keys = schema["x-kubernetes-list-map-keys"]?.array?.compactMap(\.string) ?? []
            var seen: [JSONValue] = []
            for (i, item) in items.enumerated() {
                let key = JSONValue.object(Dictionary(uniqueKeysWithValues: keys.compactMap { k in item[k].map { (k, $0) } }))
                if seen.contains(key) { out.append(FieldError(.duplicate, "\(path)[\(i)]", value: key, "")) } else { seen.append(key) }
            }
        default:
            break
        }
    }

    static func validateObject(_ fields: [String: JSONValue], _ schema: JSONValue, path: String, into out: inout [FieldError]) {
        if let max = schema["maxProperties"]?.int, fields.count > max {
            out.append(FieldError(.tooMany, path, value: .number(Double(fields.count)), "must have at most \(max) \(max == 1 ? "item" : "items")"))
        }
        if let min = schema["minProperties"]?.int, fields.count < min {
            out.append(FieldError(.invalid, path, value: .number(Double(fields.count)), "\(path) in body should have at least \(min) properties"))
        }
        for key in requiredKeys(schema) where fields[key] == nil {
            out.append(FieldError(.required, "\(path).\(key)", ""))
        }
        let properties = schema["properties"]?.object
        let additional = schema["additionalProperties"]
        for (key, value) in fields.sorted(by: { $0.key < $1.key }) {
            if let sub = properties?[key] {
                validate(value, sub, path: "\(path).\(key)", into: &out)
            } else if let additional, additional.object != nil {
                validate(value, additional, path: "\(path).\(key)", into: &out)
            }
        }
    }
}

/// Schema `default:`s, applied as kube-apiserver applies them on create, update and read: a
/// null where the schema does not allow null is dropped first; then a field the object lacks
/// gets its default, inside objects that are there.
enum SchemaDefaults {
    static func apply(_ value: JSONValue, _ schema: JSONValue) -> JSONValue {
        switch value {
        case .object(var fields):
            if let properties = schema["properties"]?.object {
                for (key, sub) in properties {
                    if fields[key] == .null, sub["nullable"] != .bool(true) { fields[key] = nil }
                    if let fallback = sub["default"], fields[key] == nil {
                        fields[key] = fallback
                    }
                    if let present = fields[key] { fields[key] = apply(present, sub) }
                }
            } else if let additional = schema["additionalProperties"], additional.object != nil {
                for (key, present) in fields {
                    if present == .null, additional["nullable"] != .bool(true) { fields[key] = nil } else { fields[key] = apply(present, additional) }
                }
            }
            return .object(fields)
        case .array(let items):
            guard let itemSchema = schema["items"] else { return value }
            return .array(items.map { apply($0, itemSchema) })
        default:
            return value
        }
    }

    /// A whole custom resource: metadata is never defaulted from the schema.
    static func applyToObject(_ object: JSONValue, _ schema: JSONValue) -> JSONValue {
        var out = apply(object, schema)
        out["metadata"] = object["metadata"]
        return out
    }
}
