import Foundation
import PrometheusClient
import PrometheusTestKit
import SluiceController
import SluiceCore
import SluiceModel
import SluiceTestKit
import Testing

/// Secrets held in memory.
struct StaticSecrets: SecretReader {
    var values: [SecretKeyRef: String] = [:]
    func value(namespace: String, _ ref: SecretKeyRef) async throws -> String? { values[ref] }
}

enum Analysis {
    static let namespace = "shop"
    static let stable = "checkout"
    static let canary = "checkout-5d8f7c4b9"

    /// Each metric of the template as a run would hold it (the template's args, with their
    /// defaults), measured for the canary of `checkout` in `shop`.
    static func targets(_ template: AnalysisTemplate) -> [MeasurementTarget] {
        template.spec.metrics.map { metric in
            var run = MetricRunStatus(name: metric.name, template: template.metadata.name ?? "", definition: metric)
            run.args = template.spec.args
            return MeasurementTarget(analysis: "step-1", revision: "5d8f7c4b9", metric: run, namespace: namespace,
                                     rollout: "checkout", stable: stable, canary: canary)
        }
    }

    static func runner(_ prometheus: PrometheusServer, querier: PrometheusQuerier) -> MeasurementRunner {
        MeasurementRunner(querier: querier, allowlist: PrometheusAllowlist(defaultAddress: prometheus.address), secrets: StaticSecrets())
    }

    /// Starts a Prometheus, writes the traffic (70 minutes of it, ending at `now`), runs `body`, stops it.
    static func withPrometheus(_ traffic: [WorkloadTraffic], now: Date,
                               _ body: (PrometheusServer, PrometheusQuerier) async throws -> Void) async throws {
        let prometheus = try await PrometheusServer.start()
        let querier = try PrometheusQuerier()
        do {
            try await prometheus.write(IstioMetrics.series(traffic, from: now.addingTimeInterval(-70 * 60), to: now))
            try await body(prometheus, querier)
        } catch {
            try? await querier.shutdown()
            await prometheus.stop()
            throw error
        }
        try await querier.shutdown()
        await prometheus.stop()
    }
}

/// Whole seconds: the time measurements are asked at, and the last sample written.
func roundedNow() -> Date { Date(timeIntervalSince1970: Date().timeIntervalSince1970.rounded(.down)) }
