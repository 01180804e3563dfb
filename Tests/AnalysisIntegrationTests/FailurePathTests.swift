import AsyncHTTPClient
import Foundation
import KubeClient
import KubeTestServer
import Logging
import NIOCore
import PrometheusClient
import PrometheusTestKit
import SluiceController
import SluiceCore
import SluiceModel
import SluiceTestKit
import Synchronization
import Testing

/// What the analysis path does when Prometheus says no, answers late or goes away, and how it
/// carries credentials and Secret-valued args.
@Suite(.enabled(if: PrometheusServer.skipReason == nil, "needs the prometheus binary"))
struct FailurePathTests {
    static let healthy = [
        TemplateVerdictTests.Case.stableTraffic,
        WorkloadTraffic(workload: Analysis.canary, service: "checkout", requestsPerSecond: 10, errorRatio: 0.001),
    ]

    static func successRate() throws -> AnalysisTemplate {
        try #require(try RepositoryFiles.readyTemplates().first { $0.metadata.name == "success-rate" })
    }

    @Test func aQueryPrometheusRejectsIsAnErrorNotAVerdict() async throws {
        let now = roundedNow()
        let template = try Self.successRate().with {
            $0.spec.metrics[0].provider.prometheus?.query = #"sum(rate(istio_requests_total{destination_workload="{{canary}}"}[{{window}}])"#
        }
        try await Analysis.withPrometheus(Self.healthy, now: now) { prometheus, querier in
            let target = try #require(Analysis.targets(template).first)
            let result = await Analysis.runner(prometheus, querier: querier).measure(target, at: now)
            guard case .error(let message) = result.outcome else {
                Issue.record("a rejected query gave a value: \(result.outcome)"); return
            }
            #expect(message.contains("bad_data"))
            #expect(message.contains("parse error"))
            #expect(result.judged(by: target.metric.definition).verdict == .error)
        }
    }

    /// The proxy holds every answer for 10 s; the metric allows 1 s. (That the proxy forwards
    /// correctly is shown by the credentials test, which gets a value through it.)
    @Test func anAnswerLaterThanTheTimeoutIsAnError() async throws {
        let now = roundedNow()
        let template = try Self.successRate().with { $0.spec.metrics[0].provider.prometheus?.timeout = "1s" }
        try await Analysis.withPrometheus(Self.healthy, now: now) { prometheus, querier in
            try await Proxy.with(prometheus) { proxy in
                proxy.delay.withLock { $0 = .seconds(10) }
                let runner = MeasurementRunner(querier: querier, allowlist: PrometheusAllowlist(defaultAddress: proxy.address),
                                               secrets: StaticSecrets())
                let target = try #require(Analysis.targets(template).first)
                let late = await runner.measure(target, at: now)
                #expect(late.outcome == .error("no answer within 1.0s"))
                #expect(late.judged(by: target.metric.definition).verdict == .error)
                #expect(proxy.seen.withLock { $0.count } == 1, "the query reached Prometheus's side; only the answer was late")
            }
        }
    }

