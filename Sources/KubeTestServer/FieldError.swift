import Foundation
import SluiceModel

/// One field's validation failure, worded as k8s.io/apimachinery's `field.Error`: the API
/// server joins these into a 422 `Invalid` Status, one `details.causes` entry each.
struct FieldError: Sendable, Equatable {
    enum Kind: String, Sendable {
        case required = "Required value"
        case forbidden = "Forbidden"
        case invalid = "Invalid value"

        var reason: String {
            switch self {
            case .required: "FieldValueRequired"
            case .forbidden: "FieldValueForbidden"
            case .invalid: "FieldValueInvalid"
            }
        }
    }

    var kind: Kind
    var field: String
    /// For `invalid`: the value, as the real server quotes a string.
    var value: String?
    var detail: String

    init(_ kind: Kind, _ field: String, _ detail: String) {
        self.kind = kind
        self.field = field
        self.detail = detail
    }

    init(_ kind: Kind, _ field: String, _ value: String, _ detail: String) {
        self.init(kind, field, detail)
        self.value = value
    }

    /// What follows the field's path: `Forbidden: ...`, `Invalid value: "x": ...`.
    var body: String {
        var s = kind.rawValue
        if let value { s += ": " + JSONValue.string(value).quotedForMessage }
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
    /// A string as Go's `%q` writes it (close enough for messages: quotes and backslashes escaped).
    var quotedForMessage: String {
        guard case .string(let s) = self else { return "\(self)" }
        return "\"" + s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
            .replacingOccurrences(of: "\n", with: "\\n") + "\""
    }
}
