import Foundation
import SluiceModel
import Testing

@Suite struct KubeTimeTests {
    @Test(arguments: [
        ("2026-11-27T18:55:08Z", 1_795_805_708.0, "2026-11-27T18:55:08Z"),
        ("1970-01-01T00:00:00Z", 0.0, "1970-01-01T00:00:00Z"),
        ("2024-02-29T23:59:59Z", 1_709_251_199.0, "2024-02-29T23:59:59Z"),
        ("2026-11-27T20:55:08+02:00", 1_795_805_708.0, "2026-11-27T18:55:08Z"),
        ("2026-11-27T13:25:08-05:30", 1_795_805_708.0, "2026-11-27T18:55:08Z"),
    ])
    func parsesAndFormatsTime(text: String, seconds: Double, formatted: String) throws {
        let time = try #require(KubeTime(rfc3339: text))
        #expect(time.secondsSince1970 == seconds)
        #expect(time.formatted == formatted)
        #expect(time.precision == .seconds)
    }

    @Test func microTimeKeepsMicroseconds() throws {
        let time = try #require(KubeTime(rfc3339: "2026-11-27T18:55:08.123456Z"))
        #expect(time.precision == .microseconds)
        #expect(abs(time.secondsSince1970 - 1_795_805_708.123456) < 1e-6)
        #expect(time.formatted == "2026-11-27T18:55:08.123456Z")
        // Nanosecond input (as some clients send) is read and written back at microseconds.
        let nanos = try #require(KubeTime(rfc3339: "2026-11-27T18:55:08.123456789Z"))
        #expect(nanos.formatted == "2026-11-27T18:55:08.123457Z")
        let short = try #require(KubeTime(rfc3339: "2026-11-27T18:55:08.5Z"))
        #expect(short.formatted == "2026-11-27T18:55:08.500000Z")
    }

    @Test(arguments: ["", "2026-11-27", "2026-11-27T18:55:08", "2026-13-01T00:00:00Z", "2026-11-27T25:00:00Z",
                      "2026-11-27T18:55:08.Z", "2026-11-27T18:55:08Zjunk", "2026/11/27T18:55:08Z", "x026-11-27T18:55:08Z"])
    func rejectsMalformedTime(text: String) {
        #expect(KubeTime(rfc3339: text) == nil)
    }

    @Test func decodesInJSONWithPathInError() throws {
        struct Holder: Codable { var at: KubeTime }
        let holder = try JSONDecoder().decode(Holder.self, from: Data(#"{"at":"2026-11-27T18:55:08.000001Z"}"#.utf8))
        #expect(holder.at.precision == .microseconds)
        let encoded = String(decoding: try JSONEncoder().encode(holder), as: UTF8.self)
        #expect(encoded == #"{"at":"2026-11-27T18:55:08.000001Z"}"#)
        #expect(throws: DecodingError.self) {
            try JSONDecoder().decode(Holder.self, from: Data(#"{"at":"yesterday"}"#.utf8))
        }
    }

    @Test func formatsDatesBeforeTheEpoch() throws {
        let time = KubeTime(secondsSince1970: -1)
        #expect(time.formatted == "1969-12-31T23:59:59Z")
        #expect(KubeTime(rfc3339: time.formatted) == time)
    }
}

@Suite struct DurationStringTests {
    @Test(arguments: [("30s", 30.0), ("2m", 120.0), ("1h30m", 5400.0), ("500ms", 0.5), ("1.5s", 1.5), ("1h", 3600.0),
                      ("0s", 0.0), ("1m30s500ms", 90.5)])
    func parses(text: String, seconds: Double) {
        #expect(DurationString(text).seconds == seconds)
    }

    @Test(arguments: ["", "30", "two minutes", "1d", "-5s", "30s1m", "1m1m", "m", "1.s5"])
    func rejects(text: String) {
        #expect(DurationString(text).seconds == nil)
    }
}
