import SluiceCore
import SluiceModel

/// An in-memory cluster for engine tests: the Rollout and the objects around it, a Deployment
/// controller, canary readiness and scripted measurements. It applies the engine's actions as
/// the shell would and builds the next observation, so a test can drive a whole release.
public struct WorldSimulator: Sendable {
    public var rollout: Rollout
    public var deployment: Deployment
    public var replicaSets: [ReplicaSet]
    public var services: [Service]
    public var virtualServices: [VirtualService]
    public var destinationRule: DestinationRule?
    public var templates: TemplateCatalog
    public var now: KubeTime
    public var events: [Event] = []
    public var pendingMeasurements: [MeasurementResult] = []
    /// Answers a measurement: (analysis, metric, revision, canary weight) -> outcome.
    public var oracle: @Sendable (String, String, String, Int) -> MeasurementResult.Outcome
    /// Canary ReplicaSets become ready at once when true.
    public var canaryBecomesReady = true
    public var namespaceTerminating = false
    /// Every action executed, in order, with the time.
    public var executed: [(KubeTime, Action)] = []
    /// The image Git last wrote (`setImage`): what the Deployment carries unless Sluice put the
    /// stable template back for a while.
    public var gitImage: String?
    /// Deployment ReplicaSets whose scaled-up pods become ready on the controller's next pass.
    var readyNextPass: [String: Int] = [:]

    public init(rollout: Rollout, replicas: Int = 4, image: String = "shop/checkout:1.0",
                templates: [AnalysisTemplate] = [],
                oracle: @escaping @Sendable (String, String, String, Int) -> MeasurementResult.Outcome = { _, _, _, _ in .value(.number(1)) }) {
        var rollout = rollout
        rollout.metadata.uid = "uid-\(rollout.metadata.name ?? "")"
        rollout.metadata.generation = 1
        self.rollout = rollout
        let ns = rollout.metadata.namespace ?? "default"
        let template = WorldSimulator.template(image: image)
        deployment = Deployment(metadata: ObjectMeta(name: rollout.spec.workloadRef.name, namespace: ns),
                                spec: DeploymentSpec(replicas: replicas, selector: LabelSelector(matchLabels: ["app": "checkout"]),
                                                     template: template))
        deployment.metadata.generation = 1
        replicaSets = []
        let istio = rollout.spec.trafficRouting.istio!
        services = [istio.stableService, istio.canaryService].compactMap { $0 }.map {
            Service(metadata: ObjectMeta(name: $0, namespace: ns), spec: ServiceSpec(json: ["selector": ["app": "checkout"], "ports": [["port": 80]]]))
        }
        var dests: [JSONValue]
        if let rule = istio.destinationRule {
            destinationRule = DestinationRule(metadata: ObjectMeta(name: rule.name, namespace: ns), spec: DestinationRuleSpec(json: [
                "host": "checkout",
                "subsets": [["name": .string(rule.stableSubsetName), "labels": ["app": "checkout"]],
                            ["name": .string(rule.canarySubsetName), "labels": ["app": "checkout"]]],
            ]))
            dests = [["destination": ["host": "checkout", "subset": .string(rule.stableSubsetName)], "weight": 100],
                     ["destination": ["host": "checkout", "subset": .string(rule.canarySubsetName)], "weight": 0]]
        } else {
            dests = [["destination": ["host": .string(istio.stableService!)], "weight": 100],
                     ["destination": ["host": .string(istio.canaryService!)], "weight": 0]]
        }
        virtualServices = istio.virtualServices.map { ref in
            let route: JSONValue = ["name": .string(ref.routes?.first ?? "primary"), "retries": ["attempts": 2], "route": .array(dests)]
            return VirtualService(metadata: ObjectMeta(name: ref.name, namespace: ns),
                                  spec: VirtualServiceSpec(json: ["hosts": ["checkout"], "http": [
                                      ["name": "health", "match": [["uri": ["exact": "/healthz"]]],
                                       "route": [["destination": ["host": "checkout-health"]]]], route,
                                  ]]))
        }
        self.templates = TemplateCatalog(templates)
        now = KubeTime(secondsSince1970: 1_764_237_600)
        self.oracle = oracle
        runDeploymentController()
    }

    public static func template(image: String) -> PodTemplateSpec {
        PodTemplateSpec(metadata: ObjectMeta(labels: ["app": "checkout"]),
                        spec: ["containers": [["name": "app", "image": .string(image)]]])
    }

    /// Changes the Deployment's image, as a GitOps sync would.
    public mutating func setImage(_ image: String) {
        deployment.spec.template = WorldSimulator.template(image: image)
        gitImage = image
        deployment.metadata.generation = (deployment.metadata.generation ?? 0) + 1
        runDeploymentController()
    }

