import Foundation
import KubeClient
import Testing

@Suite struct StatusTests {
    static func body(_ code: Int, _ reason: String, causes: String = "") -> Data {
        Data(#"{"kind":"Status","apiVersion":"v1","status":"Failure","message":"m","reason":"\#(reason)","code":\#(code)\#(causes)}"#.utf8)
    }

    @Test(arguments: [
        (404, "NotFound", "not_found"), (409, "AlreadyExists", "already_exists"), (409, "Conflict", "conflict"),
        (410, "Expired", "gone"), (422, "Invalid", "invalid"), (401, "Unauthorized", "unauthorized"), (403, "Forbidden", "forbidden"),
        (415, "UnsupportedMediaType", "unsupported_media_type"), (429, "TooManyRequests", "throttled"), (504, "Timeout", "timeout"),
        (500, "InternalError", "server_error"), (400, "BadRequest", "bad_request"),
    ])
    func mapsEveryCase(code: Int, reason: String, label: String) {
        let error = KubeClientError.from(code: code, body: StatusTests.body(code, reason))
        #expect(error.label == label)
        #expect(error.status?.reason == reason)
        #expect(error.status?.code == code)
    }

    @Test func invalidCarriesItsCauses() {
        let causes = #","details":{"name":"checkout","kind":"Rollout","causes":[{"reason":"FieldValueInvalid","message":"Invalid value: 140","field":"spec.strategy.canary.steps[0].setWeight"}]}"#
        let error = KubeClientError.from(code: 422, body: StatusTests.body(422, "Invalid", causes: causes))
        guard case .invalid(let status) = error else { Issue.record("\(error)"); return }
        #expect(status.details?.causes?.first?.field == "spec.strategy.canary.steps[0].setWeight")
        #expect(status.details?.kind == "Rollout")
    }

    @Test func throttledReadsRetryAfter() {
        #expect(KubeClientError.from(code: 429, body: StatusTests.body(429, "TooManyRequests"), retryAfter: "3")
            == .throttled(Status(code: 429, reason: "TooManyRequests", message: "m").with(status: "Failure"), retryAfter: 3))
        let details = #","details":{"retryAfterSeconds":7}"#
        guard case .throttled(_, let after) = KubeClientError.from(code: 429, body: StatusTests.body(429, "TooManyRequests", causes: details)) else {
            Issue.record("not throttled"); return
        }
        #expect(after == 7)
    }

    @Test func aBodyThatIsNotAStatusStillGivesTheCode() {
        let error = KubeClientError.from(code: 502, body: Data("<html>bad gateway</html>".utf8))
        #expect(error.label == "server_error")
        #expect(error.status?.code == 502)
        #expect(error.status?.message == "<html>bad gateway</html>")
    }
}

extension Status {
    func with(status: String) -> Status {
        var copy = self
        copy.status = status
        return copy
    }
}
