import Foundation

/// Istio's standard metrics (`istio_requests_total`, `istio_request_duration_milliseconds`)
/// as the sidecars of the given workloads would export them, reported by both the source and
/// the destination proxy, sampled every `every` seconds.
public enum IstioMetrics {
    /// Istio's default request duration buckets, in milliseconds.
    public static let durationBuckets: [Double] = [0.5, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000,
                                                   30000, 60000, 300000, 600000, 1800000, 3600000]

    public static func series(_ traffic: [WorkloadTraffic], from start: Date, to end: Date, every step: TimeInterval = 15) -> [TimeSeries] {
        let times = stride(from: 0.0, through: end.timeIntervalSince(start), by: step).map { start.addingTimeInterval($0) }
        var out: [TimeSeries] = []
        for t in traffic {
            // A counter at time x: the requests of that kind served since `start`.
            func samples(_ perSecond: Double, errors: Bool? = nil) -> [TimeSeries.Sample] {
                times.map { x in
                    var served = perSecond * x.timeIntervalSince(start)
                    if let errors, let change = t.errorRatioChange, x > change.at {
                        let after = x.timeIntervalSince(max(change.at, start))
                        let (old, new) = errors ? (t.errorRatio, change.ratio) : (1 - t.errorRatio, 1 - change.ratio)
                        served = t.requestsPerSecond * (old * (x.timeIntervalSince(start) - after) + new * after)
                    }
                    return TimeSeries.Sample(timestamp: Int64((x.timeIntervalSince1970 * 1000).rounded()), value: served)
                }
            }
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
                let after = t.errorRatioChange?.ratio ?? t.errorRatio
                let codes = [("200", 1 - t.errorRatio, 1 - after, false), ("503", t.errorRatio, after, true)]
                for (code, share, shareAfter, isError) in codes where share > 0 || shareAfter > 0 {
                    var labels = base
                    labels["response_code"] = code
                    labels["__name__"] = "istio_requests_total"
                    let requests = samples(t.requestsPerSecond * share, errors: isError)
                    func scaled(_ factor: Double) -> [TimeSeries.Sample] {
                        requests.map { TimeSeries.Sample(timestamp: $0.timestamp, value: $0.value * factor) }
                    }
                    out.append(TimeSeries(labels: labels, samples: requests))
                    // Every answer takes the workload's latency, whatever its code.
                    for le in durationBuckets.map(Optional.some) + [nil] {
                        let within = t.latency.filter { le == nil || $0.milliseconds <= le! }.reduce(0) { $0 + $1.share }
                        labels["__name__"] = "istio_request_duration_milliseconds_bucket"
                        labels["le"] = le.map(formatBound) ?? "+Inf"
                        out.append(TimeSeries(labels: labels, samples: scaled(within)))
                    }
                    labels["le"] = nil
                    labels["__name__"] = "istio_request_duration_milliseconds_count"
                    out.append(TimeSeries(labels: labels, samples: requests))
                    let meanMilliseconds = t.latency.reduce(0) { $0 + $1.share * $1.milliseconds }
                    labels["__name__"] = "istio_request_duration_milliseconds_sum"
                    out.append(TimeSeries(labels: labels, samples: scaled(meanMilliseconds)))
                }
            }
        }
        return out
    }

    static func formatBound(_ bound: Double) -> String {
        bound.rounded() == bound ? String(Int(bound)) : String(bound)
    }
}
