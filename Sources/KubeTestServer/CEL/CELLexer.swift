/// CEL's tokens (the lexical part of the CEL language definition): identifiers, numbers,
/// strings and bytes with their escapes and raw and triple-quoted forms, and punctuation.
enum CELToken: Equatable, Sendable {
    case ident(String)
    case literal(CELLiteral)
    case punct(String)
    case end
}

struct CELSyntaxError: Error, Sendable, Equatable {
    let message: String
    let offset: Int
}

struct CELLexer {
    private let chars: [Character]
    private var index = 0

    init(_ text: String) { chars = Array(text) }

    static func tokens(_ text: String) throws(CELSyntaxError) -> [(token: CELToken, offset: Int)] {
        var lexer = CELLexer(text)
        var out: [(CELToken, Int)] = []
        while true {
            let (token, offset) = try lexer.next()
            out.append((token, offset))
            if token == .end { return out }
        }
    }

    private static let punctuation = ["==", "!=", "<=", ">=", "&&", "||", "<", ">", "!", "+", "-", "*", "/", "%",
                                      "?", ":", ".", ",", "(", ")", "[", "]", "{", "}"]
    private static let reserved: Set<String> = ["as", "break", "const", "continue", "else", "for", "function", "if", "import",
                                                "let", "loop", "package", "namespace", "return", "var", "void", "while"]

    private func peek(_ ahead: Int = 0) -> Character? { index + ahead < chars.count ? chars[index + ahead] : nil }

    mutating func next() throws(CELSyntaxError) -> (CELToken, Int) {
        skipSpaceAndComments()
        let start = index
        guard let c = peek() else { return (.end, start) }
        if c.isLetter || c == "_" {
            var word = ""
            while let d = peek(), d.isLetter || d.isNumber || d == "_" { word.append(d); index += 1 }
            if (word == "r" || word == "R" || word == "b" || word == "B" || word.lowercased() == "rb" || word.lowercased() == "br"),
               let q = peek(), q == "\"" || q == "'" {
                let raw = word.lowercased().contains("r")
                let text = try quoted(raw: raw)
                return (word.lowercased().contains("b") ? .literal(.bytes(Array(text.utf8))) : .literal(.string(text)), start)
            }
            switch word {
            case "true": return (.literal(.bool(true)), start)
            case "false": return (.literal(.bool(false)), start)
            case "null": return (.literal(.null), start)
            case "in": return (.punct("in"), start)
            default:
                if Self.reserved.contains(word) { throw CELSyntaxError(message: "reserved identifier: \(word)", offset: start) }
                return (.ident(word), start)
            }
        }
        if c.isNumber || (c == "." && peek(1)?.isNumber == true) { return (try number(), start) }
        if c == "\"" || c == "'" { return (.literal(.string(try quoted(raw: false))), start) }
        for p in Self.punctuation where matches(p) {
            index += p.count
            return (.punct(p), start)
        }
        throw CELSyntaxError(message: "token recognition error at: '\(c)'", offset: start)
    }

    private func matches(_ p: String) -> Bool {
        for (i, ch) in p.enumerated() where peek(i) != ch { return false }
        return true
    }

    private mutating func skipSpaceAndComments() {
        while let c = peek() {
            if c.isWhitespace { index += 1 } else if c == "/", peek(1) == "/" {
                while let d = peek(), d != "\n" { index += 1 }
            } else { return }
        }
    }

