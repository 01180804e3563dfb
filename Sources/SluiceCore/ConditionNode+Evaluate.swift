extension ConditionNode {
    /// Evaluation recurses as deep as the parsed tree, which the parser bounds.
    func evaluate(result: ConditionValue) throws(ConditionError) -> ConditionValue {
        switch self {
        case .number(let n, _): return .number(n)
        case .bool(let b, _): return .bool(b)
        case .result: return result
        case .not(let inner, let column):
            return .bool(!(try inner.evaluate(result: result).requireBool(column, "!")))
        case .negate(let inner, let column):
            return .number(-(try inner.evaluate(result: result).requireNumber(column, "-")))
        case .index(let base, let index, let column):
            guard case .list(let items) = try base.evaluate(result: result) else {
                throw ConditionError(column: column, message: "only a list of several samples can be indexed; with one sample, result is a number")
            }
            let i = try index.evaluate(result: result).requireNumber(column, "[]")
            guard i.rounded() == i, i >= 0, i < Double(items.count) else {
                throw ConditionError(column: column, message: "index \(MetricValue.format(i)) is outside the \(items.count) samples")
            }
            return .number(items[Int(i)])
        case .call(let name, let argument, let column):
            let value = try argument.evaluate(result: result)
            switch (name, value) {
            case ("len", .list(let items)): return .number(Double(items.count))
            case ("len", .number): return .number(1)
            case ("isNaN", .number(let n)): return .bool(n.isNaN)
            case ("isNaN", .list(let items)): return .bool(items.contains(where: \.isNaN))
            default: throw ConditionError(column: column, message: "\(name)() does not take \(value.typeName)")
            }
        case .binary(let op, let lhs, let rhs, let column):
            return try ConditionNode.apply(op, lhs, rhs, column: column, result: result)
        }
    }

    private static func apply(_ op: String, _ lhs: ConditionNode, _ rhs: ConditionNode, column: Int,
                              result: ConditionValue) throws(ConditionError) -> ConditionValue {
        let left = try lhs.evaluate(result: result)
        switch op {
        case "&&":
            guard try left.requireBool(column, op) else { return .bool(false) }
            return .bool(try rhs.evaluate(result: result).requireBool(column, op))
        case "||":
            if try left.requireBool(column, op) { return .bool(true) }
            return .bool(try rhs.evaluate(result: result).requireBool(column, op))
        default:
            break
        }
        let right = try rhs.evaluate(result: result)
        switch (op, left, right) {
        case ("==", .bool(let a), .bool(let b)): return .bool(a == b)
        case ("!=", .bool(let a), .bool(let b)): return .bool(a != b)
        case (_, .number(let a), .number(let b)):
            switch op {
            case "==": return .bool(a == b)
            case "!=": return .bool(a != b)
            case "<": return .bool(a < b)
            case "<=": return .bool(a <= b)
            case ">": return .bool(a > b)
            case ">=": return .bool(a >= b)
            case "+": return .number(a + b)
            case "-": return .number(a - b)
            case "*": return .number(a * b)
            default: return .number(a / b)
            }
        default:
            throw ConditionError(column: column, message: "'\(op)' cannot combine \(left.typeName) and \(right.typeName)")
        }
    }
}

extension ConditionValue {
    func requireBool(_ column: Int, _ op: String) throws(ConditionError) -> Bool {
        guard case .bool(let b) = self else {
            throw ConditionError(column: column, message: "'\(op)' needs true or false, not \(typeName)")
        }
        return b
    }

    func requireNumber(_ column: Int, _ op: String) throws(ConditionError) -> Double {
        guard case .number(let n) = self else {
            throw ConditionError(column: column, message: "'\(op)' needs a number, not \(typeName)")
        }
        return n
    }
}
