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
        let names = baseNames(vs.spec.http)
        let managedNames = Set(managed.map { names[$0] })
        // Clones of managed routes are written afresh; clones whose route is gone (renamed,
        // edited) are orphans that would still send requests to the canary: dropped too.
        let routeNames = Set(vs.spec.http.indices.filter { !isClone(vs.spec.http[$0]) }.map { names[$0] })
        var http: [HTTPRoute] = []
        for (i, route) in vs.spec.http.enumerated()
        where !isClone(route, of: managedNames) && !(isClone(route) && !routeNames.contains(cloneBase(route))) {
            guard splitsBetween(route, destinations), managedNames.contains(names[i]) else {
                http.append(route)
                continue
            }
            if traffic.activeMirror != nil, route.mirrors != nil {
                throw Failure(message: "route '\(names[i])' already uses mirrors; Sluice cannot mirror it too")
            }
            http += try clones(of: route, base: names[i], traffic: traffic, destinations: destinations)
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
        let names = baseNames(vs.spec.http)
        return indexes.map { i in
            let route = vs.spec.http[i]
            let stable = route.route.first { destinations.isStable($0.destination) }?.weight ?? 0
            let canary = route.route.first { destinations.isCanary($0.destination) }?.weight ?? 0
            let base = names[i]
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

    /// The name each http route goes by, the base of its clones' names: its own, or for an
    /// unnamed route `route-<digest of its match>`, so that two unnamed managed routes never
    /// share clone names and a route keeps its clones' names when others are added or moved.
    static func baseNames(_ http: [HTTPRoute]) -> [String] {
        http.map { route in
            if let name = route.name { return name }
            let match = (try? JSONValue(encoding: route.match ?? [])).map(Revision.canonical) ?? ""
            return "route-" + Revision.digest(match).prefix(8)
        }
    }

    /// The name of the route a clone was made from.
    static func cloneBase(_ route: HTTPRoute) -> String {
        let name = route.name ?? ""
        guard let range = name.range(of: cloneInfix) else { return name }
        return String(name[..<range.lowerBound])
    }

    /// Every route that splits between the stable and the canary at 100% stable, without
    /// mirroring, and every Sluice clone removed: where the managed routes cannot be found (one
    /// was renamed), this is how an abort or a deletion still sends everything to stable.
    public static func everySplitToStable(_ vs: VirtualService, destinations: RouteDestinations) -> VirtualService {
        let destinations = destinations.seen(from: vs.metadata.namespace)
        var out = vs
        out.spec.http = vs.spec.http.filter { !isClone($0) }.map { route in
            guard splitsBetween(route, destinations) else { return route }
            var route = route
            route.route = route.route.map { d in
                var d = d
                d.weight = destinations.isStable(d.destination) ? 100 : 0
                return d
            }
            route.mirror = nil
            route.mirrorPercentage = nil
            return route
        }
        return out
    }

    static func clones(of route: HTTPRoute, base: String, traffic: TrafficState, destinations: RouteDestinations) throws(Failure) -> [HTTPRoute] {
        var out: [HTTPRoute] = []
        for header in traffic.headerRoutes {
            var clone = route
            clone.name = base + cloneInfix + header.name
            clone.match = try combine(route.match, with: header.match.map { m in
                JSONValue.object(["headers": .object(m.headers.mapValues { stringMatch($0) })])
            }, route: base, what: "header route \(header.name)")
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
                clone.match = try combine(route.match, with: [["method": .object(pattern)]], route: base,
                                          what: "mirroring of methods \(methods.joined(separator: ", "))")
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

    /// Each of the route's match clauses AND-ed with each added clause (the clauses of a match
    /// list are OR-ed). Where both name the same header, `method`, `uri`, ... the route's own
    /// condition and the added one must both hold: equal conditions are kept once; an exact value
    /// that the other condition rejects makes that pair match nothing, and it is left out; two
    /// conditions that cannot be joined in one Istio match, or no pair left, are an error
    /// (an empty match would match every request).
    static func combine(_ existing: [JSONValue]?, with added: [JSONValue], route: String, what: String) throws(Failure) -> [JSONValue] {
        guard let existing, !existing.isEmpty else { return added }
        var out: [JSONValue] = []
        for clause in existing {
            for extra in added {
                if let merged = try and(clause.object ?? [:], extra.object ?? [:], route: route, what: what) {
                    out.append(.object(merged))
                }
            }
        }
        if out.isEmpty {
            throw Failure(message: "\(what) never holds together with route '\(route)''s own match; change one of them")
        }
        return out
    }

    /// One match clause AND-ed with another; nil when no request can satisfy both.
    static func and(_ a: [String: JSONValue], _ b: [String: JSONValue], route: String, what: String)
        throws(Failure) -> [String: JSONValue]?
    {
        var merged = a
        for (key, value) in b {
            guard let mine = merged[key] else {
                merged[key] = value
                continue
            }
            if ["headers", "queryParams", "withoutHeaders"].contains(key), case .object(var inner) = mine, case .object(let more) = value {
                for (name, condition) in more {
                    guard let own = inner[name] else {
                        inner[name] = condition
                        continue
                    }
                    guard let both = try stringAnd(own, condition, field: "\(key).\(name)", route: route, what: what) else { return nil }
                    inner[name] = both
                }
                merged[key] = .object(inner)
            } else {
                guard let both = try stringAnd(mine, value, field: key, route: route, what: what) else { return nil }
                merged[key] = both
            }
        }
        return merged
    }

    /// Two Istio StringMatch conditions on one field, as one: the same condition once; an exact
    /// value with the other condition it satisfies; nil when it does not.
    static func stringAnd(_ a: JSONValue, _ b: JSONValue, field: String, route: String, what: String) throws(Failure) -> JSONValue? {
        if a == b { return a }
        func satisfies(_ value: String, _ m: JSONValue) -> Bool? {
            if let exact = m["exact"]?.string { return value == exact }
            if let prefix = m["prefix"]?.string { return value.hasPrefix(prefix) }
            if let regex = m["regex"]?.string { return literalAlternatives(regex)?.contains(value) }
            return nil
        }
        // (JSONValue takes `nil` as JSON null: say `.none` for "no condition holds".)
        if let exact = a["exact"]?.string, let holds = satisfies(exact, b) { return holds ? .some(a) : .none }
        if let exact = b["exact"]?.string, let holds = satisfies(exact, a) { return holds ? .some(b) : .none }
        throw Failure(message: "route '\(route)' already matches \(field), and \(what) adds another condition on it that "
                      + "one Istio match cannot hold with it; match on exact values, or drop one condition")
    }

    /// The values a regex matches when it is a plain alternation of literals (`^(GET|HEAD)$`,
    /// `GET`), which is how Sluice writes method lists; nil for any other regex.
    static func literalAlternatives(_ regex: String) -> Set<String>? {
        var body = Substring(regex)
        if body.hasPrefix("^") { body = body.dropFirst() }
        if body.hasSuffix("$") { body = body.dropLast() }
        if body.hasPrefix("("), body.hasSuffix(")") { body = body.dropFirst().dropLast() }
        let parts = body.split(separator: "|", omittingEmptySubsequences: false).map(String.init)
        let special = Set("\\.^$*+?()[]{}|")
        guard !parts.isEmpty, parts.allSatisfy({ !$0.isEmpty && !$0.contains(where: special.contains) }) else { return nil }
        return Set(parts)
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
        let name = route.name ?? ""
        guard let range = name.range(of: cloneInfix) else { return false }
        guard let managed else { return true }
        return managed.contains(String(name[..<range.lowerBound]))
    }

    static func describe(_ d: RouteDestinations) -> String {
        func text(_ x: Destination) -> String { x.subset.map { "\(x.host ?? "")/\($0)" } ?? (x.host ?? "") }
        return "\(text(d.stable)) and \(text(d.canary))"
    }
}
