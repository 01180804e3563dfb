import Foundation

/// One time series for Prometheus's remote-write receiver: its labels (the metric name under
/// `__name__`) and its samples, oldest first.
public struct TimeSeries: Sendable, Hashable {
    public var labels: [String: String]
    public var samples: [Sample]

    public struct Sample: Sendable, Hashable {
        /// Milliseconds since 1970.
        public var timestamp: Int64
        public var value: Double

        public init(timestamp: Int64, value: Double) {
            self.timestamp = timestamp
            self.value = value
        }
    }

    public init(labels: [String: String], samples: [Sample]) {
        self.labels = labels
        self.samples = samples
    }
}
