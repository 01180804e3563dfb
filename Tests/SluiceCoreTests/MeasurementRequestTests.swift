import SluiceCore
import SluiceModel
import SluiceTestKit
import Testing

@Suite struct MeasurementRequestTests {
    static let token = SecretKeyRef(name: "prom", key: "token")
    static let tenant = SecretKeyRef(name: "prom", key: "tenant")
    static let allowlist = PrometheusAllowlist(defaultAddress: "http://prometheus.istio-system:9090")

    static func target(query: String, interval: DurationString? = "90s", window: DurationString? = "1.5m",
                       args: [AnalysisArg]? = nil, canary: String? = "checkout-5d8f7c4b9",
                       change: (inout PrometheusProvider) -> Void = { _ in }) -> MeasurementTarget {
        var metric = AnalysisMetric.successRate().with {
            $0.interval = interval
            $0.window = window
            $0.provider.prometheus?.query = query
            change(&$0.provider.prometheus!)
        }
        metric.name = "m"
        var run = MetricRunStatus(name: "m", template: "t", definition: metric)
        run.args = args
        return MeasurementTarget(analysis: "step-1", revision: "5d8f7c4b9", metric: run, namespace: "shop", rollout: "checkout",
                                 stable: "checkout", canary: canary)
    }

    @Test func everyVariableIsFilledInAndSecretsAreRedactedInTheRecord() throws {
        let target = Self.target(
            query: "{{namespace}} {{rollout}} {{interval}} {{window}} {{stable}} {{canary}} {{args.service}} {{args.tenant}}",
            args: [AnalysisArg(name: "service", value: "checkout-canary"),
                   AnalysisArg(name: "tenant", valueFrom: ArgValueFrom(secretKeyRef: Self.tenant))]
        ) { $0.bearerToken = ArgValueFrom(secretKeyRef: Self.token) }
        #expect(target.secretsNeeded == [Self.tenant, Self.token])
        let request = try target.request(secrets: [Self.tenant: "acme", Self.token: "t0k"], allowlist: Self.allowlist).get()
        #expect(request.query == "shop checkout 90s 90s checkout checkout-5d8f7c4b9 checkout-canary acme")
        #expect(request.recordedQuery == "shop checkout 90s 90s checkout checkout-5d8f7c4b9 checkout-canary <secret:prom/tenant>")
        #expect(request.bearerToken == "t0k")
        #expect(request.address == "http://prometheus.istio-system:9090")
        #expect(request.timeoutSeconds == 10)
        // A server's error echoing the query is redacted before it is recorded.
        let result = request.result(.error("1:40: parse error near acme (token t0k)"), at: KubeTime(secondsSince1970: 0))
        #expect(result.outcome == .error("1:40: parse error near <secret:prom/tenant> (token <secret:prom/token>)"))
        #expect(result.query == request.recordedQuery)
    }

    @Test(arguments: [("30s", "30s"), ("2m", "2m"), ("120s", "2m"), ("1h", "1h"), ("1h30m", "90m"), ("1.5s", "1500ms"), ("0.5h", "30m")])
    func durationsAreWrittenAsPromQLReadsThem(given: String, rendered: String) throws {
        let request = try Self.target(query: "{{window}}", window: DurationString(given)).request(secrets: [:], allowlist: Self.allowlist).get()
        #expect(request.query == rendered)
    }

