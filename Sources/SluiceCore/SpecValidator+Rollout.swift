import SluiceModel

extension SpecValidator {
    /// Every problem in a Rollout's metadata and spec.
    public func problems(in rollout: Rollout) -> [SpecProblem] {
        var list = ProblemList()
        let spec = FieldPath("spec")
        if let name = rollout.metadata.name {
            list.dnsLabel(name, FieldPath("metadata.name"))
        } else {
            list.add(FieldPath("metadata.name"), "required field is missing")
        }
        checkWorkload(rollout.spec.workloadRef, spec / "workloadRef", &list)
        checkTraffic(rollout.spec.trafficRouting, spec / "trafficRouting", &list)
        checkReplicas(rollout.spec.canaryReplicas, spec / "canaryReplicas", &list)
        list.atLeast(rollout.spec.progressDeadlineSeconds, 1, spec / "progressDeadlineSeconds")
        list.atLeast(rollout.spec.scaleDownDelaySeconds, 0, spec / "scaleDownDelaySeconds")
        list.range(rollout.spec.revisionHistoryLimit, 0...RolloutSpec.maxRevisionHistoryLimit, spec / "revisionHistoryLimit")
        checkStrategy(rollout.spec.strategy, spec / "strategy", &list)
        return list.problems
    }

    private func checkWorkload(_ ref: WorkloadRef, _ path: FieldPath, _ list: inout ProblemList) {
        if ref.apiVersion != "apps/v1" || ref.kind != "Deployment" {
            list.add(path, "\(ref.apiVersion) \(ref.kind) is not supported; Sluice rolls out an apps/v1 Deployment")
        }
        if !SpecValidator.isObjectName(ref.name) {
            list.add(path / "name", "'\(ref.name)' is not a Deployment name")
        }
    }

    private func checkTraffic(_ routing: TrafficRouting, _ path: FieldPath, _ list: inout ProblemList) {
        guard let istio = routing.istio else {
            list.add(path / "istio", "required field is missing; Istio is the traffic router Sluice drives")
            return
        }
        let path = path / "istio"
        if istio.virtualServices.isEmpty {
            list.add(path / "virtualServices", "is empty; name at least one VirtualService whose routes Sluice sets")
        }
        var seen: [String: Int] = [:]
        for (i, vs) in istio.virtualServices.enumerated() {
            let at = path / "virtualServices" / i
            if !SpecValidator.isObjectName(vs.name) { list.add(at / "name", "'\(vs.name)' is not a VirtualService name") }
            let key = "\(vs.namespace ?? "")/\(vs.name)"
            if let first = seen[key] {
                list.add(at, "names the same VirtualService as virtualServices[\(first)]; list each once")
            }
            seen[key] = seen[key] ?? i
            let routes = vs.routes ?? []
            for (j, route) in routes.enumerated() where routes.firstIndex(of: route) != j {
                list.add(at / "routes" / j, "route '\(route)' is listed twice")
            }
        }
        let hostMode = istio.stableService != nil || istio.canaryService != nil
        switch (hostMode, istio.destinationRule) {
        case (true, .some):
            list.add(path, "sets both stableService/canaryService (host mode) and destinationRule (subset mode); keep one")
        case (false, nil):
            list.add(path, "sets neither stableService and canaryService (host mode) nor destinationRule (subset mode); set one")
        case (true, nil):
            checkServices(istio, path, &list)
        case (false, .some(let rule)):
            if !SpecValidator.isObjectName(rule.name) { list.add(path / "destinationRule" / "name", "'\(rule.name)' is not a DestinationRule name") }
            list.dnsLabel(rule.stableSubsetName, path / "destinationRule" / "stableSubsetName")
            list.dnsLabel(rule.canarySubsetName, path / "destinationRule" / "canarySubsetName")
            if rule.stableSubsetName == rule.canarySubsetName {
                list.add(path / "destinationRule" / "canarySubsetName", "is the same subset as stableSubsetName; the canary needs its own subset")
            }
        }
    }

    private func checkServices(_ istio: IstioTrafficRouting, _ path: FieldPath, _ list: inout ProblemList) {
        for (field, other, value) in [("stableService", "canaryService", istio.stableService),
                                      ("canaryService", "stableService", istio.canaryService)] {
            if let value {
                list.dnsLabel(value, path / field)
            } else {
                list.add(path / field, "required field is missing; host mode needs both \(field) and \(other)")
            }
        }
        if let stable = istio.stableService, stable == istio.canaryService {
            list.add(path / "canaryService", "is the same Service as stableService; the canary needs its own Service")
        }
    }

    private func checkReplicas(_ replicas: CanaryReplicas?, _ path: FieldPath, _ list: inout ProblemList) {
        guard let replicas else { return }
        let forms = [replicas.proportional == true ? "proportional" : nil,
                     replicas.count.map { _ in "count" }, replicas.percent.map { _ in "percent" }].compactMap { $0 }
        if forms.count != 1 {
            let found = forms.isEmpty ? "none" : forms.joined(separator: " and ")
            list.add(path, "sets \(found); set exactly one of proportional: true, count or percent")
        }
        if replicas.min != nil, replicas.proportional != true {
            list.add(path / "min", "applies only with proportional: true")
        }
        list.atLeast(replicas.min, 1, path / "min")
        list.atLeast(replicas.count, 1, path / "count")
        list.range(replicas.percent, 1...100, path / "percent")
    }

    private func checkStrategy(_ strategy: Strategy, _ path: FieldPath, _ list: inout ProblemList) {
        switch (strategy.canary, strategy.blueGreen) {
        case (.some, .some):
            list.add(path, "sets both canary and blueGreen; keep one")
        case (nil, nil):
            list.add(path, "sets neither canary nor blueGreen; set one")
        case (.some(let canary), nil):
            checkCanary(canary, path / "canary", &list)
        case (nil, .some(let blueGreen)):
            checkBlueGreen(blueGreen, path / "blueGreen", &list)
        }
    }

    private func checkBlueGreen(_ bg: BlueGreenStrategy, _ path: FieldPath, _ list: inout ProblemList) {
        if let mirror = bg.previewMirror { checkMirror(mirror, path / "previewMirror", &list) }
        if let pre = bg.prePromotionAnalysis { checkAnalysis(pre, path / "prePromotionAnalysis", gate: true, &list) }
        if let post = bg.postPromotionAnalysis { checkAnalysis(post, path / "postPromotionAnalysis", gate: true, &list) }
    }
}
