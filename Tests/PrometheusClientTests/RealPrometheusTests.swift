import Foundation
import PrometheusClient
import PrometheusTestKit
import Testing

@Suite(.enabled(if: PrometheusServer.skipReason == nil, "needs the prometheus binary"))
struct RealPrometheusTests {
    @Test func remoteWrittenIstioMetricsAreQueryable() async throws {
        let prometheus = try await PrometheusServer.start()
        let now = Date()
        let traffic = WorkloadTraffic(workload: "checkout-abc", service: "checkout", requestsPerSecond: 10, errorRatio: 0.1,
                                      latency: [.init(share: 0.98, milliseconds: 20), .init(share: 0.02, milliseconds: 800)])
        try await prometheus.write(IstioMetrics.series([traffic], from: now.addingTimeInterval(-600), to: now))
        let querier = try PrometheusQuerier()
        let endpoint = PrometheusEndpoint(address: prometheus.address)
        let rate = await querier.query(#"sum(rate(istio_requests_total{reporter="destination",destination_workload="checkout-abc"}[2m]))"#, at: endpoint, timeout: .seconds(5), time: now)
        let errors = await querier.query(#"sum(rate(istio_requests_total{reporter="destination",destination_workload="checkout-abc",response_code=~"5.."}[2m])) / sum(rate(istio_requests_total{reporter="destination",destination_workload="checkout-abc"}[2m]))"#, at: endpoint, timeout: .seconds(5), time: now)
        let p99 = await querier.query(#"histogram_quantile(0.99, sum by (le) (rate(istio_request_duration_milliseconds_bucket{reporter="destination",destination_workload="checkout-abc"}[2m])))"#, at: endpoint, timeout: .seconds(5), time: now)
        try await querier.shutdown()
        await prometheus.stop()
        #expect(abs((try rate.get().numbers.first ?? 0) - 10) < 0.01)
        #expect(abs((try errors.get().numbers.first ?? 0) - 0.1) < 0.001)
        #expect((try p99.get().numbers.first ?? 0) > 500)
    }
}
