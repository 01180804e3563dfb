import SluiceModel

extension Planner {
    /// The steps this Rollout runs. Blue-green is written as steps too: preview mirroring,
    /// pre-promotion analysis, a wait for promotion, cut-over, post-promotion analysis.
    static func steps(of spec: RolloutSpec) -> [CanaryStep] {
        if let canary = spec.strategy.canary { return canary.resolvedSteps }
        guard let bg = spec.strategy.blueGreen else { return [] }
        var steps: [CanaryStep] = []
        if let mirror = bg.previewMirror { steps.append(CanaryStep(setMirror: mirror)) }
        if let pre = bg.prePromotionAnalysis { steps.append(CanaryStep(analysis: pre)) }
        if bg.autoPromotion == false { steps.append(CanaryStep(pause: PauseStep())) }
        if bg.previewMirror != nil { steps.append(CanaryStep(setMirror: MirrorStep(percentage: 0))) }
        steps.append(CanaryStep(setWeight: 100))
        if let post = bg.postPromotionAnalysis { steps.append(CanaryStep(analysis: post)) }
        return steps
    }

    /// Runs the current step and every following one whose effect is already in place.
    mutating func runSteps() {
        // Background measurements are asked for after the steps ran, so never in the plan that changes the weights.
        defer { if isReleaseInProgress, spec.strategy.canary?.analysis != nil { scheduleMeasurements("background") } }
        guard canaryReady else {
            status.phase = .progressing
            status.message = canarySelectorRevision == status.canaryRevision
                ? "waiting for canary \(status.canaryReplicaSet ?? "") to be ready"
                : "waiting for traffic to leave the previous canary before the canary selector moves to revision \(status.canaryRevision ?? "")"
            return
        }
        // `full` goes past everything but a failure.
        if promote == .full, !backgroundFailed {
            promote = nil
            enterPromotion("promoted in full by command")
            return
        }
        if !checkBackgroundAnalysis() { return }
        if let digest = status.stepsDigest, digest != stepsDigest {
            // The steps were edited under the release: a gate may have moved before the current
            // step, or the current step past the end. Never skip one unasked: hold until a person
            // has looked and says go on (from the same position in the new steps).
            let index = status.currentStepIndex ?? 0
            guard takePromoteStep() else {
                status.phase = .paused
                status.message = "the steps changed during the release (at step \(index + 1), now \(steps.count) steps); "
                    + "check the new steps, then promote (sluice.dev/promote: step) to go on from step \(min(index, steps.count) + 1), "
                    + "or abort"
                return
            }
            status.stepsDigest = stepsDigest
            status.currentStepIndex = min(index, steps.count)
            status.stepStartedAt = now
        }
        while let index = status.currentStepIndex, index < steps.count {
            guard runStep(steps[index], index: index, of: steps.count) else { return }
            status.currentStepIndex = index + 1
            status.stepStartedAt = now
            if !checkBackgroundAnalysis() { return }
        }
        if backgroundRunning {
            status.phase = .progressing
            status.message = "all steps passed; waiting for background analysis to finish"
            return
        }
        enterPromotion("every step passed")
    }

    mutating func enterPromotion(_ reason: String) {
        status.phase = .promoting
        recordPhase(.promoting, reason)
        actions.append(.recordEvent(Event(.normal, .promoting, reason)))
        promoteStep(deployment!)
    }

    /// The steps as one short digest, to notice them being edited during a release.
    var stepsDigest: String {
        Revision.digest((try? JSONValue(encoding: steps)).map(Revision.canonical) ?? "")
    }

    /// Runs one step; true when it is complete.
    mutating func runStep(_ step: CanaryStep, index: Int, of count: Int) -> Bool {
        status.phase = .progressing
        let label = "step \(index + 1)/\(count)"
        switch step.kind {
        case .setWeight(let weight):
            if status.weights?.canary != weight {
                guard canaryReady(for: weight) else {
                    status.message = "\(label): scaling the canary for \(weight)%"
                    _ = awaiting("the canary \(status.canaryReplicaSet ?? "") ready for \(weight)%")
                    return false
                }
                guard stableCapacity >= 100 - weight else {
                    status.message = "\(label): waiting for the stable revision's replicas to take \(100 - weight)%"
                    _ = awaiting("the stable revision ready for \(100 - weight)%")
                    return false
                }
                var traffic = currentTraffic
                traffic.weights = Weights(canary: weight)
                setTraffic(traffic)
                actions.append(.recordEvent(Event(.normal, .trafficShifted, "canary weight \(weight)%")))
            }
            status.message = "\(label): canary weight \(weight)%"
            return observed("the routes to send \(weight)% to the canary")
        case .pause(let pause):
            return runPause(pause, label: label)
        case .analysis:
            return runGate(index: index, label: label)
        case .setMirror(let mirror):
            if (status.mirrorPercentage ?? 0) != mirror.percentage {
                var traffic = currentTraffic
                traffic.mirror = mirror
                setTraffic(traffic)
                actions.append(.recordEvent(Event(.normal, .mirrorChanged, "mirroring \(mirror.percentage)% to the canary")))
            }
            status.message = "\(label): mirroring \(mirror.percentage)%"
            return observed("the routes to mirror \(mirror.percentage)% to the canary")
        case .setHeaderRoute(let route):
            if !(status.headerRoutes ?? []).contains(route.name) {
                var traffic = currentTraffic
                traffic.headerRoutes.append(route)
                setTraffic(traffic)
                actions.append(.recordEvent(Event(.normal, .headerRouteSet, "header route \(route.name) sends matching requests to the canary")))
            }
            status.message = "\(label): header route \(route.name)"
            return observed("the routes to carry header route \(route.name)")
        case nil:
            return false
        }
    }

