/// A parsed CEL expression, in the shape cel-go's parser gives it: macros (`has`, `all`,
/// `exists`, `exists_one`, `map`, `filter`) are already expanded into test-only selects and
/// comprehensions, and operators are calls of their internal names (`_==_`, `_&&_`, `!_`, ...).
/// Every node has an id unique within its expression, so later passes can annotate nodes.
struct CELExpression: Sendable {
    let id: Int
    let kind: Kind

    indirect enum Kind: Sendable {
        case literal(CELLiteral)
        case ident(String)
        /// `operand.field`; `testOnly` is the expanded `has(operand.field)`.
        case select(operand: CELExpression, field: String, testOnly: Bool)
        case call(function: String, target: CELExpression?, args: [CELExpression])
        case list([CELExpression])
        case map([(key: CELExpression, value: CELExpression)])
        case comprehension(CELComprehension)
    }
}

/// The loop every CEL macro expands to: for each element of `range` (bound to `iterVar`),
/// while `condition` holds, `accuVar = step`; the value is `result`.
struct CELComprehension: Sendable {
    let range: CELExpression
    let iterVar: String
    let accuVar: String
    let accuInit: CELExpression
    let condition: CELExpression
    let step: CELExpression
    let result: CELExpression
}

enum CELLiteral: Sendable, Equatable {
    case int(Int64)
    case uint(UInt64)
    case double(Double)
    case string(String)
    case bytes([UInt8])
    case bool(Bool)
    case null
}

/// The name cel-go gives the accumulator of an expanded macro.
let celAccumulator = "@result"
