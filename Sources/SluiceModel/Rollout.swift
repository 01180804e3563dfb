/// A progressive delivery of one Deployment (`sluice.dev/v1alpha1`, kind `Rollout`).
public struct Rollout: Codable, Sendable, Hashable {
    public var apiVersion: String
    public var kind: String
    public var metadata: ObjectMeta
    public var spec: RolloutSpec
    public var status: RolloutStatus?

    public static let apiVersion = "sluice.dev/v1alpha1"
    public static let kind = "Rollout"

    public init(metadata: ObjectMeta, spec: RolloutSpec, status: RolloutStatus? = nil) {
        self.apiVersion = Rollout.apiVersion
        self.kind = Rollout.kind
        self.metadata = metadata
        self.spec = spec
        self.status = status
    }
}

public struct RolloutSpec: Codable, Sendable, Hashable {
    public var workloadRef: WorkloadRef
    public var trafficRouting: TrafficRouting
    public var canaryReplicas: CanaryReplicas?
    /// The canary must be ready within this many seconds of being created, else the release rolls back.
    public var progressDeadlineSeconds: Int?
    /// How long to keep the canary after traffic moved away from it, for the mesh to apply the route.
    public var scaleDownDelaySeconds: Int?
    /// How many history entries status keeps.
    public var revisionHistoryLimit: Int?
    /// Holds the current step.
    public var paused: Bool?
    public var strategy: Strategy

    public static let defaultProgressDeadlineSeconds = 600
    public static let defaultScaleDownDelaySeconds = 30
    public static let defaultRevisionHistoryLimit = 10
    /// The CRD's maximum: history entries are large, and status must stay under the API server's limits.
    public static let maxRevisionHistoryLimit = 100

    public init(workloadRef: WorkloadRef, trafficRouting: TrafficRouting, strategy: Strategy) {
        self.workloadRef = workloadRef
        self.trafficRouting = trafficRouting
        self.strategy = strategy
    }
}

public struct WorkloadRef: Codable, Sendable, Hashable {
    public var apiVersion: String
    public var kind: String
    public var name: String

    public init(apiVersion: String = "apps/v1", kind: String = "Deployment", name: String) {
        self.apiVersion = apiVersion
        self.kind = kind
        self.name = name
    }
}

/// How big the canary ReplicaSet is: exactly one of the three forms.
public struct CanaryReplicas: Codable, Sendable, Hashable {
    /// The canary weight's share of the Deployment's replicas, at least `min`.
    public var proportional: Bool?
    public var min: Int?
    /// A fixed number of replicas.
    public var count: Int?
    /// A fixed share of the Deployment's replicas, in percent.
    public var percent: Int?

    public init(proportional: Bool? = nil, min: Int? = nil, count: Int? = nil, percent: Int? = nil) {
        self.proportional = proportional
        self.min = min
        self.count = count
        self.percent = percent
    }
}

public struct TrafficRouting: Codable, Sendable, Hashable {
    public var istio: IstioTrafficRouting?

    public init(istio: IstioTrafficRouting?) { self.istio = istio }
}

public struct IstioTrafficRouting: Codable, Sendable, Hashable {
    /// Updated together: a mesh VirtualService and a gateway one, for example.
    public var virtualServices: [VirtualServiceRef]
    /// Host mode: two Services the team owns, both selecting the app's pods.
    public var stableService: String?
    public var canaryService: String?
    /// Subset mode: a DestinationRule the team owns.
    public var destinationRule: DestinationRuleRef?

    public init(virtualServices: [VirtualServiceRef], stableService: String? = nil, canaryService: String? = nil,
                destinationRule: DestinationRuleRef? = nil) {
        self.virtualServices = virtualServices
        self.stableService = stableService
        self.canaryService = canaryService
        self.destinationRule = destinationRule
    }
}

public struct VirtualServiceRef: Codable, Sendable, Hashable {
    public var name: String
    /// Another namespace needs the VirtualService's consent (annotation `sluice.dev/allow-rollouts`).
    public var namespace: String?
    /// Names of the managed http routes; empty means every route to the stable and canary destinations.
    public var routes: [String]?

    public init(name: String, namespace: String? = nil, routes: [String]? = nil) {
        self.name = name
        self.namespace = namespace
        self.routes = routes
    }
}

public struct DestinationRuleRef: Codable, Sendable, Hashable {
    public var name: String
    public var stableSubsetName: String
    public var canarySubsetName: String

    public init(name: String, stableSubsetName: String, canarySubsetName: String) {
        self.name = name
        self.stableSubsetName = stableSubsetName
        self.canarySubsetName = canarySubsetName
    }
}

/// Exactly one of `canary` and `blueGreen`.
public struct Strategy: Codable, Sendable, Hashable {
    public var canary: CanaryStrategy?
    public var blueGreen: BlueGreenStrategy?

    public init(canary: CanaryStrategy? = nil, blueGreen: BlueGreenStrategy? = nil) {
        self.canary = canary
        self.blueGreen = blueGreen
    }
}

public struct CanaryStrategy: Codable, Sendable, Hashable {
    public var steps: [CanaryStep]?
    /// Background analysis, from `startingStep` to the end of the release.
    public var analysis: BackgroundAnalysis?
    /// Flagger-style shorthand, used when `steps` is absent: weights from `stepWeight` up to
    /// `maxWeight` in `stepWeight` increments, each held for `interval`.
    public var stepWeight: Int?
    public var maxWeight: Int?
    public var interval: DurationString?

    public init(steps: [CanaryStep]? = nil, analysis: BackgroundAnalysis? = nil) {
        self.steps = steps
        self.analysis = analysis
    }
}

public struct BlueGreenStrategy: Codable, Sendable, Hashable {
    /// Shadow traffic to the preview before cut-over.
    public var previewMirror: MirrorStep?
    public var prePromotionAnalysis: AnalysisStep?
    /// False: wait for a promote command before cutting over. Default true.
    public var autoPromotion: Bool?
    /// Runs after cut-over; failure cuts back to stable.
    public var postPromotionAnalysis: AnalysisStep?

    public init(previewMirror: MirrorStep? = nil, prePromotionAnalysis: AnalysisStep? = nil,
                autoPromotion: Bool? = nil, postPromotionAnalysis: AnalysisStep? = nil) {
        self.previewMirror = previewMirror
        self.prePromotionAnalysis = prePromotionAnalysis
        self.autoPromotion = autoPromotion
        self.postPromotionAnalysis = postPromotionAnalysis
    }
}
