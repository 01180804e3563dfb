import SluiceModel

/// A metric's success and failure conditions, parsed, and the verdict rules of one measurement:
///
/// - no data (an empty vector, or nothing but NaN): as `noData` says (default inconclusive);
/// - the failure condition true: failed (it wins over the success condition);
/// - the success condition (or `thresholdRange`) true: successful;
/// - with both conditions and neither true: inconclusive;
/// - with only a success condition, not true: failed; with only a failure condition, not true: successful;
/// - a condition that cannot be evaluated on the result: error.
public struct MetricConditions: Sendable, Hashable {
    public var success: ConditionExpression?
    public var failure: ConditionExpression?
    public var thresholdRange: ThresholdRange?
    public var noData: NoDataPolicy

    public init(success: ConditionExpression? = nil, failure: ConditionExpression? = nil,
                thresholdRange: ThresholdRange? = nil, noData: NoDataPolicy = .inconclusive) {
        self.success = success
        self.failure = failure
        self.thresholdRange = thresholdRange
        self.noData = noData
    }

    /// Parses the metric's conditions. Errors name the field (`successCondition` or `failureCondition`).
    public init(metric: AnalysisMetric) throws(MetricConditionsError) {
        func parse(_ text: String?, _ field: String) throws(MetricConditionsError) -> ConditionExpression? {
            guard let text else { return nil }
            do { return try ConditionExpression(text) } catch { throw MetricConditionsError(field: field, error: error) }
        }
        self.init(success: try parse(metric.successCondition, "successCondition"),
                  failure: try parse(metric.failureCondition, "failureCondition"),
                  thresholdRange: metric.thresholdRange, noData: metric.noData ?? .inconclusive)
    }

    public struct Verdict: Sendable, Hashable {
        public var verdict: MeasurementVerdict
        public var message: String

        public init(_ verdict: MeasurementVerdict, _ message: String) {
            self.verdict = verdict
            self.message = message
        }
    }

    public func verdict(for value: MetricValue) -> Verdict {
        if value.isNoData {
            let verdict: MeasurementVerdict = switch noData {
            case .inconclusive: .inconclusive
            case .failure: .failed
            case .success: .successful
            }
            return Verdict(verdict, "no data (\(value)); noData: \(noData.rawValue)")
        }
        do {
            if let failure, try failure.isTrue(result: value) {
                return Verdict(.failed, "\(value): failureCondition \(failure) is true")
            }
            if let passed = try successHolds(value) {
                if passed { return Verdict(.successful, "\(value): \(successText) is true") }
                if let failure {
                    return Verdict(.inconclusive, "\(value): neither \(successText) nor \(failure) is true")
                }
                return Verdict(.failed, "\(value): \(successText) is not true")
            }
            return Verdict(.successful, "\(value): failureCondition \(failure?.source ?? "") is not true")
        } catch {
            return Verdict(.error, "cannot evaluate on \(value): \(error)")
        }
    }

    /// Nil when the metric has no success test (only a failure condition).
    private func successHolds(_ value: MetricValue) throws(ConditionError) -> Bool? {
        if let success { return try success.isTrue(result: value) }
        guard let range = thresholdRange else { return nil }
        guard case .number(let n) = value.conditionValue else {
            throw ConditionError(column: 1, message: "thresholdRange needs a single number, the query returned several samples")
        }
        return (range.min.map { n >= $0 } ?? true) && (range.max.map { n <= $0 } ?? true)
    }

    private var successText: String {
        if let success { return "successCondition \(success)" }
        let min = thresholdRange?.min.map { "\(MetricValue.format($0)) <= " } ?? ""
        let max = thresholdRange?.max.map { " <= \(MetricValue.format($0))" } ?? ""
        return "thresholdRange \(min)result\(max)"
    }
}

public struct MetricConditionsError: Error, Sendable, Hashable, CustomStringConvertible {
    /// `successCondition` or `failureCondition`.
    public var field: String
    public var error: ConditionError

    public init(field: String, error: ConditionError) {
        self.field = field
        self.error = error
    }

    public var description: String { "\(field): \(error)" }
}
