import SluiceModel

/// A resource the server serves: its names, scope, and for custom resources the schema that
/// prunes them and whether status is a subresource.
public struct ResourceInfo: Sendable, Hashable {
    public var group: String
    public var version: String
    public var plural: String
    public var singular: String
    public var kind: String
    public var namespaced: Bool
    public var shortNames: [String]
    public var categories: [String]
    /// The structural schema; nil for built-in kinds (not pruned).
    public var schema: JSONValue?
    public var statusSubresource: Bool
    public var printerColumns: [JSONValue]

    public var apiVersion: String { group.isEmpty ? version : "\(group)/\(version)" }
    public var isCustom: Bool { schema != nil }
    /// Kinds with a spec carry `metadata.generation`; ConfigMaps, Secrets, Services, Namespaces,
    /// Events and Leases do not.
    public var hasGeneration: Bool { isCustom || isCustomResourceDefinition || group == "apps" }
    /// The CustomResourceDefinition resource itself: writing one registers resources.
    public var isCustomResourceDefinition: Bool { group == "apiextensions.k8s.io" && plural == "customresourcedefinitions" }

    public init(group: String, version: String, plural: String, kind: String, namespaced: Bool = true, shortNames: [String] = [],
                categories: [String] = [], schema: JSONValue? = nil, statusSubresource: Bool = false, printerColumns: [JSONValue] = []) {
        self.group = group
        self.version = version
        self.plural = plural
        self.singular = kind.lowercased()
        self.kind = kind
        self.namespaced = namespaced
        self.shortNames = shortNames
        self.categories = categories
        self.schema = schema
        self.statusSubresource = statusSubresource
        self.printerColumns = printerColumns
    }

    /// The kinds Sluice uses, as a real cluster serves them.
    public static let builtins: [ResourceInfo] = [
        ResourceInfo(group: "", version: "v1", plural: "namespaces", kind: "Namespace", namespaced: false, shortNames: ["ns"], statusSubresource: true),
        ResourceInfo(group: "", version: "v1", plural: "services", kind: "Service", shortNames: ["svc"], categories: ["all"], statusSubresource: true),
        ResourceInfo(group: "", version: "v1", plural: "secrets", kind: "Secret"),
        ResourceInfo(group: "", version: "v1", plural: "configmaps", kind: "ConfigMap", shortNames: ["cm"]),
        ResourceInfo(group: "", version: "v1", plural: "events", kind: "Event", shortNames: ["ev"]),
        ResourceInfo(group: "apps", version: "v1", plural: "deployments", kind: "Deployment", shortNames: ["deploy"], categories: ["all"],
                     statusSubresource: true),
        ResourceInfo(group: "apps", version: "v1", plural: "replicasets", kind: "ReplicaSet", shortNames: ["rs"], categories: ["all"],
                     statusSubresource: true),
        ResourceInfo(group: "coordination.k8s.io", version: "v1", plural: "leases", kind: "Lease"),
        ResourceInfo(group: "", version: "v1", plural: "serviceaccounts", kind: "ServiceAccount", shortNames: ["sa"]),
        ResourceInfo(group: "rbac.authorization.k8s.io", version: "v1", plural: "roles", kind: "Role"),
        ResourceInfo(group: "rbac.authorization.k8s.io", version: "v1", plural: "rolebindings", kind: "RoleBinding"),
        ResourceInfo(group: "rbac.authorization.k8s.io", version: "v1", plural: "clusterroles", kind: "ClusterRole", namespaced: false),
        ResourceInfo(group: "rbac.authorization.k8s.io", version: "v1", plural: "clusterrolebindings", kind: "ClusterRoleBinding", namespaced: false),
        ResourceInfo(group: "authorization.k8s.io", version: "v1", plural: "selfsubjectaccessreviews", kind: "SelfSubjectAccessReview",
                     namespaced: false),
        ResourceInfo(group: "apiextensions.k8s.io", version: "v1", plural: "customresourcedefinitions", kind: "CustomResourceDefinition",
                     namespaced: false, shortNames: ["crd", "crds"], statusSubresource: true),
    ]

    /// The resources a CustomResourceDefinition declares, one per served version.
    public static func fromCRD(_ crd: JSONValue) -> [ResourceInfo] {
        guard let spec = crd["spec"], let group = spec["group"]?.string, let names = spec["names"],
              let plural = names["plural"]?.string, let kind = names["kind"]?.string else { return [] }
        let namespaced = spec["scope"]?.string != "Cluster"
        return (spec["versions"]?.array ?? []).filter { $0["served"]?.bool != false }.compactMap { version in
            guard let name = version["name"]?.string else { return nil }
            var info = ResourceInfo(group: group, version: name, plural: plural, kind: kind, namespaced: namespaced,
                                    shortNames: names["shortNames"]?.array?.compactMap(\.string) ?? [],
                                    categories: names["categories"]?.array?.compactMap(\.string) ?? [],
                                    schema: version["schema"]?["openAPIV3Schema"] ?? ["type": "object", "x-kubernetes-preserve-unknown-fields": true],
                                    statusSubresource: version["subresources"]?["status"] != nil,
                                    printerColumns: version["additionalPrinterColumns"]?.array ?? [])
            info.singular = names["singular"]?.string ?? kind.lowercased()
            return info
        }
    }
}