    mutating func runPause(_ pause: PauseStep, label: String) -> Bool {
        if takePromoteStep() { return true }
        guard let seconds = pause.duration?.seconds else {
            status.phase = .paused
            status.message = "\(label): paused until promoted (annotate \(Labels.promote)=step)"
            return false
        }
        let started = status.stepStartedAt ?? now
        let remaining = started.secondsSince1970 + seconds - now.secondsSince1970
        if remaining <= 0 { return true }
        status.message = "\(label): pausing \(pause.duration!.text)"
        after(remaining)
        return false
    }

    /// A step analysis gate: passes when its run succeeds; a failure rolls back; an
    /// inconclusive run holds until a promote command.
    mutating func runGate(index: Int, label: String) -> Bool {
        let runName = "step-\(index)"
        guard let step = steps[index].analysis else { return false }
        let run = ensureRun(runName, templates: step.templates, args: step.args ?? [], stepIndex: index)
        switch run.phase {
        case .successful:
            return true
        case .failed, .error, .inconclusive:
            return !stopsOrHolds(run, what: "analysis \(runName)", label: label)
        case .running:
            status.message = "\(label): analysis \(runSummary(run))"
            if takePromoteStep() { return true }
            scheduleMeasurements(runName)
            return false
        }
    }

    /// Background analysis from `startingStep`: false when it stopped or holds the release.
    mutating func checkBackgroundAnalysis() -> Bool {
        guard let bg = spec.strategy.canary?.analysis, (status.currentStepIndex ?? 0) >= (bg.startingStep ?? 0) else {
            return true
        }
        let run = ensureRun("background", templates: bg.templates, args: bg.args ?? [], stepIndex: nil)
        return !stopsOrHolds(run, what: "background analysis", label: "step \((status.currentStepIndex ?? 0) + 1)", background: true)
    }

    /// A failed run rolls the release back; an inconclusive one holds it until a promote
    /// command (which lets it go on). True when the release stopped or holds.
    mutating func stopsOrHolds(_ run: AnalysisRunStatus, what: String, label: String, background: Bool = false) -> Bool {
        switch run.phase {
        case .failed, .error:
            endRelease(.rolledBack, phase: .failed, reason: "\(what) failed: \(run.message ?? "")", event: .analysisFailed)
            return true
        case .inconclusive:
            // A promote command taken now or after the run ended lets the release go on past it.
            // A step gate uses the command up (it is the step); background analysis is not a
            // step, so the same command still moves the step in progress on.
            if background ? promote != nil : takePromoteStep() { return false }
            if let promoted = status.commands?.promote?.handledAt, let ended = run.finishedAt, promoted >= ended { return false }
            status.phase = .paused
            status.message = "\(label): \(what) inconclusive (\(run.message ?? "")); promote to go on, or abort"
            return true
        case .running, .successful:
            return false
        }
    }

    /// The routes say what status says; else the step waits for them, within the deadline.
    mutating func observed(_ what: String) -> Bool {
        if trafficObserved { return true }
        _ = awaiting(what)
        return false
    }

    /// The background run for this revision failed (a `full` promotion does not go past that).
    var backgroundFailed: Bool {
        status.analysis?.contains { $0.name == "background" && $0.revision == status.canaryRevision
            && ($0.phase == .failed || $0.phase == .error) } == true
    }

    /// Uses up a `promote: step` command, if one came.
    mutating func takePromoteStep() -> Bool {
        guard promote == .step else { return false }
        promote = nil
        return true
    }

    /// A background run for this revision still owes measurements (metrics with a count).
    var backgroundRunning: Bool {
        guard let run = status.analysis?.first(where: { $0.name == "background" && $0.revision == status.canaryRevision }),
              run.phase == .running else { return false }
        return run.metrics.contains { ($0.definition.count ?? 1) > 0 && $0.phase == .running }
    }

    var canaryReady: Bool { canaryReady(for: status.weights?.canary ?? 0) }

    /// The canary selector picks the release's revision, and its ReplicaSet is at least the
    /// size `weight` needs, all of it ready.
    func canaryReady(for weight: Int) -> Bool {
        guard canarySelectorRevision == status.canaryRevision, let rs = observation.replicaSets.first(where: { $0.metadata.name == status.canaryReplicaSet }) else { return false }
        let wanted = canaryReplicas(for: weight)
        return (rs.spec.replicas ?? 0) >= wanted && (rs.status?.readyReplicas ?? 0) >= wanted
    }

    /// The canary's size for a canary weight: by default proportional to the weight of the
    /// Deployment's replicas, at least 1; blue-green defaults to the full size.
    func canaryReplicas(for weight: Int) -> Int {
        let replicas = deployment?.spec.replicas ?? 1
        func share(_ percent: Int) -> Int { (replicas * percent + 99) / 100 }
        let sizing = spec.canaryReplicas
            ?? (spec.strategy.blueGreen != nil ? CanaryReplicas(percent: 100) : CanaryReplicas(proportional: true, min: 1))
        if let count = sizing.count { return count }
        if let percent = sizing.percent { return max(1, share(percent)) }
        return max(sizing.min ?? 1, share(weight))
    }
}
