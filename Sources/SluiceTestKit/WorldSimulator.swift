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

    /// Moves the clock as the plan asks (at least a second).
    public mutating func advance(after plan: Plan) {
        switch plan.requeue {
        case .after(let seconds): now = now.adding(seconds: max(seconds, 1))
        case .awaitChange: now = now.adding(seconds: 1)
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
        case .createCanary(var rs):
            guard !replicaSets.contains(where: { $0.metadata.name == rs.metadata.name }) else { return }
            rs.status = ReplicaSetStatus()
            rs.status?.readyReplicas = canaryBecomesReady ? rs.spec.replicas : 0
            replicaSets.append(rs)
        case .scaleCanary(let name, let replicas):
            guard let i = replicaSets.firstIndex(where: { $0.metadata.name == name }) else { return }
            replicaSets[i].spec.replicas = replicas
            replicaSets[i].status?.readyReplicas = canaryBecomesReady ? replicas : 0
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

    /// The Deployment controller: an unpaused Deployment rolls its template out at once.
    public mutating func runDeploymentController() {
        let replicas = deployment.spec.replicas ?? 1
        let template = deployment.spec.template
        if deployment.spec.paused != true {
            let current = replicaSets.firstIndex { $0.metadata.labels?[PodTemplateSpec.podTemplateHashLabel] != nil
                && Revision.same($0.spec.template, template) }
            let index: Int
            if let current {
                index = current
            } else {
                let hash = "k" + String(Revision.hash(template).prefix(8))
                var podTemplate = template
                var meta = podTemplate.metadata ?? ObjectMeta()
                meta.labels = (meta.labels ?? [:]).merging([PodTemplateSpec.podTemplateHashLabel: hash]) { _, new in new }
                podTemplate.metadata = meta
                replicaSets.append(ReplicaSet(metadata: ObjectMeta(name: "\(deployment.metadata.name ?? "")-\(hash)",
                                                                   namespace: deployment.metadata.namespace,
                                                                   labels: [PodTemplateSpec.podTemplateHashLabel: hash, "app": "checkout"]),
                                              spec: ReplicaSetSpec(replicas: 0, selector: deployment.spec.selector, template: podTemplate)))
                index = replicaSets.count - 1
            }
            for i in replicaSets.indices where replicaSets[i].metadata.labels?[PodTemplateSpec.podTemplateHashLabel] != nil {
                let size = i == index ? replicas : 0
                replicaSets[i].spec.replicas = size
                replicaSets[i].status = ReplicaSetStatus()
                replicaSets[i].status?.readyReplicas = size
            }
        }
        let updated = replicaSets.first { $0.metadata.labels?[PodTemplateSpec.podTemplateHashLabel] != nil
            && Revision.same($0.spec.template, template) }?.spec.replicas ?? 0
        var st = DeploymentStatus()
        st.observedGeneration = deployment.metadata.generation
        st.replicas = replicaSets.filter { $0.metadata.labels?[PodTemplateSpec.podTemplateHashLabel] != nil }
            .reduce(0) { $0 + ($1.spec.replicas ?? 0) }
        st.updatedReplicas = updated
        st.availableReplicas = st.replicas
        st.readyReplicas = st.replicas
        deployment.status = st
    }

    /// The canary weight each managed route gives now (all routes of every managed VirtualService).
    public var observedCanaryWeights: [Int] {
        virtualServices.flatMap { vs in
            vs.spec.http.filter { $0.route.count == 2 && !($0.name ?? "").contains("-sluice-") }
                .map { $0.route[1].weight ?? -1 }
        }
    }
}
