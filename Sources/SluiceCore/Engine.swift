import SluiceModel

/// Settings of the controller that the decisions depend on.
public struct EngineConfig: Sendable, Hashable {
    public var prometheus: PrometheusAllowlist?

    public init(prometheus: PrometheusAllowlist? = nil) { self.prometheus = prometheus }
}

/// What happens next for a Rollout, given what was observed and the time. Pure and
/// deterministic: no I/O, no clock, no logging.
public func plan(_ rollout: Rollout, _ observation: Observation, now: KubeTime,
                 config: EngineConfig = EngineConfig()) -> Plan {
    var planner = Planner(rollout: rollout, observation: observation, now: now, config: config)
    return planner.run()
}

/// The problems the objects around a Rollout give it (the engine holds a Rollout with any):
/// its Deployment, Services or DestinationRule and subsets, and VirtualServices, as found in
/// `observation`. `sluice lint` asks this of manifests; the spec itself is `SpecValidator`'s.
public func referenceProblems(_ rollout: Rollout, _ observation: Observation) -> [SpecProblem] {
    Planner(rollout: rollout, observation: observation, now: KubeTime(secondsSince1970: 0), config: EngineConfig())
        .referenceProblems()
}

/// The steps a Rollout runs, in order: a canary's (shorthand expanded), or blue-green written
/// as steps (preview mirroring, pre-promotion analysis, a wait for promotion when
/// `autoPromotion` is false, cut-over, post-promotion analysis).
public func executedSteps(of spec: RolloutSpec) -> [CanaryStep] { Planner.steps(of: spec) }

/// One planning pass: immutable inputs, and the status, actions and timers it builds.
struct Planner {
    let rollout: Rollout
    let observation: Observation
    let now: KubeTime
    let config: EngineConfig
    var status: RolloutStatus
    var actions: [Action] = []
    /// Seconds from now at which something falls due.
    var timers: [Double] = []
    /// This plan sends traffic back to stable: the VirtualService writes go alone, before anything else.
    var fastPath = false
    var driftDetected = false
    var invalid: [SpecProblem] = []
    var promote: PromoteCommand?
    /// This plan moves the stable selector to the stable revision before any route write (a
    /// promotion): the routes may count on the pods it will select rather than those it selects.
    var stableSelectorLeads = false
    /// The wait the previous plan recorded; each plan records its own afresh.
    var previousWait: WaitState?
    /// The revision hash of the Deployment's template, computed once.
    let templateHash: String?
    /// The steps the spec runs (blue-green written as steps), computed once.
    let steps: [CanaryStep]

    enum PromoteCommand { case step, full }

    init(rollout: Rollout, observation: Observation, now: KubeTime, config: EngineConfig) {
        self.rollout = rollout
        self.observation = observation
        self.now = now
        self.config = config
        self.status = rollout.status ?? RolloutStatus()
        self.previousWait = status.waiting
        self.templateHash = observation.deployment.map { Revision.hash($0.spec.template) }
        self.steps = Planner.steps(of: rollout.spec)
    }

    var spec: RolloutSpec { rollout.spec }
    var name: String { rollout.metadata.name ?? "" }
    var namespace: String { rollout.metadata.namespace ?? "default" }
    var deployment: Deployment? { observation.deployment }
    var istio: IstioTrafficRouting? { spec.trafficRouting.istio }

    mutating func run() -> Plan {
        status.observedGeneration = rollout.metadata.generation
        foldMeasurements()
        // Routes seen saying what status says, since when; routes that stopped saying it (drift)
        // start the count again once written back.
        if trafficObserved {
            if status.trafficObservedAt == nil { status.trafficObservedAt = now }
        } else {
            status.trafficObservedAt = nil
        }
        if rollout.metadata.deletionTimestamp != nil {
            finalize()
            return finish()
        }
        if !(rollout.metadata.finalizers ?? []).contains(Labels.finalizer) { actions.append(.addFinalizer) }
        invalid = specProblems()
        guard invalid.isEmpty, let deployment else {
            // Abort acts whatever is wrong: every managed VirtualService that exists goes to
            // stable, this plan and every plan after it until all traffic is there.
            takeAbort()
            hold()
            if !isReleaseInProgress, status.phase != .initializing { finishReturnToStable() }
            holdInvalid()
            return finish()
        }
        takeCommands()
        release()
        status.waiting = nil
        step(deployment)
        if status.phase != .initializing { returnTraffic() }
        reconcileWorld()
        return finish()
    }

    /// The phase machine: one switch over the phase.
    mutating func step(_ deployment: Deployment) {
        switch status.phase ?? .initializing {
        case .initializing:
            initialize(deployment)
        case .healthy:
            if !Revision.same(deployment.spec.template, stableTemplate ?? deployment.spec.template) {
                startRelease(deployment)
            }
        case .progressing, .paused:
            if templateMoved(deployment) { return }
            progress(deployment)
        case .promoting:
            if templateMoved(deployment) { return }
            promoteStep(deployment)
        case .failed, .aborted:
            afterEnd(deployment)
        }
    }

    mutating func after(_ seconds: Double) { timers.append(max(seconds, 0)) }
}
