import SluiceModel

extension Planner {
    /// The stable ReplicaSet: the one status names, or at initialisation the Deployment's
    /// ReplicaSet whose template is the Deployment's.
    var stableReplicaSet: ReplicaSet? {
        if let name = status.stableReplicaSet { return observation.replicaSets.first { $0.metadata.name == name } }
        return nil
    }

    var stableTemplate: PodTemplateSpec? { stableReplicaSet?.spec.template }

    /// The Deployment's ReplicaSet running its current template, once rolled out.
    func rolledOutReplicaSet(_ deployment: Deployment) -> ReplicaSet? {
        let generation = deployment.metadata.generation ?? 0
        let st = deployment.status ?? DeploymentStatus()
        let replicas = deployment.spec.replicas ?? 1
        guard (st.observedGeneration ?? 0) >= generation, (st.updatedReplicas ?? 0) >= replicas,
              (st.availableReplicas ?? 0) >= replicas, (st.replicas ?? 0) <= replicas else { return nil }
        return observation.replicaSets.first { rs in
            rs.metadata.labels?[PodTemplateSpec.podTemplateHashLabel] != nil
                && rs.metadata.labels?[Labels.role] == nil
                && Revision.same(rs.spec.template, deployment.spec.template)
        }
    }

    mutating func initialize(_ deployment: Deployment) {
        status.phase = .initializing
        guard let stable = rolledOutReplicaSet(deployment) else {
            status.message = "waiting for Deployment \(deployment.metadata.name ?? "") to finish its rollout"
            after(5)
            return
        }
        status.stableReplicaSet = stable.metadata.name
        status.stableRevision = stable.metadata.labels?[PodTemplateSpec.podTemplateHashLabel]
        status.weights = .allStable
        status.weightsSince = now
        status.phase = .healthy
        status.message = "healthy at revision \(status.stableRevision ?? "")"
        actions.append(.recordEvent(Event(.normal, .initialized, "stable revision \(status.stableRevision ?? ""); Deployment paused, Sluice rolls out its template changes")))
    }

    mutating func startRelease(_ deployment: Deployment) {
        let hash = templateHash ?? Revision.hash(deployment.spec.template)
        status.canaryRevision = hash
        status.canaryReplicaSet = "\(deployment.metadata.name ?? spec.workloadRef.name)-\(hash)"
        status.currentRelease = ReleaseRecord(revision: hash, images: deployment.spec.template.images, startedAt: now)
        status.currentStepIndex = 0
        status.stepsDigest = stepsDigest
        status.templateRestoredFrom = nil
        status.stepStartedAt = now
        status.analysis = []
        status.phase = .progressing
        recordPhase(.progressing, "release of revision \(hash) started")
        actions.append(.recordEvent(Event(.normal, .releaseStarted, "revision \(hash) (\(deployment.spec.template.images.joined(separator: ", "))): canary \(status.canaryReplicaSet ?? "") created")))
    }

    /// Ends the release in progress: traffic back to stable at once, as far as the stable's
    /// ready replicas allow, before anything else moves.
    mutating func endRelease(_ outcome: ReleaseOutcome, phase: RolloutPhase, reason: String, event: EventReason) {
        setTraffic(trafficBackToStable)
        fastPath = true
        status.phase = phase
        status.waiting = nil
        status.heldSince = nil
        recordPhase(phase, reason)
        if var release = status.currentRelease {
            release.finishedAt = now
            release.outcome = outcome
            release.reason = reason
            var history = status.history ?? []
            history.insert(release, at: 0)
            history = Array(history.prefix(spec.revisionHistoryLimit ?? RolloutSpec.defaultRevisionHistoryLimit))
            // Status must stay well under the API server's object size limits, whatever the limit says:
            // history gets what the rest of status leaves of the budget.
            var rest = status
            rest.history = nil
            var used = (try? JSONValue(encoding: rest)).map(Planner.encodedSize) ?? 0
            used = max(used, Planner.statusBudget - Planner.historyBudget)
            let fitting = history.prefix { entry in
                used += (try? JSONValue(encoding: entry)).map(Planner.encodedSize) ?? 0
                return used <= Planner.statusBudget
            }
            status.history = Array(history.prefix(max(1, fitting.count)))
            status.currentRelease = nil
        }
        for i in (status.analysis ?? []).indices where status.analysis?[i].phase == .running {
            status.analysis?[i].phase = .error
            status.analysis?[i].finishedAt = now
            status.analysis?[i].message = "stopped: \(reason)"
        }
        status.message = endedMessage(outcome, reason)
        let type: EventType = outcome == .promoted || outcome == .reverted ? .normal : .warning
        actions.append(.recordEvent(Event(type, event, reason)))
    }

