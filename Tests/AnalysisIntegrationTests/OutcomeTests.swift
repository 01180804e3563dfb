import Foundation
import PrometheusClient
import SluiceController
import SluiceCore
import SluiceModel
import SluiceTestKit
import Testing

/// Every real Prometheus answer in the shared fixtures, through decoding, the runner's outcome
/// and a success-rate metric's verdict (success at >= 0.99, failure below 0.95, no data inconclusive).
@Suite struct OutcomeTests {
    static let metric = AnalysisMetric.successRate().with {
        $0.successCondition = "result >= 0.99"
        $0.failureCondition = "result < 0.95"
        $0.noData = .inconclusive
    }

    static let expected: [(file: String, code: Int, verdict: MeasurementVerdict, detail: String)] = [
        ("vector_one_sample_success_rate.json", 200, .inconclusive, "0.95"),
        ("post_form_vector.json", 200, .inconclusive, "0.95"),
        ("flagger_request_success_rate_percent.json", 200, .successful, "95"),
        ("vector_one_sample_p99.json", 200, .successful, "359.9999999999992"),
        ("scalar.json", 200, .successful, "20.013112038922053"),
        ("vector_empty.json", 200, .inconclusive, "[]"),
        ("vector_nan_zero_traffic.json", 200, .inconclusive, "NaN"),
        ("vector_nan_p99_zero_traffic.json", 200, .inconclusive, "NaN"),
        ("scalar_nan.json", 200, .inconclusive, "NaN"),
        ("vector_plus_inf.json", 200, .successful, "+Inf"),
        // Several samples: `result` is a list, which `result >= 0.99` cannot compare.
        ("vector_multi_by_response_code.json", 200, .error, "[19, 1]"),
        ("vector_raw_series.json", 200, .error, "["),
        ("matrix_query_range.json", 200, .error, "range vector"),
        ("string.json", 200, .error, "returns a string"),
        ("error_bad_query_400.json", 400, .error, "bad_data"),
        ("error_bad_param_timeout_400.json", 400, .error, "bad_data"),
        ("error_execution_422.json", 422, .error, "could not execute"),
        ("error_timeout_503.json", 503, .error, "timed out"),
    ]

    @Test func everyFixtureIsListed() throws {
        let files = try FileManager.default.contentsOfDirectory(atPath: RepositoryFiles.sharedFixtures.appendingPathComponent("prometheus").path)
            .filter { $0.hasSuffix(".json") }
        #expect(Set(files) == Set(Self.expected.map(\.file)))
    }

    @Test(arguments: expected.map(\.file))
    func fixtureMeasurement(file: String) throws {
        let row = try #require(Self.expected.first { $0.file == file })
        let body = try Data(contentsOf: RepositoryFiles.sharedFixtures.appendingPathComponent("prometheus/\(file)"))
        let outcome = MeasurementRunner.outcome(QueryResultDecoder.decode(code: row.code, body: body))
        let result = MeasurementResult(analysis: "a", metric: "m", revision: "r", measuredAt: KubeTime(secondsSince1970: 0),
                                       outcome: outcome, query: "q")
        let measurement = result.judged(by: Self.metric)
        #expect(measurement.verdict == row.verdict, "\(measurement.value ?? "-") \(measurement.message ?? "")")
        let text = (measurement.value ?? "") + " " + (measurement.message ?? "")
        #expect(text.contains(row.detail), "\(text)")
    }
}
