import SluiceModel

extension Planner {
    /// Reads the command annotations. Each value is acted on once: the handled value is kept in
    /// `status.commands`, so re-applying the same annotation does nothing.
    mutating func takeCommands() {
        takeAbort()
        let annotations = rollout.metadata.annotations ?? [:]
        var commands = status.commands ?? HandledCommands()
        defer { status.commands = commands == HandledCommands() ? status.commands : commands }
        if let value = annotations[Labels.retry], value != commands.retry?.value {
            commands.retry = HandledCommand(value: value, handledAt: now)
            if let deployment, status.phase == .failed || status.phase == .aborted,
               !Revision.same(deployment.spec.template, stableTemplate ?? deployment.spec.template) {
                startRelease(deployment)
            }
        }
        if let value = annotations[Labels.promote], value != commands.promote?.value {
            commands.promote = HandledCommand(value: value, handledAt: now)
            let kind = value.split(separator: "/").first.map(String.init) ?? value
            promote = kind == "full" ? .full : .step
        }
    }

    /// The abort command, on its own: it acts in every state, an invalid spec included, since
    /// sending traffic back to stable needs nothing but the VirtualServices that exist.
    mutating func takeAbort() {
        guard let value = rollout.metadata.annotations?[Labels.abort], value != status.commands?.abort?.value else { return }
        var commands = status.commands ?? HandledCommands()
        commands.abort = HandledCommand(value: value, handledAt: now)
        status.commands = commands
        if isReleaseInProgress {
            let reason = value.isEmpty ? "aborted by annotation" : "aborted: \(value)"
            endRelease(.aborted, phase: .aborted, reason: reason, event: .aborted)
        }
    }

    var isReleaseInProgress: Bool {
        [.progressing, .paused, .promoting].contains(status.phase ?? .initializing)
    }

    /// Everything that keeps the Rollout from moving traffic: the spec's own problems, the
    /// templates it names, and the objects it routes through.
    func specProblems() -> [SpecProblem] {
        var problems = SpecValidator(templates: observation.templates, prometheus: config.prometheus).problems(in: rollout)
        for ref in referencedTemplates {
            guard let template = observation.templates.template(ref) else { continue }
            let kind = template.isClusterScoped ? "ClusterAnalysisTemplate" : "AnalysisTemplate"
            problems += SpecValidator(prometheus: config.prometheus).problems(in: template).map {
                SpecProblem("\(kind) \(ref.name): \($0.path)", $0.message)
            }
        }
        guard problems.isEmpty else { return problems }
        return referenceProblems()
    }

    /// What the objects the Rollout names say against it: the Deployment, the Services or the
    /// DestinationRule and its subsets, the VirtualServices (found, consenting, with routes to
    /// exactly the stable and the canary, none that must be mirrored already using mirrors).
    func referenceProblems() -> [SpecProblem] {
        guard let istio else { return [] }
        var problems: [SpecProblem] = []
        if observation.deployment == nil {
            problems.append(SpecProblem("spec.workloadRef.name", "Deployment \(spec.workloadRef.name) is not found in namespace \(namespace)"))
        }
        return problems + trafficProblems(istio)
    }

    var referencedTemplates: [TemplateRef] {
        let canary = spec.strategy.canary
        let steps = canary?.resolvedSteps.compactMap { $0.analysis?.templates } ?? []
        let bg = spec.strategy.blueGreen
        let gates = [bg?.prePromotionAnalysis?.templates, bg?.postPromotionAnalysis?.templates, canary?.analysis?.templates]
        var seen: Set<TemplateRef> = []
        return (steps + gates.compactMap { $0 }).flatMap { $0 }.filter { seen.insert($0).inserted }
    }

    func trafficProblems(_ istio: IstioTrafficRouting) -> [SpecProblem] {
        let path = FieldPath("spec.trafficRouting.istio")
        var problems: [SpecProblem] = []
        if let rule = istio.destinationRule {
            let subsets = Set(observation.destinationRule?.spec.subsets.compactMap(\.name) ?? [])
            if observation.destinationRule == nil {
                problems.append(SpecProblem((path / "destinationRule" / "name").description, "DestinationRule \(rule.name) is not found"))
            }
            for (field, subset) in [("stableSubsetName", rule.stableSubsetName), ("canarySubsetName", rule.canarySubsetName)]
            where observation.destinationRule != nil && !subsets.contains(subset) {
                problems.append(SpecProblem((path / "destinationRule" / field).description, "DestinationRule \(rule.name) has no subset '\(subset)'"))
            }
        } else {
            for (field, service) in [("stableService", istio.stableService), ("canaryService", istio.canaryService)]
            where !observation.services.contains(where: { $0.metadata.name == service }) {
                problems.append(SpecProblem((path / field).description, "Service \(service ?? "") is not found in namespace \(namespace)"))
            }
        }
        guard problems.isEmpty, let destinations else { return problems }
        for (i, ref) in istio.virtualServices.enumerated() {
            let at = path / "virtualServices" / i
            guard let vs = virtualService(ref) else {
                problems.append(SpecProblem(at.description, "VirtualService \(ref.namespace ?? namespace)/\(ref.name) is not found"))
                continue
            }
            if let other = ref.namespace, other != namespace,
               !(vs.metadata.annotations?[Labels.allowRollouts] ?? "").split(separator: ",")
                .map({ $0.trimmingSpaces() }).contains("\(namespace)/\(name)") {
                problems.append(SpecProblem(at.description, "VirtualService \(other)/\(ref.name) does not consent; annotate it \(Labels.allowRollouts): \"\(namespace)/\(name)\""))
            }
            do {
                for probe in probes {
                    _ = try VirtualServiceTransform.apply(probe, to: vs, routes: ref.routes ?? [], destinations: destinations)
                }
            } catch {
                problems.append(SpecProblem(at.description, error.message))
            }
        }
        return problems
    }

    /// Traffic states that put every header route and each mirroring of the steps on the routes,
    /// to find routes that cannot carry them (already mirrored, or matching in a way the header
    /// or method match contradicts).
    var probes: [TrafficState] {
        let headerRoutes = steps.compactMap(\.setHeaderRoute)
        var mirrors = steps.compactMap(\.setMirror).filter { $0.percentage > 0 }
        if let preview = spec.strategy.blueGreen?.previewMirror, preview.percentage > 0 { mirrors.append(preview) }
        let states = mirrors.map { TrafficState(weights: .allStable, mirror: $0, headerRoutes: headerRoutes) }
        return states.isEmpty ? [TrafficState(weights: .allStable, headerRoutes: headerRoutes)] : states
    }

    /// InvalidSpec moves nothing: it only says why.
    mutating func holdInvalid() {
        let message = invalid.prefix(3).map(\.description).joined(separator: "; ")
            + (invalid.count > 3 ? "; and \(invalid.count - 3) more" : "")
        if !hasCondition(ConditionType.invalidSpec, .true, message: message) {
            actions.append(.recordEvent(Event(.warning, .invalidSpec, message)))
        }
        setCondition(ConditionType.invalidSpec, .true, reason: "InvalidSpec", message: message)
        setCondition(ConditionType.stalled, .true, reason: "InvalidSpec", message: message)
        status.message = "invalid spec: \(message)"
    }
}

extension StringProtocol {
    /// The text without leading and trailing spaces (SluiceCore does without Foundation).
    func trimmingSpaces() -> String {
        String(drop(while: { $0 == " " }).reversed().drop(while: { $0 == " " }).reversed())
    }
}
