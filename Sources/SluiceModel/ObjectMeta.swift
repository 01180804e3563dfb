/// Kubernetes object metadata: every field of `metav1.ObjectMeta`, so that a read-modify-write
/// never drops one.
public struct ObjectMeta: Codable, Sendable, Hashable {
    public var name: String?
    public var generateName: String?
    public var namespace: String?
    public var uid: String?
    public var resourceVersion: String?
    public var generation: Int?
    public var creationTimestamp: KubeTime?
    public var deletionTimestamp: KubeTime?
    public var deletionGracePeriodSeconds: Int?
    public var labels: [String: String]?
    public var annotations: [String: String]?
    public var ownerReferences: [OwnerReference]?
    public var finalizers: [String]?
    public var managedFields: [JSONValue]?
    public var selfLink: String?

    public init(name: String? = nil, namespace: String? = nil, labels: [String: String]? = nil,
                annotations: [String: String]? = nil) {
        self.name = name
        self.namespace = namespace
        self.labels = labels
        self.annotations = annotations
    }
}

public struct OwnerReference: Codable, Sendable, Hashable {
    public var apiVersion: String
    public var kind: String
    public var name: String
    public var uid: String
    public var controller: Bool?
    public var blockOwnerDeletion: Bool?

    public init(apiVersion: String, kind: String, name: String, uid: String, controller: Bool? = nil,
                blockOwnerDeletion: Bool? = nil) {
        self.apiVersion = apiVersion
        self.kind = kind
        self.name = name
        self.uid = uid
        self.controller = controller
        self.blockOwnerDeletion = blockOwnerDeletion
    }
}

/// A `metav1.Condition`, as kstatus-aware tools read it.
public struct Condition: Codable, Sendable, Hashable {
    public var type: String
    public var status: Status
    public var reason: String
    public var message: String
    public var lastTransitionTime: KubeTime
    public var observedGeneration: Int?

    public enum Status: String, Codable, Sendable, CaseIterable {
        case `true` = "True", `false` = "False", unknown = "Unknown"
    }

    public init(type: String, status: Status, reason: String, message: String, lastTransitionTime: KubeTime,
                observedGeneration: Int? = nil) {
        self.type = type
        self.status = status
        self.reason = reason
        self.message = message
        self.lastTransitionTime = lastTransitionTime
        self.observedGeneration = observedGeneration
    }
}
