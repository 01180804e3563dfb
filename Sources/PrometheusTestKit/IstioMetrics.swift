import Foundation

/// Istio's standard metrics (`istio_requests_total`, `istio_request_duration_milliseconds`)
/// as the sidecars of the given workloads would export them, reported by both the source and
/// the destination proxy, sampled every `every` seconds.
public enum IstioMetrics {
    /// Istio's default request duration buckets, in milliseconds.
    public static let durationBuckets: [Double] = [0.5, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000,
                                                   30000, 60000, 300000, 600000, 1800000, 3600000]

    public static func series(_ traffic: [WorkloadTraffic], from start: Date, to end: Date, every step: TimeInterval = 15) -> [TimeSeries] {
        let elapsed = Array(stride(from: 0.0, through: end.timeIntervalSince(start), by: step))
        var out: [TimeSeries] = []
        for t in traffic {
            let change = t.errorRatioChange.map { (at: max(0, $0.at.timeIntervalSince(start)), ratio: $0.ratio) }
            // A counter: the requests served since `start` with this share before the change and `after` it.
            func counter(_ share: Double, after: Double) -> [TimeSeries.Sample] {
                elapsed.map { x in
                    let before = min(x, change?.at ?? x)
                    let served = t.requestsPerSecond * (share * before + after * (x - before))
                    return TimeSeries.Sample(timestamp: Int64((start.addingTimeInterval(x).timeIntervalSince1970 * 1000).rounded()), value: served)
                }
            }
            let errorsAfter = change?.ratio ?? t.errorRatio
            let codes = [("200", 1 - t.errorRatio, 1 - errorsAfter), ("503", t.errorRatio, errorsAfter)].filter { $0.1 > 0 || $0.2 > 0 }
            let requests = codes.map { counter($0.1, after: $0.2) }
            let meanMilliseconds = t.latency.reduce(0) { $0 + $1.share * $1.milliseconds }
            for reporter in ["destination", "source"] {
                let base = [
                    "reporter": reporter,
                    "source_workload": "loadgenerator",
                    "source_workload_namespace": "load",
                    "destination_workload": t.workload,
                    "destination_workload_namespace": t.namespace,
                    "destination_service_name": t.service,
                    "destination_service": "\(t.service).\(t.namespace).svc.cluster.local",
                    "destination_canonical_service": t.service,
                    "request_protocol": "http",
                ]
                for ((code, _, _), served) in zip(codes, requests) {
                    func series(_ name: String, le: String? = nil, times factor: Double = 1) -> TimeSeries {
                        var labels = base
                        labels["__name__"] = name
                        labels["response_code"] = code
                        labels["le"] = le
                        return TimeSeries(labels: labels, samples: served.map { .init(timestamp: $0.timestamp, value: $0.value * factor) })
                    }
                    out.append(series("istio_requests_total"))
                    // Every answer takes the workload's latency, whatever its code.
                    for le in durationBuckets.map(Optional.some) + [nil] {
                        let within = t.latency.filter { le == nil || $0.milliseconds <= le! }.reduce(0) { $0 + $1.share }
                        out.append(series("istio_request_duration_milliseconds_bucket", le: le.map(formatBound) ?? "+Inf", times: within))
                    }
                    out.append(series("istio_request_duration_milliseconds_count"))
                    out.append(series("istio_request_duration_milliseconds_sum", times: meanMilliseconds))
                }
            }
        }
        return out
    }

    static func formatBound(_ bound: Double) -> String {
        bound.rounded() == bound ? String(Int(bound)) : String(bound)
    }
}
