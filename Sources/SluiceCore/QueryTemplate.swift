/// A query with `{{variable}}` placeholders: `{{args.NAME}}`, `{{namespace}}`, `{{rollout}}`,
/// `{{interval}}`, `{{window}}`, `{{stable}}`, `{{canary}}`. Parsing finds every placeholder
/// and rejects unknown ones, so a typo is an invalid spec before any traffic moves.
public struct QueryTemplate: Sendable, Hashable {
    public enum Part: Sendable, Hashable {
        case text(String)
        case variable(Variable)
    }

    public enum Variable: Sendable, Hashable, CustomStringConvertible {
        case arg(String)
        case namespace, rollout, interval, window, stable, canary

        static let plain: [String: Variable] = [
            "namespace": .namespace, "rollout": .rollout, "interval": .interval, "window": .window,
            "stable": .stable, "canary": .canary,
        ]

        public var description: String {
            switch self {
            case .arg(let name): "args.\(name)"
            case .namespace: "namespace"
            case .rollout: "rollout"
            case .interval: "interval"
            case .window: "window"
            case .stable: "stable"
            case .canary: "canary"
            }
        }
    }

    public struct ParseError: Error, Sendable, Hashable, CustomStringConvertible {
        /// 1-based character offset of the placeholder.
        public var offset: Int
        public var message: String
        public var description: String { "at character \(offset): \(message)" }
    }

    public let parts: [Part]

    public init(_ text: String) throws(ParseError) {
        var parts: [Part] = []
        var rest = Substring(text)
        while let open = rest.range(of: "{{") {
            let offset = text.distance(from: text.startIndex, to: open.lowerBound) + 1
            if open.lowerBound > rest.startIndex { parts.append(.text(String(rest[..<open.lowerBound]))) }
            guard let close = rest[open.upperBound...].range(of: "}}") else {
                throw ParseError(offset: offset, message: "'{{' is never closed with '}}'")
            }
            let name = rest[open.upperBound..<close.lowerBound].trimmingSpaces()
            parts.append(.variable(try QueryTemplate.variable(name, offset: offset)))
            rest = rest[close.upperBound...]
        }
        if !rest.isEmpty { parts.append(.text(String(rest))) }
        self.parts = parts
    }

    private static func variable(_ name: String, offset: Int) throws(ParseError) -> Variable {
        if let plain = Variable.plain[name] { return plain }
        if name.hasPrefix("args.") {
            let arg = String(name.dropFirst(5))
            if !arg.isEmpty, arg.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" }) {
                return .arg(arg)
            }
        }
        throw ParseError(
            offset: offset,
            message: "unknown variable '{{\(name)}}'; use {{args.NAME}}, {{namespace}}, {{rollout}}, {{interval}}, {{window}}, {{stable}} or {{canary}}")
    }

    public var variables: [Variable] {
        parts.compactMap { if case .variable(let v) = $0 { v } else { nil } }
    }

    /// The query with every placeholder replaced. Returns nil for a variable `value` has no value for.
    public func render(_ value: (Variable) -> String?) -> String? {
        var out = ""
        for part in parts {
            switch part {
            case .text(let t): out += t
            case .variable(let v):
                guard let s = value(v) else { return nil }
                out += s
            }
        }
        return out
    }
}
