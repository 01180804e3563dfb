import SluiceCore
import SluiceModel
import SluiceTestKit
import Testing

@Suite struct VirtualServiceTransformTests {
    static let hosts = RouteDestinations(stable: Destination(host: "checkout-stable"), canary: Destination(host: "checkout-canary"), namespace: "shop")

    static func vs(_ http: JSONValue) -> VirtualService {
        VirtualService(metadata: ObjectMeta(name: "checkout", namespace: "shop"),
                       spec: VirtualServiceSpec(json: ["hosts": ["checkout"], "gateways": ["mesh"], "http": http]))
    }

    static let primary: JSONValue = [
        "name": "primary", "timeout": "5s", "retries": ["attempts": 3],
        "match": [["uri": ["prefix": "/api"]], ["uri": ["prefix": "/v2"]]],
        "route": [["destination": ["host": "checkout-stable", "port": ["number": 80]], "weight": 100],
                  ["destination": ["host": "checkout-canary.shop.svc.cluster.local", "port": ["number": 80]], "weight": 0]],
    ]
    static let other: JSONValue = ["name": "static", "route": [["destination": ["host": "cdn"]]]]

    /// Scenario 13: a short host in a VirtualService of another namespace names that namespace's
    /// Service; only qualified hosts reach the Rollout's.
    @Test func aShortHostInAnotherNamespaceIsThatNamespacesService() throws {
        func gateway(_ stable: String, _ canary: String) -> VirtualService {
            var vs = Self.vs([["name": "primary", "route": [["destination": ["host": .string(stable)], "weight": 100],
                                                            ["destination": ["host": .string(canary)], "weight": 0]]]])
            vs.metadata.namespace = "gateways"
            return vs
        }
        let short = gateway("checkout-stable", "checkout-canary")
        #expect(VirtualServiceTransform.observedTraffic(in: short, routes: [], destinations: Self.hosts) == nil)
        #expect(throws: VirtualServiceTransform.Failure.self) {
            try VirtualServiceTransform.apply(TrafficState(weights: Weights(canary: 30)), to: short, routes: [], destinations: Self.hosts)
        }
        let qualified = gateway("checkout-stable.shop.svc.cluster.local", "checkout-canary.shop")
        let after = try VirtualServiceTransform.apply(TrafficState(weights: Weights(canary: 30)), to: qualified, routes: [],
                                                      destinations: Self.hosts)
        #expect(after.spec.http[0].route.map(\.weight) == [70, 30])
    }

    @Test func setsWeightsAndTouchesNothingElse() throws {
        let before = VirtualServiceTransformTests.vs([VirtualServiceTransformTests.other, VirtualServiceTransformTests.primary])
        let after = try VirtualServiceTransform.apply(TrafficState(weights: Weights(canary: 30)), to: before, routes: ["primary"],
                                                      destinations: VirtualServiceTransformTests.hosts)
        #expect(after.spec.http[1].route.map(\.weight) == [70, 30])
        var expected = before
        expected.spec.http[1].route[0].weight = 70
        expected.spec.http[1].route[1].weight = 30
        #expect(after == expected)
    }

    @Test func headerRouteClonesGoRightBeforeTheirRouteWithMatchesAndedAndEverythingElseKept() throws {
        let before = VirtualServiceTransformTests.vs([VirtualServiceTransformTests.other, VirtualServiceTransformTests.primary])
        let traffic = TrafficState(weights: Weights(canary: 10), headerRoutes: [Engine.insiders])
        let after = try VirtualServiceTransform.apply(traffic, to: before, routes: [], destinations: VirtualServiceTransformTests.hosts)
        #expect(after.spec.http.compactMap(\.name) == ["static", "primary-sluice-insiders", "primary"])
        let clone = after.spec.http[1]
        #expect(clone.match == [["uri": ["prefix": "/api"], "headers": ["x-canary": ["exact": "1"]]],
                                ["uri": ["prefix": "/v2"], "headers": ["x-canary": ["exact": "1"]]]])
        #expect(clone.route.count == 1)
        #expect(clone.route[0].weight == 100)
        #expect(clone.route[0].destination.host == "checkout-canary.shop.svc.cluster.local")
        #expect(clone.json["timeout"] == "5s")
        #expect(clone.json["retries"] == ["attempts": 3])
        // Applying again is the same; clearing removes the clone.
        #expect(try VirtualServiceTransform.apply(traffic, to: after, routes: [], destinations: VirtualServiceTransformTests.hosts) == after)
        let cleared = try VirtualServiceTransform.apply(.allStable, to: after, routes: [], destinations: VirtualServiceTransformTests.hosts)
        #expect(cleared == before)
    }

    @Test func mirrorsWholeRoutesOrOnlyTheGivenMethods() throws {
        let before = VirtualServiceTransformTests.vs([VirtualServiceTransformTests.primary])
        let all = try VirtualServiceTransform.apply(TrafficState(weights: .allStable, mirror: MirrorStep(percentage: 10)), to: before,
                                                    routes: ["primary"], destinations: VirtualServiceTransformTests.hosts)
        #expect(all.spec.http.count == 1)
        #expect(all.spec.http[0].mirror?.host == "checkout-canary.shop.svc.cluster.local")
        #expect(all.spec.http[0].mirror?.json["port"] == ["number": 80])
        #expect(all.spec.http[0].mirrorPercentage == 10)
        let some = try VirtualServiceTransform.apply(TrafficState(weights: .allStable, mirror: MirrorStep(percentage: 10, methods: ["GET", "HEAD"])),
                                                     to: before, routes: ["primary"], destinations: VirtualServiceTransformTests.hosts)
        #expect(some.spec.http.compactMap(\.name) == ["primary-sluice-mirror", "primary"])
        #expect(some.spec.http[0].match?.first == ["uri": ["prefix": "/api"], "method": ["regex": "^(GET|HEAD)$"]])
        #expect(some.spec.http[1].mirror == nil)
        let observed = VirtualServiceTransform.observedTraffic(in: some, routes: ["primary"], destinations: VirtualServiceTransformTests.hosts)
        #expect(observed?.first?.mirrorPercentage == 10)
    }

    @Test func refusesRoutesThatAreNotAStableCanarySplit() {
        let vs = VirtualServiceTransformTests.vs([VirtualServiceTransformTests.other])
        #expect(throws: VirtualServiceTransform.Failure.self) {
            try VirtualServiceTransform.apply(.allStable, to: vs, routes: ["static"], destinations: VirtualServiceTransformTests.hosts)
        }
        #expect(throws: VirtualServiceTransform.Failure.self) {
            try VirtualServiceTransform.apply(.allStable, to: vs, routes: [], destinations: VirtualServiceTransformTests.hosts)
        }
        #expect(throws: VirtualServiceTransform.Failure.self) {
            try VirtualServiceTransform.apply(.allStable, to: vs, routes: ["nope"], destinations: VirtualServiceTransformTests.hosts)
        }
    }

    @Test func worksOnIstiosOwnSubsetExample() throws {
        let doc = try ManifestParser.parse(try RepositoryFiles.fixture("istio/examples/virtual-service-reviews-80-20.yaml"))[0]
        let vs = try doc.decode(VirtualService.self).get()
        let subsets = RouteDestinations(stable: Destination(host: "reviews", subset: "v1"), canary: Destination(host: "reviews", subset: "v2"),
                                        namespace: "default")
        let after = try VirtualServiceTransform.apply(TrafficState(weights: Weights(canary: 50)), to: vs, routes: [], destinations: subsets)
        #expect(after.spec.http[0].route.map(\.weight) == [50, 50])
        let json = try JSONValue(encoding: after)
        var expected = doc.json
        expected["spec"] = ["hosts": ["reviews"], "http": [["route": [
            ["destination": ["host": "reviews", "subset": "v1"], "weight": 50],
            ["destination": ["host": "reviews", "subset": "v2"], "weight": 50]]]]]
        #expect(json == expected)
        #expect(VirtualServiceTransform.observedTraffic(in: after, routes: [], destinations: subsets)?.first?.weights == Weights(canary: 50))
    }

    static func split(_ extra: [String: JSONValue] = [:]) -> JSONValue {
        var route: [String: JSONValue] = [
            "route": [["destination": ["host": "checkout-stable"], "weight": 100], ["destination": ["host": "checkout-canary"], "weight": 0]],
        ]
        route.merge(extra) { _, new in new }
        return .object(route)
    }

    /// Scenario 9: two unnamed managed routes get clones of distinct, stable names, and the
    /// header route is seen on both.
    @Test func unnamedManagedRoutesGetDistinctCloneNames() throws {
        let vs = Self.vs([Self.split(["match": [["uri": ["prefix": "/a"]]]]), Self.split(["match": [["uri": ["prefix": "/b"]]]])])
        let traffic = TrafficState(weights: Weights(canary: 10), headerRoutes: [Engine.insiders])
        let once = try VirtualServiceTransform.apply(traffic, to: vs, routes: [], destinations: Self.hosts)
        let names = once.spec.http.map(\.name)
        #expect(names[1] == nil && names[3] == nil)
        let clones = [names[0], names[2]].compactMap { $0 }
        #expect(clones.count == 2 && Set(clones).count == 2 && clones.allSatisfy { $0.hasPrefix("route-") && $0.hasSuffix("-sluice-insiders") })
        // A route added in front changes no clone's name, and an orphaned clone does not survive.
        var moved = once
        moved.spec.http.insert(HTTPRoute(json: Self.split(["match": [["uri": ["prefix": "/c"]]]]).object!), at: 0)
        moved.spec.http.removeLast()
        let again = try VirtualServiceTransform.apply(traffic, to: moved, routes: [], destinations: Self.hosts)
        let cloned = again.spec.http.compactMap(\.name)
        #expect(cloned.count == 2 && cloned.contains(clones[0]), "/a keeps its clone's name")
        #expect(!cloned.contains(clones[1]), "the clone of the removed /b route goes with it")
        let orphaned = try VirtualServiceTransform.apply(TrafficState(weights: .allStable), to: moved, routes: [], destinations: Self.hosts)
        #expect(orphaned.spec.http.allSatisfy { $0.name == nil }, "back to stable, no clone is left")
        let twice = try VirtualServiceTransform.apply(traffic, to: once, routes: [], destinations: Self.hosts)
        #expect(twice == once, "applying again changes nothing")
        let seen = VirtualServiceTransform.observedTraffic(in: once, routes: [], destinations: Self.hosts)
        #expect(seen?.map(\.headerRoutes) == [["insiders"], ["insiders"]])
        let back = try VirtualServiceTransform.apply(TrafficState(weights: .allStable), to: once, routes: [], destinations: Self.hosts)
        #expect(back.spec.http.map(\.name) == [nil, nil])
    }

    /// Scenario 10: a mirror's methods and a header route's match are AND-ed with the route's
    /// own conditions on the same field, never written over them.
    @Test func addedMatchesAreAndedWithTheRoutesOwn() throws {
        let ownMethod = Self.vs([Self.split(["name": "api", "match": [["method": ["exact": "GET"], "uri": ["prefix": "/api"]]]])])
        let mirror = TrafficState(weights: .allStable, mirror: MirrorStep(percentage: 20, methods: ["GET", "HEAD"]))
        let mirrored = try VirtualServiceTransform.apply(mirror, to: ownMethod, routes: [], destinations: Self.hosts)
        let clone = mirrored.spec.http.first { $0.name == "api-sluice-mirror" }
        #expect(clone?.match == [["method": ["exact": "GET"], "uri": ["prefix": "/api"]]], "GET is in GET|HEAD: the route's own stays")
        let postOnly = TrafficState(weights: .allStable, mirror: MirrorStep(percentage: 20, methods: ["POST"]))
        #expect(throws: VirtualServiceTransform.Failure.self, "POST mirroring can never match a GET-only route") {
            try VirtualServiceTransform.apply(postOnly, to: ownMethod, routes: [], destinations: Self.hosts)
        }

        let ownHeader = Self.vs([Self.split(["name": "api", "match": [["headers": ["x-canary": ["exact": "0"], "x-team": ["exact": "a"]]],
                                                                    ["headers": ["x-canary": ["exact": "1"]]]]])])
        let routed = try VirtualServiceTransform.apply(TrafficState(weights: .allStable, headerRoutes: [Engine.insiders]),
                                                       to: ownHeader, routes: [], destinations: Self.hosts)
        let headerClone = routed.spec.http.first { $0.name == "api-sluice-insiders" }
        #expect(headerClone?.match == [["headers": ["x-canary": ["exact": "1"]]]],
                "the clause asking x-canary: 0 cannot also ask 1, and is left out; the other is kept once")
        let regexHeader = Self.vs([Self.split(["name": "api", "match": [["headers": ["x-canary": ["regex": "[0-9]+"]]]]])])
        #expect(throws: VirtualServiceTransform.Failure.self, "a regex and an exact value on one header cannot be one match") {
            try VirtualServiceTransform.apply(TrafficState(weights: .allStable, headerRoutes: [Engine.insiders]),
                                              to: regexHeader, routes: [], destinations: Self.hosts)
        }
    }

    /// Scenario 10 as the Rollout sees it: a header route that contradicts a managed route's
    /// own match is an invalid spec, before any release.
    @Test func aContradictingHeaderRouteIsAnInvalidSpec() {
        var world = Engine.healthy(Rollout.fixture().steps([CanaryStep(setWeight: 10), CanaryStep(setHeaderRoute: Engine.insiders)]))
        let i = world.virtualServices[0].spec.http.firstIndex { $0.name == "primary" }!
        world.virtualServices[0].spec.http[i].match = [["headers": ["x-canary": ["prefix": "9"]]]]
        world.settle()
        #expect(world.condition(ConditionType.invalidSpec) == .true)
        #expect(world.status.message?.contains("header route insiders never holds together with route 'primary'") == true,
                "\(world.status.message ?? "")")
    }
}
