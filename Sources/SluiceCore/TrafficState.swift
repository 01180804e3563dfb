import SluiceModel

/// What the managed routes should say: the weights, the mirroring and the header routes.
public struct TrafficState: Sendable, Hashable {
    public var weights: Weights
    public var mirror: MirrorStep?
    public var headerRoutes: [HeaderRouteStep]

    public init(weights: Weights, mirror: MirrorStep? = nil, headerRoutes: [HeaderRouteStep] = []) {
        self.weights = weights
        self.mirror = mirror
        self.headerRoutes = headerRoutes
    }

    public static let allStable = TrafficState(weights: .allStable)

    /// Mirroring that actually sends something.
    var activeMirror: MirrorStep? { mirror.flatMap { $0.percentage > 0 ? $0 : nil } }
}

/// The two destinations a managed route splits traffic between.
public struct RouteDestinations: Sendable, Hashable {
    public var stable: Destination
    public var canary: Destination
    /// The namespace the Services live in, for matching short and qualified host names.
    public var namespace: String

    public init(stable: Destination, canary: Destination, namespace: String) {
        self.stable = stable
        self.canary = canary
        self.namespace = namespace
    }

    /// The destinations a Rollout's traffic routing names.
    public init?(_ istio: IstioTrafficRouting, namespace: String, host: String?) {
        if let stable = istio.stableService, let canary = istio.canaryService {
            self.init(stable: Destination(host: stable), canary: Destination(host: canary), namespace: namespace)
        } else if let rule = istio.destinationRule, let host {
            self.init(stable: Destination(host: host, subset: rule.stableSubsetName),
                      canary: Destination(host: host, subset: rule.canarySubsetName), namespace: namespace)
        } else {
            return nil
        }
    }

    /// The namespace of the VirtualService being read, where it is not `namespace`: a short host
    /// in it names a Service of its own namespace, not the Rollout's.
    public var virtualServiceNamespace: String?

    /// These destinations as a VirtualService in `namespace` names them.
    func seen(from vsNamespace: String?) -> RouteDestinations {
        var copy = self
        copy.virtualServiceNamespace = vsNamespace
        return copy
    }

    func matches(_ d: Destination, _ wanted: Destination) -> Bool {
        guard let host = d.host, let wantedHost = wanted.host, d.subset == wanted.subset else { return false }
        if !host.contains("."), (virtualServiceNamespace ?? namespace) != namespace { return false }
        let short = host.split(separator: ".").first.map(String.init) ?? host
        let qualified = [wantedHost, "\(wantedHost).\(namespace)", "\(wantedHost).\(namespace).svc",
                         "\(wantedHost).\(namespace).svc.cluster.local"]
        return host == wantedHost || (short == wantedHost && qualified.contains(host))
    }

    func isStable(_ d: Destination) -> Bool { matches(d, stable) }
    func isCanary(_ d: Destination) -> Bool { matches(d, canary) }
}
