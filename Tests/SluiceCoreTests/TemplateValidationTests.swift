import SluiceCore
import SluiceModel
import SluiceTestKit
import Testing

@Suite struct TemplateValidationTests {
    static let allowlist = PrometheusAllowlist(defaultAddress: "http://prometheus.istio-system:9090",
                                               allowed: ["https://thanos.monitoring.svc:10902/prom"])
    static let validator = SpecValidator(prometheus: allowlist)

    static func metric(_ change: @escaping @Sendable (inout AnalysisMetric) -> Void) -> AnalysisTemplate {
        AnalysisTemplate.fixture().with { change(&$0.spec.metrics[0]) }
    }

    struct Case: CustomTestStringConvertible, Sendable {
        var name: String
        var template: AnalysisTemplate
        var path: String
        var message: String
        var testDescription: String { name }
    }

    static let cases: [Case] = [
        Case(name: "unknown query variable", template: metric { $0.provider.prometheus?.query = "rate(x[{{windw}}])" },
             path: "spec.metrics[0].provider.prometheus.query",
             message: "at character 8: unknown variable '{{windw}}'; use {{args.NAME}}, {{namespace}}, {{rollout}}, {{interval}}, {{window}}, {{stable}} or {{canary}}"),
        Case(name: "undeclared arg in the query", template: metric { $0.provider.prometheus?.query = "up{s=\"{{args.svc}}\"}" },
             path: "spec.metrics[0].provider.prometheus.query",
             message: "{{args.svc}} is not declared in spec.args; add {name: svc} there"),
        Case(name: "success condition that does not parse", template: metric { $0.successCondition = "result >= 0.99 &&" },
             path: "spec.metrics[0].successCondition", message: "column 18: expected a value, found the end of the condition"),
        Case(name: "failure condition that does not parse", template: metric { $0.failureCondition = "reslt < 1" },
             path: "spec.metrics[0].failureCondition",
             message: "column 1: unknown name 'reslt'; a condition can use result, numbers, true, false, isNaN() and len()"),
        Case(name: "address outside the allowlist", template: metric { $0.provider.prometheus?.address = "http://evil.example:9090" },
             path: "spec.metrics[0].provider.prometheus.address",
             message: "'http://evil.example:9090' is not allowed by the controller; add it to --allow-prometheus or use the default address"),
        Case(name: "address under another path", template: metric { $0.provider.prometheus?.address = "https://thanos.monitoring.svc:10902/other" },
             path: "spec.metrics[0].provider.prometheus.address",
             message: "'https://thanos.monitoring.svc:10902/other' is not allowed by the controller; add it to --allow-prometheus or use the default address"),
        Case(name: "address that is not a URL", template: metric { $0.provider.prometheus?.address = "prometheus:9090" },
             path: "spec.metrics[0].provider.prometheus.address", message: "'prometheus:9090' is not an http or https URL with a host"),
        Case(name: "bad interval", template: metric { $0.interval = "30" },
             path: "spec.metrics[0].interval", message: "'30' is not a duration; write it like 30s, 2m or 1h30m"),
        Case(name: "bad window", template: metric { $0.window = "2 m" },
             path: "spec.metrics[0].window", message: "'2 m' is not a duration; write it like 30s, 2m or 1h30m"),
        Case(name: "bad timeout", template: metric { $0.provider.prometheus?.timeout = "soon" },
             path: "spec.metrics[0].provider.prometheus.timeout", message: "'soon' is not a duration; write it like 30s, 2m or 1h30m"),
        Case(name: "no condition at all", template: metric { $0.successCondition = nil },
             path: "spec.metrics[0]",
             message: "has no successCondition, failureCondition or thresholdRange, so no measurement could pass or fail; add one"),
        Case(name: "threshold range and success condition", template: metric { $0.thresholdRange = ThresholdRange(min: 0.99) },
             path: "spec.metrics[0].thresholdRange", message: "is a shorthand for a successCondition, and the metric has one; keep one"),
        Case(name: "inverted threshold range", template: metric { $0.successCondition = nil; $0.thresholdRange = ThresholdRange(min: 2, max: 1) },
             path: "spec.metrics[0].thresholdRange", message: "min 2 is greater than max 1"),
        Case(name: "negative limit", template: metric { $0.failureLimit = -1 },
             path: "spec.metrics[0].failureLimit", message: "-1 is less than 0"),
        Case(name: "no provider", template: metric { $0.provider.prometheus = nil },
             path: "spec.metrics[0].provider.prometheus", message: "required field is missing; Prometheus is the metric provider"),
        Case(name: "empty query", template: metric { $0.provider.prometheus?.query = "  " },
             path: "spec.metrics[0].provider.prometheus.query", message: "is empty; write the PromQL to measure"),
        Case(name: "duplicate metric names", template: AnalysisTemplate.fixture(metrics: [.successRate(), .successRate()]),
             path: "spec.metrics[1].name", message: "metric 'success-rate' is defined twice"),
        Case(name: "no metrics", template: AnalysisTemplate.fixture(metrics: []),
             path: "spec.metrics", message: "is empty; add at least one metric"),
        Case(name: "arg with value and secret", template: AnalysisTemplate.fixture(args: [
            AnalysisArg(name: "service", value: "x", valueFrom: ArgValueFrom(secretKeyRef: SecretKeyRef(name: "prom", key: "token"))),
        ]), path: "spec.args[0]", message: "sets both value and valueFrom; keep one"),
    ]

    @Test(arguments: cases)
    func reportsTheProblemAtItsField(c: Case) {
        let problems = TemplateValidationTests.validator.problems(in: c.template)
        #expect(problems.contains(SpecProblem(c.path, c.message)), "got \(problems)")
    }

    @Test func validTemplatesHaveNoProblems() {
        let templates = [
            AnalysisTemplate.fixture(),
            TemplateValidationTests.metric { $0.provider.prometheus?.address = "http://Prometheus.istio-system:9090/" },
            TemplateValidationTests.metric { $0.provider.prometheus?.address = "https://thanos.monitoring.svc:10902/prom/api" },
            TemplateValidationTests.metric { $0.successCondition = nil; $0.failureCondition = "result < 0.95" },
            TemplateValidationTests.metric { $0.successCondition = nil; $0.thresholdRange = ThresholdRange(max: 500) },
            AnalysisTemplate.fixture(kind: AnalysisTemplate.clusterKind),
        ]
        for template in templates {
            #expect(TemplateValidationTests.validator.problems(in: template) == [], "\(template.spec.metrics)")
        }
    }

    @Test func noDefaultAddressMeansEveryMetricNamesOne() {
        let validator = SpecValidator(prometheus: PrometheusAllowlist(defaultAddress: nil, allowed: ["http://prom:9090"]))
        #expect(validator.problems(in: AnalysisTemplate.fixture()) == [SpecProblem(
            "spec.metrics[0].provider.prometheus.address",
            "no address is given and the controller has no --prometheus-address; set provider.prometheus.address")])
    }

    @Test func allowlistComparesNormalizedAddresses() {
        let list = PrometheusAllowlist(defaultAddress: "http://prom:9090", allowed: ["https://p.example/api/"])
        #expect(list.refusal(of: "HTTP://PROM:9090/") == nil)
        #expect(list.refusal(of: "https://p.example:443/api/v1") == nil)
        #expect(list.refusal(of: "https://p.example/apix") != nil)
        #expect(list.refusal(of: "http://prom:9091") != nil)
        #expect(list.refusal(of: "http://user@prom:9090") != nil)
        #expect(list.refusal(of: "https://prom:9090") != nil)
    }
}
