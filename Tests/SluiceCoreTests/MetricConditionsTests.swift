import SluiceCore
import SluiceModel
import SluiceTestKit
import Testing

@Suite struct MetricConditionsTests {
    static func conditions(success: String? = nil, failure: String? = nil, range: ThresholdRange? = nil,
                           noData: NoDataPolicy? = nil) throws -> MetricConditions {
        try MetricConditions(metric: AnalysisMetric.successRate().with {
            $0.successCondition = success
            $0.failureCondition = failure
            $0.thresholdRange = range
            $0.noData = noData
        })
    }

    @Test(arguments: [
        // Only a success condition: not true = failure.
        ("result >= 0.99", nil, 0.995, MeasurementVerdict.successful),
        ("result >= 0.99", nil, 0.97, .failed),
        // Only a failure condition: not true = success.
        (nil, "result < 0.95", 0.97, .successful),
        (nil, "result < 0.95", 0.90, .failed),
        // Both: neither true = inconclusive.
        ("result >= 0.99", "result < 0.95", 0.995, .successful),
        ("result >= 0.99", "result < 0.95", 0.97, .inconclusive),
        ("result >= 0.99", "result < 0.95", 0.90, .failed),
        // Both true: failure wins.
        ("result >= 0", "result < 1", 0.5, .failed),
        // +Inf is a value, not missing data.
        ("result < 500", nil, Double.infinity, .failed),
    ] as [(String?, String?, Double, MeasurementVerdict)])
    func verdictRules(success: String?, failure: String?, result: Double, expected: MeasurementVerdict) throws {
        let c = try MetricConditionsTests.conditions(success: success, failure: failure)
        #expect(c.verdict(for: .number(result)).verdict == expected)
    }

    @Test(arguments: [(nil, MeasurementVerdict.inconclusive), (NoDataPolicy.inconclusive, .inconclusive),
                      (.failure, .failed), (.success, .successful)] as [(NoDataPolicy?, MeasurementVerdict)])
    func noDataFollowsThePolicy(policy: NoDataPolicy?, expected: MeasurementVerdict) throws {
        let c = try MetricConditionsTests.conditions(success: "result >= 0.99", noData: policy)
        for empty in [MetricValue.samples([]), .number(.nan), .samples([.nan]), .samples([.nan, .nan])] {
            let verdict = c.verdict(for: empty)
            #expect(verdict.verdict == expected)
            #expect(verdict.message.contains("no data"))
        }
    }

    @Test func thresholdRangeIsASuccessCondition() throws {
        let both = try MetricConditionsTests.conditions(range: ThresholdRange(min: 0.99, max: 1))
        #expect(both.verdict(for: .number(0.995)).verdict == .successful)
        #expect(both.verdict(for: .number(0.98)).verdict == .failed)
        #expect(both.verdict(for: .number(1.01)).verdict == .failed)
        #expect(both.verdict(for: .number(0.98)).message.contains("thresholdRange 0.99 <= result <= 1"))
        let maxOnly = try MetricConditionsTests.conditions(failure: "result > 1000", range: ThresholdRange(max: 500))
        #expect(maxOnly.verdict(for: .number(400)).verdict == .successful)
        #expect(maxOnly.verdict(for: .number(700)).verdict == .inconclusive)
        #expect(maxOnly.verdict(for: .number(1200)).verdict == .failed)
        #expect(maxOnly.verdict(for: .samples([1, 2])).verdict == .error)
    }

    @Test func conditionThatCannotBeEvaluatedIsAnError() throws {
        let c = try MetricConditionsTests.conditions(success: "result[1] >= 0.99")
        let verdict = c.verdict(for: .number(0.995))
        #expect(verdict.verdict == .error)
        #expect(verdict.message.contains("cannot evaluate"))
    }

    @Test func parseErrorsNameTheField() {
        #expect(throws: MetricConditionsError(field: "failureCondition", error: ConditionError(column: 8, message: "unexpected character '='"))) {
            try MetricConditionsTests.conditions(success: "result > 1", failure: "result = 1")
        }
    }
}

@Suite struct QueryTemplateTests {
    @Test func findsAndRendersVariables() throws {
        let template = try QueryTemplate(#"rate(x{svc="{{args.service}}",ns="{{ namespace }}"}[{{window}}]) / {{canary}}"#)
        #expect(template.variables == [.arg("service"), .namespace, .window, .canary])
        let rendered = template.render { v in
            switch v {
            case .arg("service"): "checkout-canary"
            case .namespace: "shop"
            case .window: "2m"
            case .canary: "checkout-7b9c"
            default: nil
            }
        }
        #expect(rendered == #"rate(x{svc="checkout-canary",ns="shop"}[2m]) / checkout-7b9c"#)
        #expect(template.render { _ in nil } == nil)
        #expect(try QueryTemplate("up").render { _ in nil } == "up")
    }

    @Test(arguments: [("up{a=\"{{args}}\"}", 7, "unknown variable '{{args}}'"),
                      ("up[{{windw}}]", 4, "unknown variable '{{windw}}'; use {{args.NAME}}"),
                      ("up[{{window]", 4, "'{{' is never closed"),
                      ("{{args.a b}}", 1, "unknown variable")])
    func rejectsUnknownVariables(text: String, offset: Int, message: String) {
        do {
            _ = try QueryTemplate(text)
            Issue.record("'\(text)' parsed")
        } catch {
            #expect(error.offset == offset)
            #expect(error.message.contains(message), "\(error)")
        }
    }
}
