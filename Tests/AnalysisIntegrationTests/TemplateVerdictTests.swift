import Foundation
import PrometheusClient
import PrometheusTestKit
import SluiceController
import SluiceCore
import SluiceModel
import SluiceTestKit
import Testing

/// Every ready template in `analysis-templates/`, run against a real Prometheus holding Istio's
/// metrics for a stable and a canary whose traffic each case sets.
@Suite(.enabled(if: PrometheusServer.skipReason == nil, "needs the prometheus binary"))
struct TemplateVerdictTests {
    struct Case: Sendable, CustomTestStringConvertible {
        var name: String
        var canary: WorkloadTraffic?
        var stable: WorkloadTraffic = Case.stableTraffic
        var expected: [String: MeasurementVerdict]
        var testDescription: String { name }

        // p99 150 ms, p95 about 24 ms, 0.2% errors.
        static let stableTraffic = WorkloadTraffic(
            workload: Analysis.stable, service: "checkout", requestsPerSecond: 20, errorRatio: 0.002,
            latency: [.init(share: 0.985, milliseconds: 20), .init(share: 0.015, milliseconds: 120)])

        static func canary(errors: Double = 0.002, latency: [WorkloadTraffic.Latency] = stableTraffic.latency) -> WorkloadTraffic {
            WorkloadTraffic(workload: Analysis.canary, service: "checkout", requestsPerSecond: 10, errorRatio: errors, latency: latency)
        }

        static let allPass: [String: MeasurementVerdict] = [
            "success-rate": .successful, "latency-p99": .successful, "latency-p95": .successful,
            "request-volume": .successful, "burn-rate": .successful,
            "error-rate-vs-stable": .successful, "latency-p99-vs-stable": .successful,
        ]

        static func expecting(_ changes: [String: MeasurementVerdict]) -> [String: MeasurementVerdict] {
            allPass.merging(changes) { _, new in new }
        }
    }

    static let cases: [Case] = [
        Case(name: "a healthy canary", canary: Case.canary(), expected: Case.allPass),
        // 10% 5xx: below the 95% success rate, a burn of 100, 9.8 points worse than stable.
        Case(name: "5xx above the SLO", canary: Case.canary(errors: 0.10),
             expected: Case.expecting(["success-rate": .failed, "burn-rate": .failed, "error-rate-vs-stable": .failed])),
        // Nothing but 5xx: a 0% success rate, not "no data".
        Case(name: "every answer a 5xx", canary: Case.canary(errors: 1),
             expected: Case.expecting(["success-rate": .failed, "burn-rate": .failed, "error-rate-vs-stable": .failed])),
        // 3% of requests at 800 ms: p99 about 833 ms; p95 still in the 25 ms bucket.
        Case(name: "p99 above the SLO",
             canary: Case.canary(latency: [.init(share: 0.97, milliseconds: 20), .init(share: 0.03, milliseconds: 800)]),
             expected: Case.expecting(["latency-p99": .failed, "latency-p99-vs-stable": .failed])),
        // 8% of requests at 400 ms: p95 in the 500 ms bucket, p99 about 469 ms (within 500).
        Case(name: "p95 above the SLO",
             canary: Case.canary(latency: [.init(share: 0.92, milliseconds: 20), .init(share: 0.08, milliseconds: 400)]),
             expected: Case.expecting(["latency-p95": .failed, "latency-p99-vs-stable": .failed])),
        Case(name: "no traffic to the canary", canary: nil,
             expected: ["success-rate": .inconclusive, "latency-p99": .inconclusive, "latency-p95": .inconclusive,
                        "request-volume": .failed, "burn-rate": .inconclusive,
                        "error-rate-vs-stable": .inconclusive, "latency-p99-vs-stable": .inconclusive]),
        // 3% 5xx and a p99 of about 333 ms: inside the absolute SLOs' hold band and latency
        // limit, but 2.8 points and 2.2 times worse than the stable.
        Case(name: "worse than the stable",
             canary: Case.canary(errors: 0.03, latency: [.init(share: 0.985, milliseconds: 20), .init(share: 0.015, milliseconds: 400)]),
             expected: Case.expecting(["success-rate": .inconclusive, "burn-rate": .failed,
                                       "error-rate-vs-stable": .failed, "latency-p99-vs-stable": .failed])),
        // 1.1% 5xx: a burn of 11, under 14.4, yet 0.9 points worse than stable (within 1).
        Case(name: "burn rate under the threshold", canary: Case.canary(errors: 0.011),
             expected: Case.expecting(["success-rate": .inconclusive])),
        // 2% 5xx throughout: a burn of 20 in both windows.
        Case(name: "burn rate above the threshold", canary: Case.canary(errors: 0.02),
             expected: Case.expecting(["success-rate": .inconclusive, "burn-rate": .failed, "error-rate-vs-stable": .failed])),
        // No errors, then 5% in the last 4 minutes: the short window burns at 50, the long one at
        // about 3.3, so the multiwindow rule does not fail it; the 2-minute window rules do.
        Case(name: "a burst only the short window sees",
             canary: Case.canary(errors: 0).errorRatio(0.05, from: Date(timeIntervalSince1970: 0)),
             expected: Case.expecting(["success-rate": .inconclusive, "error-rate-vs-stable": .failed])),
    ]

    @Test(arguments: cases)
    func templateVerdict(_ testCase: Case) async throws {
        let now = roundedNow()
        var traffic = [testCase.stable]
        if var canary = testCase.canary {
            if canary.errorRatioChange != nil { canary.errorRatioChange!.at = now.addingTimeInterval(-240) }
            traffic.append(canary)
        }
        let templates = try RepositoryFiles.readyTemplates()
        #expect(templates.count == 6)
        try await Analysis.withPrometheus(traffic, now: now) { prometheus, querier in
            let runner = Analysis.runner(prometheus, querier: querier)
            var seen: [String: MeasurementVerdict] = [:]
            for template in templates {
                for target in Analysis.targets(template) {
                    let result = await runner.measure(target, at: now)
                    let measurement = result.judged(by: target.metric.definition)
                    seen[target.metric.name] = measurement.verdict
                    #expect(measurement.verdict == testCase.expected[target.metric.name],
                            "\(target.metric.name): \(measurement.value ?? "no value") \(measurement.message ?? "")")
                    #expect(!result.query.contains("{{"), "every variable is filled in: \(result.query)")
                }
            }
            #expect(Set(seen.keys) == Set(testCase.expected.keys), "every metric of every ready template has an expected verdict")
        }
    }
}
