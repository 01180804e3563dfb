/// One canary step: exactly one of its fields is set. Kept as a struct of optionals (not an
/// enum) so that a step with none or several types decodes and validation can name it.
public struct CanaryStep: Codable, Sendable, Hashable {
    public var setWeight: Int?
    public var pause: PauseStep?
    public var analysis: AnalysisStep?
    public var setMirror: MirrorStep?
    public var setHeaderRoute: HeaderRouteStep?

    public init(setWeight: Int? = nil, pause: PauseStep? = nil, analysis: AnalysisStep? = nil,
                setMirror: MirrorStep? = nil, setHeaderRoute: HeaderRouteStep? = nil) {
        self.setWeight = setWeight
        self.pause = pause
        self.analysis = analysis
        self.setMirror = setMirror
        self.setHeaderRoute = setHeaderRoute
    }

    public static let typeNames = ["setWeight", "pause", "analysis", "setMirror", "setHeaderRoute"]

    /// The step as a closed enum, when exactly one type is set.
    public var kind: Kind? {
        let set: [Kind] = [
            setWeight.map(Kind.setWeight), pause.map(Kind.pause), analysis.map(Kind.analysis),
            setMirror.map(Kind.setMirror), setHeaderRoute.map(Kind.setHeaderRoute),
        ].compactMap { $0 }
        return set.count == 1 ? set[0] : nil
    }

    public enum Kind: Sendable, Hashable {
        case setWeight(Int)
        case pause(PauseStep)
        case analysis(AnalysisStep)
        case setMirror(MirrorStep)
        case setHeaderRoute(HeaderRouteStep)
    }
}

/// `pause: {}` waits for a promote command; `pause: {duration: 2m}` waits that long.
public struct PauseStep: Codable, Sendable, Hashable {
    public var duration: DurationString?

    public init(duration: DurationString? = nil) { self.duration = duration }
}

/// Analysis templates to run, with the args they get.
public struct AnalysisStep: Codable, Sendable, Hashable {
    public var templates: [TemplateRef]
    public var args: [AnalysisArg]?

    public init(templates: [TemplateRef], args: [AnalysisArg]? = nil) {
        self.templates = templates
        self.args = args
    }
}

public struct BackgroundAnalysis: Codable, Sendable, Hashable {
    public var templates: [TemplateRef]
    public var args: [AnalysisArg]?
    /// The step index from which the analysis runs. Default 0.
    public var startingStep: Int?

    public init(templates: [TemplateRef], args: [AnalysisArg]? = nil, startingStep: Int? = nil) {
        self.templates = templates
        self.args = args
        self.startingStep = startingStep
    }
}

public struct TemplateRef: Codable, Sendable, Hashable {
    public var name: String
    /// True: a ClusterAnalysisTemplate; otherwise an AnalysisTemplate in the Rollout's namespace.
    public var clusterScope: Bool?

    public init(name: String, clusterScope: Bool? = nil) {
        self.name = name
        self.clusterScope = clusterScope
    }
}

/// An arg given to a template: a literal value or a Secret's key.
public struct AnalysisArg: Codable, Sendable, Hashable {
    public var name: String
    public var value: String?
    public var valueFrom: ArgValueFrom?

    public init(name: String, value: String? = nil, valueFrom: ArgValueFrom? = nil) {
        self.name = name
        self.value = value
        self.valueFrom = valueFrom
    }
}

public struct ArgValueFrom: Codable, Sendable, Hashable {
    public var secretKeyRef: SecretKeyRef?

    public init(secretKeyRef: SecretKeyRef?) { self.secretKeyRef = secretKeyRef }
}

public struct SecretKeyRef: Codable, Sendable, Hashable {
    public var name: String
    public var key: String

    public init(name: String, key: String) {
        self.name = name
        self.key = key
    }
}

/// Shadow a share of traffic to the canary. `methods` limits mirroring to clones of the route
/// matching those methods (mirroring a POST sends it twice); absent means every method.
public struct MirrorStep: Codable, Sendable, Hashable {
    public var percentage: Int
    public var methods: [String]?

    public init(percentage: Int, methods: [String]? = nil) {
        self.percentage = percentage
        self.methods = methods
    }
}

/// Send requests matching `match` to the canary, through a clone of each managed route.
public struct HeaderRouteStep: Codable, Sendable, Hashable {
    public var name: String
    public var match: [HeaderRouteMatch]

    public init(name: String, match: [HeaderRouteMatch]) {
        self.name = name
        self.match = match
    }
}

/// One match clause; its header conditions are AND-ed. Several clauses are OR-ed.
public struct HeaderRouteMatch: Codable, Sendable, Hashable {
    public var headers: [String: StringMatch]

    public init(headers: [String: StringMatch]) { self.headers = headers }
}

/// Istio's StringMatch: exactly one of the three.
public struct StringMatch: Codable, Sendable, Hashable {
    public var exact: String?
    public var prefix: String?
    public var regex: String?

    public init(exact: String? = nil, prefix: String? = nil, regex: String? = nil) {
        self.exact = exact
        self.prefix = prefix
        self.regex = regex
    }
}
