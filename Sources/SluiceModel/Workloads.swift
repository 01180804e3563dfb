/// The parts of `apps/v1` Deployment that Sluice reads. Sluice changes a Deployment only by
/// merge patch (`spec.paused`, and the template on abort while promoting), so fields not
/// modelled here are never written back. The pod template's spec is kept whole.
public struct Deployment: Codable, Sendable, Hashable {
    public var apiVersion: String
    public var kind: String
    public var metadata: ObjectMeta
    public var spec: DeploymentSpec
    public var status: DeploymentStatus?

    public init(metadata: ObjectMeta, spec: DeploymentSpec, status: DeploymentStatus? = nil) {
        self.apiVersion = "apps/v1"
        self.kind = "Deployment"
        self.metadata = metadata
        self.spec = spec
        self.status = status
    }
}

public struct DeploymentSpec: Codable, Sendable, Hashable {
    public var replicas: Int?
    public var selector: LabelSelector
    public var template: PodTemplateSpec
    public var paused: Bool?
    public var minReadySeconds: Int?
    public var progressDeadlineSeconds: Int?
    public var revisionHistoryLimit: Int?
    public var strategy: JSONValue?

    public init(replicas: Int? = nil, selector: LabelSelector, template: PodTemplateSpec, paused: Bool? = nil) {
        self.replicas = replicas
        self.selector = selector
        self.template = template
        self.paused = paused
    }
}

public struct DeploymentStatus: Codable, Sendable, Hashable {
    public var observedGeneration: Int?
    public var replicas: Int?
    public var updatedReplicas: Int?
    public var readyReplicas: Int?
    public var availableReplicas: Int?
    public var unavailableReplicas: Int?
    public var collisionCount: Int?
    public var conditions: [WorkloadCondition]?

    public init() {}
}

/// A Deployment or ReplicaSet condition (`Available`, `Progressing`, `ReplicaFailure`).
public struct WorkloadCondition: Codable, Sendable, Hashable {
    public var type: String
    public var status: String
    public var reason: String?
    public var message: String?
    public var lastUpdateTime: KubeTime?
    public var lastTransitionTime: KubeTime?

    public init(type: String, status: String, reason: String? = nil, message: String? = nil) {
        self.type = type
        self.status = status
        self.reason = reason
        self.message = message
    }
}

public struct LabelSelector: Codable, Sendable, Hashable {
    public var matchLabels: [String: String]?
    public var matchExpressions: [LabelSelectorRequirement]?

    public init(matchLabels: [String: String]? = nil, matchExpressions: [LabelSelectorRequirement]? = nil) {
        self.matchLabels = matchLabels
        self.matchExpressions = matchExpressions
    }
}

public struct LabelSelectorRequirement: Codable, Sendable, Hashable {
    public var key: String
    public var `operator`: String
    public var values: [String]?

    public init(key: String, operator: String, values: [String]? = nil) {
        self.key = key
        self.operator = `operator`
        self.values = values
    }
}

public struct PodTemplateSpec: Codable, Sendable, Hashable {
    public var metadata: ObjectMeta?
    /// The pod spec, whole: a canary is created from it and it is compared across revisions.
    public var spec: JSONValue

    /// The label the Deployment controller adds to its ReplicaSets' templates.
    public static let podTemplateHashLabel = "pod-template-hash"

    public init(metadata: ObjectMeta? = nil, spec: JSONValue) {
        self.metadata = metadata
        self.spec = spec
    }

    /// The container images, in order (init containers first).
    public var images: [String] {
        let containers = (spec["initContainers"]?.array ?? []) + (spec["containers"]?.array ?? [])
        return containers.compactMap { $0["image"]?.string }
    }
}

/// The parts of `apps/v1` ReplicaSet that Sluice reads and writes. Sluice creates the canary
/// ReplicaSet whole, and scales it by patch.
public struct ReplicaSet: Codable, Sendable, Hashable {
    public var apiVersion: String
    public var kind: String
    public var metadata: ObjectMeta
    public var spec: ReplicaSetSpec
    public var status: ReplicaSetStatus?

    public init(metadata: ObjectMeta, spec: ReplicaSetSpec, status: ReplicaSetStatus? = nil) {
        self.apiVersion = "apps/v1"
        self.kind = "ReplicaSet"
        self.metadata = metadata
        self.spec = spec
        self.status = status
    }
}

public struct ReplicaSetSpec: Codable, Sendable, Hashable {
    public var replicas: Int?
    public var minReadySeconds: Int?
    public var selector: LabelSelector
    public var template: PodTemplateSpec

    public init(replicas: Int?, selector: LabelSelector, template: PodTemplateSpec) {
        self.replicas = replicas
        self.selector = selector
        self.template = template
    }
}

public struct ReplicaSetStatus: Codable, Sendable, Hashable {
    public var observedGeneration: Int?
    public var replicas: Int?
    public var fullyLabeledReplicas: Int?
    public var readyReplicas: Int?
    public var availableReplicas: Int?
    public var conditions: [WorkloadCondition]?

    public init() {}
}

/// A core/v1 Service. Sluice changes only its selector (by patch); the spec is kept whole.
public struct Service: Codable, Sendable, Hashable {
    public var apiVersion: String
    public var kind: String
    public var metadata: ObjectMeta
    public var spec: ServiceSpec
    public var status: JSONValue?

    public init(metadata: ObjectMeta, spec: ServiceSpec) {
        self.apiVersion = "v1"
        self.kind = "Service"
        self.metadata = metadata
        self.spec = spec
    }
}

public struct ServiceSpec: JSONObjectView {
    public var json: [String: JSONValue]
    public init(json: [String: JSONValue]) { self.json = json }

    public var selector: [String: String] {
        get { json["selector"]?.object?.compactMapValues(\.string) ?? [:] }
        set { json["selector"] = .object(newValue.mapValues(JSONValue.string)) }
    }
}
