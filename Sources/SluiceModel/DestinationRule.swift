/// The spec of an Istio `DestinationRule`.
public struct DestinationRuleSpec: IstioSpec {
    public static let kind = "DestinationRule"
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
