import SluiceModel

extension Planner {
    var destinations: RouteDestinations? {
        guard let istio else { return nil }
        return RouteDestinations(istio, namespace: namespace, host: observation.destinationRule?.spec.host)
    }

    func virtualService(_ ref: VirtualServiceRef) -> VirtualService? {
        observation.virtualServices.first {
            $0.metadata.name == ref.name && ($0.metadata.namespace ?? namespace) == (ref.namespace ?? namespace)
        }
    }

    /// The traffic status says, with the mirror methods and header matches looked up in the steps.
    var currentTraffic: TrafficState {
        let upTo = steps.prefix((status.currentStepIndex ?? 0) + 1)
        let percentage = status.mirrorPercentage ?? 0
        let mirror = percentage > 0
            ? (upTo.last { $0.setMirror != nil }?.setMirror.flatMap { $0.percentage == percentage ? $0 : nil }
                ?? MirrorStep(percentage: percentage))
            : nil
        let routes = (status.headerRoutes ?? []).compactMap { name in
            steps.first { $0.setHeaderRoute?.name == name }?.setHeaderRoute
        }
        return TrafficState(weights: status.weights ?? .allStable, mirror: mirror, headerRoutes: routes)
    }

    /// Puts new traffic in status and the release's timeline; the writes follow from it.
    mutating func setTraffic(_ traffic: TrafficState) {
        let before = currentTraffic
        let mirror = traffic.activeMirror?.percentage
        let routes = traffic.headerRoutes.map(\.name)
        if before.weights != traffic.weights {
            status.weights = traffic.weights
            timeline(.weights) { $0.weights = traffic.weights }
        }
        if (status.mirrorPercentage ?? 0) != (mirror ?? 0) {
            timeline(.mirror) { $0.mirrorPercentage = mirror ?? 0 }
        }
        for name in Set(routes).symmetricDifference(status.headerRoutes ?? []).sorted() {
            timeline(.headerRoute) { $0.headerRoute = name; $0.message = routes.contains(name) ? "added" : "removed" }
        }
        if before != traffic {
            status.weightsSince = now
            status.trafficObservedAt = nil
        }
        status.mirrorPercentage = mirror
        status.headerRoutes = routes.isEmpty ? nil : routes
    }

    /// Every managed route of every managed VirtualService says what status says.
    var trafficObserved: Bool {
        guard let istio, let destinations else { return false }
        let traffic = currentTraffic
        let wanted = VirtualServiceTransform.ObservedRoute(
            weights: traffic.weights, mirrorPercentage: traffic.activeMirror?.percentage ?? 0,
            headerRoutes: traffic.headerRoutes.map(\.name).sorted())
        return istio.virtualServices.allSatisfy { ref in
            guard let vs = virtualService(ref),
                  let routes = VirtualServiceTransform.observedTraffic(in: vs, routes: ref.routes ?? [], destinations: destinations)
            else { return false }
            return routes.allSatisfy { $0 == wanted }
        }
    }

    /// The VirtualService writes that make the managed routes say what status says, and the
    /// VirtualServices among them someone else changed (status asked for nothing new and the last
    /// plan did not write them). A function of status and the observation alone: the fast path
    /// is these writes, first.
    func routeWrites() -> (writes: [Action], drifted: [String]) {
        guard let istio, let destinations else { return ([], []) }
        let traffic = currentTraffic
        let previous = rollout.status
        let writtenBefore = Set((previous?.pending?.actions ?? []).filter { $0.type == .writeVirtualService }.compactMap(\.name))
        let unchanged = previous?.weights == status.weights && previous?.mirrorPercentage == status.mirrorPercentage
            && previous?.headerRoutes == status.headerRoutes && previous?.phase != nil
        var writes: [Action] = []
        var drifted: [String] = []
        for ref in istio.virtualServices {
            guard let vs = virtualService(ref) else { continue }
            var desired = try? VirtualServiceTransform.apply(traffic, to: vs, routes: ref.routes ?? [], destinations: destinations)
            if desired == nil, traffic == .allStable {
                // The managed routes cannot be found (one was renamed): going back to stable
                // still sends every route between the stable and the canary there.
                desired = VirtualServiceTransform.everySplitToStable(vs, destinations: destinations)
            }
            guard let desired, desired != vs else { continue }
            writes.append(.writeVirtualService(desired))
            if unchanged, !writtenBefore.contains(ref.name) { drifted.append(ref.name) }
        }
        return (writes, drifted)
    }

    /// Appends the route writes to the plan, with a TrafficDrift Event for each drifted one;
    /// returns the writes.
    @discardableResult
    mutating func writeRoutes() -> [Action] {
        let (writes, drifted) = routeWrites()
        actions += writes
        for name in drifted {
            driftDetected = true
            actions.append(.recordEvent(Event(.warning, .trafficDrift, "VirtualService \(name) was changed by someone else; Sluice wrote its routes back")))
        }
        return writes
    }

    /// Selector keys: `pod-template-hash` on stable, `sluice.dev/revision` on canary (nil removes).
    func selectorWrites(stable: String?, canary: String?) -> [Action] {
        guard let istio else { return [] }
        var writes: [Action] = []
        if let rule = istio.destinationRule, let dr = observation.destinationRule {
            for (subset, key, value) in [(rule.stableSubsetName, PodTemplateSpec.podTemplateHashLabel, stable),
                                         (rule.canarySubsetName, Labels.revision, canary)] {
                let current = dr.spec.subsets.first { $0.name == subset }?.labels[key]
                if current != value { writes.append(.setSelector(.subset(destinationRule: rule.name, subset: subset), key: key, value: value)) }
            }
        } else if let stableName = istio.stableService, let canaryName = istio.canaryService {
            for (service, key, value) in [(stableName, PodTemplateSpec.podTemplateHashLabel, stable),
                                          (canaryName, Labels.revision, canary)] {
                let current = observation.services.first { $0.metadata.name == service }?.spec.selector[key]
                if current != value { writes.append(.setSelector(.service(service), key: key, value: value)) }
            }
        }
        return writes
    }
}
