/// The spec of an Istio `VirtualService`.
public struct VirtualServiceSpec: IstioSpec {
    public static let kind = "VirtualService"
    public var json: [String: JSONValue]
    public init(json: [String: JSONValue]) { self.json = json }

    public var hosts: [String] { strings("hosts") }
    public var gateways: [String] { strings("gateways") }

    public var http: [HTTPRoute] {
        get { views("http") }
        set { setViews("http", newValue) }
    }
}

public struct HTTPRoute: JSONObjectView {
    public var json: [String: JSONValue]
    public init(json: [String: JSONValue]) { self.json = json }

    public var name: String? {
        get { string("name") }
        set { setString("name", newValue) }
    }

    /// The route's match clauses, as Istio's `HTTPMatchRequest` objects.
    public var match: [JSONValue]? {
        get { json["match"]?.array }
        set { json["match"] = newValue.map(JSONValue.array) }
    }

    public var route: [HTTPRouteDestination] {
        get { views("route") }
        set { setViews("route", newValue) }
    }

    public var mirror: Destination? {
        get { view("mirror") }
        set { setView("mirror", newValue) }
    }

    /// `mirrorPercentage.value`.
    public var mirrorPercentage: Double? {
        get { json["mirrorPercentage"]?["value"]?.number }
        set { json["mirrorPercentage"] = newValue.map { ["value": .number($0)] } }
    }

    /// Istio's newer multi-mirror field; a route using it cannot be mirrored by Sluice.
    public var mirrors: [JSONValue]? { json["mirrors"]?.array }
}

public struct HTTPRouteDestination: JSONObjectView {
    public var json: [String: JSONValue]
    public init(json: [String: JSONValue]) { self.json = json }

    public init(destination: Destination, weight: Int?) {
        self.json = ["destination": .object(destination.json)]
        self.weight = weight
    }

    public var destination: Destination {
        get { view("destination") ?? Destination(json: [:]) }
        set { setView("destination", newValue) }
    }

    public var weight: Int? {
        get { json["weight"]?.int }
        set { json["weight"] = newValue.map { .number(Double($0)) } }
    }
}

public struct Destination: JSONObjectView {
    public var json: [String: JSONValue]
    public init(json: [String: JSONValue]) { self.json = json }

    public init(host: String, subset: String? = nil) {
        self.json = ["host": .string(host)]
        self.subset = subset
    }

    public var host: String? {
        get { string("host") }
        set { setString("host", newValue) }
    }

    public var subset: String? {
        get { string("subset") }
        set { setString("subset", newValue) }
    }
}