    /// What an ended release leaves in `message` (and so in the Stalled condition): the outcome,
    /// the reason, and after an abort or rollback what to do next.
    func endedMessage(_ outcome: ReleaseOutcome, _ reason: String) -> String {
        var text = "\(outcome.rawValue): \(reason)"
        guard outcome == .aborted || outcome == .rolledBack else { return text }
        if let restored = status.templateRestoredFrom {
            text += "; revision \(restored) had already rolled out, so Sluice put revision \(status.stableRevision ?? "")'s template "
                + "back on the Deployment; revert the template in Git (a re-sync of revision \(restored) is held until \(Labels.retry))"
        } else {
            text += "; the Deployment keeps template \(status.canaryRevision ?? ""), paused, while revision "
                + "\(status.stableRevision ?? "") serves; revert the template in Git, or annotate \(Labels.retry) to release it again"
        }
        return text
    }

    /// Failed or Aborted: hold until a new revision, a retry, or the template going back to stable.
    /// The stable template back on the Deployment is a revert only when Sluice did not put it
    /// there itself: after a restore the Rollout stays ended until Git says what it wants (the
    /// ended revision again, held until `retry`; or a new one, released).
    mutating func afterEnd(_ deployment: Deployment) {
        let template = deployment.spec.template
        if let stable = stableTemplate, Revision.same(template, stable), status.templateRestoredFrom == nil {
            status.phase = .healthy
            status.message = "healthy at revision \(status.stableRevision ?? "")"
        } else if let stable = stableTemplate, Revision.same(template, stable) {
            if let last = status.history?.first, let outcome = last.outcome { status.message = endedMessage(outcome, last.reason ?? "") }
        } else if templateHash != status.canaryRevision {
            startRelease(deployment)
        } else {
            // Git wrote the ended revision back: from here a stable template is a revert.
            status.templateRestoredFrom = nil
            if let last = status.history?.first, let outcome = last.outcome, last.revision == status.canaryRevision {
                status.message = endedMessage(outcome, last.reason ?? "")
            }
        }
    }

    /// The Deployment's template moved under the release in progress (Progressing, Paused or
    /// Promoting): back to the stable revision ends it `Reverted`; to another revision ends it
    /// `Superseded` and starts a release of the newest. True when it did either.
    mutating func templateMoved(_ deployment: Deployment) -> Bool {
        if let restored = status.templateRestoredFrom {
            // Sluice put the stable template back to bring the stable's pods back (the Deployment had
            // rolled the release's template out before its pause landed): not a revert. Git writing
            // the release's template again makes the Deployment as it was.
            if restored == templateHash { status.templateRestoredFrom = nil }
            if restored == status.canaryRevision, let stable = stableTemplate, Revision.same(deployment.spec.template, stable)
                || restored == templateHash { return false }
        }
        if let stable = stableTemplate, Revision.same(deployment.spec.template, stable) {
            endRelease(.reverted, phase: .healthy, reason: "the Deployment's template went back to the stable revision", event: .reverted)
            status.message = "healthy at revision \(status.stableRevision ?? "")"
            return true
        }
        guard templateHash != status.canaryRevision else { return false }
        endRelease(.superseded, phase: .progressing, reason: "superseded by revision \(templateHash ?? "")", event: .superseded)
        startRelease(deployment)
        return true
    }

    mutating func progress(_ deployment: Deployment) {
        if spec.paused == true {
            hold()
            // The wait is paused with the release, not forgotten.
            status.waiting = previousWait
            status.phase = .paused
            status.message = "paused by spec.paused at step \(status.currentStepIndex ?? 0)"
            return
        }
        if !canaryReady {
            let what = canarySelectorRevision == status.canaryRevision
                ? "the canary \(status.canaryReplicaSet ?? "") ready for \(status.weights?.canary ?? 0)%"
                : "traffic to leave the previous canary before the canary selector moves to revision \(status.canaryRevision ?? "")"
            if awaiting(what) { return }
        }
        runSteps()
    }

