import Foundation
import SluiceModel

/// A CEL value at run time. Maps have string keys: every map a CRD rule sees comes from JSON.
indirect enum CELValue: Sendable, Equatable {
    case null
    case bool(Bool)
    case int(Int64)
    case uint(UInt64)
    case double(Double)
    case string(String)
    case bytes([UInt8])
    case list([CELValue])
    case map([String: CELValue])
    /// Nanoseconds.
    case duration(Int64)
    /// Nanoseconds since the epoch.
    case timestamp(Int64)
    case type(String)

    var typeName: String {
        switch self {
        case .null: "null_type"
        case .bool: "bool"
        case .int: "int"
        case .uint: "uint"
        case .double: "double"
        case .string: "string"
        case .bytes: "bytes"
        case .list: "list"
        case .map: "map"
        case .duration: "google.protobuf.Duration"
        case .timestamp: "google.protobuf.Timestamp"
        case .type: "type"
        }
    }

    /// A JSON value as CEL sees it through its schema node (integer, number, int-or-string,
    /// string formats), as Kubernetes' CEL adaptor converts it.
    static func from(_ json: JSONValue, schema: JSONValue?) -> CELValue {
        let type = schema?["type"]?.string
        switch json {
        case .null: return .null
        case .bool(let b): return .bool(b)
        case .number(let n):
            if type == "number" { return .double(n) }
            if n.rounded() == n, abs(n) < 9.2e18 { return .int(Int64(n)) }
            return .double(n)
        case .string(let s):
            switch schema?["format"]?.string {
            case "duration" where type == "string": if let d = CELDuration.parse(s) { return .duration(d) }
            case "date-time" where type == "string", "date" where type == "string":
                if let t = CELTimestamp.parse(s) { return .timestamp(t) }
            case "byte" where type == "string": if let data = Data(base64Encoded: s) { return .bytes(Array(data)) }
            default: break
            }
            return .string(s)
        case .array(let items):
            return .list(items.map { from($0, schema: schema?["items"]) })
        case .object(let fields):
            var out: [String: CELValue] = [:]
            for (key, value) in fields {
                let sub = schema?["properties"]?[key] ?? schema?["additionalProperties"].flatMap { $0.object != nil ? $0 : nil }
                out[key] = from(value, schema: sub)
            }
            return .map(out)
        }
    }

    /// The value as a string for a message (`string(x)`).
    var text: String {
        switch self {
        case .null: "null"
        case .bool(let b): b ? "true" : "false"
        case .int(let i): String(i)
        case .uint(let u): String(u)
        case .double(let d): d.rounded() == d && abs(d) < 1e15 ? String(Int64(d)) : String(d)
        case .string(let s): s
        case .bytes(let b): String(decoding: b, as: UTF8.self)
        case .list(let l): "[" + l.map(\.text).joined(separator: ", ") + "]"
        case .map(let m): "{" + m.keys.sorted().map { "\($0): \(m[$0]!.text)" }.joined(separator: ", ") + "}"
        case .duration(let ns): CELDuration.format(ns)
        case .timestamp(let ns): KubeTime(secondsSince1970: Double(ns) / 1e9).formatted
        case .type(let t): t
        }
    }
}

/// A CEL evaluation error, worded as cel-go words the common ones.
struct CELEvalError: Error, Sendable, CustomStringConvertible {
    let message: String
    var description: String { message }
    /// cel-go names neither the function nor the argument types in this error.
    static func noOverload(_: String, _: [CELValue]) -> CELEvalError { CELEvalError(message: "no such overload") }
}

/// Evaluates a parsed expression against variables: the CEL semantics CRD rules rely on —
/// error-absorbing `&&` and `||`, heterogeneous numeric equality, overflow and division errors,
/// `has()`, the macros' comprehensions, strings, lists, maps, durations and timestamps.
struct CELEvaluator {
    var variables: [String: CELValue]

    func evaluate(_ e: CELExpression) throws(CELEvalError) -> CELValue {
        switch e.kind {
        case .literal(let l):
            switch l {
            case .int(let i): return .int(i)
            case .uint(let u): return .uint(u)
            case .double(let d): return .double(d)
            case .string(let s): return .string(s)
            case .bytes(let b): return .bytes(b)
            case .bool(let b): return .bool(b)
            case .null: return .null
            }
        case .ident(let name):
            guard let value = variables[name] else { throw CELEvalError(message: "no such attribute: \(name)") }
            return value
        case .select(let operand, let field, let testOnly):
            let base = try evaluate(operand)
            guard case .map(let fields) = base else { throw CELEvalError(message: "no such overload") }
            if testOnly { return .bool(fields[field] != nil) }
            guard let value = fields[field] else { throw CELEvalError(message: "no such key: \(field)") }
            return value
        case .list(let items):
            var out: [CELValue] = []
            for item in items { out.append(try evaluate(item)) }
            return .list(out)
        case .map(let entries):
            var out: [String: CELValue] = [:]
            for entry in entries {
                guard case .string(let key) = try evaluate(entry.key) else { throw CELEvalError(message: "unsupported map key type") }
                out[key] = try evaluate(entry.value)
            }
            return .map(out)
        case .comprehension(let c):
            return try comprehension(c)
        case .call(let function, let target, let args):
            return try call(function, target: target, args: args)
        }
    }

    private func comprehension(_ c: CELComprehension) throws(CELEvalError) -> CELValue {
        let range: [CELValue]
        switch try evaluate(c.range) {
        case .list(let items): range = items
        case .map(let fields): range = fields.keys.sorted().map(CELValue.string)
        case let other: throw CELEvalError(message: "expression of type '\(other.typeName)' cannot be range of a comprehension")
        }
        var scope = self
        scope.variables[c.accuVar] = try evaluate(c.accuInit)
        for element in range {
            scope.variables[c.iterVar] = element
            guard case .bool(true) = try scope.evaluate(c.condition) else { break }
            scope.variables[c.accuVar] = try scope.evaluate(c.step)
        }
        return try scope.evaluate(c.result)
    }

    private func call(_ function: String, target: CELExpression?, args: [CELExpression]) throws(CELEvalError) -> CELValue {
        switch function {
        case "_&&_", "_||_":
            // Commutative: a false (for &&) or true (for ||) side decides even when the other errs.
            let decisive = function == "_||_"
            var firstError: CELEvalError?
            var sawOther = false
            for arg in args {
                let value: CELValue
                do {
                    value = try evaluate(arg)
                } catch {
                    firstError = firstError ?? error
                    continue
                }
                guard case .bool(let b) = value else {
                    firstError = firstError ?? CELEvalError.noOverload(function, [value])
                    continue
                }
                if b == decisive { return .bool(decisive) }
                sawOther = true
            }
            if let firstError { throw firstError }
            _ = sawOther
            return .bool(!decisive)
        case "_?_:_":
            guard case .bool(let condition) = try evaluate(args[0]) else { throw CELEvalError(message: "no matching overload for '_?_:_'") }
            return try evaluate(condition ? args[1] : args[2])
        case "@not_strictly_false":
            do {
                if case .bool(false) = try evaluate(args[0]) { return .bool(false) }
                return .bool(true)
            } catch {
                return .bool(true)
            }
        default:
            break
        }
        var values: [CELValue] = []
        if let target { values.append(try evaluate(target)) }
        for arg in args { values.append(try evaluate(arg)) }
        return try CELBuiltins.apply(function, values, member: target != nil)
    }
}
