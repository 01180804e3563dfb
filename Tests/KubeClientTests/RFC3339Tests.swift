import Foundation
@testable import KubeClient
import Testing

@Suite struct RFC3339Tests {
    @Test func formatsTimeAndMicroTimeAndReadsAnyFraction() throws {
        let date = Date(timeIntervalSince1970: 1_764_237_600.25)
        #expect(RFC3339.format(date) == "2025-11-27T10:00:00Z")
        #expect(RFC3339.format(date, microseconds: true) == "2025-11-27T10:00:00.250000Z")
        for text in ["2025-11-27T10:00:00.250000Z", "2025-11-27T10:00:00.25Z", "2025-11-27T10:00:00.250000123Z", "2025-11-27T12:00:00.25+02:00"] {
            let parsed = try #require(RFC3339.parse(text), "\(text)")
            #expect(abs(parsed.timeIntervalSince1970 - 1_764_237_600.25) < 0.001, "\(text)")
        }
        #expect(RFC3339.parse("2025-11-27T10:00:00Z")?.timeIntervalSince1970 == 1_764_237_600)
        #expect(RFC3339.parse("yesterday") == nil)
    }
}
