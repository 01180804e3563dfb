/// A Kubernetes resource type: group, version and plural name, and whether it lives in a namespace.
public struct ResourceType: Sendable, Hashable, CustomStringConvertible {
    public var group: String
    public var version: String
    public var plural: String
    public var namespaced: Bool

    public init(group: String, version: String, plural: String, namespaced: Bool = true) {
        self.group = group
        self.version = version
        self.plural = plural
        self.namespaced = namespaced
    }

    public var apiVersion: String { group.isEmpty ? version : "\(group)/\(version)" }
    public var description: String { group.isEmpty ? plural : "\(plural).\(group)" }

    /// The request path: `/api/v1/namespaces/ns/services/name/status` and the like.
    public func path(namespace: String? = nil, name: String? = nil, subresource: String? = nil) -> String {
        var path = group.isEmpty ? "/api/\(version)" : "/apis/\(group)/\(version)"
        if namespaced, let namespace { path += "/namespaces/\(escape(namespace))" }
        path += "/\(plural)"
        if let name { path += "/\(escape(name))" }
        if let subresource { path += "/\(subresource)" }
        return path
    }

    private func escape(_ segment: String) -> String {
        segment.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed.subtracting(.init(charactersIn: "/"))) ?? segment
    }

    public static let namespaces = ResourceType(group: "", version: "v1", plural: "namespaces", namespaced: false)
    public static let services = ResourceType(group: "", version: "v1", plural: "services")
    public static let secrets = ResourceType(group: "", version: "v1", plural: "secrets")
    public static let configMaps = ResourceType(group: "", version: "v1", plural: "configmaps")
    public static let events = ResourceType(group: "", version: "v1", plural: "events")
    public static let deployments = ResourceType(group: "apps", version: "v1", plural: "deployments")
    public static let replicaSets = ResourceType(group: "apps", version: "v1", plural: "replicasets")
    public static let leases = ResourceType(group: "coordination.k8s.io", version: "v1", plural: "leases")
    public static let virtualServices = ResourceType(group: "networking.istio.io", version: "v1", plural: "virtualservices")
    public static let destinationRules = ResourceType(group: "networking.istio.io", version: "v1", plural: "destinationrules")
    public static let rollouts = ResourceType(group: "sluice.dev", version: "v1alpha1", plural: "rollouts")
    public static let analysisTemplates = ResourceType(group: "sluice.dev", version: "v1alpha1", plural: "analysistemplates")
    public static let clusterAnalysisTemplates = ResourceType(group: "sluice.dev", version: "v1alpha1", plural: "clusteranalysistemplates",
                                                              namespaced: false)
}

import Foundation
