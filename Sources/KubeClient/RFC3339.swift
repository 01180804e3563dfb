import Foundation

/// RFC 3339 times as Kubernetes writes them: `Time` in whole seconds, `MicroTime` with
/// microseconds. Parsing accepts any fraction.
enum RFC3339 {
    static func parse(_ text: String) -> Date? {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        if let date = formatter.date(from: text) { return date }
        formatter.formatOptions = [.withInternetDateTime]
        if let date = formatter.date(from: text) { return date }
        // More fraction digits than the formatter reads: keep milliseconds.
        guard let dot = text.firstIndex(of: "."), let zone = text[dot...].firstIndex(where: { $0 == "Z" || $0 == "+" || $0 == "-" }) else {
            return nil
        }
        let fraction = text[text.index(after: dot)..<zone].prefix(3)
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter.date(from: String(text[..<dot]) + "." + fraction + String(text[zone...]))
    }

    static func format(_ date: Date, microseconds: Bool = false) -> String {
        let formatter = ISO8601DateFormatter()
        guard microseconds else {
            formatter.formatOptions = [.withInternetDateTime]
            return formatter.string(from: date)
        }
        formatter.formatOptions = [.withInternetDateTime]
        let whole = formatter.string(from: date).dropLast()  // drop the Z
        let micros = Int((date.timeIntervalSince1970 - date.timeIntervalSince1970.rounded(.down)) * 1_000_000)
        return whole + "." + String(format: "%06d", micros) + "Z"
    }
}
