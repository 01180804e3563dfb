import SluiceModel

/// The pure VirtualService transform: given a VirtualService, its managed routes and the
/// traffic wanted, the new VirtualService. Only managed routes and the clones Sluice inserts
/// before them change; every other route and field is kept as it was.
public enum VirtualServiceTransform {
    public struct Failure: Error, Sendable, Hashable, CustomStringConvertible {
        public var message: String
        public var description: String { message }
    }

    /// The infix of the routes Sluice inserts: `<route>-sluice-<header route>` and `<route>-sluice-mirror`.
    public static let cloneInfix = "-sluice-"

    /// The indexes of the managed http routes: those named in `routes`, or with none named,
    /// every route whose destinations are the stable and the canary one.
    public static func managedRoutes(in vs: VirtualService, named routes: [String],
                                     destinations: RouteDestinations) throws(Failure) -> [Int] {
        let http = vs.spec.http
        let name = vs.metadata.name ?? ""
        if routes.isEmpty {
            let found = http.indices.filter { !isClone(http[$0]) && splitsBetween(http[$0], destinations) }
            if found.isEmpty {
                throw Failure(message: "VirtualService \(name) has no http route to exactly \(describe(destinations)); name the route in routes or add one")
            }
            return found
        }
        var indexes: [Int] = []
        for route in routes {
            guard let i = http.firstIndex(where: { $0.name == route }) else {
                throw Failure(message: "VirtualService \(name) has no http route named '\(route)'")
            }
            guard splitsBetween(http[i], destinations) else {
                throw Failure(message: "route '\(route)' of VirtualService \(name) must route to exactly \(describe(destinations))")
            }
            indexes.append(i)
        }
        return indexes
    }

    /// The VirtualService with the managed routes set to `traffic`.
    public static func apply(_ traffic: TrafficState, to vs: VirtualService, routes: [String],
                             destinations: RouteDestinations) throws(Failure) -> VirtualService {
        let destinations = destinations.seen(from: vs.metadata.namespace)
        var out = vs
        let managed = try managedRoutes(in: vs, named: routes, destinations: destinations)
        let managedNames = Set(managed.map { baseName(vs.spec.http[$0]) })
        let original = vs.spec.http.filter { !isClone($0, of: managedNames) }
        var http: [HTTPRoute] = []
        for route in original {
            guard splitsBetween(route, destinations), managedNames.contains(baseName(route)) else {
                http.append(route)
                continue
            }
            if traffic.activeMirror != nil, route.mirrors != nil {
                throw Failure(message: "route '\(route.name ?? "")' already uses mirrors; Sluice cannot mirror it too")
            }
            http += try clones(of: route, traffic: traffic, destinations: destinations)
        }
        out.spec.http = http
        return out
    }

    /// What each managed route of a VirtualService says now, in route order; nil when the
    /// managed routes cannot be found.
    public static func observedTraffic(in vs: VirtualService, routes: [String], destinations: RouteDestinations)
        -> [ObservedRoute]?
    {
        let destinations = destinations.seen(from: vs.metadata.namespace)
        guard let indexes = try? managedRoutes(in: vs, named: routes, destinations: destinations) else { return nil }
        return indexes.map { i in
            let route = vs.spec.http[i]
            let stable = route.route.first { destinations.isStable($0.destination) }?.weight ?? 0
            let canary = route.route.first { destinations.isCanary($0.destination) }?.weight ?? 0
            let base = baseName(route)
            let mirrorName = base + cloneInfix + "mirror"
            let clones = vs.spec.http.compactMap(\.name).filter { $0.hasPrefix(base + cloneInfix) && $0 != mirrorName }
            let mirrorRoute = vs.spec.http.first { $0.name == mirrorName } ?? route
            return ObservedRoute(
                weights: Weights(stable: stable, canary: canary),
                mirrorPercentage: mirrorRoute.mirrorPercentage.map { Int($0.rounded()) } ?? 0,
                headerRoutes: clones.map { String($0.dropFirst(base.count + cloneInfix.count)) }.sorted())
        }
    }