    @Test func whatCannotBeAskedIsAnErrorNamingTheCause() {
        func message(_ target: MeasurementTarget, secrets: [SecretKeyRef: String] = [:],
                     allowlist: PrometheusAllowlist = Self.allowlist) -> String? {
            if case .failure(let e) = target.request(secrets: secrets, allowlist: allowlist) { e.message } else { nil }
        }
        #expect(message(Self.target(query: "{{canary}}", canary: nil)) == "{{canary}} has no value: the canary ReplicaSet does not exist yet")
        #expect(message(Self.target(query: "{{args.service}}")) == "{{args.service}} has no value; give the arg in the Rollout's analysis args")
        #expect(message(Self.target(query: "{{args.tenant}}", args: [AnalysisArg(name: "tenant", valueFrom: ArgValueFrom(secretKeyRef: Self.tenant))]))
            == "arg 'tenant': key 'tenant' of Secret shop/prom could not be read")
        #expect(message(Self.target(query: "up") { $0.address = "http://evil.example:9090" })
            == "'http://evil.example:9090' is not allowed by the controller; add it to --allow-prometheus or use the default address")
        #expect(message(Self.target(query: "up"), allowlist: PrometheusAllowlist(defaultAddress: nil))
            == "no address is given and the controller has no --prometheus-address; set provider.prometheus.address")
        #expect(message(Self.target(query: "up") {
            $0.basicAuth = PrometheusBasicAuth(username: "u", password: ArgValueFrom(secretKeyRef: Self.token))
        }) == "basicAuth.password: key 'token' of Secret shop/prom could not be read")
        let setup = Self.target(query: "{{canary}} {{args.tenant}}", args: [AnalysisArg(name: "tenant", valueFrom: ArgValueFrom(secretKeyRef: Self.tenant))],
                                canary: nil).request(secrets: [Self.tenant: "acme"], allowlist: Self.allowlist)
        guard case .failure(let error) = setup else { Issue.record("no error"); return }
        #expect(error.recordedQuery == "{{canary}} <secret:prom/tenant>", "the record never holds a Secret's value")
        #expect(error.result(at: KubeTime(secondsSince1970: 0)).judged(by: AnalysisMetric.successRate()).verdict == .error)
    }

    @Test func headersAndBasicAuthCarryTheirValues() throws {
        let request = try Self.target(query: "up") {
            $0.basicAuth = PrometheusBasicAuth(username: "sluice", password: ArgValueFrom(secretKeyRef: Self.token))
            $0.headers = [AnalysisArg(name: "X-Scope-OrgID", value: "team-a"),
                          AnalysisArg(name: "X-Tenant-Key", valueFrom: ArgValueFrom(secretKeyRef: Self.tenant))]
            $0.timeout = "2500ms"
        }.request(secrets: [Self.token: "pw", Self.tenant: "k"], allowlist: Self.allowlist).get()
        #expect(request.basicAuth == MeasurementRequest.BasicAuth(username: "sluice", password: "pw"))
        #expect(request.headers == ["X-Scope-OrgID": "team-a", "X-Tenant-Key": "k"])
        #expect(request.timeoutSeconds == 2.5)
        #expect(request.redact("pw k team-a") == "<secret:prom/token> <secret:prom/tenant> team-a")
    }

    @Test func authenticationMistakesAreInvalidSpecs() {
        let template = AnalysisTemplate.fixture().with {
            $0.spec.metrics[0].provider.prometheus?.bearerToken = ArgValueFrom(secretKeyRef: SecretKeyRef(name: "Bad_Name", key: "t"))
            $0.spec.metrics[0].provider.prometheus?.basicAuth = PrometheusBasicAuth(username: "", password: ArgValueFrom(secretKeyRef: nil))
            $0.spec.metrics[0].provider.prometheus?.headers = [
                AnalysisArg(name: "Authorization", value: "Bearer x"), AnalysisArg(name: "X Bad", value: "1"),
                AnalysisArg(name: "x-scope-orgid", value: "a"), AnalysisArg(name: "X-Scope-OrgID", value: "b"),
                AnalysisArg(name: "X-Empty"),
            ]
        }
        let problems = SpecValidator(prometheus: Self.allowlist).problems(in: template).map(\.description)
        let at = "spec.metrics[0].provider.prometheus"
        #expect(problems.contains("\(at).basicAuth: is set beside bearerToken; Prometheus gets one Authorization header, keep one"))
        #expect(problems.contains("\(at).bearerToken.secretKeyRef.name: 'Bad_Name' is not a Secret name"))
        #expect(problems.contains("\(at).basicAuth.username: must not be empty"))
        #expect(problems.contains("\(at).basicAuth.password: set secretKeyRef: {name, key}"))
        #expect(problems.contains("\(at).headers[0].name: set Authorization through bearerToken or basicAuth, whose secrets are never recorded"))
        #expect(problems.contains("\(at).headers[1].name: 'X Bad' is not an HTTP header name (letters, digits and !#$%&'*+-.^_`|~)"))
        #expect(problems.contains("\(at).headers[3].name: header 'X-Scope-OrgID' is given twice"))
        #expect(problems.contains("\(at).headers[4]: has no value; set value or valueFrom.secretKeyRef"))
        #expect(problems.count == 8, "\(problems)")
    }
}
