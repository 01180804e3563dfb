import SluiceModel

/// Where traffic may go: only to a side with ready replicas for it, and to a new canary only once
/// the previous one has stopped getting any.
extension Planner {
    /// The share of traffic (percent) the stable can take now: all of it once the Deployment's
    /// minimum available (replicas − maxUnavailable) are ready, else in proportion.
    var stableCapacity: Int {
        guard let deployment else { return 100 }
        // No stable ReplicaSet to be seen: its selector has no pods behind it. A stable selector not yet
        // moved to it (its write failed, or a plan that writes no selectors): what it selects now counts.
        guard var rs = stableReplicaSet else { return 0 }
        if !stableSelectorLeads, let selected = stableSelectorRevision, selected != status.stableRevision {
            guard let other = deploymentReplicaSets.first(where: { $0.metadata.labels?[PodTemplateSpec.podTemplateHashLabel] == selected })
            else { return 0 }
            rs = other
        }
        let replicas = deployment.spec.replicas ?? 1
        guard replicas > 0 else { return 100 }
        // An unpaused Deployment rolling another template out keeps scaling the stable down
        // until the pause lands: what is ready now may be gone when the routes change.
        if deployment.spec.paused != true, let stable = stableTemplate, !Revision.same(deployment.spec.template, stable) { return 0 }
        let needed = max(1, replicas - Planner.maxUnavailable(deployment))
        return min(100, (rs.status?.readyReplicas ?? 0) * 100 / needed)
    }

    /// The Deployment's `rollingUpdate.maxUnavailable` in replicas (an integer or a percentage,
    /// rounded down, as the Deployment controller reads it); 25% when unset.
    static func maxUnavailable(_ deployment: Deployment) -> Int {
        let replicas = deployment.spec.replicas ?? 1
        let value = deployment.spec.strategy?["rollingUpdate"]?["maxUnavailable"]
        if case .number(let n) = value { return Int(n) }
        let percent = value?.string.flatMap { Int($0.dropLast()) } ?? 25
        return replicas * percent / 100
    }

    /// The revision the canary Service (or subset) selects now, as observed.
    var canarySelectorRevision: String? {
        guard let istio else { return nil }
        if let rule = istio.destinationRule {
            return observation.destinationRule?.spec.subsets.first { $0.name == rule.canarySubsetName }?.labels[Labels.revision]
        }
        return observation.services.first { $0.metadata.name == istio.canaryService }?.spec.selector[Labels.revision]
    }

    /// The revision (`pod-template-hash`) the stable Service (or subset) selects now, as observed.
    var stableSelectorRevision: String? {
        guard let istio else { return nil }
        if let rule = istio.destinationRule {
            return observation.destinationRule?.spec.subsets.first { $0.name == rule.stableSubsetName }?.labels[PodTemplateSpec.podTemplateHashLabel]
        }
        return observation.services.first { $0.metadata.name == istio.stableService }?.spec.selector[PodTemplateSpec.podTemplateHashLabel]
    }

    /// The canary ReplicaSet the canary selector picks, if any.
    var selectedCanary: ReplicaSet? {
        guard let revision = canarySelectorRevision else { return nil }
        return observation.replicaSets.first { isCanary($0) && $0.metadata.labels?[Labels.revision] == revision }
    }

    /// Traffic going back to stable: no mirroring, no header routes, and the canary weight down
    /// as far as the stable's ready replicas allow (to zero when the canary has none ready).
    var trafficBackToStable: TrafficState {
        let current = status.weights?.canary ?? 0
        let canaryHasPods = (selectedCanary?.status?.readyReplicas ?? 0) > 0
        let canary = canaryHasPods ? min(current, 100 - stableCapacity) : 0
        return TrafficState(weights: Weights(canary: canary))
    }

    /// The release in progress owns the canary weights only once the canary selector picks its
    /// revision; until then, whatever a previous canary still gets goes back to stable.
    var stepsOwnTraffic: Bool {
        isReleaseInProgress && canarySelectorRevision == status.canaryRevision
    }

    /// While the spec is invalid, an ended release still gets all its traffic back to stable:
    /// the routes that exist, the Deployment paused and its ReplicaSets put back.
    mutating func finishReturnToStable() {
        // The stable selector on the stable revision first (a promotion's write may have failed):
        // the routes below count only the pods it selects.
        actions += selectorWrites(stable: status.stableRevision, canary: canarySelectorRevision)
        returnTraffic()
        writeRoutes()
        guard let deployment else { return }
        if deployment.spec.paused != true {
            actions.append(.setDeploymentPaused(true))
        } else {
            actions += heldReplicaSetWrites(deployment)
        }
    }

    /// Moves what traffic is left on a canary that no release is stepping back to stable.
    mutating func returnTraffic() {
        guard !stepsOwnTraffic else { return }
        let back = trafficBackToStable
        if currentTraffic != back {
            setTraffic(back)
        }
        if back.weights.canary > 0 {
            status.message = (status.message.map { $0 + "; " } ?? "")
                + "traffic back to stable: \(back.weights.stable)%, as the stable revision's ready replicas allow"
            after(5)
        }
    }

