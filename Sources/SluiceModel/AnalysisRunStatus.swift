/// One analysis run of a revision: a step gate, the background analysis, or a blue-green
/// pre- or post-promotion analysis. The templates are frozen here when the run starts.
public struct AnalysisRunStatus: Codable, Sendable, Hashable {
    /// `step-3`, `background`, `pre-promotion` or `post-promotion`.
    public var name: String
    public var revision: String
    public var stepIndex: Int?
    public var phase: AnalysisPhase
    public var startedAt: KubeTime
    public var finishedAt: KubeTime?
    public var message: String?
    public var metrics: [MetricRunStatus]

    public init(name: String, revision: String, phase: AnalysisPhase, startedAt: KubeTime,
                metrics: [MetricRunStatus]) {
        self.name = name
        self.revision = revision
        self.phase = phase
        self.startedAt = startedAt
        self.metrics = metrics
    }
}

public enum AnalysisPhase: String, SpecEnum {
    case running = "Running"
    case successful = "Successful"
    case failed = "Failed"
    case inconclusive = "Inconclusive"
    case error = "Error"
}

public struct MetricRunStatus: Codable, Sendable, Hashable {
    public var name: String
    /// The template the metric came from.
    public var template: String
    /// The metric as it was when the run started.
    public var definition: AnalysisMetric
    /// Args as resolved when the run started; Secret-valued ones keep only their reference.
    public var args: [AnalysisArg]?
    public var phase: AnalysisPhase
    public var successful: Int
    public var failed: Int
    public var inconclusive: Int
    public var errors: Int
    public var consecutiveErrors: Int
    /// When the measurement in flight was asked for; cleared when its result arrives.
    public var requestedAt: KubeTime?
    /// The most recent measurements.
    public var measurements: [Measurement]?

    public init(name: String, template: String, definition: AnalysisMetric, phase: AnalysisPhase = .running) {
        self.name = name
        self.template = template
        self.definition = definition
        self.phase = phase
        self.successful = 0
        self.failed = 0
        self.inconclusive = 0
        self.errors = 0
        self.consecutiveErrors = 0
    }
}

public struct Measurement: Codable, Sendable, Hashable {
    public var measuredAt: KubeTime
    /// The value as text (`0.9975`, `NaN`, `+Inf`, `[0.99, 0.98]`); absent on a query error.
    public var value: String?
    public var verdict: MeasurementVerdict
    /// The query as sent, with Secret-valued args redacted.
    public var query: String?
    public var message: String?

    public init(measuredAt: KubeTime, value: String?, verdict: MeasurementVerdict, query: String? = nil,
                message: String? = nil) {
        self.measuredAt = measuredAt
        self.value = value
        self.verdict = verdict
        self.query = query
        self.message = message
    }
}

public enum MeasurementVerdict: String, SpecEnum {
    case successful = "Successful"
    case failed = "Failed"
    case inconclusive = "Inconclusive"
    case error = "Error"
}
