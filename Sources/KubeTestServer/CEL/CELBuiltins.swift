import Foundation
import SluiceModel

/// The functions and operators, over values.
enum CELBuiltins {
    static func apply(_ function: String, _ v: [CELValue], member: Bool) throws(CELEvalError) -> CELValue {
        switch (function, v.count) {
        case ("!_", 1):
            guard case .bool(let b) = v[0] else { throw .noOverload(function, v) }
            return .bool(!b)
        case ("-_", 1):
            switch v[0] {
            case .int(let i):
                guard i != .min else { throw CELEvalError(message: "integer overflow") }
                return .int(-i)
            case .double(let d): return .double(-d)
            case .duration(let d): return .duration(-d)
            default: throw .noOverload(function, v)
            }
        case ("_==_", 2): return .bool(equal(v[0], v[1]))
        case ("_!=_", 2): return .bool(!equal(v[0], v[1]))
        case ("_<_", 2), ("_<=_", 2), ("_>_", 2), ("_>=_", 2):
            guard let order = compare(v[0], v[1]) else { throw .noOverload(function, v) }
            switch function {
            case "_<_": return .bool(order < 0)
            case "_<=_": return .bool(order <= 0)
            case "_>_": return .bool(order > 0)
            default: return .bool(order >= 0)
            }
        case ("@in", 2):
            switch v[1] {
            case .list(let items): return .bool(items.contains { equal($0, v[0]) })
            case .map(let fields):
                guard case .string(let key) = v[0] else { return .bool(false) }
                return .bool(fields[key] != nil)
            default: throw .noOverload(function, v)
            }
        case ("_+_", 2), ("_-_", 2), ("_*_", 2), ("_/_", 2), ("_%_", 2):
            return try arithmetic(function, v[0], v[1])
        case ("_[_]", 2):
            switch (v[0], v[1]) {
            case (.list(let items), .int(let i)):
                guard i >= 0, i < items.count else { throw CELEvalError(message: "index out of bounds: \(i)") }
                return items[Int(i)]
            case (.list(let items), .double(let d)) where d.rounded() == d:
                guard d >= 0, Int(d) < items.count else { throw CELEvalError(message: "index out of bounds: \(d)") }
                return items[Int(d)]
            case (.map(let fields), .string(let key)):
                guard let value = fields[key] else { throw CELEvalError(message: "no such key: \(key)") }
                return value
            default: throw .noOverload(function, v)
            }
        case ("size", 1):
            switch v[0] {
            case .string(let s): return .int(Int64(s.unicodeScalars.count))
            case .bytes(let b): return .int(Int64(b.count))
            case .list(let l): return .int(Int64(l.count))
            case .map(let m): return .int(Int64(m.count))
            default: throw .noOverload(function, v)
            }
        case ("contains", 2), ("startsWith", 2), ("endsWith", 2), ("matches", 2):
            guard case .string(let s) = v[0], case .string(let t) = v[1] else { throw .noOverload(function, v) }
            switch function {
            case "contains": return .bool(t.isEmpty || s.contains(t))
            case "startsWith": return .bool(s.hasPrefix(t))
            case "endsWith": return .bool(s.hasSuffix(t))
            default:
                guard let regex = try? NSRegularExpression(pattern: t) else {
                    throw CELEvalError(message: "invalid regular expression: \(t)")
                }
                return .bool(regex.firstMatch(in: s, range: NSRange(s.startIndex..., in: s)) != nil)
            }
        case ("int", 1):
            switch v[0] {
            case .int: return v[0]
            case .uint(let u):
                guard u <= UInt64(Int64.max) else { throw CELEvalError(message: "integer overflow") }
                return .int(Int64(u))
            case .double(let d):
                guard d.isFinite, d > -9.223372036854776e18, d < 9.223372036854776e18 else { throw CELEvalError(message: "integer overflow") }
                return .int(Int64(d))
            case .string(let s):
                guard let i = Int64(s) else { throw CELEvalError(message: "cannot convert \(s) to int") }
                return .int(i)
            case .duration(let ns): return .int(ns)
            case .timestamp(let ns): return .int(ns / 1_000_000_000)
            default: throw .noOverload(function, v)
            }
        case ("uint", 1):
            switch v[0] {
            case .uint: return v[0]
            case .int(let i):
                guard i >= 0 else { throw CELEvalError(message: "unsigned integer overflow") }
                return .uint(UInt64(i))
            case .double(let d):
                guard d.isFinite, d >= 0, d < 1.8446744073709552e19 else { throw CELEvalError(message: "unsigned integer overflow") }
                return .uint(UInt64(d))
            case .string(let s):
                guard let u = UInt64(s) else { throw CELEvalError(message: "cannot convert \(s) to uint") }
                return .uint(u)
            default: throw .noOverload(function, v)
            }
        case ("double", 1):
            switch v[0] {
            case .double: return v[0]
            case .int(let i): return .double(Double(i))
            case .uint(let u): return .double(Double(u))
            case .string(let s):
                guard let d = Double(s) else { throw CELEvalError(message: "cannot convert \(s) to double") }
                return .double(d)
            default: throw .noOverload(function, v)
            }
        case ("string", 1):
            if case .map = v[0] { throw .noOverload(function, v) }
            if case .list = v[0] { throw .noOverload(function, v) }
            return .string(v[0].text)
        case ("bool", 1):
            switch v[0] {
            case .bool: return v[0]
            case .string(let s):
                switch s {
                case "true", "True", "TRUE", "t", "1": return .bool(true)
                case "false", "False", "FALSE", "f", "0": return .bool(false)
                default: throw CELEvalError(message: "type conversion error from 'string' to 'bool'")
                }
            default: throw .noOverload(function, v)
            }
        case ("duration", 1):
            switch v[0] {
            case .duration: return v[0]
            case .string(let s):
                guard let ns = CELDuration.parse(s) else { throw CELEvalError(message: "type conversion error from 'string' to 'google.protobuf.Duration'") }
                return .duration(ns)
            default: throw .noOverload(function, v)
            }
        case ("timestamp", 1):
            switch v[0] {
            case .timestamp: return v[0]
            case .string(let s):
                guard let ns = CELTimestamp.parse(s) else { throw CELEvalError(message: "type conversion error from 'string' to 'google.protobuf.Timestamp'") }
                return .timestamp(ns)
            default: throw .noOverload(function, v)
            }
        case ("dyn", 1): return v[0]
        case ("type", 1): return .type(v[0].typeName)
        default:
            throw .noOverload(function, v)
        }
    }

