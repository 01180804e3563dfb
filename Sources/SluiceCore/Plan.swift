import SluiceModel

/// What to do next: write `status` first (its `pending` names the actions), then run the
/// actions in order, stopping at the first that fails, then look again as `requeue` says.
public struct Plan: Sendable, Hashable {
    public var status: RolloutStatus
    public var actions: [Action]
    public var requeue: Requeue

    public init(status: RolloutStatus, actions: [Action], requeue: Requeue) {
        self.status = status
        self.actions = actions
        self.requeue = requeue
    }
}

public enum Requeue: Sendable, Hashable {
    /// Look again after this many seconds, even if nothing changes.
    case after(seconds: Double)
    /// Nothing is due: look again when something observed changes.
    case awaitChange
}

/// A side effect with absolute values: running one twice is harmless.
public enum Action: Sendable, Hashable {
    case addFinalizer
    case removeFinalizer
    case setDeploymentPaused(Bool)
    /// Put the stable revision's template back on the Deployment: only when its own ReplicaSet
    /// for the ended release's template is already complete, so that the paused Deployment
    /// controller would keep scaling the stable down (it favours a saturated new ReplicaSet).
    case restoreDeploymentTemplate(PodTemplateSpec)
    case createCanary(ReplicaSet)
    case scaleCanary(name: String, replicas: Int)
    case deleteCanary(name: String)
    /// Scale one of the Deployment's own ReplicaSets while the Deployment is paused: after a
    /// release ends during its promotion, the stable back to full size and the others to zero.
    case scaleReplicaSet(name: String, replicas: Int)
    /// Set (or, with nil, remove) a selector key of a Service (host mode) or the labels of a
    /// DestinationRule subset (subset mode).
    case setSelector(SelectorTarget, key: String, value: String?)
    /// Replace a VirtualService with this one (read-modify-write at its resourceVersion).
    case writeVirtualService(VirtualService)
    case runMeasurement(analysis: String, metric: String)
    case recordEvent(Event)
}

public enum SelectorTarget: Sendable, Hashable {
    case service(String)
    case subset(destinationRule: String, subset: String)
}

/// A Kubernetes Event about the Rollout.
public struct Event: Sendable, Hashable {
    public var type: EventType
    public var reason: EventReason
    public var message: String

    public init(_ type: EventType, _ reason: EventReason, _ message: String) {
        self.type = type
        self.reason = reason
        self.message = message
    }
}

public enum EventType: String, Sendable, Hashable {
    case normal = "Normal", warning = "Warning"
}

public enum EventReason: String, Sendable, Hashable, CaseIterable {
    case initialized = "Initialized"
    case releaseStarted = "ReleaseStarted"
    case trafficShifted = "TrafficShifted"
    case mirrorChanged = "MirrorChanged"
    case headerRouteSet = "HeaderRouteSet"
    case analysisPassed = "AnalysisPassed"
    case analysisFailed = "AnalysisFailed"
    case analysisInconclusive = "AnalysisInconclusive"
    case paused = "Paused"
    case promoting = "Promoting"
    case promoted = "Promoted"
    case rolledBack = "RolledBack"
    case aborted = "Aborted"
    case superseded = "Superseded"
    case reverted = "Reverted"
    case progressDeadlineExceeded = "ProgressDeadlineExceeded"
    case commandIgnored = "CommandIgnored"
    case trafficDrift = "TrafficDrift"
    case invalidSpec = "InvalidSpec"
    case cleanedUp = "CleanedUp"
}
