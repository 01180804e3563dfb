/// A recursive-descent parser for the CEL grammar, expanding the standard macros as cel-go
/// does, so the cost of an expression is estimated over the same tree the real server sees.
struct CELParser {
    private let tokens: [(token: CELToken, offset: Int)]
    private var position = 0
    private var nextID = 1
    private static let maxDepth = 250

    static func parse(_ text: String) throws(CELSyntaxError) -> CELExpression {
        var parser = CELParser(tokens: try CELLexer.tokens(text))
        let expression = try parser.expression(depth: 0)
        guard case .end = parser.current else { throw parser.error("mismatched input '\(parser.currentText)'") }
        return expression
    }

    private init(tokens: [(token: CELToken, offset: Int)]) { self.tokens = tokens }

    private var current: CELToken { tokens[position].token }
    private var currentText: String {
        switch current {
        case .ident(let s), .punct(let s): s
        case .literal: "literal"
        case .end: "<EOF>"
        }
    }

    private func error(_ message: String) -> CELSyntaxError { CELSyntaxError(message: message, offset: tokens[position].offset) }

    private mutating func node(_ kind: CELExpression.Kind) -> CELExpression {
        defer { nextID += 1 }
        return CELExpression(id: nextID, kind: kind)
    }

    private mutating func call(_ function: String, _ args: CELExpression..., target: CELExpression? = nil) -> CELExpression {
        node(.call(function: function, target: target, args: args))
    }

    private mutating func accept(_ punct: String) -> Bool {
        guard current == .punct(punct) else { return false }
        position += 1
        return true
    }

    private mutating func expect(_ punct: String) throws(CELSyntaxError) {
        guard accept(punct) else { throw error("expected '\(punct)' but found '\(currentText)'") }
    }

    mutating func expression(depth: Int) throws(CELSyntaxError) -> CELExpression {
        guard depth < Self.maxDepth else { throw error("expression recursion limit exceeded") }
        let condition = try binary(level: 0, depth: depth)
        guard accept("?") else { return condition }
        let whenTrue = try binary(level: 0, depth: depth + 1)
        try expect(":")
        let whenFalse = try expression(depth: depth + 1)
        return call("_?_:_", condition, whenTrue, whenFalse)
    }

    /// Operator levels from the loosest: `||`, `&&`, relations, `+ -`, `* / %`.
    private static let levels: [[String: String]] = [
        ["||": "_||_"], ["&&": "_&&_"],
        ["==": "_==_", "!=": "_!=_", "<": "_<_", "<=": "_<=_", ">": "_>_", ">=": "_>=_", "in": "@in"],
        ["+": "_+_", "-": "_-_"], ["*": "_*_", "/": "_/_", "%": "_%_"],
    ]

    private mutating func binary(level: Int, depth: Int) throws(CELSyntaxError) -> CELExpression {
        guard level < Self.levels.count else { return try unary(depth: depth) }
        var lhs = try binary(level: level + 1, depth: depth + 1)
        while case .punct(let p) = current, let function = Self.levels[level][p] {
            position += 1
            let rhs = try binary(level: level + 1, depth: depth + 1)
            lhs = call(function, lhs, rhs)
        }
        return lhs
    }

    private mutating func unary(depth: Int) throws(CELSyntaxError) -> CELExpression {
        var nots = 0, negations = 0
        while accept("!") { nots += 1 }
        if nots == 0 { while current == .punct("-") { position += 1; negations += 1 } }
        if negations > 0, case .literal(let literal) = current, negations % 2 == 1 {
            // A negative number is one literal, as in CEL's grammar.
            switch literal {
            case .int(let v): position += 1; return try member(node(.literal(.int(-v))), depth: depth)
            case .uint(let v) where v == UInt64(Int64.max) + 1:
                position += 1; return try member(node(.literal(.int(Int64.min))), depth: depth)
            case .double(let v): position += 1; return try member(node(.literal(.double(-v))), depth: depth)
            default: break
            }
        }
        var operand = try member(try primary(depth: depth), depth: depth)
        if nots % 2 == 1 { operand = call("!_", operand) }
        if negations % 2 == 1 { operand = call("-_", operand) }
        return operand
    }

