/// The spec of an Istio networking object, viewed over its JSON.
public protocol IstioSpec: JSONObjectView {
    static var kind: String { get }
}

/// An Istio networking object (`VirtualService`, `DestinationRule`). The spec is a view over
/// the whole JSON object, so a read-modify-write keeps every field Sluice does not model.
public struct IstioObject<Spec: IstioSpec>: Codable, Sendable, Hashable {
    public var apiVersion: String
    public var kind: String
    public var metadata: ObjectMeta
    public var spec: Spec
    public var status: JSONValue?

    public static var kind: String { Spec.kind }

    public init(apiVersion: String = "networking.istio.io/v1", metadata: ObjectMeta, spec: Spec) {
        self.apiVersion = apiVersion
        self.kind = Spec.kind
        self.metadata = metadata
        self.spec = spec
    }
}

public typealias VirtualService = IstioObject<VirtualServiceSpec>
public typealias DestinationRule = IstioObject<DestinationRuleSpec>