    /// CEL's heterogeneous equality: numbers compare by value across int, uint and double.
    static func equal(_ a: CELValue, _ b: CELValue) -> Bool {
        if let x = numeric(a), let y = numeric(b) { return x == y }
        switch (a, b) {
        case (.list(let x), .list(let y)): return x.count == y.count && zip(x, y).allSatisfy { equal($0, $1) }
        case (.map(let x), .map(let y)): return x.count == y.count && x.allSatisfy { key, value in y[key].map { equal(value, $0) } ?? false }
        default: return a == b
        }
    }

    static func numeric(_ v: CELValue) -> Double? {
        switch v {
        case .int(let i): Double(i)
        case .uint(let u): Double(u)
        case .double(let d): d
        default: nil
        }
    }

    static func compare(_ a: CELValue, _ b: CELValue) -> Int? {
        func order<T: Comparable>(_ x: T, _ y: T) -> Int { x < y ? -1 : x > y ? 1 : 0 }
        if case .int(let x) = a, case .int(let y) = b { return order(x, y) }
        if let x = numeric(a), let y = numeric(b) { return order(x, y) }
        switch (a, b) {
        case (.string(let x), .string(let y)):
            let xs = x.unicodeScalars.map(\.value), ys = y.unicodeScalars.map(\.value)
            return xs == ys ? 0 : (xs.lexicographicallyPrecedes(ys) ? -1 : 1)
        case (.bool(let x), .bool(let y)): return order(x ? 1 : 0, y ? 1 : 0)
        case (.bytes(let x), .bytes(let y)): return x == y ? 0 : (x.lexicographicallyPrecedes(y) ? -1 : 1)
        case (.duration(let x), .duration(let y)), (.timestamp(let x), .timestamp(let y)): return order(x, y)
        default: return nil
        }
    }