    public mutating func annotate(_ key: String, _ value: String) {
        rollout.metadata.annotations = (rollout.metadata.annotations ?? [:]).merging([key: value]) { _, new in new }
    }

    public func observation(pendingDone: Bool = true) -> Observation {
        Observation(deployment: deployment, replicaSets: replicaSets, virtualServices: virtualServices, services: services,
                    destinationRule: destinationRule, templates: templates, measurements: pendingMeasurements,
                    namespaceTerminating: namespaceTerminating, pendingDone: pendingDone)
    }

    /// Plans once, writes the status, and runs the actions (unless `execute` is false: a crash
    /// after the status write). Returns the plan.
    @discardableResult
    public mutating func reconcile(execute: Bool = true, pendingDone: Bool = true, config: EngineConfig = EngineConfig()) -> Plan {
        let plan = planAndWriteStatus(pendingDone: pendingDone, config: config)
        if execute {
            for action in plan.actions { apply(action) }
        }
        runDeploymentController()
        return plan
    }

    /// Plans once and runs the actions like `reconcile`, but takes each measurement with
    /// `measure` (a real Prometheus, say) instead of the oracle. Returns the plan.
    @discardableResult
    public mutating func reconcile(config: EngineConfig = EngineConfig(),
                                   measure: (Rollout, _ analysis: String, _ metric: String, KubeTime) async -> MeasurementResult?) async -> Plan {
        let plan = planAndWriteStatus(pendingDone: true, config: config)
        for action in plan.actions {
            guard case .runMeasurement(let analysis, let metric) = action else {
                apply(action)
                continue
            }
            executed.append((now, action))
            if let result = await measure(rollout, analysis, metric, now) { pendingMeasurements.append(result) }
        }
        runDeploymentController()
        return plan
    }

    /// Plans on what is observed now and writes the status; the measurements observed are consumed.
    mutating func planAndWriteStatus(pendingDone: Bool, config: EngineConfig) -> Plan {
        let plan = SluiceCore.plan(rollout, observation(pendingDone: pendingDone), now: now, config: config)
        rollout.status = plan.status
        pendingMeasurements = []
        return plan
    }

    /// Moves the clock to the next reconcile: a second on when the plan acted (the watch of
    /// what it wrote, or a restart, wakes the controller), else as the plan asks.
    public mutating func advance(after plan: Plan) {
        now = now.adding(seconds: WorldSimulator.secondsToNextReconcile(after: plan))
    }

    public static func secondsToNextReconcile(after plan: Plan) -> Double {
        guard plan.actions.isEmpty else { return 1 }
        switch plan.requeue {
        case .after(let seconds): return max(seconds, 1)
        case .awaitChange: return 1
        }
    }

    /// Reconciles until nothing is due, advancing the clock to each requeue (at most `limit` times).
    public mutating func settle(limit: Int = 400, until: ((WorldSimulator) -> Bool)? = nil) {
        for _ in 0..<limit {
            let plan = reconcile()
            if let until, until(self) { return }
            if case .awaitChange = plan.requeue, plan.actions.isEmpty, pendingMeasurements.isEmpty { return }
            advance(after: plan)
        }
    }

    public mutating func apply(_ action: Action) {
        executed.append((now, action))
        switch action {
        case .addFinalizer:
            rollout.metadata.finalizers = (rollout.metadata.finalizers ?? []) + [Labels.finalizer]
        case .removeFinalizer:
            rollout.metadata.finalizers = (rollout.metadata.finalizers ?? []).filter { $0 != Labels.finalizer }
        case .setDeploymentPaused(let paused):
            deployment.spec.paused = paused
            deployment.metadata.generation = (deployment.metadata.generation ?? 0) + 1
        case .restoreDeploymentTemplate(let template):
            deployment.spec.template = template
            deployment.metadata.generation = (deployment.metadata.generation ?? 0) + 1
        case .scaleReplicaSet(let name, let replicas):
            guard let i = replicaSets.firstIndex(where: { $0.metadata.name == name }) else { return }
            scale(i, to: replicas)
        case .createCanary(var rs):
            guard !replicaSets.contains(where: { $0.metadata.name == rs.metadata.name }) else { return }
            rs.status = ReplicaSetStatus()
            rs.status?.readyReplicas = canaryBecomesReady ? rs.spec.replicas : 0
            replicaSets.append(rs)
        case .scaleCanary(let name, let replicas):
            guard let i = replicaSets.firstIndex(where: { $0.metadata.name == name }) else { return }
            replicaSets[i].spec.replicas = replicas
            let ready = replicaSets[i].status?.readyReplicas ?? 0
            replicaSets[i].status?.readyReplicas = canaryBecomesReady ? replicas : min(ready, replicas)
        case .deleteCanary(let name):
            replicaSets.removeAll { $0.metadata.name == name }
        case .setSelector(let target, let key, let value):
            switch target {
            case .service(let name):
                guard let i = services.firstIndex(where: { $0.metadata.name == name }) else { return }
                services[i].spec.selector[key] = value
            case .subset(_, let subset):
                guard let i = destinationRule?.spec.subsets.firstIndex(where: { $0.name == subset }) else { return }
                destinationRule?.spec.subsets[i].labels[key] = value
            }
        case .writeVirtualService(let vs):
            guard let i = virtualServices.firstIndex(where: { $0.metadata.name == vs.metadata.name }) else { return }
            virtualServices[i] = vs
        case .runMeasurement(let analysis, let metric):
            let revision = rollout.status?.canaryRevision ?? ""
            let weight = rollout.status?.weights?.canary ?? 0
            pendingMeasurements.removeAll { $0.analysis == analysis && $0.metric == metric }
            // The query as the run froze it, so that status sizes are realistic.
            let query = rollout.status?.analysis?.first { $0.name == analysis && $0.revision == revision }?
                .metrics.first { $0.name == metric }?.definition.provider.prometheus?.query ?? "q"
            pendingMeasurements.append(MeasurementResult(analysis: analysis, metric: metric, revision: revision, measuredAt: now,
                                                         outcome: oracle(analysis, metric, revision, weight), query: query))
        case .recordEvent(let event):
            events.append(event)
        }
    }