    /// Promotion through the Deployment's own rollout: all traffic to the canary, unpause, wait
    /// for the rollout, point stable at the new ReplicaSet with all traffic, pause again.
    mutating func promoteStep(_ deployment: Deployment) {
        if status.weights?.canary != 100 {
            guard canaryReady(for: 100) else {
                status.message = "promoting: scaling the canary to take all traffic"
                _ = awaiting("the canary \(status.canaryReplicaSet ?? "") ready for all traffic")
                return
            }
            setTraffic(TrafficState(weights: Weights(canary: 100)))
            status.message = "promoting: all traffic to the canary"
            return
        }
        guard trafficObserved else {
            _ = awaiting("the routes to send all traffic to the canary")
            return
        }
        if let stuck = deployment.status?.conditions?.first(where: {
            $0.type == "Progressing" && $0.status == "False" && $0.reason == "ProgressDeadlineExceeded"
        }), deployment.spec.paused != true {
            endRelease(.rolledBack, phase: .failed, reason: "the Deployment's rollout of revision \(status.canaryRevision ?? "") "
                       + "missed its progress deadline: \(stuck.message ?? "")", event: .progressDeadlineExceeded)
            return
        }
        guard let rolled = rolledOutReplicaSet(deployment), deployment.spec.paused != true, templateHash == status.canaryRevision else {
            status.message = "promoting: the Deployment is rolling out revision \(status.canaryRevision ?? "")"
            if !awaiting("the Deployment to roll out revision \(status.canaryRevision ?? "")") { after(5) }
            return
        }
        status.stableReplicaSet = rolled.metadata.name
        status.stableRevision = rolled.metadata.labels?[PodTemplateSpec.podTemplateHashLabel]
        stableSelectorLeads = true
        endRelease(.promoted, phase: .healthy, reason: "every gate passed", event: .promoted)
        fastPath = false
        status.message = "healthy at revision \(status.stableRevision ?? "")"
    }

    /// Deletion, in the order that never leaves a request without pods: traffic back to stable
    /// (as fast as the stable can take it, the Deployment paused and its ReplicaSets put back
    /// meanwhile), header routes and mirroring removed; once 100% stable has been seen for
    /// `scaleDownDelaySeconds`, the canaries deleted; once they are gone, the selector keys
    /// removed (before that the stable Service would select canary pods), the Deployment
    /// unpaused, and the finalizer removed.
    mutating func finalize() {
        guard (rollout.metadata.finalizers ?? []).contains(Labels.finalizer) else { return }
        guard !observation.namespaceTerminating, istio != nil, destinations != nil else {
            actions.append(.removeFinalizer)
            return
        }
        let back = trafficBackToStable
        if currentTraffic != back { setTraffic(back) }
        guard writeRoutes().isEmpty else { return }
        if back.weights.canary > 0 {
            if let deployment {
                actions += deployment.spec.paused == true ? heldReplicaSetWrites(deployment) : [.setDeploymentPaused(true)]
            }
            after(5)
            return
        }
        let canaries = observation.replicaSets.filter(isCanary).compactMap(\.metadata.name)
        if !canaries.isEmpty {
            // A route that cannot be read back (renamed, say) has been sent to stable; nothing waits on it forever.
            let since = allStableObservedSince ?? status.weightsSince ?? now
            let wait = since.secondsSince1970 + scaleDownDelay - now.secondsSince1970
            if wait > 0 {
                after(wait)
                return
            }
            actions += canaries.map { .deleteCanary(name: $0) }
            return
        }
        actions += selectorWrites(stable: nil, canary: nil)
        let keepPaused = rollout.metadata.annotations?[Labels.onDelete] == "keep-paused"
        if !keepPaused, deployment?.spec.paused == true { actions.append(.setDeploymentPaused(false)) }
        actions.append(.recordEvent(Event(.normal, .cleanedUp, "traffic back to stable, canary deleted, Deployment \(keepPaused ? "kept paused" : "unpaused")")))
        actions.append(.removeFinalizer)
    }

    /// Bytes the history may take in status; with the rest of status it stays under 256 KiB.
    static let historyBudget = 128 * 1024
    /// The whole status: well under 256 KiB.
    static let statusBudget = 224 * 1024

    static func encodedSize(_ value: JSONValue) -> Int {
        switch value {
        case .null, .bool, .number: return 8
        case .string(let s): return s.utf8.count + 2
        case .array(let a): return a.reduce(2) { $0 + encodedSize($1) + 1 }
        case .object(let o): return o.reduce(2) { $0 + $1.key.utf8.count + 4 + encodedSize($1.value) }
        }
    }

    func isCanary(_ rs: ReplicaSet) -> Bool {
        rs.metadata.labels?[Labels.rollout] == name && rs.metadata.labels?[Labels.role] == "canary"
    }
}
