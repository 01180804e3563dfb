import SluiceModel

extension Planner {
    /// Diffs the world status describes against the one observed, in a safe order: selectors,
    /// then canary capacity, then routes, then the Deployment, then canary scale-down.
    mutating func reconcileWorld() {
        guard let deployment, status.phase != .initializing else { return }
        let canary = canarySelectorTarget()
        if let seconds = canary.recheckIn { after(seconds) }
        actions += selectorWrites(stable: status.stableRevision, canary: canary.value)
        if isReleaseInProgress { actions += canaryCapacity(deployment) }
        writeRoutes()
        actions += deploymentWrites(deployment)
        let scaleDown = canaryScaleDown()
        actions += scaleDown.actions
        if let seconds = scaleDown.recheckIn { after(seconds) }
    }

    /// Create the canary, or grow it for the weight the current step is moving to.
    func canaryCapacity(_ deployment: Deployment) -> [Action] {
        guard let name = status.canaryReplicaSet, let revision = status.canaryRevision else { return [] }
        var target = status.weights?.canary ?? 0
        if status.phase == .promoting { target = 100 }
        if let index = status.currentStepIndex, index < steps.count, let w = steps[index].setWeight { target = max(target, w) }
        let wanted = canaryReplicas(for: target)
        guard let existing = observation.replicaSets.first(where: { $0.metadata.name == name }) else {
            // Only from the release's own template (not the stable's, put back for a while).
            guard templateHash == revision else { return [] }
            return [.createCanary(canaryReplicaSet(deployment, name: name, revision: revision, replicas: wanted))]
        }
        return (existing.spec.replicas ?? 0) < wanted ? [.scaleCanary(name: name, replicas: wanted)] : []
    }

    func canaryReplicaSet(_ deployment: Deployment, name: String, revision: String, replicas: Int) -> ReplicaSet {
        let labels = [Labels.rollout: self.name, Labels.role: "canary", Labels.revision: revision]
        // Never the Deployment controller's `pod-template-hash`: the stable selector would match canary pods.
        var template = Revision.normalized(deployment.spec.template)
        var podMeta = template.metadata ?? ObjectMeta()
        podMeta.labels = (podMeta.labels ?? [:]).merging(labels) { _, new in new }
        template.metadata = podMeta
        var selector = deployment.spec.selector
        selector.matchLabels = (selector.matchLabels ?? [:]).merging(labels) { _, new in new }
        var meta = ObjectMeta(name: name, namespace: namespace, labels: labels)
        if let uid = rollout.metadata.uid {
            meta.ownerReferences = [OwnerReference(apiVersion: Rollout.apiVersion, kind: Rollout.kind, name: self.name,
                                                   uid: uid, controller: true, blockOwnerDeletion: true)]
        }
        var spec = ReplicaSetSpec(replicas: replicas, selector: selector, template: template)
        spec.minReadySeconds = deployment.spec.minReadySeconds
        return ReplicaSet(metadata: meta, spec: spec)
    }

    /// Paused between releases, its ReplicaSets as after a rollout of the stable revision;
    /// unpaused only while promotion hands the template to the Deployment's own rollout.
    func deploymentWrites(_ deployment: Deployment) -> [Action] {
        let paused = deployment.spec.paused == true
        if status.phase == .promoting {
            guard status.weights?.canary == 100, trafficObserved else { return [] }
            if templateHash != status.canaryRevision {
                // The stable template, put back earlier: the canary's goes back for the Deployment to roll out.
                guard let canary = observation.replicaSets.first(where: { $0.metadata.name == status.canaryReplicaSet }) else { return [] }
                return [.restoreDeploymentTemplate(Revision.normalized(canary.spec.template))] + (paused ? [.setDeploymentPaused(false)] : [])
            }
            return paused ? [.setDeploymentPaused(false)] : []
        }
        if !paused, let stable = stableTemplate, Revision.same(deployment.spec.template, stable), rolledOutReplicaSet(deployment) == nil {
            // The stable template (put back, or reverted to) is rolling out: let it finish.
            return []
        }
        return paused ? heldReplicaSetWrites(deployment) : [.setDeploymentPaused(true)]
    }

    /// Scale a canary down once no route sends it anything and the mesh has had
    /// `scaleDownDelaySeconds` since that was observed: the last release's canary to zero after
    /// a rollback or abort (kept for a retry), deleted after promotion; any other canary deleted
    /// once the canary selector has moved off it (which waits for the same delay).
    func canaryScaleDown() -> (actions: [Action], recheckIn: Double?) {
        var out: [Action] = []
        var recheck: [Double] = []
        let selected = canarySelectorRevision
        for rs in observation.replicaSets where isCanary(rs) {
            guard let rsName = rs.metadata.name else { continue }
            let revision = rs.metadata.labels?[Labels.revision]
            let current = rsName == status.canaryReplicaSet
            if current, isReleaseInProgress { continue }
            if !current, let selected, revision != selected {
                // Not the release's and no longer selected: nothing can route to it.
                out.append(.deleteCanary(name: rsName))
                continue
            }
            guard let since = allStableObservedSince else { continue }
            let wait = since.secondsSince1970 + scaleDownDelay - now.secondsSince1970
            if wait > 0 {
                recheck.append(wait)
                continue
            }
            if current, status.phase == .failed || status.phase == .aborted {
                if (rs.spec.replicas ?? 0) > 0 { out.append(.scaleCanary(name: rsName, replicas: 0)) }
            } else {
                out.append(.deleteCanary(name: rsName))
            }
        }
        return (out, recheck.min())
    }
}