    /// The Deployment controller, one pass of kube-controller-manager's: unpaused, a rolling
    /// update (maxSurge 25% rounded up, maxUnavailable 25% rounded down); paused, only its
    /// `scale` (a single active ReplicaSet, or the newest, is brought to the Deployment's size;
    /// a saturated new one scales the old ones to zero). Pods of a ReplicaSet scaled up become
    /// ready on the next pass; scaled-down ones go at once.
    public mutating func runDeploymentController() {
        let replicas = deployment.spec.replicas ?? 1
        let template = deployment.spec.template
        let surge = (replicas * 25 + 99) / 100
        let unavailable = replicas * 25 / 100
        func owned(_ rs: ReplicaSet) -> Bool {
            rs.metadata.labels?[PodTemplateSpec.podTemplateHashLabel] != nil && rs.metadata.labels?[Labels.role] == nil
        }
        // Pods scaled up on an earlier pass are ready now.
        for i in replicaSets.indices where owned(replicaSets[i]) {
            replicaSets[i].status = replicaSets[i].status ?? ReplicaSetStatus()
            let ready = replicaSets[i].status?.readyReplicas ?? 0
            let coming = readyNextPass[replicaSets[i].metadata.name ?? ""] ?? 0
            let size = replicaSets[i].spec.replicas ?? 0
            replicaSets[i].status?.readyReplicas = min(size, max(ready, coming))
        }
        readyNextPass = [:]
        var newIndex = replicaSets.firstIndex { owned($0) && Revision.same($0.spec.template, template) }
        if deployment.spec.paused != true {
            if newIndex == nil {
                let hash = "k" + String(Revision.hash(template).prefix(8))
                var podTemplate = template
                var meta = podTemplate.metadata ?? ObjectMeta()
                meta.labels = (meta.labels ?? [:]).merging([PodTemplateSpec.podTemplateHashLabel: hash]) { _, new in new }
                podTemplate.metadata = meta
                var rs = ReplicaSet(metadata: ObjectMeta(name: "\(deployment.metadata.name ?? "")-\(hash)",
                                                         namespace: deployment.metadata.namespace,
                                                         labels: [PodTemplateSpec.podTemplateHashLabel: hash, "app": "checkout"]),
                                    spec: ReplicaSetSpec(replicas: 0, selector: deployment.spec.selector, template: podTemplate))
                rs.status = ReplicaSetStatus()
                rs.status?.readyReplicas = 0
                replicaSets.append(rs)
                newIndex = replicaSets.count - 1
            }
            let n = newIndex!
            let total = replicaSets.filter(owned).reduce(0) { $0 + ($1.spec.replicas ?? 0) }
            let current = replicaSets[n].spec.replicas ?? 0
            if current < replicas {
                scale(n, to: current + max(0, min(replicas + surge - total, replicas - current)))
            } else if current > replicas {
                scale(n, to: replicas)
            }
            // Old ReplicaSets go down only as far as availability allows, oldest first.
            let available = replicaSets.filter(owned).reduce(0) { $0 + ($1.status?.readyReplicas ?? 0) }
            var budget = available - (replicas - unavailable)
            for i in replicaSets.indices where i != n && owned(replicaSets[i]) && (replicaSets[i].spec.replicas ?? 0) > 0 {
                // Replicas not ready yet can always go.
                let size = replicaSets[i].spec.replicas ?? 0
                let notReady = size - (replicaSets[i].status?.readyReplicas ?? 0)
                let down = min(size, notReady + max(0, budget))
                budget -= max(0, down - notReady)
                if down > 0 { scale(i, to: size - down) }
            }
        } else {
            let ownedIndexes = replicaSets.indices.filter { owned(replicaSets[$0]) }
            let active = ownedIndexes.filter { (replicaSets[$0].spec.replicas ?? 0) > 0 }
            if active.count == 1 || (active.isEmpty && !ownedIndexes.isEmpty) {
                let i = active.first ?? (newIndex ?? ownedIndexes.last!)
                if replicaSets[i].spec.replicas != replicas { scale(i, to: replicas) }
            } else if let n = newIndex, (replicaSets[n].spec.replicas ?? 0) == replicas,
                      (replicaSets[n].status?.readyReplicas ?? 0) >= replicas {
                for i in active where i != n { scale(i, to: 0) }
            }
            // Several active and the new one not saturated: the real controller scales them in
            // proportion to reach replicas + maxSurge; the engine never leaves it there, so this
            // simulator leaves them as they are.
        }
        let updated = newIndex.map { replicaSets[$0].spec.replicas ?? 0 } ?? 0
        var st = DeploymentStatus()
        st.observedGeneration = deployment.metadata.generation
        st.replicas = replicaSets.filter(owned).reduce(0) { $0 + ($1.spec.replicas ?? 0) }
        st.updatedReplicas = updated
        st.availableReplicas = replicaSets.filter(owned).reduce(0) { $0 + ($1.status?.readyReplicas ?? 0) }
        st.readyReplicas = st.availableReplicas
        deployment.status = st
    }

