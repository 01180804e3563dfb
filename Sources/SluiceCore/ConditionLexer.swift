/// Tokens of the condition language.
struct ConditionToken: Equatable {
    enum Kind: Equatable {
        case number(Double)
        case name(String)
        case symbol(String)
        case end
    }

    var kind: Kind
    /// 1-based column of the token's first character.
    var column: Int
}

enum ConditionLexer {
    static let symbols = ["&&", "||", "==", "!=", "<=", ">=", "<", ">", "!", "(", ")", "[", "]", ",", "+", "-", "*", "/"]

    static func tokens(_ text: String) throws(ConditionError) -> [ConditionToken] {
        let chars = Array(text.unicodeScalars)
        var tokens: [ConditionToken] = []
        var i = 0
        while i < chars.count {
            let c = chars[i]
            if c == " " || c == "\t" || c == "\n" || c == "\r" {
                i += 1
                continue
            }
            let column = i + 1
            if isDigit(c) || (c == "." && i + 1 < chars.count && isDigit(chars[i + 1])) {
                let start = i
                while i < chars.count, isDigit(chars[i]) || chars[i] == "." { i += 1 }
                if i < chars.count, chars[i] == "e" || chars[i] == "E" {
                    var j = i + 1
                    if j < chars.count, chars[j] == "+" || chars[j] == "-" { j += 1 }
                    if j < chars.count, isDigit(chars[j]) {
                        i = j
                        while i < chars.count, isDigit(chars[i]) { i += 1 }
                    }
                }
                let literal = String(String.UnicodeScalarView(chars[start..<i]))
                guard let value = Double(literal) else {
                    throw ConditionError(column: column, message: "'\(literal)' is not a number")
                }
                tokens.append(ConditionToken(kind: .number(value), column: column))
            } else if isLetter(c) {
                let start = i
                while i < chars.count, isLetter(chars[i]) || isDigit(chars[i]) { i += 1 }
                tokens.append(ConditionToken(kind: .name(String(String.UnicodeScalarView(chars[start..<i]))), column: column))
            } else if let symbol = symbols.first(where: { matches($0, chars, at: i) }) {
                tokens.append(ConditionToken(kind: .symbol(symbol), column: column))
                i += symbol.unicodeScalars.count
            } else {
                throw ConditionError(column: column, message: "unexpected character '\(c)'")
            }
        }
        tokens.append(ConditionToken(kind: .end, column: chars.count + 1))
        return tokens
    }

    private static func isDigit(_ c: Unicode.Scalar) -> Bool { c >= "0" && c <= "9" }
    private static func isLetter(_ c: Unicode.Scalar) -> Bool {
        (c >= "a" && c <= "z") || (c >= "A" && c <= "Z") || c == "_"
    }

    private static func matches(_ symbol: String, _ chars: [Unicode.Scalar], at i: Int) -> Bool {
        let s = Array(symbol.unicodeScalars)
        guard i + s.count <= chars.count else { return false }
        return Array(chars[i..<(i + s.count)]) == s
    }
}

/// A condition that does not parse or cannot be evaluated, with the 1-based column.
public struct ConditionError: Error, Sendable, Hashable, CustomStringConvertible {
    public var column: Int
    public var message: String

    public init(column: Int, message: String) {
        self.column = column
        self.message = message
    }

    public var description: String { "column \(column): \(message)" }
}