    @Test func credentialsAndSecretArgsAreReadFromSecretsAndNeverRecorded() async throws {
        let now = roundedNow()
        let server = try await KubeTestServer()
        try await server.createNamespace("shop")
        let client = try KubernetesClient(config: KubeConfig(server: server.url), logger: Logger(label: "test"))
        let secret: JSONValue = ["apiVersion": "v1", "kind": "Secret", "metadata": ["name": "prom", "namespace": "shop"], "data": [
            "token": .string(Data("s3cret-token".utf8).base64EncodedString()),
            "tenant": .string(Data("shop".utf8).base64EncodedString()),
        ]]
        let _: JSONValue = try await client.create(.secrets, namespace: "shop", secret)
        // The namespace label comes from a Secret-valued arg; the token authenticates.
        let template = try Self.successRate().with {
            $0.spec.args = [AnalysisArg(name: "tenant", valueFrom: ArgValueFrom(secretKeyRef: SecretKeyRef(name: "prom", key: "tenant")))]
            $0.spec.metrics[0].provider.prometheus?.query = #"sum(rate(istio_requests_total{reporter="destination",destination_workload="{{canary}}",destination_workload_namespace="{{args.tenant}}"}[{{window}}])) > 0"#
            $0.spec.metrics[0].provider.prometheus?.bearerToken = ArgValueFrom(secretKeyRef: SecretKeyRef(name: "prom", key: "token"))
            $0.spec.metrics[0].provider.prometheus?.headers = [AnalysisArg(name: "X-Scope-OrgID", value: "team-a")]
        }
        try await Analysis.withPrometheus(Self.healthy, now: now) { prometheus, querier in
            try await Proxy.with(prometheus) { proxy in
                let runner = MeasurementRunner(querier: querier, allowlist: PrometheusAllowlist(defaultAddress: proxy.address),
                                               secrets: KubernetesSecretReader(client: client))
                let target = try #require(Analysis.targets(template).first)
                let result = await runner.measure(target, at: now)
                guard case .value(.samples(let values)) = result.outcome, values.count == 1 else {
                    Issue.record("not one sample: \(result.outcome)"); return
                }
                #expect(abs(values[0] - 10) < 0.01, "the canary's 10 requests per second, found with the Secret's namespace")
                #expect(result.query.contains(#"destination_workload_namespace="<secret:prom/tenant>""#))
                #expect(!result.query.contains("\"shop\""))
                let seen = try #require(proxy.seen.withLock { $0.last })
                #expect(seen.headers["authorization"] == "Bearer s3cret-token")
                #expect(seen.headers["x-scope-orgid"] == "team-a")
                #expect(seen.query["query"]?.contains(#"destination_workload_namespace="shop""#) == true)

                // A Secret that is gone: an error naming the key, never a value.
                let missing = template.with {
                    $0.spec.metrics[0].provider.prometheus?.bearerToken = ArgValueFrom(secretKeyRef: SecretKeyRef(name: "prom", key: "nope"))
                }
                let failed = await runner.measure(try #require(Analysis.targets(missing).first), at: now)
                #expect(failed.outcome == .error("bearerToken: key 'nope' of Secret shop/prom could not be read"))
            }
        }
        try await client.shutdown()
        try await server.stop()
    }

    /// The engine, a real Prometheus, and the runner between them: two measurements pass, then
    /// Prometheus stops; the next ones are errors, and one more than `consecutiveErrorLimit`
    /// fails the analysis and rolls the canary back.
    @Test func prometheusStoppedMidRunFailsClosedAfterTheErrorLimit() async throws {
        let template = try Self.successRate().with {
            $0.spec.metrics[0].count = 6
            $0.spec.metrics[0].interval = "30s"
            $0.spec.metrics[0].window = "30s"
            $0.spec.metrics[0].consecutiveErrorLimit = 1
        }
        let rollout = Rollout.fixture().steps([
            CanaryStep(setWeight: 20), CanaryStep(analysis: AnalysisStep(templates: [TemplateRef(name: "success-rate", clusterScope: true)])),
            CanaryStep(setWeight: 50),
        ])
        let start = roundedNow()
        let prometheus = try await PrometheusServer.start()
        let allowlist = PrometheusAllowlist(defaultAddress: prometheus.address)
        // A stopped server refuses connections; the client retries them until its connect timeout.
        let querier = try PrometheusQuerier(connectTimeout: .seconds(1), admits: allowlist.admits)
        let config = EngineConfig(prometheus: allowlist)
        let runner = MeasurementRunner(querier: querier, allowlist: allowlist, secrets: StaticSecrets())
        var world = WorldSimulator(rollout: rollout, templates: [template])
        world.now = KubeTime(secondsSince1970: start.timeIntervalSince1970 - 20 * 60)
        let taken = Mutex(0)
        let measure: (Rollout, String, String, KubeTime) async -> MeasurementResult? = { rollout, analysis, metric, at in
            if taken.withLock({ $0 }) == 2 { await prometheus.stop() }
            taken.withLock { $0 += 1 }
            return await runner.measure(rollout: rollout, analysis: analysis, metric: metric, at: Date(timeIntervalSince1970: at.secondsSince1970))
        }
        world.settle(limit: 20)
        world.setImage("shop/checkout:2.0")
        var wrote = false
        for _ in 0..<200 {
            let plan = await world.reconcile(config: config, measure: measure)
            if !wrote, let canary = world.rollout.status?.canaryReplicaSet {
                let traffic = [TemplateVerdictTests.Case.stableTraffic,
                               WorkloadTraffic(workload: canary, service: "checkout", requestsPerSecond: 10, errorRatio: 0.001)]
                try await prometheus.write(IstioMetrics.series(traffic, from: start.addingTimeInterval(-70 * 60), to: start))
                wrote = true
            }
            if world.rollout.status?.phase == .failed { break }
            world.advance(after: plan)
        }
        try await querier.shutdown()
        if prometheus.isRunning { await prometheus.stop() }

        let status = try #require(world.rollout.status)
        #expect(status.phase == .failed)
        #expect(status.weights?.canary == 0)
        let metric = try #require(status.analysis?.first?.metrics.first)
        #expect(metric.successful == 2)
        #expect(metric.errors == 2)
        #expect(metric.phase == .error)
        let verdicts = (metric.measurements ?? []).map(\.verdict)
        #expect(verdicts == [.successful, .successful, .error, .error])
        #expect(metric.measurements?.last?.message?.contains("unreachable") == true, "\(metric.measurements?.last?.message ?? "")")
        #expect(status.history?.first?.outcome == .rolledBack)
    }
}

/// An HTTP proxy in front of Prometheus that records what it forwards and can answer late.
final class Proxy: Sendable {
    let seen = Mutex<[LoopbackHTTPServer.Request]>([])
    let delay = Mutex<Duration>(.zero)
    let server = Mutex<LoopbackHTTPServer?>(nil)

