/// An `AnalysisTemplate` (namespaced) or `ClusterAnalysisTemplate` (cluster-scoped): the two
/// kinds share one shape.
public struct AnalysisTemplate: Codable, Sendable, Hashable {
    public var apiVersion: String
    public var kind: String
    public var metadata: ObjectMeta
    public var spec: AnalysisTemplateSpec

    public static let namespacedKind = "AnalysisTemplate"
    public static let clusterKind = "ClusterAnalysisTemplate"

    public var isClusterScoped: Bool { kind == AnalysisTemplate.clusterKind }

    public init(kind: String = AnalysisTemplate.namespacedKind, metadata: ObjectMeta, spec: AnalysisTemplateSpec) {
        self.apiVersion = Rollout.apiVersion
        self.kind = kind
        self.metadata = metadata
        self.spec = spec
    }
}

public struct AnalysisTemplateSpec: Codable, Sendable, Hashable {
    /// Declared args: without a `value` or `valueFrom` they must be given by the Rollout.
    public var args: [AnalysisArg]?
    public var metrics: [AnalysisMetric]

    public init(args: [AnalysisArg]? = nil, metrics: [AnalysisMetric]) {
        self.args = args
        self.metrics = metrics
    }
}

public struct AnalysisMetric: Codable, Sendable, Hashable {
    public var name: String
    /// Between measurements. Default 1m.
    public var interval: DurationString?
    /// `{{window}}`, the range in `rate()`; measured only once the weights have held this long.
    /// Default: the interval.
    public var window: DurationString?
    /// Measurements per run. Default 1; 0 = until the release ends (background analysis only).
    public var count: Int?
    public var successCondition: String?
    public var failureCondition: String?
    /// Shorthand for a success condition `min <= result && result <= max`.
    public var thresholdRange: ThresholdRange?
    public var failureLimit: Int?
    public var inconclusiveLimit: Int?
    public var consecutiveErrorLimit: Int?
    public var noData: NoDataPolicy?
    /// Measured and recorded, never gates.
    public var dryRun: Bool?
    public var provider: MetricProvider

    public static let defaultInterval: DurationString = "1m"
    public static let defaultCount = 1
    public static let defaultConsecutiveErrorLimit = 4

    public init(name: String, provider: MetricProvider) {
        self.name = name
        self.provider = provider
    }
}

public struct ThresholdRange: Codable, Sendable, Hashable {
    public var min: Double?
    public var max: Double?

    public init(min: Double? = nil, max: Double? = nil) {
        self.min = min
        self.max = max
    }
}

/// What an empty vector or NaN counts as.
public enum NoDataPolicy: String, SpecEnum {
    case inconclusive, failure, success
}

public struct MetricProvider: Codable, Sendable, Hashable {
    public var prometheus: PrometheusProvider?

    public init(prometheus: PrometheusProvider?) { self.prometheus = prometheus }
}

public struct PrometheusProvider: Codable, Sendable, Hashable {
    /// Default: the controller's `--prometheus-address`. Another must be on its `--allow-prometheus` list.
    public var address: String?
    /// Default 10s.
    public var timeout: DurationString?
    /// `Authorization: Bearer <token>`, the token read from a Secret in the Rollout's namespace.
    public var bearerToken: ArgValueFrom?
    public var basicAuth: PrometheusBasicAuth?
    /// Extra request headers (a tenant header for Thanos, Cortex or Mimir): each a `value` or a
    /// Secret's key (`valueFrom.secretKeyRef`).
    public var headers: [AnalysisArg]?
    public var query: String

    public static let defaultTimeout: DurationString = "10s"

    public init(address: String? = nil, timeout: DurationString? = nil, query: String) {
        self.address = address
        self.timeout = timeout
        self.query = query
    }
}

/// HTTP basic authentication for a Prometheus behind a proxy; the password is read from a Secret.
public struct PrometheusBasicAuth: Codable, Sendable, Hashable {
    public var username: String
    public var password: ArgValueFrom

    public init(username: String, password: ArgValueFrom) {
        self.username = username
        self.password = password
    }
}
