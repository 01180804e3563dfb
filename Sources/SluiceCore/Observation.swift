import SluiceModel

/// Everything the engine looks at besides the Rollout itself: the objects around it as last
/// read, and the analysis results that arrived since the last plan.
public struct Observation: Sendable, Hashable {
    public var deployment: Deployment?
    /// The Deployment's ReplicaSets and the Rollout's canary ReplicaSets (label `sluice.dev/rollout`).
    public var replicaSets: [ReplicaSet]
    /// The managed VirtualServices that exist, as read.
    public var virtualServices: [VirtualService]
    /// Host mode: the stable and canary Services.
    public var services: [Service]
    /// Subset mode: the DestinationRule.
    public var destinationRule: DestinationRule?
    public var templates: TemplateCatalog
    /// Results of `runMeasurement` actions, not yet folded into status.
    public var measurements: [MeasurementResult]
    /// The namespace is being deleted: on deletion only the finalizer is removed.
    public var namespaceTerminating: Bool
    /// The shell ran every action of `status.pending` since that status was written. False
    /// after a restart: the pending Events and measurements are then asked for again (an
    /// Event repeated is aggregated, a measurement asked for twice is taken once).
    public var pendingDone: Bool

    public init(deployment: Deployment? = nil, replicaSets: [ReplicaSet] = [], virtualServices: [VirtualService] = [],
                services: [Service] = [], destinationRule: DestinationRule? = nil,
                templates: TemplateCatalog = TemplateCatalog(), measurements: [MeasurementResult] = [],
                namespaceTerminating: Bool = false, pendingDone: Bool = true) {
        self.deployment = deployment
        self.replicaSets = replicaSets
        self.virtualServices = virtualServices
        self.services = services
        self.destinationRule = destinationRule
        self.templates = templates
        self.measurements = measurements
        self.namespaceTerminating = namespaceTerminating
        self.pendingDone = pendingDone
    }
}

/// One measurement taken by the shell for a `runMeasurement` action.
public struct MeasurementResult: Sendable, Hashable {
    public var analysis: String
    public var metric: String
    public var revision: String
    public var measuredAt: KubeTime
    public var outcome: Outcome
    /// The query as sent, Secret-valued args redacted.
    public var query: String

    public enum Outcome: Sendable, Hashable {
        case value(MetricValue)
        case error(String)
    }

    public init(analysis: String, metric: String, revision: String, measuredAt: KubeTime, outcome: Outcome, query: String) {
        self.analysis = analysis
        self.metric = metric
        self.revision = revision
        self.measuredAt = measuredAt
        self.outcome = outcome
        self.query = query
    }
}