    public struct ObservedRoute: Sendable, Hashable {
        public var weights: Weights
        public var mirrorPercentage: Int
        public var headerRoutes: [String]
    }

    static func baseName(_ route: HTTPRoute) -> String { route.name ?? "route" }

    static func clones(of route: HTTPRoute, traffic: TrafficState, destinations: RouteDestinations) throws(Failure) -> [HTTPRoute] {
        let base = baseName(route)
        var out: [HTTPRoute] = []
        for header in traffic.headerRoutes {
            var clone = route
            clone.name = base + cloneInfix + header.name
            clone.match = combine(route.match, with: header.match.map { m in
                JSONValue.object(["headers": .object(m.headers.mapValues { stringMatch($0) })])
            })
            let canary = route.route.first { destinations.isCanary($0.destination) }?.destination ?? destinations.canary
            clone.route = [HTTPRouteDestination(destination: canary, weight: 100)]
            clone.mirror = nil
            clone.mirrorPercentage = nil
            out.append(clone)
        }
        var main = route
        main.route = route.route.map { d in
            var d = d
            d.weight = destinations.isStable(d.destination) ? traffic.weights.stable : traffic.weights.canary
            return d
        }
        main.mirror = nil
        main.mirrorPercentage = nil
        if let mirror = traffic.activeMirror {
            let canary = route.route.first { destinations.isCanary($0.destination) }?.destination ?? destinations.canary
            var target = Destination(json: canary.json)
            target.json["port"] = canary.json["port"]
            if let methods = mirror.methods {
                var clone = main
                clone.name = base + cloneInfix + "mirror"
                let pattern = methods.count == 1 ? ["exact": JSONValue.string(methods[0])]
                    : ["regex": JSONValue.string("^(" + methods.joined(separator: "|") + ")$")]
                clone.match = combine(route.match, with: [["method": .object(pattern)]])
                clone.mirror = target
                clone.mirrorPercentage = Double(mirror.percentage)
                out.append(clone)
            } else {
                main.mirror = target
                main.mirrorPercentage = Double(mirror.percentage)
            }
        }
        out.append(main)
        return out
    }

    /// Each of the route's match clauses AND-ed with each added clause (the clauses of a match list are OR-ed).
    static func combine(_ existing: [JSONValue]?, with added: [JSONValue]) -> [JSONValue] {
        guard let existing, !existing.isEmpty else { return added }
        return existing.flatMap { clause in
            added.map { extra -> JSONValue in
                var merged = clause.object ?? [:]
                for (key, value) in extra.object ?? [:] {
                    if case .object(var inner) = merged[key], case .object(let more) = value {
                        inner.merge(more) { _, new in new }
                        merged[key] = .object(inner)
                    } else {
                        merged[key] = value
                    }
                }
                return .object(merged)
            }
        }
    }

    static func stringMatch(_ m: StringMatch) -> JSONValue {
        if let exact = m.exact { return ["exact": .string(exact)] }
        if let prefix = m.prefix { return ["prefix": .string(prefix)] }
        return ["regex": .string(m.regex ?? "")]
    }

    static func splitsBetween(_ route: HTTPRoute, _ d: RouteDestinations) -> Bool {
        let dests = route.route.map(\.destination)
        return dests.count == 2 && dests.contains(where: d.isStable) && dests.contains(where: d.isCanary)
    }

    static func isClone(_ route: HTTPRoute, of managed: Set<String>? = nil) -> Bool {
        let name = baseName(route)
        guard let range = name.range(of: cloneInfix) else { return false }
        guard let managed else { return true }
        return managed.contains(String(name[..<range.lowerBound]))
    }

    static func describe(_ d: RouteDestinations) -> String {
        func text(_ x: Destination) -> String { x.subset.map { "\(x.host ?? "")/\($0)" } ?? (x.host ?? "") }
        return "\(text(d.stable)) and \(text(d.canary))"
    }
}