    var address: String { "http://127.0.0.1:\(server.withLock { $0?.port ?? 0 })" }

    static func with(_ prometheus: PrometheusServer, _ body: (Proxy) async throws -> Void) async throws {
        let proxy = Proxy()
        let client = HTTPClient(eventLoopGroupProvider: .singleton)
        let server = try await LoopbackHTTPServer { [proxy] request in
            proxy.seen.withLock { $0.append(request) }
            try? await Task.sleep(for: proxy.delay.withLock { $0 })
            var allowed = CharacterSet.alphanumerics
            allowed.insert(charactersIn: "-._~")
            let query = request.query.map { "\($0.key)=\($0.value.addingPercentEncoding(withAllowedCharacters: allowed) ?? "")" }
                .joined(separator: "&")
            var forward = HTTPClientRequest(url: prometheus.address + request.path + "?" + query)
            forward.method = request.method == "POST" ? .POST : .GET
            if request.method == "POST" {
                forward.headers.add(name: "Content-Type", value: "application/x-www-form-urlencoded")
                forward.body = .bytes(ByteBuffer(bytes: request.body))
            }
            guard let response = try? await client.execute(forward, timeout: .seconds(10)),
                  var body = try? await response.body.collect(upTo: 1 << 20) else {
                return .full(code: 502, body: Data(), headers: [])
            }
            return .full(code: Int(response.status.code), body: Data(body.readBytes(length: body.readableBytes) ?? []),
                         headers: [("Content-Type", "application/json")])
        }
        proxy.server.withLock { $0 = server }
        do { try await body(proxy) } catch {
            try? await server.stop()
            try? await client.shutdown()
            throw error
        }
        try await server.stop()
        try await client.shutdown()
    }
}
