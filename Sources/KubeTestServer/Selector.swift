import SluiceModel

/// Label selectors (`a=b`, `a==b`, `a!=b`, `a in (x,y)`, `a notin (x)`, `a`, `!a`) and the field
/// selectors the server supports (`metadata.name`, `metadata.namespace`, with `=`, `==`, `!=`).
public struct Selector: Sendable {
    enum Requirement: Sendable {
        case equals(String, String), notEquals(String, String), isIn(String, [String]), notIn(String, [String])
        case exists(String), notExists(String)
    }

    var labels: [Requirement] = []
    struct FieldRequirement: Sendable {
        var field: String
        var value: String
        var negate: Bool
    }

    var fields: [FieldRequirement] = []

    public static let everything = Selector()

    public init() {}

    public init(labels: String?, fields: String?) throws(APIError) {
        if let labels, !labels.isEmpty { self.labels = try Selector.parseLabels(labels) }
        for term in (fields ?? "").split(separator: ",").map(String.init) where !term.isEmpty {
            let negate = term.contains("!=")
            let parts = term.replacingOccurrences(of: "!=", with: "=").replacingOccurrences(of: "==", with: "=").split(separator: "=", maxSplits: 1).map(String.init)
            guard parts.count == 2, ["metadata.name", "metadata.namespace"].contains(parts[0]) else {
                throw APIError(400, "BadRequest", "field label not supported: \(parts.first ?? term)")
            }
            self.fields.append(FieldRequirement(field: parts[0], value: parts[1], negate: negate))
        }
    }

    static func parseLabels(_ text: String) throws(APIError) -> [Requirement] {
        var out: [Requirement] = []
        var terms: [String] = []
        var depth = 0
        var current = ""
        for ch in text {
            if ch == "(" { depth += 1 } else if ch == ")" { depth -= 1 }
            if ch == ",", depth == 0 { terms.append(current); current = "" } else { current.append(ch) }
        }
        terms.append(current)
        for raw in terms {
            let term = raw.trimmingCharacters(in: .whitespaces)
            if let r = term.range(of: " notin ") {
                out.append(.notIn(String(term[..<r.lowerBound]), values(term[r.upperBound...])))
            } else if let r = term.range(of: " in ") {
                out.append(.isIn(String(term[..<r.lowerBound]), values(term[r.upperBound...])))
            } else if let r = term.range(of: "!=") {
                out.append(.notEquals(String(term[..<r.lowerBound]), String(term[r.upperBound...])))
            } else if let r = term.range(of: "==") ?? term.range(of: "=") {
                out.append(.equals(String(term[..<r.lowerBound]), String(term[r.upperBound...])))
            } else if term.hasPrefix("!") {
                out.append(.notExists(String(term.dropFirst())))
            } else if !term.isEmpty {
                out.append(.exists(term))
            } else {
                throw APIError(400, "BadRequest", "unable to parse requirement: empty term in \"\(text)\"")
            }
        }
        return out
    }

    static func values(_ text: Substring) -> [String] {
        text.trimmingCharacters(in: CharacterSet(charactersIn: "() ")).split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
    }

    public func matches(_ object: JSONValue) -> Bool {
        let labels = object["metadata"]?["labels"]?.object?.compactMapValues(\.string) ?? [:]
        for requirement in self.labels {
            switch requirement {
            case .equals(let k, let v): if labels[k] != v { return false }
            case .notEquals(let k, let v): if labels[k] == v { return false }
            case .isIn(let k, let vs): if !vs.contains(labels[k] ?? "\u{0}") { return false }
            case .notIn(let k, let vs): if let v = labels[k], vs.contains(v) { return false }
            case .exists(let k): if labels[k] == nil { return false }
            case .notExists(let k): if labels[k] != nil { return false }
            }
        }
        for f in fields {
            let actual = object["metadata"]?[String(f.field.dropFirst("metadata.".count))]?.string ?? ""
            if (actual == f.value) == f.negate { return false }
        }
        return true
    }
}

import Foundation

extension Selector {
    /// A `LabelSelector` object (`matchLabels`, `matchExpressions`) as the selector text the
    /// API server prints and parses (`app=web,tier in (a,b),!legacy`).
    static func text(of selector: JSONValue?) -> String {
        let equal = (selector?["matchLabels"]?.object ?? [:]).sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value.string ?? "")" }
        let expressions = (selector?["matchExpressions"]?.array ?? []).map { e -> String in
            let key = e["key"]?.string ?? ""
            let values = (e["values"]?.array?.compactMap(\.string) ?? []).sorted().joined(separator: ",")
            switch e["operator"]?.string {
            case "In": return "\(key) in (\(values))"
            case "NotIn": return "\(key) notin (\(values))"
            case "DoesNotExist": return "!\(key)"
            default: return key
            }
        }
        return (equal + expressions).joined(separator: ",")
    }
}
