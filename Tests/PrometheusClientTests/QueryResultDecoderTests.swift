import Foundation
import PrometheusClient
import SluiceTestKit
import Testing

/// Every real Prometheus answer in ../shared/fixtures/prometheus decodes to the right value or error.
@Suite struct QueryResultDecoderTests {
    static func decode(_ file: String) throws -> Result<QueryResult, PrometheusError> {
        let index = try RepositoryFiles.fixture("prometheus/INDEX.tsv")
        let row = try #require(index.split(separator: "\n").first { $0.hasPrefix(file + "\t") }, "\(file) not in INDEX.tsv")
        let code = Int(row.split(separator: "\t")[1].split(separator: " ")[0])!
        let body = try Data(contentsOf: RepositoryFiles.sharedFixtures.appendingPathComponent("prometheus/\(file)"))
        return QueryResultDecoder.decode(code: code, body: body)
    }

    @Test func everyFixtureIsCoveredHere() throws {
        let files = try FileManager.default.contentsOfDirectory(atPath: RepositoryFiles.sharedFixtures.appendingPathComponent("prometheus").path)
            .filter { $0.hasSuffix(".json") }
        #expect(Set(files) == Set(QueryResultDecoderTests.expected.keys), "a fixture without an expectation, or the reverse")
    }

    /// The numbers (or error label) each fixture must give.
    static let expected: [String: Expectation] = [
        "vector_one_sample_success_rate.json": .numbers([0.95]),
        "vector_one_sample_p99.json": .count(1),
        "vector_multi_by_response_code.json": .count(2),
        "vector_empty.json": .numbers([]),
        "vector_nan_zero_traffic.json": .nan,
        "vector_nan_p99_zero_traffic.json": .nan,
        "vector_plus_inf.json": .numbers([.infinity]),
        "vector_raw_series.json": .count(2),
        "post_form_vector.json": .count(1),
        "flagger_request_success_rate_percent.json": .count(1),
        "scalar.json": .count(1),
        "scalar_nan.json": .nan,
        "string.json": .text("hello"),
        "matrix_query_range.json": .count(2),
        "error_bad_query_400.json": .error("bad_query"),
        "error_bad_param_timeout_400.json": .error("bad_query"),
        "error_execution_422.json": .error("execution"),
        "error_timeout_503.json": .error("server_timeout"),
    ]

    enum Expectation: Sendable {
        case numbers([Double]), count(Int), nan, text(String), error(String)
    }

    @Test(arguments: expected.keys.sorted())
    func decodes(file: String) throws {
        let result = try QueryResultDecoderTests.decode(file)
        switch (QueryResultDecoderTests.expected[file]!, result) {
        case (.numbers(let n), .success(let r)): #expect(r.numbers == n)
        case (.count(let c), .success(let r)):
            #expect(r.numbers.count == c)
            #expect(r.numbers.allSatisfy { $0.isFinite })
        case (.nan, .success(let r)): #expect(r.numbers.count == 1 && r.numbers[0].isNaN)
        case (.text(let t), .success(.string(let s, _))): #expect(s == t)
        case (.error(let label), .failure(let e)): #expect(e.label == label, "\(e)")
        default: Issue.record("\(file): unexpected \(result)")
        }
    }

    @Test func matrixKeepsEverySampleAndLabels() throws {
        guard case .success(.matrix(let series)) = try QueryResultDecoderTests.decode("matrix_query_range.json") else {
            Issue.record("not a matrix"); return
        }
        #expect(series.map { $0.labels["response_code"] } == ["200", "500"])
        #expect(series[0].values.count == 3)
        #expect(series[1].values.last?.value == 1)
    }

    @Test func answersThatAreNotPrometheusAreMalformedOrServerErrors() {
        #expect(QueryResultDecoder.decode(code: 200, body: Data("<html>".utf8)) == .failure(.malformed("HTTP 200: <html>")))
        #expect(QueryResultDecoder.decode(code: 502, body: Data("bad gateway".utf8)) == .failure(.server(type: "http", message: "bad gateway", code: 502)))
        #expect(QueryResultDecoder.decode(code: 200, body: Data(#"{"status":"success","data":{"resultType":"histogram","result":[]}}"#.utf8))
            == .failure(.malformed("unknown result type histogram")))
    }
}