    /// Scales one of the Deployment's ReplicaSets: fewer pods at once, more ready on the next pass.
    mutating func scale(_ i: Int, to size: Int) {
        replicaSets[i].spec.replicas = size
        replicaSets[i].status = replicaSets[i].status ?? ReplicaSetStatus()
        let ready = min(replicaSets[i].status?.readyReplicas ?? 0, size)
        replicaSets[i].status?.readyReplicas = ready
        let name = replicaSets[i].metadata.name ?? ""
        if size > ready { readyNextPass[name] = size }
    }

    /// One side of a route that gets requests now, and the pods behind it.
    public struct Serving: Sendable, Hashable {
        /// The route's name (a clone's too).
        public var route: String
        /// "stable" or "canary".
        public var side: String
        public var weight: Int
        /// Ready pods per image, as the side's selector (Service or subset) picks them.
        public var readyPods: [String: Int]
    }

    /// Who serves each managed route now, read from the world alone: the weights of every route
    /// that splits between the stable and canary hosts (and the header-route clones, whose
    /// requests all go to their destination), and the ReplicaSets each side's selector picks.
    public var serving: [Serving] {
        let istio = rollout.spec.trafficRouting.istio!
        func selector(_ side: String) -> [String: String]? {
            if let rule = istio.destinationRule {
                let subset = side == "stable" ? rule.stableSubsetName : rule.canarySubsetName
                return destinationRule?.spec.subsets.first { $0.name == subset }?.labels
            }
            let name = side == "stable" ? istio.stableService : istio.canaryService
            return services.first { $0.metadata.name == name }?.spec.selector
        }
        func side(of destination: Destination) -> String? {
            if istio.destinationRule != nil { return destination.subset == istio.destinationRule?.stableSubsetName ? "stable"
                : destination.subset == istio.destinationRule?.canarySubsetName ? "canary" : nil }
            return destination.host == istio.stableService ? "stable" : destination.host == istio.canaryService ? "canary" : nil
        }
        var out: [Serving] = []
        for vs in virtualServices {
            for route in vs.spec.http {
                for d in route.route {
                    guard let side = side(of: d.destination) else { continue }
                    let weight = route.route.count == 1 ? 100 : (d.weight ?? 0)
                    guard weight > 0, let labels = selector(side) else { continue }
                    var pods: [String: Int] = [:]
                    for rs in replicaSets {
                        let podLabels = rs.spec.template.metadata?.labels ?? [:]
                        guard labels.allSatisfy({ podLabels[$0.key] == $0.value }) else { continue }
                        pods[rs.spec.template.images.first ?? "", default: 0] += rs.status?.readyReplicas ?? 0
                    }
                    out.append(Serving(route: route.name ?? "", side: side, weight: weight, readyPods: pods.filter { $0.value > 0 }))
                }
            }
        }
        return out
    }

    /// The canary weight each managed route gives now (all routes of every managed VirtualService).
    public var observedCanaryWeights: [Int] {
        virtualServices.flatMap { vs in
            vs.spec.http.filter { $0.route.count == 2 && !($0.name ?? "").contains("-sluice-") }
                .map { $0.route[1].weight ?? -1 }
        }
    }
}
