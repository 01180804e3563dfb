/// What Sluice observed and decided. Every field here is declared in the CRD's schema: a
/// real API server silently prunes what the schema does not declare.
public struct RolloutStatus: Codable, Sendable, Hashable {
    public var observedGeneration: Int?
    public var phase: RolloutPhase?
    /// One line for people: `step 3/7: analysis success-rate 2/4 passed`.
    public var message: String?
    /// The stable revision's template hash, and its ReplicaSet's name.
    public var stableRevision: String?
    public var stableReplicaSet: String?
    /// The canary's template hash, and its ReplicaSet's name.
    public var canaryRevision: String?
    public var canaryReplicaSet: String?
    public var currentStepIndex: Int?
    /// When the current step began (timed pauses count from here).
    public var stepStartedAt: KubeTime?
    public var weights: Weights?
    /// When the current weights were written (an analysis `window` holds from here).
    public var weightsSince: KubeTime?
    public var mirrorPercentage: Int?
    /// Names of the header routes in force.
    public var headerRoutes: [String]?
    /// When every managed route was first seen saying what `weights`, `mirrorPercentage` and
    /// `headerRoutes` say (cleared when they change): scale-down delays count from here.
    public var trafficObservedAt: KubeTime?
    /// What the release is waiting for and since when; missing `progressDeadlineSeconds` from
    /// `since` rolls it back.
    public var waiting: WaitState?
    /// When `spec.paused` or an invalid spec began holding the release; time held does not
    /// count toward timed pauses or deadlines.
    public var heldSince: KubeTime?
    /// A digest of the steps the release in progress runs; steps edited since hold it.
    public var stepsDigest: String?
    /// The revision whose template Sluice took off the Deployment (putting the stable's back)
    /// after a release ended during its promotion; until Git writes that template again, the
    /// stable template on the Deployment is Sluice's doing, not a revert.
    public var templateRestoredFrom: String?
    /// The state Sluice is moving to and the actions that get it there; finished first after a restart.
    public var pending: PendingState?
    public var commands: HandledCommands?
    public var analysis: [AnalysisRunStatus]?
    public var conditions: [Condition]?
    /// The release in progress, if any; it moves to `history` when it ends.
    public var currentRelease: ReleaseRecord?
    /// Ended releases, newest first, at most `revisionHistoryLimit`.
    public var history: [ReleaseRecord]?

    public init() {}
}

public enum RolloutPhase: String, SpecEnum {
    case initializing = "Initializing"
    case healthy = "Healthy"
    case progressing = "Progressing"
    case paused = "Paused"
    case promoting = "Promoting"
    case failed = "Failed"
    case aborted = "Aborted"
}

/// Integer weights that always sum to 100.
public struct Weights: Codable, Sendable, Hashable {
    public var stable: Int
    public var canary: Int

    public init(stable: Int, canary: Int) {
        self.stable = stable
        self.canary = canary
    }

    public init(canary: Int) { self.init(stable: 100 - canary, canary: canary) }

    public static let allStable = Weights(stable: 100, canary: 0)
}

/// One wait of a release: what for, and since when.
public struct WaitState: Codable, Sendable, Hashable {
    /// What is awaited, for people and for the rollback reason: `the canary ready for 20%`.
    public var on: String
    public var since: KubeTime

    public init(on: String, since: KubeTime) {
        self.on = on
        self.since = since
    }
}

/// The condition types Sluice sets.
public enum ConditionType {
    public static let ready = "Ready"
    public static let reconciling = "Reconciling"
    public static let stalled = "Stalled"
    public static let invalidSpec = "InvalidSpec"
    public static let trafficDrift = "TrafficDrift"
}

public struct PendingState: Codable, Sendable, Hashable {
    /// The phase, step and traffic the actions lead to.
    public var phase: RolloutPhase
    public var stepIndex: Int?
    public var weights: Weights?
    public var mirrorPercentage: Int?
    public var headerRoutes: [String]?
    public var reason: String?
    public var actions: [PendingAction]
    public var since: KubeTime

    public init(phase: RolloutPhase, actions: [PendingAction], since: KubeTime) {
        self.phase = phase
        self.actions = actions
        self.since = since
    }
}

/// One side effect, with absolute values, so that running it twice is harmless.
public struct PendingAction: Codable, Sendable, Hashable {
    public var type: ActionType
    /// The object acted on (Deployment, ReplicaSet, Service, VirtualService or DestinationRule name).
    public var name: String?
    public var namespace: String?
    public var replicas: Int?
    public var revision: String?
    public var weights: Weights?
    public var mirrorPercentage: Int?
    public var headerRoutes: [String]?
    public var selectorKey: String?
    public var selectorValue: String?
    /// The subset, in subset mode.
    public var subset: String?
    public var analysis: String?
    public var metric: String?
    public var eventType: String?
    public var reason: String?
    public var message: String?
    /// Not to be run before this time (the canary's scale-down delay).
    public var notBefore: KubeTime?

    public init(type: ActionType) { self.type = type }
}

public enum ActionType: String, SpecEnum {
    case pauseDeployment, unpauseDeployment, restoreDeploymentTemplate
    case createCanary, scaleCanary, deleteCanary, scaleReplicaSet
    case setSelector, removeSelector
    case writeVirtualService
    case runMeasurement
    case recordEvent
    case addFinalizer, removeFinalizer
}

/// Command annotation values already acted on, so a re-applied annotation does nothing.
public struct HandledCommands: Codable, Sendable, Hashable {
    public var abort: HandledCommand?
    public var promote: HandledCommand?
    public var retry: HandledCommand?

    public init(abort: HandledCommand? = nil, promote: HandledCommand? = nil, retry: HandledCommand? = nil) {
        self.abort = abort
        self.promote = promote
        self.retry = retry
    }
}

public struct HandledCommand: Codable, Sendable, Hashable {
    public var value: String
    public var handledAt: KubeTime

    public init(value: String, handledAt: KubeTime) {
        self.value = value
        self.handledAt = handledAt
    }
}
