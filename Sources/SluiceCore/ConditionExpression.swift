/// A parsed `successCondition` or `failureCondition`: a small, safe expression over `result`.
///
/// Grammar, loosest binding first: `||`; `&&`; `==` `!=`; `<` `<=` `>` `>=`; `+` `-`; `*` `/`;
/// unary `!` `-`; `x[i]`; literals (numbers, `true`, `false`), `result`, `isNaN(x)`, `len(x)`
/// and parentheses. `result` is a number when the query returned one sample or a scalar, and a
/// list (`result[0]`, `len(result)`) when it returned several.
public struct ConditionExpression: Sendable, Hashable, CustomStringConvertible {
    public let source: String
    let root: ConditionNode

    /// Longest condition accepted, in characters.
    public static let maxLength = 4096
    /// Deepest nesting accepted (parentheses, operators, indexes).
    public static let maxDepth = 64

    public init(_ source: String) throws(ConditionError) {
        guard source.unicodeScalars.count <= ConditionExpression.maxLength else {
            throw ConditionError(column: ConditionExpression.maxLength + 1, message: "longer than \(ConditionExpression.maxLength) characters")
        }
        var parser = ConditionParser(tokens: try ConditionLexer.tokens(source))
        self.source = source
        self.root = try parser.parseAll()
    }

    public var description: String { source }

    /// Evaluates to true or false, or throws when the expression does not fit the result
    /// (an index past the end, a list compared to a number).
    public func isTrue(result: MetricValue) throws(ConditionError) -> Bool {
        let value = try root.evaluate(result: result.conditionValue)
        guard case .bool(let b) = value else {
            throw ConditionError(column: root.column, message: "the condition gives \(value.typeName), not true or false")
        }
        return b
    }
}

/// What a query returned: one number (a scalar or a single-sample vector) or several samples.
public enum MetricValue: Sendable, Hashable, CustomStringConvertible {
    case number(Double)
    case samples([Double])

    var conditionValue: ConditionValue {
        switch self {
        case .number(let n): .number(n)
        case .samples(let s) where s.count == 1: .number(s[0])
        case .samples(let s): .list(s)
        }
    }

    /// An empty vector, or nothing but NaN: what `noData` decides.
    public var isNoData: Bool {
        switch self {
        case .number(let n): n.isNaN
        case .samples(let s): s.allSatisfy(\.isNaN)
        }
    }

    public var description: String {
        switch self {
        case .number(let n): MetricValue.format(n)
        case .samples(let s) where s.count == 1: MetricValue.format(s[0])
        case .samples(let s): "[" + s.map(MetricValue.format).joined(separator: ", ") + "]"
        }
    }

    static func format(_ n: Double) -> String {
        if n.isNaN { return "NaN" }
        if n.isInfinite { return n > 0 ? "+Inf" : "-Inf" }
        if n.rounded() == n, abs(n) < 1e15 { return String(Int(n)) }
        return String(n)
    }
}

enum ConditionValue: Equatable {
    case number(Double)
    case bool(Bool)
    case list([Double])

    var typeName: String {
        switch self {
        case .number: "a number"
        case .bool: "true or false"
        case .list: "a list"
        }
    }
}
