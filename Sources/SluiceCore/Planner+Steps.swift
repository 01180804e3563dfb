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
        guard settle(backgroundAnalysis()) else { return }
        if let digest = status.stepsDigest, digest != stepsDigest {
            // The steps were edited under the release: a gate may have moved before the current
            // step, or the current step past the end. Never skip one unasked: hold until a person
            // has looked and says go on (from the same position in the new steps).
            let index = status.currentStepIndex ?? 0
            guard takePromoteStep() else {
                _ = settle(.held("the steps changed during the release (at step \(index + 1), now \(steps.count) steps); "
                    + "check the new steps, then promote (sluice.dev/promote: step) to go on from step \(min(index, steps.count) + 1), "
                    + "or abort"))
                return
            }
            status.stepsDigest = stepsDigest
            status.currentStepIndex = min(index, steps.count)
            status.stepStartedAt = now
        }
        while let index = status.currentStepIndex, index < steps.count {
            guard settle(runStep(steps[index], index: index, of: steps.count)) else { return }
            status.currentStepIndex = index + 1
            status.stepStartedAt = now
            guard settle(backgroundAnalysis()) else { return }
        }
        if backgroundRunning {
            _ = settle(.waiting("all steps passed; waiting for background analysis to finish"))
            return
        }
        enterPromotion("every step passed")
    }

    /// What a step (or the background analysis) decided: each returns one, and `settle` alone
    /// writes it into status.
    enum StepOutcome: Equatable {
        /// Done: the next step runs in this same plan. With a message when it has one to say.
        case complete(String?)
        /// Not done yet: the release stays Progressing, saying why.
        case waiting(String)
        /// Held until a person acts (a pause, an inconclusive analysis, edited steps): Paused.
        case held(String)
        /// The step ended the release (a rollback): status already says how.
        case ended
    }

    /// Writes a step's outcome into the phase and message; true when the next step may run.
    mutating func settle(_ outcome: StepOutcome) -> Bool {
        switch outcome {
        case .complete(let message):
            status.phase = .progressing
            if let message { status.message = message }
            return true
        case .waiting(let message):
            status.phase = .progressing
            status.message = message
            return false
        case .held(let message):
            status.phase = .paused
            status.message = message
            return false
        case .ended:
            return false
        }
    }

    /// Waits for `what` (within the deadline), saying `message`; `.ended` when the deadline passed.
    mutating func wait(_ message: String, on what: String) -> StepOutcome {
        awaiting(what) ? .ended : .waiting(message)
    }

    /// Complete once the routes say what status says; else waits for them, within the deadline.
    mutating func once(observed what: String, _ message: String) -> StepOutcome {
        trafficObserved ? .complete(message) : wait(message, on: what)
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

    /// Runs one step and says what it decided.
    mutating func runStep(_ step: CanaryStep, index: Int, of count: Int) -> StepOutcome {
        let label = "step \(index + 1)/\(count)"
        switch step.kind {
        case .setWeight(let weight):
            if status.weights?.canary != weight {
                guard canaryReady(for: weight) else {
                    return wait("\(label): scaling the canary for \(weight)%", on: "the canary \(status.canaryReplicaSet ?? "") ready for \(weight)%")
                }
                guard stableCapacity >= 100 - weight else {
                    return wait("\(label): waiting for the stable revision's replicas to take \(100 - weight)%",
                                on: "the stable revision ready for \(100 - weight)%")
                }
                var traffic = currentTraffic
                traffic.weights = Weights(canary: weight)
                setTraffic(traffic)
                actions.append(.recordEvent(Event(.normal, .trafficShifted, "canary weight \(weight)%")))
            }
            return once(observed: "the routes to send \(weight)% to the canary", "\(label): canary weight \(weight)%")
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
            return once(observed: "the routes to mirror \(mirror.percentage)% to the canary", "\(label): mirroring \(mirror.percentage)%")
        case .setHeaderRoute(let route):
            if !(status.headerRoutes ?? []).contains(route.name) {
                var traffic = currentTraffic
                traffic.headerRoutes.append(route)
                setTraffic(traffic)
                actions.append(.recordEvent(Event(.normal, .headerRouteSet, "header route \(route.name) sends matching requests to the canary")))
            }
            return once(observed: "the routes to carry header route \(route.name)", "\(label): header route \(route.name)")
        case nil:
            return .waiting("\(label): a step of no known kind")
        }
    }

    mutating func runPause(_ pause: PauseStep, label: String) -> StepOutcome {
        if takePromoteStep() { return .complete(nil) }
        guard let seconds = pause.duration?.seconds else {
            return .held("\(label): paused until promoted (annotate \(Labels.promote)=step)")
        }
        let started = status.stepStartedAt ?? now
        let remaining = started.secondsSince1970 + seconds - now.secondsSince1970
        if remaining <= 0 { return .complete(nil) }
        after(remaining)
        return .waiting("\(label): pausing \(pause.duration!.text)")
    }

    /// A step analysis gate: passes when its run succeeds; a failure rolls back; an
    /// inconclusive run holds until a promote command.
    mutating func runGate(index: Int, label: String) -> StepOutcome {
        let runName = "step-\(index)"
        guard let step = steps[index].analysis else { return .waiting("\(label): no analysis to run") }
        let run = ensureRun(runName, templates: step.templates, args: step.args ?? [], stepIndex: index)
        switch run.phase {
        case .successful:
            return .complete(nil)
        case .failed, .error, .inconclusive:
            return verdict(run, what: "analysis \(runName)", label: label) ?? .complete(nil)
        case .running:
            let message = "\(label): analysis \(runSummary(run))"
            if takePromoteStep() { return .complete(message) }
            scheduleMeasurements(runName)
            return .waiting(message)
        }
    }

    /// Background analysis from `startingStep`: `.complete` unless it stopped or holds the release.
    mutating func backgroundAnalysis() -> StepOutcome {
        guard let bg = spec.strategy.canary?.analysis, (status.currentStepIndex ?? 0) >= (bg.startingStep ?? 0) else {
            return .complete(nil)
        }
        let run = ensureRun("background", templates: bg.templates, args: bg.args ?? [], stepIndex: nil)
        return verdict(run, what: "background analysis", label: "step \((status.currentStepIndex ?? 0) + 1)", background: true) ?? .complete(nil)
    }

    /// A failed run rolls the release back (`.ended`); an inconclusive one holds it until a
    /// promote command (which lets it go on: nil). Nil when the release goes on.
    mutating func verdict(_ run: AnalysisRunStatus, what: String, label: String, background: Bool = false) -> StepOutcome? {
        switch run.phase {
        case .failed, .error:
            endRelease(.rolledBack, phase: .failed, reason: "\(what) failed: \(run.message ?? "")", event: .analysisFailed)
            return .ended
        case .inconclusive:
            // A promote command taken now or after the run ended lets the release go on past it.
            // A step gate uses the command up (it is the step); background analysis is not a
            // step, so the same command still moves the step in progress on.
            if background ? promote != nil : takePromoteStep() { return nil }
            if let promoted = status.commands?.promote?.handledAt, let ended = run.finishedAt, promoted >= ended { return nil }
            return .held("\(label): \(what) inconclusive (\(run.message ?? "")); promote to go on, or abort")
        case .running, .successful:
            return nil
        }
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