    /// The value the canary selector should have: the release's revision once all traffic has
    /// been seen on stable for `scaleDownDelaySeconds` (so that no request still bound for the
    /// previous canary lands on an unanalysed one), else what it has; and when to look again.
    func canarySelectorTarget() -> (value: String?, recheckIn: Double?) {
        let observed = canarySelectorRevision
        guard status.canaryRevision != observed else { return (observed, nil) }
        guard let since = allStableObservedSince else { return (observed, nil) }
        // No canary of the selected revision exists: nothing can still be bound for it.
        if selectedCanary == nil { return (status.canaryRevision, nil) }
        let wait = since.secondsSince1970 + scaleDownDelay - now.secondsSince1970
        return wait > 0 ? (observed, wait) : (status.canaryRevision, nil)
    }

    /// When all traffic was first observed on stable, with no mirroring or header routes, if it still is.
    var allStableObservedSince: KubeTime? {
        guard status.weights ?? .allStable == .allStable, (status.mirrorPercentage ?? 0) == 0, status.headerRoutes == nil
        else { return nil }
        return status.trafficObservedAt
    }

    var scaleDownDelay: Double { Double(spec.scaleDownDelaySeconds ?? RolloutSpec.defaultScaleDownDelaySeconds) }

    /// The Deployment's own ReplicaSets (not canaries).
    var deploymentReplicaSets: [ReplicaSet] {
        observation.replicaSets.filter {
            $0.metadata.labels?[PodTemplateSpec.podTemplateHashLabel] != nil && $0.metadata.labels?[Labels.role] == nil
        }
    }

    /// While Sluice holds the Deployment paused, its ReplicaSets are as after a finished rollout
    /// of the stable revision: the stable at the Deployment's size, the others at zero. Only a
    /// release that ended during its promotion leaves them otherwise; no route sends the others
    /// anything (the stable selector names the stable's hash).
    func heldReplicaSetWrites(_ deployment: Deployment) -> [Action] {
        guard deployment.spec.paused == true, let stable = stableReplicaSet, let stableName = stable.metadata.name else { return [] }
        let replicas = deployment.spec.replicas ?? 1
        // The Deployment's own ReplicaSet for its template, complete: the paused Deployment
        // controller scales every other one to zero, so only the stable template back on the
        // Deployment, rolled out by the controller itself, brings the stable back.
        if let template = stableTemplate, !Revision.same(deployment.spec.template, template),
           let current = deploymentReplicaSets.first(where: { Revision.same($0.spec.template, deployment.spec.template) }),
           (current.spec.replicas ?? 0) >= replicas, (current.status?.readyReplicas ?? 0) >= replicas, (stable.spec.replicas ?? 0) < replicas {
            return [.restoreDeploymentTemplate(Revision.normalized(template)), .setDeploymentPaused(false)]
        }
        var out: [Action] = []
        if (stable.spec.replicas ?? 0) != replicas { out.append(.scaleReplicaSet(name: stableName, replicas: replicas)) }
        for rs in deploymentReplicaSets where rs.metadata.name != stableName && (rs.spec.replicas ?? 0) > 0 {
            out.append(.scaleReplicaSet(name: rs.metadata.name ?? "", replicas: 0))
        }
        return out
    }

    // MARK: Waits

    /// Notes that the release waits for `what`; past `progressDeadlineSeconds` since the wait
    /// began, rolls it back and returns true.
    mutating func awaiting(_ what: String) -> Bool {
        let since = previousWait.flatMap { $0.on == what ? $0.since : nil } ?? now
        status.waiting = WaitState(on: what, since: since)
        let deadline = Double(spec.progressDeadlineSeconds ?? RolloutSpec.defaultProgressDeadlineSeconds)
        let left = since.secondsSince1970 + deadline - now.secondsSince1970
        guard left <= 0 else {
            after(left)
            return false
        }
        endRelease(.rolledBack, phase: .failed, reason: "waited more than progressDeadlineSeconds (\(Int(deadline))s) for \(what)",
                   event: .progressDeadlineExceeded)
        return true
    }

    /// The release is held (spec.paused, an invalid spec): the clock of its timed pause and its wait stops.
    mutating func hold() {
        if isReleaseInProgress, status.heldSince == nil { status.heldSince = now }
    }

    /// The hold is over: the time held is added to the step's start and the wait's.
    mutating func release() {
        guard let held = status.heldSince else { return }
        let seconds = max(0, now.secondsSince1970 - held.secondsSince1970)
        status.stepStartedAt = status.stepStartedAt?.adding(seconds: seconds)
        if var wait = previousWait {
            wait.since = wait.since.adding(seconds: seconds)
            previousWait = wait
        }
        status.heldSince = nil
    }
}
