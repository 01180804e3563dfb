import Foundation

/// What an instant query returned, as Prometheus's HTTP API encodes it.
public enum QueryResult: Sendable, Equatable {
    /// One sample per series; empty when nothing matched.
    case vector([Sample])
    case scalar(Double, at: Double)
    /// Several samples per series (range queries).
    case matrix([Series])
    case string(String, at: Double)

    public struct Sample: Sendable, Equatable {
        public var labels: [String: String]
        public var value: Double
        public var at: Double

        public init(labels: [String: String], value: Double, at: Double) {
            self.labels = labels
            self.value = value
            self.at = at
        }

        public static func == (a: Sample, b: Sample) -> Bool {
            a.labels == b.labels && a.at == b.at && (a.value == b.value || (a.value.isNaN && b.value.isNaN))
        }
    }

    public struct Series: Sendable, Equatable {
        public var labels: [String: String]
        public var values: [(at: Double, value: Double)]

        public static func == (a: Series, b: Series) -> Bool {
            a.labels == b.labels && a.values.count == b.values.count
                && zip(a.values, b.values).allSatisfy { $0.at == $1.at && ($0.value == $1.value || ($0.value.isNaN && $1.value.isNaN)) }
        }
    }

    /// The numbers a condition judges: a scalar's value, or each sample's (empty for no data).
    public var numbers: [Double] {
        switch self {
        case .vector(let samples): samples.map(\.value)
        case .scalar(let value, _): [value]
        case .matrix(let series): series.compactMap { $0.values.last?.value }
        case .string: []
        }
    }
}

/// Everything a query can end in besides a result. Each case says which thing happened; none
/// of them is a measurement.
public enum PrometheusError: Error, Sendable, Equatable, CustomStringConvertible {
    /// HTTP 400, `bad_data`: the query does not parse or a parameter is wrong.
    case badQuery(String)
    /// HTTP 422, `execution`: the query could not be executed.
    case execution(String)
    /// HTTP 503, `timeout` or `canceled`: Prometheus gave up.
    case serverTimeout(String)
    /// The request did not finish within the client's timeout.
    case clientTimeout(seconds: Double)
    /// Prometheus could not be reached.
    case unreachable(String)
    /// Another `error` answer, with its type.
    case server(type: String, message: String, code: Int)
    /// An answer that is not Prometheus's JSON, or a result type the caller cannot judge.
    case malformed(String)
    /// The address is not one the controller allows; no request was sent.
    case notAllowed(String)

    public var label: String {
        switch self {
        case .badQuery: "bad_query"
        case .execution: "execution"
        case .serverTimeout: "server_timeout"
        case .clientTimeout: "client_timeout"
        case .unreachable: "unreachable"
        case .server: "server_error"
        case .malformed: "malformed"
        case .notAllowed: "not_allowed"
        }
    }

    public var description: String {
        switch self {
        case .badQuery(let m): "Prometheus rejected the query (bad_data): \(m)"
        case .execution(let m): "Prometheus could not execute the query: \(m)"
        case .serverTimeout(let m): "Prometheus timed out: \(m)"
        case .clientTimeout(let s): "no answer within \(s)s"
        case .unreachable(let m): "Prometheus is unreachable: \(m)"
        case .server(let type, let message, let code): "Prometheus answered \(code) \(type): \(message)"
        case .malformed(let m): "not a Prometheus answer: \(m)"
        case .notAllowed(let a): "\(a) is not an allowed Prometheus address"
        }
    }
}

/// Decodes Prometheus HTTP API answers.
public enum QueryResultDecoder {
    /// The result of an answer with this HTTP status code and body, or the error it carries.
    public static func decode(code: Int, body: Data) -> Result<QueryResult, PrometheusError> {
        guard let object = try? JSONSerialization.jsonObject(with: body, options: [.fragmentsAllowed]) as? [String: Any] else {
            let text = String(decoding: body.prefix(200), as: UTF8.self)
            return .failure(code >= 500 ? .server(type: "http", message: text, code: code) : .malformed("HTTP \(code): \(text)"))
        }
        if object["status"] as? String == "error" {
            let type = object["errorType"] as? String ?? ""
            let message = object["error"] as? String ?? ""
            switch (code, type) {
            case (400, _), (_, "bad_data"): return .failure(.badQuery(message))
            case (422, _), (_, "execution"): return .failure(.execution(message))
            case (503, _), (_, "timeout"), (_, "canceled"): return .failure(.serverTimeout(message))
            default: return .failure(.server(type: type, message: message, code: code))
            }
        }
        guard object["status"] as? String == "success", let data = object["data"] as? [String: Any],
              let type = data["resultType"] as? String else {
            return .failure(.malformed("no status and data"))
        }
        let result = data["result"]
        switch type {
        case "vector":
            guard let items = result as? [[String: Any]] else { return .failure(.malformed("a vector result is not a list")) }
            var samples: [QueryResult.Sample] = []
            for item in items {
                guard let pair = item["value"] as? [Any], let (at, value) = point(pair) else { return .failure(.malformed("a vector sample has no value")) }
                samples.append(.init(labels: item["metric"] as? [String: String] ?? [:], value: value, at: at))
            }
            return .success(.vector(samples))
        case "scalar":
            guard let pair = result as? [Any], let (at, value) = point(pair) else { return .failure(.malformed("a scalar result is not [time, value]")) }
            return .success(.scalar(value, at: at))
        case "matrix":
            guard let items = result as? [[String: Any]] else { return .failure(.malformed("a matrix result is not a list")) }
            var series: [QueryResult.Series] = []
            for item in items {
                let values = (item["values"] as? [[Any]] ?? []).compactMap(point)
                series.append(.init(labels: item["metric"] as? [String: String] ?? [:], values: values))
            }
            return .success(.matrix(series))
        case "string":
            guard let pair = result as? [Any], pair.count == 2, let at = number(pair[0]), let text = pair[1] as? String else {
                return .failure(.malformed("a string result is not [time, text]"))
            }
            return .success(.string(text, at: at))
        default:
            return .failure(.malformed("unknown result type \(type)"))
        }
    }

    /// `[time, "value"]`: values are strings so that NaN and ±Inf survive JSON.
    static func point(_ pair: [Any]) -> (Double, Double)? {
        guard pair.count == 2, let at = number(pair[0]), let text = pair[1] as? String else { return nil }
        switch text {
        case "NaN": return (at, .nan)
        case "+Inf", "Inf": return (at, .infinity)
        case "-Inf": return (at, -.infinity)
        default: return Double(text).map { (at, $0) }
        }
    }

    static func number(_ any: Any) -> Double? {
        if let d = any as? Double { return d }
        if let i = any as? Int { return Double(i) }
        if let n = any as? NSNumber { return n.doubleValue }
        return nil
    }
}
