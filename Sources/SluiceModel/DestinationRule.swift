/// An Istio `DestinationRule`; like `VirtualService`, it keeps every field it does not model.
public struct DestinationRule: Codable, Sendable, Hashable {
    public var apiVersion: String
    public var kind: String
    public var metadata: ObjectMeta
    public var spec: DestinationRuleSpec
    public var status: JSONValue?

    public static let kind = "DestinationRule"

    public init(apiVersion: String = "networking.istio.io/v1", metadata: ObjectMeta, spec: DestinationRuleSpec) {
        self.apiVersion = apiVersion
        self.kind = DestinationRule.kind
        self.metadata = metadata
        self.spec = spec
    }
}

public struct DestinationRuleSpec: JSONObjectView {
    public var json: [String: JSONValue]
    public init(json: [String: JSONValue]) { self.json = json }

    public var host: String? { string("host") }

    public var subsets: [Subset] {
        get { views("subsets") }
        set { setViews("subsets", newValue) }
    }
}

public struct Subset: JSONObjectView {
    public var json: [String: JSONValue]
    public init(json: [String: JSONValue]) { self.json = json }

    public var name: String? { string("name") }

    public var labels: [String: String] {
        get { json["labels"]?.object?.compactMapValues(\.string) ?? [:] }
        set { json["labels"] = .object(newValue.mapValues(JSONValue.string)) }
    }
}
