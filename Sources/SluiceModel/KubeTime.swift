import Foundation

/// A Kubernetes timestamp. Encoded as RFC 3339 in UTC: whole seconds for `Time`
/// (`2026-11-27T18:55:08Z`), microseconds for `MicroTime` (`2026-11-27T18:55:08.123456Z`).
/// Decoding accepts any fraction length and a numeric zone offset.
public struct KubeTime: Sendable, Hashable, Comparable, Codable, CustomStringConvertible {
    /// Seconds since 1970-01-01T00:00:00Z.
    public var secondsSince1970: Double
    public var precision: Precision

    public enum Precision: Sendable, Hashable {
        case seconds, microseconds
    }

    public init(secondsSince1970: Double, precision: Precision = .seconds) {
        self.secondsSince1970 = secondsSince1970
        self.precision = precision
    }

    public init(_ date: Date, precision: Precision = .seconds) {
        self.init(secondsSince1970: date.timeIntervalSince1970, precision: precision)
    }

    public var date: Date { Date(timeIntervalSince1970: secondsSince1970) }

    public static func < (a: KubeTime, b: KubeTime) -> Bool { a.secondsSince1970 < b.secondsSince1970 }
    public static func == (a: KubeTime, b: KubeTime) -> Bool { a.secondsSince1970 == b.secondsSince1970 }
    public func hash(into h: inout Hasher) { h.combine(secondsSince1970) }

    public func adding(seconds: Double) -> KubeTime {
        KubeTime(secondsSince1970: secondsSince1970 + seconds, precision: precision)
    }

    public var description: String { formatted }

    public init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        let text = try c.decode(String.self)
        guard let parsed = KubeTime(rfc3339: text) else {
            throw DecodingError.dataCorruptedError(
                in: c, debugDescription: "'\(text)' is not an RFC 3339 time; write it like 2026-11-27T18:55:08Z")
        }
        self = parsed
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(formatted)
    }
}

extension KubeTime {
    /// Parses `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)`.
    public init?(rfc3339 text: String) {
        let b = Array(text.utf8)
        func digits(_ from: Int, _ count: Int) -> Int? {
            guard from + count <= b.count else { return nil }
            var v = 0
            for i in from..<(from + count) {
                guard b[i] >= 48, b[i] <= 57 else { return nil }
                v = v * 10 + Int(b[i] - 48)
            }
            return v
        }
        func byte(_ i: Int, _ ch: Character) -> Bool { i < b.count && b[i] == ch.asciiValue! }
        guard let year = digits(0, 4), byte(4, "-"), let month = digits(5, 2), byte(7, "-"),
            let day = digits(8, 2), byte(10, "T") || byte(10, "t") || byte(10, " "),
            let hour = digits(11, 2), byte(13, ":"), let minute = digits(14, 2), byte(16, ":"),
            let second = digits(17, 2),
            (1...12).contains(month), (1...31).contains(day), hour < 24, minute < 60, second < 61
        else { return nil }
        var i = 19
        var fraction = 0.0
        var hasFraction = false
        if byte(i, ".") {
            i += 1
            var scale = 0.1
            let start = i
            while i < b.count, b[i] >= 48, b[i] <= 57 {
                fraction += Double(b[i] - 48) * scale
                scale /= 10
                i += 1
            }
            guard i > start else { return nil }
            hasFraction = true
        }
        var offset = 0
        if byte(i, "Z") || byte(i, "z") {
            i += 1
        } else if byte(i, "+") || byte(i, "-") {
            let sign = byte(i, "-") ? -1 : 1
            guard let oh = digits(i + 1, 2), byte(i + 3, ":"), let om = digits(i + 4, 2) else { return nil }
            offset = sign * (oh * 3600 + om * 60)
            i += 6
        } else {
            return nil
        }
        guard i == b.count else { return nil }
        let days = KubeTime.daysFromCivil(year: year, month: month, day: day)
        let seconds = Double(days * 86400 + hour * 3600 + minute * 60 + second - offset) + fraction
        self.init(secondsSince1970: seconds, precision: hasFraction ? .microseconds : .seconds)
    }

    /// The RFC 3339 form, in UTC, at this time's precision.
    public var formatted: String {
        let whole = Int(secondsSince1970.rounded(.down))
        var days = whole / 86400
        var rest = whole % 86400
        if rest < 0 { rest += 86400; days -= 1 }
        let (y, m, d) = KubeTime.civilFromDays(days)
        let base = String(
            format: "%04d-%02d-%02dT%02d:%02d:%02d", y, m, d, rest / 3600, (rest % 3600) / 60, rest % 60)
        switch precision {
        case .seconds:
            return base + "Z"
        case .microseconds:
            let micros = min(999_999, Int(((secondsSince1970 - Double(whole)) * 1_000_000).rounded()))
            return base + String(format: ".%06dZ", micros)
        }
    }

    // Howard Hinnant's days_from_civil / civil_from_days.
    static func daysFromCivil(year: Int, month: Int, day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let mp = (month + 9) % 12
        let doy = (153 * mp + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146097 + doe - 719468
    }

    static func civilFromDays(_ z0: Int) -> (Int, Int, Int) {
        let z = z0 + 719468
        let era = (z >= 0 ? z : z - 146096) / 146097
        let doe = z - era * 146097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        return (yoe + era * 400 + (m <= 2 ? 1 : 0), m, d)
    }
}