    static func arithmetic(_ function: String, _ a: CELValue, _ b: CELValue) throws(CELEvalError) -> CELValue {
        func overflow() -> CELEvalError { CELEvalError(message: "integer overflow") }
        switch (a, b) {
        case (.int(let x), .int(let y)):
            switch function {
            case "_+_": let (r, o) = x.addingReportingOverflow(y); if o { throw overflow() }; return .int(r)
            case "_-_": let (r, o) = x.subtractingReportingOverflow(y); if o { throw overflow() }; return .int(r)
            case "_*_": let (r, o) = x.multipliedReportingOverflow(by: y); if o { throw overflow() }; return .int(r)
            case "_/_":
                guard y != 0 else { throw CELEvalError(message: "division by zero") }
                let (r, o) = x.dividedReportingOverflow(by: y); if o { throw overflow() }; return .int(r)
            default:
                guard y != 0 else { throw CELEvalError(message: "modulus by zero") }
                let (r, o) = x.remainderReportingOverflow(dividingBy: y); if o { throw overflow() }; return .int(r)
            }
        case (.uint(let x), .uint(let y)):
            switch function {
            case "_+_": let (r, o) = x.addingReportingOverflow(y); if o { throw overflow() }; return .uint(r)
            case "_-_": let (r, o) = x.subtractingReportingOverflow(y); if o { throw overflow() }; return .uint(r)
            case "_*_": let (r, o) = x.multipliedReportingOverflow(by: y); if o { throw overflow() }; return .uint(r)
            case "_/_": guard y != 0 else { throw CELEvalError(message: "division by zero") }; return .uint(x / y)
            default: guard y != 0 else { throw CELEvalError(message: "modulus by zero") }; return .uint(x % y)
            }
        case (.double(let x), .double(let y)):
            switch function {
            case "_+_": return .double(x + y)
            case "_-_": return .double(x - y)
            case "_*_": return .double(x * y)
            case "_/_": return .double(x / y)
            default: throw CELEvalError.noOverload(function, [a, b])
            }
        case (.string(let x), .string(let y)) where function == "_+_": return .string(x + y)
        case (.bytes(let x), .bytes(let y)) where function == "_+_": return .bytes(x + y)
        case (.list(let x), .list(let y)) where function == "_+_": return .list(x + y)
        case (.duration(let x), .duration(let y)) where function == "_+_" || function == "_-_":
            let (r, o) = function == "_+_" ? x.addingReportingOverflow(y) : x.subtractingReportingOverflow(y)
            if o { throw overflow() }
            return .duration(r)
        case (.timestamp(let x), .duration(let y)) where function == "_+_" || function == "_-_":
            let (r, o) = function == "_+_" ? x.addingReportingOverflow(y) : x.subtractingReportingOverflow(y)
            if o { throw overflow() }
            return .timestamp(r)
        case (.duration(let x), .timestamp(let y)) where function == "_+_":
            let (r, o) = x.addingReportingOverflow(y)
            if o { throw overflow() }
            return .timestamp(r)
        case (.timestamp(let x), .timestamp(let y)) where function == "_-_":
            let (r, o) = x.subtractingReportingOverflow(y)
            if o { throw overflow() }
            return .duration(r)
        default:
            throw CELEvalError.noOverload(function, [a, b])
        }
    }
}

/// Go's duration syntax (`300ms`, `1h30m`, `-1.5s`), as CEL's `duration()` reads it, in nanoseconds.
enum CELDuration {
    static func parse(_ text: String) -> Int64? {
        var s = Substring(text)
        var sign: Double = 1
        if s.first == "-" || s.first == "+" {
            if s.first == "-" { sign = -1 }
            s = s.dropFirst()
        }
        if s == "0" { return 0 }
        guard !s.isEmpty else { return nil }
        let units: [(String, Double)] = [("ns", 1), ("us", 1e3), ("µs", 1e3), ("μs", 1e3), ("ms", 1e6), ("s", 1e9), ("m", 60e9), ("h", 3600e9)]
        var total: Double = 0
        while !s.isEmpty {
            let number = s.prefix { $0.isNumber || $0 == "." }
            guard !number.isEmpty, let value = Double(number) else { return nil }
            s = s.dropFirst(number.count)
            guard let unit = units.first(where: { s.hasPrefix($0.0) && !(($0.0 == "m") && s.hasPrefix("ms")) }) else { return nil }
            s = s.dropFirst(unit.0.count)
            total += value * unit.1
        }
        let ns = sign * total
        guard ns.isFinite, abs(ns) < 9.2e18 else { return nil }
        return Int64(ns)
    }

    static func format(_ ns: Int64) -> String {
        let seconds = Double(ns) / 1e9
        return seconds.rounded() == seconds ? "\(Int64(seconds))s" : "\(seconds)s"
    }
}

/// RFC 3339 timestamps, in nanoseconds since the epoch.
enum CELTimestamp {
    static func parse(_ text: String) -> Int64? {
        guard let time = KubeTime(rfc3339: text) else { return nil }
        return Int64(time.secondsSince1970 * 1e9)
    }
}
