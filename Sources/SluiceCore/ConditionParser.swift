indirect enum ConditionNode: Sendable, Hashable {
    case number(Double, column: Int)
    case bool(Bool, column: Int)
    case result(column: Int)
    case index(ConditionNode, ConditionNode, column: Int)
    case not(ConditionNode, column: Int)
    case negate(ConditionNode, column: Int)
    case binary(String, ConditionNode, ConditionNode, column: Int)
    case call(String, ConditionNode, column: Int)

    var column: Int {
        switch self {
        case .number(_, let c), .bool(_, let c), .result(let c), .index(_, _, let c), .not(_, let c),
            .negate(_, let c), .binary(_, _, _, let c), .call(_, _, let c):
            c
        }
    }
}

/// Recursive descent with a depth bound, so no input can exhaust the stack.
struct ConditionParser {
    var tokens: [ConditionToken]
    var position = 0
    var depth = 0

    static let functions = ["isNaN", "len"]
    static let levels: [[String]] = [["||"], ["&&"], ["==", "!="], ["<", "<=", ">", ">="], ["+", "-"], ["*", "/"]]

    init(tokens: [ConditionToken]) { self.tokens = tokens }

    var current: ConditionToken { tokens[position] }

    mutating func parseAll() throws(ConditionError) -> ConditionNode {
        if case .end = current.kind { throw ConditionError(column: 1, message: "the condition is empty") }
        let node = try parseBinary(level: 0)
        guard case .end = current.kind else {
            throw ConditionError(column: current.column, message: "unexpected \(describe(current)) after a complete expression")
        }
        return node
    }

    /// Counts nesting (parentheses, unary operators, indexes): each level costs a bounded
    /// number of stack frames, so the bound keeps any input off the end of the stack.
    private mutating func enter() throws(ConditionError) {
        depth += 1
        if depth > ConditionExpression.maxDepth {
            throw ConditionError(column: current.column, message: "nested more than \(ConditionExpression.maxDepth) deep")
        }
    }

    private mutating func parseBinary(level: Int) throws(ConditionError) -> ConditionNode {
        if level == ConditionParser.levels.count { return try parseUnary() }
        var left = try parseBinary(level: level + 1)
        while case .symbol(let op) = current.kind, ConditionParser.levels[level].contains(op) {
            let column = current.column
            position += 1
            let right = try parseBinary(level: level + 1)
            left = .binary(op, left, right, column: column)
        }
        return left
    }

    private mutating func parseUnary() throws(ConditionError) -> ConditionNode {
        try enter()
        defer { depth -= 1 }
        let column = current.column
        if case .symbol("!") = current.kind {
            position += 1
            return .not(try parseUnary(), column: column)
        }
        if case .symbol("-") = current.kind {
            position += 1
            return .negate(try parseUnary(), column: column)
        }
        var node = try parsePrimary()
        while case .symbol("[") = current.kind {
            let bracket = current.column
            position += 1
            let index = try parseBinary(level: 0)
            try expect("]", closing: "[", at: bracket)
            node = .index(node, index, column: bracket)
        }
        return node
    }

    private mutating func parsePrimary() throws(ConditionError) -> ConditionNode {
        let token = current
        switch token.kind {
        case .number(let n):
            position += 1
            return .number(n, column: token.column)
        case .name("true"), .name("false"):
            position += 1
            return .bool(token.kind == .name("true"), column: token.column)
        case .name("result"):
            position += 1
            return .result(column: token.column)
        case .name(let name) where ConditionParser.functions.contains(name):
            position += 1
            let open = current.column
            try expect("(", closing: nil, at: open, after: name)
            let argument = try parseBinary(level: 0)
            try expect(")", closing: "(", at: open)
            return .call(name, argument, column: token.column)
        case .name(let name):
            throw ConditionError(
                column: token.column,
                message: "unknown name '\(name)'; a condition can use result, numbers, true, false, isNaN() and len()")
        case .symbol("("):
            position += 1
            let inner = try parseBinary(level: 0)
            try expect(")", closing: "(", at: token.column)
            return inner
        default:
            throw ConditionError(column: token.column, message: "expected a value, found \(describe(token))")
        }
    }

    private mutating func expect(_ symbol: String, closing: String?, at column: Int, after name: String? = nil)
        throws(ConditionError)
    {
        guard case .symbol(symbol) = current.kind else {
            let what = closing.map { "'\(symbol)' to close the '\($0)' at column \(column)" }
                ?? "'\(symbol)' after \(name ?? "")"
            throw ConditionError(column: current.column, message: "expected \(what), found \(describe(current))")
        }
        position += 1
    }

    private func describe(_ token: ConditionToken) -> String {
        switch token.kind {
        case .number(let n): "the number \(MetricValue.format(n))"
        case .name(let n): "'\(n)'"
        case .symbol(let s): "'\(s)'"
        case .end: "the end of the condition"
        }
    }
}