    private mutating func number() throws(CELSyntaxError) -> CELToken {
        let start = index
        if peek() == "0", peek(1) == "x" || peek(1) == "X" {
            index += 2
            var digits = ""
            while let d = peek(), d.isHexDigit { digits.append(d); index += 1 }
            let unsigned = consumeUnsignedSuffix()
            guard let value = UInt64(digits, radix: 16) else { throw CELSyntaxError(message: "invalid int literal", offset: start) }
            if unsigned { return .literal(.uint(value)) }
            guard value <= UInt64(Int64.max) else { throw CELSyntaxError(message: "invalid int literal", offset: start) }
            return .literal(.int(Int64(value)))
        }
        var text = ""
        var isDouble = false
        while let d = peek(), d.isNumber { text.append(d); index += 1 }
        if peek() == ".", peek(1)?.isNumber == true {
            isDouble = true
            text.append("."); index += 1
            while let d = peek(), d.isNumber { text.append(d); index += 1 }
        }
        if let e = peek(), e == "e" || e == "E" {
            isDouble = true
            text.append("e"); index += 1
            if let s = peek(), s == "+" || s == "-" { text.append(s); index += 1 }
            while let d = peek(), d.isNumber { text.append(d); index += 1 }
        }
        if isDouble {
            guard let value = Double(text) else { throw CELSyntaxError(message: "invalid double literal", offset: start) }
            return .literal(.double(value))
        }
        if consumeUnsignedSuffix() {
            guard let value = UInt64(text) else { throw CELSyntaxError(message: "invalid uint literal", offset: start) }
            return .literal(.uint(value))
        }
        // The magnitude of Int64.min is one more than Int64.max: the parser negates it.
        guard let value = UInt64(text), value <= UInt64(Int64.max) + 1 else {
            throw CELSyntaxError(message: "invalid int literal", offset: start)
        }
        return value == UInt64(Int64.max) + 1 ? .literal(.uint(value)) : .literal(.int(Int64(value)))
    }

    private mutating func consumeUnsignedSuffix() -> Bool {
        guard let u = peek(), u == "u" || u == "U" else { return false }
        index += 1
        return true
    }

    private mutating func quoted(raw: Bool) throws(CELSyntaxError) -> String {
        let start = index
        let quote = chars[index]
        let triple = peek(1) == quote && peek(2) == quote
        index += triple ? 3 : 1
        var out = ""
        while true {
            guard let c = peek() else { throw CELSyntaxError(message: "unterminated string", offset: start) }
            if c == quote, !triple || (peek(1) == quote && peek(2) == quote) {
                index += triple ? 3 : 1
                return out
            }
            if c == "\n", !triple { throw CELSyntaxError(message: "unterminated string", offset: start) }
            index += 1
            if c == "\\", !raw { out.append(try escape()) } else { out.append(c) }
        }
    }

    private mutating func escape() throws(CELSyntaxError) -> Character {
        guard let e = peek() else { throw CELSyntaxError(message: "unterminated escape", offset: index) }
        index += 1
        switch e {
        case "n": return "\n"
        case "t": return "\t"
        case "r": return "\r"
        case "a": return "\u{07}"
        case "b": return "\u{08}"
        case "f": return "\u{0C}"
        case "v": return "\u{0B}"
        case "\\", "\"", "'", "`", "?": return e
        case "x", "X", "u", "U":
            let count = e == "u" ? 4 : e == "U" ? 8 : 2
            var digits = ""
            for _ in 0..<count {
                guard let d = peek(), d.isHexDigit else { throw CELSyntaxError(message: "invalid escape", offset: index) }
                digits.append(d); index += 1
            }
            guard let scalar = UInt32(digits, radix: 16).flatMap(Unicode.Scalar.init) else {
                throw CELSyntaxError(message: "invalid escape", offset: index)
            }
            return Character(scalar)
        default:
            if e.isNumber {
                var digits = String(e)
                for _ in 0..<2 {
                    guard let d = peek(), d.isNumber else { throw CELSyntaxError(message: "invalid escape", offset: index) }
                    digits.append(d); index += 1
                }
                guard let scalar = UInt32(digits, radix: 8).flatMap(Unicode.Scalar.init) else {
                    throw CELSyntaxError(message: "invalid escape", offset: index)
                }
                return Character(scalar)
            }
            throw CELSyntaxError(message: "invalid escape sequence \\\(e)", offset: index)
        }
    }
}
