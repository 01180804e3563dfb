import Foundation
import SluiceModel

/// One field's validation failure, worded as k8s.io/apimachinery's `field.Error`: the API
/// server joins these into a 422 `Invalid` Status, one `details.causes` entry each.
struct FieldError: Sendable, Equatable {
    enum Kind: String, Sendable {
        case required = "Required value"
        case forbidden = "Forbidden"
        case invalid = "Invalid value"
        case typeInvalid = "Invalid value "
        case notSupported = "Unsupported value"
        case tooLong = "Too long"
        case tooMany = "Too many"
        case duplicate = "Duplicate value"
        case notFound = "Not found"

        var text: String { self == .typeInvalid ? "Invalid value" : rawValue }

        var reason: String {
            switch self {
            case .required: "FieldValueRequired"
            case .forbidden: "FieldValueForbidden"
            case .invalid: "FieldValueInvalid"
            case .typeInvalid: "FieldValueTypeInvalid"
            case .notSupported: "FieldValueNotSupported"
            case .tooLong: "FieldValueTooLong"
            case .tooMany: "FieldValueTooMany"
            case .duplicate: "FieldValueDuplicate"
            case .notFound: "FieldValueNotFound"
            }
        }

        /// The kinds whose message never shows the value.
        var omitsValue: Bool { [.required, .forbidden, .tooLong].contains(self) }
    }

    var kind: Kind
    var field: String
    /// The bad value, shown after the kind (nil: not shown).
    var value: JSONValue?
    var detail: String

    init(_ kind: Kind, _ field: String, _ detail: String) {
        self.kind = kind
        self.field = field
        self.detail = detail
    }

    init(_ kind: Kind, _ field: String, _ value: String, _ detail: String) {
        self.init(kind, field, detail)
        self.value = .string(value)
    }

    init(_ kind: Kind, _ field: String, value: JSONValue?, _ detail: String) {
        self.init(kind, field, detail)
        self.value = value
    }

    /// What follows the field's path: `Forbidden: ...`, `Invalid value: "x": ...`, as
    /// `field.Error.ErrorBody` writes it (numbers and booleans plain, strings quoted, the rest JSON).
    var body: String {
        var s = kind.text
        if !kind.omitsValue, let value { s += ": " + value.renderedForMessage }
        if !detail.isEmpty { s += ": " + detail }
        return s
    }

    var description: String { "\(field): \(body)" }
}

extension APIError {
    /// 422 for `errors` on the object `name` of `info`'s kind, as `errors.NewInvalid` words it.
    static func invalid(_ info: ResourceInfo, _ name: String, _ errors: [FieldError]) -> APIError {
        let qualifiedKind = info.group.isEmpty ? info.kind : "\(info.kind).\(info.group)"
        let list = errors.count == 1 ? errors[0].description : "[" + errors.map(\.description).joined(separator: ", ") + "]"
        return APIError(422, "Invalid", "\(qualifiedKind) \"\(name)\" is invalid: \(list)",
                        details: ["name": .string(name), "group": .string(info.group), "kind": .string(info.kind),
                                  "causes": .array(errors.map { ["reason": .string($0.kind.reason), "message": .string($0.body), "field": .string($0.field)] })])
    }
}

extension JSONValue {
    /// The value as `field.Error` prints a bad value: numbers and booleans with `%v`, strings
    /// with `%q`, anything else as JSON.
    var renderedForMessage: String {
        switch self {
        case .string: return quotedForMessage
        case .number(let n): return n.rounded() == n && abs(n) < 1e15 ? String(Int64(n)) : String(n)
        case .bool(let b): return b ? "true" : "false"
        default:
            let data = (try? JSONEncoder.sorted.encode(self)) ?? Data()
            return String(decoding: data, as: UTF8.self)
        }
    }

    /// A string as Go's `%q` writes it (close enough for messages: quotes and backslashes escaped).
    var quotedForMessage: String {
        guard case .string(let s) = self else { return "\(self)" }
        return "\"" + s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
            .replacingOccurrences(of: "\n", with: "\\n") + "\""
    }
}
