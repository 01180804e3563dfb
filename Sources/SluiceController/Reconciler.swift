import Foundation
import KubeClient
import Logging
import Metrics
import SluiceCore
import SluiceModel

/// The daemon's loop: caches of every object a Rollout looks at, each change mapped to the
/// Rollouts it concerns and queued; workers that, per Rollout, observe from the caches, plan,
/// write status (at the Rollout's resourceVersion), carry the plan out and look again when the
/// plan says. An abort annotation jumps the queue.
public actor Reconciler {
    public struct Settings: Sendable {
        /// Namespaces watched; empty: all.
        public var namespace: String?
        public var workers: Int
        public var engine: EngineConfig

        public init(namespace: String? = nil, workers: Int = 4, engine: EngineConfig = EngineConfig()) {
            self.namespace = namespace
            self.workers = workers
            self.engine = engine
        }
    }

    let client: KubernetesClient
    let settings: Settings
    let logger: Logger
    let executor: ActionExecutor
    let queue = WorkQueue<String, ContinuousClock>(clock: ContinuousClock())
    let rollouts: Informer<Rollout>
    let deployments: Informer<Deployment>
    let replicaSets: Informer<ReplicaSet>
    let services: Informer<Service>
    let virtualServices: Informer<VirtualService>
    let destinationRules: Informer<DestinationRule>
    let templates: Informer<AnalysisTemplate>
    let clusterTemplates: Informer<AnalysisTemplate>
    /// Measurements taken and not yet folded into a status write that succeeded, by Rollout.
    var held: [String: [MeasurementResult]] = [:]
    /// The Rollouts whose last plan's actions did not all run (or were never seen by this process).
    var unfinished: Set<String> = []
    /// The resourceVersion of this process's last status write per Rollout: never plan on an older one.
    var written: [String: Int] = [:]
    var workers: [Task<Void, Never>] = []
    /// True once every cache has filled.
    public private(set) var synced = false
    let reconcileTimer = Metrics.Timer(label: "sluice_reconcile_duration_seconds", preferredDisplayUnit: .seconds)
    let reconcileErrors = Counter(label: "sluice_reconcile_errors_total")

    public init(client: KubernetesClient, settings: Settings, measurements: MeasurementRunner?, logger: Logger) {
        self.client = client
        self.settings = settings
        self.logger = logger
        self.executor = ActionExecutor(client: client, events: EventRecorder(client: client, logger: logger), measurements: measurements,
                                       logger: logger)
        func watcher<T: Decodable & Sendable>(_ type: ResourceType, namespaced: Bool = true) -> Watcher<T> {
            Watcher<T>(client: client, type: type, namespace: namespaced ? settings.namespace : nil, logger: logger)
        }
        rollouts = Informer(watcher: watcher(.rollouts))
        deployments = Informer(watcher: watcher(.deployments))
        replicaSets = Informer(watcher: watcher(.replicaSets))
        services = Informer(watcher: watcher(.services))
        virtualServices = Informer(watcher: watcher(.virtualServices, namespaced: false))
        destinationRules = Informer(watcher: watcher(.destinationRules))
        templates = Informer(watcher: watcher(.analysisTemplates))
        clusterTemplates = Informer(watcher: watcher(.clusterAnalysisTemplates, namespaced: false))
    }

    /// Starts the caches, waits (up to `timeout`) for them to fill, then the workers. False when
    /// the caches did not sync in time.
    public func start(timeout: Duration = .seconds(60)) async -> Bool {
        await rollouts.onChange { [weak self] key in await self?.rolloutChanged(key) }
        for cache in aroundRollouts {
            await cache.onChange { [weak self] key in await self?.objectChanged(key) }
        }
        for cache in caches { await cache.start() }
        for cache in caches where !(await cache.waitForSync(timeout: timeout)) { return false }
        // Everything known is looked at once; this process has seen none of the pending actions done.
        for key in await rollouts.objects.keys {
            unfinished.insert(key)
            await queue.add(key)
        }
        for _ in 0..<max(1, settings.workers) {
            workers.append(Task { [weak self] in await self?.work() })
        }
        synced = true
        return true
    }

    public func stop() async {
        await queue.shutDown()
        for worker in workers { worker.cancel() }
        for cache in caches { await cache.stop() }
    }

    /// The caches of the objects around Rollouts, whose changes wake the Rollouts they concern.
    var aroundRollouts: [any Cache] { [deployments, replicaSets, services, virtualServices, destinationRules, templates, clusterTemplates] }

    var caches: [any Cache] { [rollouts] + aroundRollouts }

    func rolloutChanged(_ key: String) async {
        // An abort annotation not yet handled jumps the queue.
        let rollout = await rollouts.get(key)
        let abort = rollout?.metadata.annotations?[Labels.abort]
        let urgent = abort != nil && abort != rollout?.status?.commands?.abort?.value
        await queue.add(key, priority: urgent)
    }

    /// Any other object: the Rollouts of its namespace (and, for a cross-namespace VirtualService
    /// or a cluster template, every Rollout) look again.
    func objectChanged(_ key: String) async {
        let namespace = key.contains("/") ? String(key.split(separator: "/")[0]) : nil
        for (rolloutKey, rollout) in await rollouts.objects where namespace == nil || rollout.metadata.namespace == namespace
            || rollout.spec.trafficRouting.istio?.virtualServices.contains(where: { $0.namespace == namespace }) == true {
            await queue.add(rolloutKey)
        }
    }

    func work() async {
        while let key = await queue.next() {
            let started = ContinuousClock.now
            let again = await reconcile(key)
            reconcileTimer.recordInterval(since: started)
            await queue.done(key)
            switch again {
            case .some(let delay): await queue.add(key, after: delay)
            case .none: break
            }
        }
    }

    /// One pass for one Rollout; when to look again (nil: on the next change).
    func reconcile(_ key: String) async -> Duration? {
        guard var rollout = await rollouts.get(key) else {
            held[key] = nil
            written[key] = nil
            return nil
        }
        // Never plan on a Rollout older than this process's own last status write.
        if let last = written[key], let seen = Int(rollout.metadata.resourceVersion ?? ""), seen < last { return .milliseconds(200) }
        let namespace = rollout.metadata.namespace ?? "default"
        let observation = await observe(rollout, namespace: namespace, pendingDone: !unfinished.contains(key), measurements: held[key] ?? [])
        let plan = SluiceCore.plan(rollout, observation, now: KubeTime(Date()), config: settings.engine)
        logger.debug("planned", metadata: ["rollout": "\(key)", "phase": "\(plan.status.phase?.rawValue ?? "")", "message": "\(plan.status.message ?? "")",
                                           "actions": "\(plan.actions.map(\.pending.type.rawValue))", "requeue": "\(plan.requeue)"])
        if plan.status != rollout.status {
            rollout.status = plan.status
            do {
                let stored: Rollout = try await client.update(.rollouts, namespace: namespace, name: rollout.metadata.name ?? "", rollout,
                                                              subresource: "status", urgent: true)
                written[key] = Int(stored.metadata.resourceVersion ?? "")
                held[key] = nil
            } catch .conflict {
                return .milliseconds(100)
            } catch {
                logger.warning("status not written", metadata: ["rollout": "\(key)", "error": "\(error)"])
                reconcileErrors.increment()
                return await queue.addAfterFailure(key)
            }
        } else {
            held[key] = nil
        }
        unfinished.insert(key)
        // Measurements are taken beside the reconcile, never in it: an abort never waits behind a
        // Prometheus query. Each result is held for the next plan and wakes the Rollout.
        var carried = plan
        carried.actions = plan.actions.filter { if case .runMeasurement = $0 { false } else { true } }
        for case .runMeasurement(let analysis, let metric) in plan.actions {
            measure(key, rollout: rollout, analysis: analysis, metric: metric)
        }
        do {
            _ = try await executor.execute(carried, rollout: rollout, observation: observation)
            unfinished.remove(key)
        } catch {
            logger.info("plan stopped", metadata: ["rollout": "\(key)", "error": "\(error)"])
            if !error.isConflict { reconcileErrors.increment() }
            return error.isConflict ? .milliseconds(100) : await queue.addAfterFailure(key)
        }
        await queue.forget(key)
        if !plan.actions.isEmpty { return .seconds(1) }
        switch plan.requeue {
        case .after(let seconds): return .milliseconds(Int64(max(seconds, 0.05) * 1000))
        case .awaitChange: return nil
        }
    }

    /// Measurements under way, by Rollout and `analysis/metric`: one at a time for each.
    var measuring: Set<String> = []

    func measure(_ key: String, rollout: Rollout, analysis: String, metric: String) {
        let id = "\(key)|\(analysis)|\(metric)"
        guard let runner = executor.measurements, measuring.insert(id).inserted else {
            logger.debug("measurement not started", metadata: ["rollout": "\(key)", "id": "\(id)"])
            return
        }
        Task { [weak self] in
            let result = await runner.measure(rollout: rollout, analysis: analysis, metric: metric, at: Date())
            await self?.deliver(key, id: id, result)
        }
    }

    func deliver(_ key: String, id: String, _ result: MeasurementResult?) async {
        measuring.remove(id)
        logger.debug("measurement", metadata: ["rollout": "\(key)", "id": "\(id)", "result": "\(String(describing: result))"])
        guard let result else { return }
        held[key, default: []].append(result)
        await queue.add(key)
    }

    /// What the engine looks at for `rollout`, read from the caches.
    func observe(_ rollout: Rollout, namespace: String, pendingDone: Bool, measurements: [MeasurementResult]) async -> Observation {
        let name = rollout.metadata.name ?? ""
        let deployment = await deployments.get("\(namespace)/\(rollout.spec.workloadRef.name)")
        let sets = await replicaSets.objects.values.filter { rs in
            guard rs.metadata.namespace == namespace else { return false }
            if rs.metadata.labels?[Labels.rollout] == name { return true }
            return rs.metadata.ownerReferences?.contains { $0.uid == deployment?.metadata.uid && $0.kind == "Deployment" } == true
        }
        var virtual: [VirtualService] = []
        var istioServices: [Service] = []
        var rule: DestinationRule?
        if let istio = rollout.spec.trafficRouting.istio {
            for ref in istio.virtualServices {
                if let vs = await virtualServices.get("\(ref.namespace ?? namespace)/\(ref.name)") { virtual.append(vs) }
            }
            for service in [istio.stableService, istio.canaryService].compactMap({ $0 }) {
                if let s = await services.get("\(namespace)/\(service)") { istioServices.append(s) }
            }
            if let ref = istio.destinationRule { rule = await destinationRules.get("\(namespace)/\(ref.name)") }
        }
        let namespaced = await templates.objects.values.filter { $0.metadata.namespace == namespace }
        let catalog = TemplateCatalog(Array(namespaced) + Array(await clusterTemplates.objects.values))
        return Observation(deployment: deployment, replicaSets: Array(sets), virtualServices: virtual, services: istioServices,
                           destinationRule: rule, templates: catalog, measurements: measurements, namespaceTerminating: false,
                           pendingDone: pendingDone)
    }
}

/// What the reconciler does with each of its caches, whatever they hold.
protocol Cache: Actor {
    func onChange(_ handler: @escaping @Sendable (String) async -> Void)
    func start()
    func stop()
    func waitForSync(timeout: Duration) async -> Bool
}

extension Informer: Cache {}

extension Metrics.Timer {
    func recordInterval(since start: ContinuousClock.Instant) {
        recordNanoseconds((ContinuousClock.now - start).inNanoseconds)
    }
}