    private mutating func member(_ start: CELExpression, depth: Int) throws(CELSyntaxError) -> CELExpression {
        var operand = start
        while true {
            if accept(".") {
                guard case .ident(let name) = current else { throw error("expected a field or method name after '.'") }
                position += 1
                if accept("(") {
                    let args = try arguments(until: ")", depth: depth)
                    operand = try memberCall(name, target: operand, args: args)
                } else {
                    operand = node(.select(operand: operand, field: name, testOnly: false))
                }
            } else if accept("[") {
                let index = try expression(depth: depth + 1)
                try expect("]")
                operand = call("_[_]", operand, index)
            } else {
                return operand
            }
        }
    }

    private mutating func primary(depth: Int) throws(CELSyntaxError) -> CELExpression {
        switch current {
        case .literal(let literal):
            position += 1
            return node(.literal(literal))
        case .ident(let name):
            position += 1
            guard accept("(") else { return node(.ident(name)) }
            let args = try arguments(until: ")", depth: depth)
            return try globalCall(name, args: args)
        case .punct("."):
            position += 1
            return try primary(depth: depth)
        case .punct("("):
            position += 1
            let inner = try expression(depth: depth + 1)
            try expect(")")
            return inner
        case .punct("["):
            position += 1
            return node(.list(try arguments(until: "]", depth: depth)))
        case .punct("{"):
            position += 1
            var entries: [(key: CELExpression, value: CELExpression)] = []
            while !accept("}") {
                let key = try expression(depth: depth + 1)
                try expect(":")
                entries.append((key, try expression(depth: depth + 1)))
                if !accept(",") { try expect("}"); break }
            }
            return node(.map(entries))
        default:
            throw error("mismatched input '\(currentText)'")
        }
    }

    private mutating func arguments(until close: String, depth: Int) throws(CELSyntaxError) -> [CELExpression] {
        var args: [CELExpression] = []
        while !accept(close) {
            args.append(try expression(depth: depth + 1))
            if !accept(",") { try expect(close); break }
        }
        return args
    }

    private mutating func globalCall(_ name: String, args: [CELExpression]) throws(CELSyntaxError) -> CELExpression {
        guard name == "has" else { return node(.call(function: name, target: nil, args: args)) }
        guard args.count == 1, case .select(let operand, let field, false) = args[0].kind else {
            throw error("invalid argument to has() macro")
        }
        return node(.select(operand: operand, field: field, testOnly: true))
    }

    private mutating func memberCall(_ name: String, target: CELExpression, args: [CELExpression]) throws(CELSyntaxError) -> CELExpression {
        let macros: Set<String> = ["all", "exists", "exists_one", "map", "filter"]
        guard macros.contains(name), args.count == 2 || (name == "map" && args.count == 3) else {
            return node(.call(function: name, target: target, args: args))
        }
        guard case .ident(let iterVar) = args[0].kind else { throw error("argument is not an identifier") }
        guard iterVar != celAccumulator else { throw error("iteration variable overwrites accumulator variable") }
        let accu = { (p: inout CELParser) in p.node(.ident(celAccumulator)) }
        let initial: CELExpression, condition: CELExpression, step: CELExpression, result: CELExpression
        switch name {
        case "all":
            initial = node(.literal(.bool(true)))
            condition = call("@not_strictly_false", accu(&self))
            step = call("_&&_", accu(&self), args[1])
            result = accu(&self)
        case "exists":
            initial = node(.literal(.bool(false)))
            condition = call("@not_strictly_false", call("!_", accu(&self)))
            step = call("_||_", accu(&self), args[1])
            result = accu(&self)
        case "exists_one":
            initial = node(.literal(.int(0)))
            condition = node(.literal(.bool(true)))
            step = call("_?_:_", args[1], call("_+_", accu(&self), node(.literal(.int(1)))), accu(&self))
            result = call("_==_", accu(&self), node(.literal(.int(1))))
        case "map":
            initial = node(.list([]))
            condition = node(.literal(.bool(true)))
            let append = call("_+_", accu(&self), node(.list([args.last!])))
            step = args.count == 3 ? call("_?_:_", args[1], append, accu(&self)) : append
            result = accu(&self)
        default: // filter
            initial = node(.list([]))
            condition = node(.literal(.bool(true)))
            let kept = call("_+_", accu(&self), node(.list([args[0]])))
            step = call("_?_:_", args[1], kept, accu(&self))
            result = accu(&self)
        }
        return node(.comprehension(CELComprehension(range: target, iterVar: iterVar, accuVar: celAccumulator, accuInit: initial,
                                                    condition: condition, step: step, result: result)))
    }
}
