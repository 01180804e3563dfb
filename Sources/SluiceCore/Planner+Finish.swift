import SluiceModel

extension Planner {
    /// Conditions, `pending` and the requeue; the fast path keeps everything but the route
    /// writes back until they are observed.
    mutating func finish() -> Plan {
        if promote != nil, let value = status.commands?.promote?.value {
            // Taken, and nothing it could move on: say so, rather than leave it to act by surprise later.
            actions.append(.recordEvent(Event(.warning, .commandIgnored,
                                              "\(Labels.promote)=\(value) had nothing to move on (\(status.message ?? status.phase?.rawValue ?? "")); annotate a new value when it does")))
        }
        if status.phase == .paused, rollout.status?.phase != .paused {
            actions.append(.recordEvent(Event(.normal, .paused, status.message ?? "paused")))
        }
        if !observation.pendingDone, let previous = rollout.status?.pending {
            let again = previous.actions.compactMap(Action.init(pending:))
            actions = again.filter { !actions.contains($0) } + actions
        }
        // After the Events asked for again, so that the route writes still lead.
        if fastPath { actions = Planner.fastPath(actions) }
        // A Deployment rolling a template no gate passed is stopped before anything else but the routes.
        if !fastPath, let i = actions.firstIndex(of: .setDeploymentPaused(true)) { actions.insert(actions.remove(at: i), at: 0) }
        for case .restoreDeploymentTemplate(let template) in actions {
            // The stable's template put back: until Git writes the one taken off again, not a revert.
            // The canary's put back for its promotion: the Deployment is as Git wrote it again.
            let stable = stableTemplate.map { Revision.same(template, $0) } ?? false
            status.templateRestoredFrom = stable ? templateHash : nil
            if stable, status.phase == .aborted || status.phase == .failed, let last = status.history?.first, let outcome = last.outcome {
                status.message = endedMessage(outcome, last.reason ?? "")
            }
        }
        setConditions()
        pruneFinishedRuns()
        if actions.isEmpty {
            status.pending = nil
        } else {
            let summaries = actions.map(\.pending)
            let since = rollout.status?.pending.flatMap { $0.actions == summaries ? $0.since : nil } ?? now
            var pending = PendingState(phase: status.phase ?? .initializing, actions: summaries, since: since)
            pending.stepIndex = status.currentStepIndex
            pending.weights = status.weights
            pending.mirrorPercentage = status.mirrorPercentage
            pending.headerRoutes = status.headerRoutes
            pending.reason = status.message
            status.pending = pending
        }
        let requeue: Requeue = timers.min().map { .after(seconds: $0) } ?? .awaitChange
        return Plan(status: status, actions: actions, requeue: requeue)
    }

    /// A plan that sends traffic back to stable: the route writes first, then pausing the
    /// Deployment (so a template that changed during a promotion rolls out no further), then
    /// Events and the finalizer; everything else waits for the next plan.
    static func fastPath(_ actions: [Action]) -> [Action] {
        let routes = actions.filter { if case .writeVirtualService = $0 { true } else { false } }
        let pause = actions.filter { $0 == .setDeploymentPaused(true) }
        return routes + pause + actions.filter {
            switch $0 {
            case .recordEvent, .addFinalizer: true
            default: false
            }
        }
    }

    mutating func setConditions() {
        let phase = status.phase ?? .initializing
        if invalid.isEmpty {
            setCondition(ConditionType.invalidSpec, .false, reason: "Valid", message: "the spec is valid")
        }
        let atTemplate = deployment.map { d in stableTemplate.map { Revision.same(d.spec.template, $0) } ?? false } ?? false
        let ready = invalid.isEmpty && phase == .healthy && atTemplate && allStableObservedSince != nil
        setCondition(ConditionType.ready, ready ? .true : .false, reason: phase.rawValue, message: status.message ?? "")
        let reconciling = invalid.isEmpty && ([.initializing, .progressing, .promoting].contains(phase) || !actions.isEmpty)
        setCondition(ConditionType.reconciling, reconciling ? .true : .false, reason: phase.rawValue, message: status.message ?? "")
        if invalid.isEmpty {
            let stalled = phase == .failed || phase == .aborted
            setCondition(ConditionType.stalled, stalled ? .true : .false, reason: phase.rawValue, message: status.message ?? "")
        }
        if driftDetected {
            setCondition(ConditionType.trafficDrift, .true, reason: "RoutesRestored",
                         message: "a managed route was changed by someone else and written back")
        } else if status.conditions?.contains(where: { $0.type == ConditionType.trafficDrift }) == true {
            setCondition(ConditionType.trafficDrift, .false, reason: "NoDrift", message: "the managed routes are as Sluice wrote them")
        }
    }

    func hasCondition(_ type: String, _ value: Condition.Status, message: String) -> Bool {
        status.conditions?.contains { $0.type == type && $0.status == value && $0.message == message } == true
    }

    /// Sets a condition; its transition time moves only when its status changes.
    mutating func setCondition(_ type: String, _ value: Condition.Status, reason: String, message: String) {
        var conditions = status.conditions ?? []
        let old = conditions.first { $0.type == type }
        let time = old?.status == value ? old!.lastTransitionTime : now
        let condition = Condition(type: type, status: value, reason: reason, message: message, lastTransitionTime: time,
                                  observedGeneration: rollout.metadata.generation)
        if let i = conditions.firstIndex(where: { $0.type == type }) { conditions[i] = condition } else { conditions.append(condition) }
        status.conditions = conditions
    }
}
