/// CEL's static types, as far as the test server needs them: to refuse rules that do not
/// type-check against the schema and to pick the overloads whose cost cel-go estimates.
indirect enum CELType: Equatable, Sendable {
    case int, uint, double, string, bytes, bool, null, timestamp, duration, type, dyn
    case list(CELType)
    case map(CELType, CELType)
    case object(CELObjectType)

    static func of(_ decl: CELDeclType) -> CELType {
        switch decl.kind {
        case .object: .object(CELObjectType(decl: decl))
        case .list: .list(decl.element.map(of) ?? .dyn)
        case .map: .map(.string, decl.element.map(of) ?? .dyn)
        case .string: .string
        case .bytes: .bytes
        case .int: .int
        case .double: .double
        case .bool: .bool
        case .timestamp: .timestamp
        case .duration: .duration
        case .dyn: .dyn
        }
    }

    var isScalar: Bool { [.bool, .double, .duration, .int, .timestamp, .uint].contains(self) }
}

struct CELObjectType: Equatable, @unchecked Sendable {
    let decl: CELDeclType
    static func == (a: Self, b: Self) -> Bool { a.decl === b.decl }
}

/// The overloads whose estimated cost differs from the constant one.
enum CELOverload: Equatable, Sendable {
    case constant, indexList, indexMap, addString, addBytes, addList, compareSized, inList, matches, contains, startsOrEndsWith
    case logical, conditional
}

struct CELTypeError: Error, Sendable { let message: String }

/// Checks an expression against the variables in scope (`self`, `oldSelf`) and records each
/// node's type and each call's overloads.
struct CELChecker {
    private(set) var types: [Int: CELType] = [:]
    private(set) var overloads: [Int: [CELOverload]] = [:]
    private var scopes: [String: [CELType]]

    init(variables: [String: CELType]) { scopes = variables.mapValues { [$0] } }

    @discardableResult
    mutating func check(_ e: CELExpression) throws(CELTypeError) -> CELType {
        let type = try infer(e)
        types[e.id] = type
        return type
    }

    private mutating func infer(_ e: CELExpression) throws(CELTypeError) -> CELType {
        switch e.kind {
        case .literal(let l):
            switch l {
            case .int: return .int
            case .uint: return .uint
            case .double: return .double
            case .string: return .string
            case .bytes: return .bytes
            case .bool: return .bool
            case .null: return .null
            }
        case .ident(let name):
            guard let type = scopes[name]?.last else { throw CELTypeError(message: "undeclared reference to '\(name)'") }
            return type
        case .select(let operand, let field, let testOnly):
            let operandType = try check(operand)
            let fieldType: CELType
            switch operandType {
            case .object(let o):
                guard let f = o.decl.fields[field] else { throw CELTypeError(message: "undefined field '\(field)'") }
                fieldType = .of(f)
            case .map(_, let value): fieldType = value
            case .dyn: fieldType = .dyn
            default: throw CELTypeError(message: "type '\(operandType)' does not support field selection")
            }
            return testOnly ? .bool : fieldType
        case .list(let elements):
            var element: CELType?
            for item in elements {
                let t = try check(item)
                if let e = element, e != t, e != .dyn, t != .dyn { throw CELTypeError(message: "expected type '\(e)' but found '\(t)'") }
                element = element ?? t
            }
            return .list(element ?? .dyn)
        case .map(let entries):
            var key: CELType?, value: CELType?
            for entry in entries {
                let k = try check(entry.key), v = try check(entry.value)
                key = key ?? k
                value = value ?? v
            }
            return .map(key ?? .dyn, value ?? .dyn)
        case .comprehension(let c):
            let range = try check(c.range)
            let element: CELType
            switch range {
            case .list(let t): element = t
            case .map(let k, _): element = k
            case .dyn: element = .dyn
            default: throw CELTypeError(message: "expression of type '\(range)' cannot be range of a comprehension")
            }
            let accu = try check(c.accuInit)
            scopes[c.accuVar, default: []].append(accu)
            scopes[c.iterVar, default: []].append(element)
            try check(c.condition)
            let step = try check(c.step)
            scopes[c.iterVar]?.removeLast()
            scopes[c.accuVar]?.removeLast()
            scopes[c.accuVar, default: []].append(step)
            defer { scopes[c.accuVar]?.removeLast() }
            return try check(c.result)
        case .call(let function, let target, let args):
            let targetType = try target.map { (t) throws(CELTypeError) in try check(t) }
            var argTypes: [CELType] = []
            for arg in args { argTypes.append(try check(arg)) }
            let (result, chosen) = try CELFunctions.resolve(function, target: targetType, args: argTypes)
            overloads[e.id] = chosen
            return result
        }
    }
}
