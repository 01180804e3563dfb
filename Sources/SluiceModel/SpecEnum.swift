/// An enum written by users in a spec. Decoding an unknown value fails with a message that
/// lists the allowed ones, and the manifest decoder turns that into a problem at the field.
public protocol SpecEnum: RawRepresentable<String>, CaseIterable, Codable, Sendable, Hashable {}

extension SpecEnum {
    public init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        let raw = try c.decode(String.self)
        guard let value = Self(rawValue: raw) else {
            let allowed = Self.allCases.map(\.rawValue).joined(separator: ", ")
            throw DecodingError.dataCorruptedError(in: c, debugDescription: "'\(raw)' is not one of \(allowed)")
        }
        self = value
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(rawValue)
    }
}

/// A duration as users write it (`30s`, `2m`, `1h30m`, `500ms`). Decoding keeps the text;
/// validation reports text that is not a duration, with the field's path.
public struct DurationString: Codable, Sendable, Hashable, ExpressibleByStringLiteral, CustomStringConvertible {
    public var text: String

    public init(_ text: String) { self.text = text }
    public init(stringLiteral value: String) { self.text = value }

    public init(from decoder: Decoder) throws {
        text = try decoder.singleValueContainer().decode(String.self)
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(text)
    }

    public var description: String { text }

    /// Seconds, or nil when the text is not a duration. Units: ms, s, m, h; several may follow
    /// each other from the largest down (`1h30m`). Negative and empty durations are not durations.
    public var seconds: Double? {
        let units: [(String, Double)] = [("ms", 0.001), ("h", 3600), ("m", 60), ("s", 1)]
        var rest = Substring(text)
        var total = 0.0
        var lastScale = Double.infinity
        guard !rest.isEmpty else { return nil }
        while !rest.isEmpty {
            let number = rest.prefix { $0.isASCII && ($0.isNumber || $0 == ".") }
            guard !number.isEmpty, let value = Double(number) else { return nil }
            rest = rest.dropFirst(number.count)
            guard let (unit, scale) = units.first(where: { rest.hasPrefix($0.0) }), scale < lastScale else {
                return nil
            }
            rest = rest.dropFirst(unit.count)
            lastScale = scale
            total += value * scale
        }
        return total
    }
}
