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
    /// From this time on, this share of requests is answered 503 instead of `errorRatio`.
    public var errorRatioChange: (at: Date, ratio: Double)?

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

    /// The same traffic with its error ratio changed from `time` on.
    public func errorRatio(_ ratio: Double, from time: Date) -> WorkloadTraffic {
        var copy = self
        copy.errorRatioChange = (time, ratio)
        return copy
    }
}
