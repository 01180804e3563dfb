import Foundation

/// The requests one workload serves, as a test wants them: rate, share of 5xx answers, and latency.
public struct WorkloadTraffic: Sendable {
    public var workload: String
    public var namespace: String
    public var service: String
    public var requestsPerSecond: Double
    /// Share of requests answered 503.
    public var errorRatio: Double
    /// Each share of requests and how long it took, in milliseconds (shares sum to 1).
    public var latency: [Latency]

    public struct Latency: Sendable {
        public var share: Double
        public var milliseconds: Double

        public init(share: Double, milliseconds: Double) {
            self.share = share
            self.milliseconds = milliseconds
        }
    }

    public init(workload: String, namespace: String = "shop", service: String, requestsPerSecond: Double,
                errorRatio: Double = 0, latency: [Latency] = [Latency(share: 1, milliseconds: 20)]) {
        self.workload = workload
        self.namespace = namespace
        self.service = service
        self.requestsPerSecond = requestsPerSecond
        self.errorRatio = errorRatio
        self.latency = latency
    }
}

/// Istio's standard metrics (`istio_requests_total`, `istio_request_duration_milliseconds`)
/// as the sidecars of the given workloads would export them, reported by both the source and
/// the destination proxy, sampled every `every` seconds.
public enum IstioMetrics {
    /// Istio's default request duration buckets, in milliseconds.
    public static let durationBuckets: [Double] = [0.5, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000,
                                                   30000, 60000, 300000, 600000, 1800000, 3600000]

    public static func series(_ traffic: [WorkloadTraffic], from start: Date, to end: Date, every step: TimeInterval = 15) -> [TimeSeries] {
        let times = stride(from: 0.0, through: end.timeIntervalSince(start), by: step).map { start.addingTimeInterval($0) }
        func samples(_ perSecond: Double) -> [TimeSeries.Sample] {
            times.map { TimeSeries.Sample(timestamp: Int64(($0.timeIntervalSince1970 * 1000).rounded()),
                                         value: perSecond * $0.timeIntervalSince(start)) }
        }
        var out: [TimeSeries] = []
        for t in traffic {
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
                let codes = [("200", 1 - t.errorRatio), ("503", t.errorRatio)].filter { $0.1 > 0 }
                for (code, share) in codes {
                    var labels = base
                    labels["response_code"] = code
                    labels["__name__"] = "istio_requests_total"
                    out.append(TimeSeries(labels: labels, samples: samples(t.requestsPerSecond * share)))
                    // Every answer takes the workload's latency, whatever its code.
                    for le in durationBuckets.map(Optional.some) + [nil] {
                        let within = t.latency.filter { le == nil || $0.milliseconds <= le! }.reduce(0) { $0 + $1.share }
                        labels["__name__"] = "istio_request_duration_milliseconds_bucket"
                        labels["le"] = le.map(formatBound) ?? "+Inf"
                        out.append(TimeSeries(labels: labels, samples: samples(t.requestsPerSecond * share * within)))
                    }
                    labels["le"] = nil
                    labels["__name__"] = "istio_request_duration_milliseconds_count"
                    out.append(TimeSeries(labels: labels, samples: samples(t.requestsPerSecond * share)))
                    let meanMilliseconds = t.latency.reduce(0) { $0 + $1.share * $1.milliseconds }
                    labels["__name__"] = "istio_request_duration_milliseconds_sum"
                    out.append(TimeSeries(labels: labels, samples: samples(t.requestsPerSecond * share * meanMilliseconds)))
                }
            }
        }
        return out
    }

    static func formatBound(_ bound: Double) -> String {
        bound.rounded() == bound ? String(Int(bound)) : String(bound)
    }
}
