import SluiceCore
import SluiceModel
import SluiceTestKit
import Testing

/// The paths where the engine broke the rules users trust it with, each as found, each
/// checked against the simulated world rather than the engine's own status.
@Suite struct SafetyScenarioTests {
    static let promoting: @Sendable (WorldSimulator) -> Bool = { $0.status.phase == .promoting && $0.deployment.spec.paused == false }

    /// Scenario 3: abort acts whatever is wrong with the spec.
    @Test func abortWhileAVirtualServiceIsMissingSendsTheOthersToStable() {
        let rollout = Rollout.fixture().steps(Engine.everyStep).with {
            $0.spec.trafficRouting.istio?.virtualServices.append(VirtualServiceRef(name: "checkout-gateway", routes: ["primary"]))
        }
        var world = Engine.released(rollout)
        #expect(world.observedCanaryWeights == [50, 50])
        world.virtualServices.removeLast()
        world.settle()
        #expect(world.condition(ConditionType.invalidSpec) == .true)
        world.annotate(Labels.abort, "gateway gone, stop")
        let plan = world.reconcile()
        #expect(plan.actions.first.map { if case .writeVirtualService = $0 { true } else { false } } == true, "route writes come first")
        #expect(world.observedCanaryWeights == [0])
        #expect(plan.status.commands?.abort?.value == "gateway gone, stop")
    }

    @Test func abortWhileAnAnalysisTemplateIsDeletedSendsTrafficToStable() {
        var world = Engine.released(Rollout.fixture().steps(Engine.everyStep))
        #expect(world.observedCanaryWeights == [50])
        world.templates = TemplateCatalog([])
        world.settle()
        #expect(world.condition(ConditionType.invalidSpec) == .true)
        world.annotate(Labels.abort, "stop")
        world.settle()
        #expect(world.observedCanaryWeights == [0])
        #expect(world.status.phase == .aborted)
    }

    /// Scenario 5: the template restored by an abort while Promoting, and every canary made
    /// after it, carry no `pod-template-hash` (else the stable selector matches canary pods).
    @Test func restoredAndCanaryTemplatesNeverCarryThePodTemplateHash() {
        var world = Engine.released(Rollout.fixture().steps([CanaryStep(setWeight: 50)]), until: Self.promoting)
        world.annotate(Labels.abort, "stop")
        world.settle()
        #expect(world.deployment.spec.template.metadata?.labels?[PodTemplateSpec.podTemplateHashLabel] == nil)
        world.setImage("shop/checkout:3.0")
        world.settle()
        #expect(world.status.history?.first?.outcome == .promoted)
        let created = world.executed.compactMap { if case .createCanary(let rs) = $0.1 { rs } else { nil } }
        #expect(created.count == 2)
        #expect(created.allSatisfy { $0.spec.template.metadata?.labels?[PodTemplateSpec.podTemplateHashLabel] == nil })
    }

    /// Scenario 12: never skip a gate because the steps changed under a release.
    @Test func stepsEditedBelowTheCurrentIndexHoldInsteadOfPromoting() {
        var world = Engine.released(Rollout.fixture().steps(Engine.everyStep), until: { $0.status.currentStepIndex == 6 })
        world.rollout.spec.strategy.canary?.steps = [CanaryStep(setWeight: 10), CanaryStep(analysis: Engine.gate)]
        world.rollout.metadata.generation = 2
        world.settle(limit: 40)
        #expect(world.status.phase != .healthy)
        #expect(world.status.history?.first?.outcome != .promoted)
        #expect(world.status.message?.contains("steps changed") == true, "\(world.status.message ?? "")")
        world.annotate(Labels.promote, "step/1")
        world.settle()
        #expect(world.status.history?.first?.outcome == .promoted, "a command moves it on")
    }
}

/// Commands, measurements and routes: the scenarios that are about what one plan decides.
@Suite struct DecisionScenarioTests {
    static let inconclusive: @Sendable (String, String, String, Int) -> MeasurementResult.Outcome = { analysis, _, _, _ in
        analysis == "background" ? .value(.samples([])) : .value(.number(0.999))
    }
    static let withBackground = Rollout.fixture().steps([CanaryStep(setWeight: 20), CanaryStep(pause: PauseStep(duration: "10m")),
                                                         CanaryStep(setWeight: 50), CanaryStep(pause: PauseStep(duration: "10m"))])
        .backgroundAnalysis(BackgroundAnalysis(templates: [TemplateRef(name: "success-rate")], args: Engine.gate.args))

    /// Scenario 6: `promote: step` gets past an inconclusive background analysis for good.
    @Test func promoteStepGetsPastAnInconclusiveBackgroundAnalysis() {
        var world = Engine.released(DecisionScenarioTests.withBackground, oracle: DecisionScenarioTests.inconclusive)
        #expect(world.status.phase == .paused)
        #expect(world.status.message?.contains("background analysis inconclusive") == true, "\(world.status.message ?? "")")
        world.annotate(Labels.promote, "step/1")
        world.settle()
        #expect(world.status.history?.first?.outcome == .promoted, "\(world.status.message ?? "")")
    }

    @Test func promoteFullGetsPastAnInconclusiveBackgroundAnalysis() {
        var world = Engine.released(DecisionScenarioTests.withBackground, oracle: DecisionScenarioTests.inconclusive)
        #expect(world.status.phase == .paused)
        world.annotate(Labels.promote, "full/1")
        world.settle()
        #expect(world.status.history?.first?.outcome == .promoted)
        #expect(world.status.history?.first?.timeline.contains { $0.message == "promoted in full by command" } == true)
    }

    /// Scenario 8: a measurement that arrives after its run stopped changes nothing.
    @Test func aLateMeasurementDoesNotReviveAStoppedRun() {
        let rollout = Rollout.fixture().steps([CanaryStep(setWeight: 20), CanaryStep(analysis: Engine.gate)])
        var world = Engine.released(rollout, until: { $0.executed.contains { if case .runMeasurement = $0.1 { true } else { false } } })
        let late = world.pendingMeasurements
        #expect(!late.isEmpty)
        world.pendingMeasurements = []
        world.annotate(Labels.abort, "stop")
        world.reconcile()
        #expect(world.status.analysis?.first { $0.name == "step-1" }?.phase == .error)
        world.pendingMeasurements = late
        world.reconcile()
        let run = world.status.analysis?.first { $0.name == "step-1" }
        #expect(run?.phase == .error, "stopped stays stopped")
        #expect(run?.metrics.first?.successful == 0)
        #expect(!world.eventReasons().contains(.analysisPassed))
    }

    @Test func analysisPassedIsAnnouncedOnce() {
        let rollout = Rollout.fixture().steps([CanaryStep(setWeight: 20), CanaryStep(analysis: Engine.gate), CanaryStep(pause: PauseStep())])
            .backgroundAnalysis(BackgroundAnalysis(templates: [TemplateRef(name: "until-end")], args: Engine.gate.args))
        let templates = [AnalysisTemplate.fixture(), AnalysisTemplate.fixture(name: "until-end", metrics: [.successRate(count: 0)])]
        var world = Engine.healthy(rollout, templates: templates)
        world.setImage("shop/checkout:2.0")
        world.settle()
        world.now = world.now.adding(seconds: 600)
        world.settle(limit: 30)
        #expect(world.eventReasons().filter { $0 == .analysisPassed }.count == 1)
    }

    /// Scenario 11: drift is reported even while other actions are pending.
    @Test func driftWhileSomethingIsPendingRaisesTheEvent() {
        let rollout = Rollout.fixture().steps([CanaryStep(setWeight: 20), CanaryStep(analysis: Engine.gate)])
        var world = Engine.released(rollout, until: { $0.status.pending?.actions.contains { $0.type == .runMeasurement } == true })
        #expect(world.status.pending != nil)
        let i = world.virtualServices[0].spec.http.firstIndex { $0.name == "primary" }!
        world.virtualServices[0].spec.http[i].route[0].weight = 50
        world.virtualServices[0].spec.http[i].route[1].weight = 50
        world.reconcile()
        #expect(world.eventReasons().contains(.trafficDrift))
        #expect(world.condition(ConditionType.trafficDrift) == .true)
        #expect(world.observedCanaryWeights == [20])
    }
}

/// The paths a review of the first fixes found: each a sequence that broke a rule.
@Suite struct ReviewScenarioTests {
    /// Scenario 3 with a managed route renamed: the abort still sends every route between the
    /// stable and the canary to stable, and keeps at it while the writes fail.
    @Test func abortWithARenamedRouteStillSendsEverySplitToStable() {
        var world = Engine.released(Rollout.fixture(), until: { $0.observedCanaryWeights == [20] })
        let i = world.virtualServices[0].spec.http.firstIndex { $0.name == "primary" }!
        world.virtualServices[0].spec.http[i].name = "main"
        world.reconcile()
        #expect(world.condition(ConditionType.invalidSpec) == .true)
        world.annotate(Labels.abort, "stop")
        // The first write is lost (a conflict); the next plans write it again.
        let plan = SluiceCore.plan(world.rollout, world.observation(), now: world.now)
        world.rollout.status = plan.status
        #expect(plan.actions.first.map(\.pending.type) == .writeVirtualService)
        world.now = world.now.adding(seconds: 5)
        world.settle(limit: 20)
        let main = world.virtualServices[0].spec.http.first { $0.name == "main" }
        #expect(main?.route.map(\.weight) == [100, 0])
        #expect(world.status.phase == .aborted)
    }

    /// Scenario 5 at the unit level: a template that carries the Deployment controller's label
    /// (copied by hand, say) never passes it on to a canary.
    @Test func aCanaryNeverCarriesThePodTemplateHash() {
        var world = Engine.healthy()
        var template = WorldSimulator.template(image: "shop/checkout:2.0")
        template.metadata?.labels?[PodTemplateSpec.podTemplateHashLabel] = "abc123"
        world.deployment.spec.template = template
        world.deployment.metadata.generation = 2
        world.settle(until: { !$0.canaries.isEmpty })
        #expect(world.canaries.first?.spec.template.metadata?.labels?[PodTemplateSpec.podTemplateHashLabel] == nil)
        #expect(world.canaries.first?.spec.selector.matchLabels?[PodTemplateSpec.podTemplateHashLabel] == nil)
    }

    /// Scenario 7 under an invalid spec: the timed pause stops while the spec is invalid.
    @Test func timedPausesStopWhileTheSpecIsInvalid() {
        var world = Engine.released(Rollout.fixture(), until: { $0.status.currentStepIndex == 1 && $0.observedCanaryWeights == [20] })
        let start = world.status.stepStartedAt!
        world.now = start.adding(seconds: 20)
        let vs = world.virtualServices.removeLast()
        world.reconcile()
        #expect(world.condition(ConditionType.invalidSpec) == .true)
        world.now = world.now.adding(seconds: 600)
        world.reconcile()
        world.virtualServices.append(vs)
        let resumed = world.now
        world.reconcile()
        #expect(world.status.currentStepIndex == 1, "40 seconds of the minute are left")
        world.settle(until: { $0.status.currentStepIndex == 2 })
        #expect(world.now.secondsSince1970 - resumed.secondsSince1970 >= 39)
    }

    /// Drift after a supersede: the canary selector does not move while a drifted route sends
    /// the old canary traffic, and waits the full delay again once it is written back.
    @Test func driftDelaysTheCanarySelectorMove() {
        var world = Engine.released(Rollout.fixture(), until: { $0.observedCanaryWeights == [20] })
        let old = world.status.canaryRevision
        let selector = { (w: WorldSimulator) in w.services.first { $0.metadata.name == "checkout-canary" }?.spec.selector[Labels.revision] }
        world.setImage("shop/checkout:3.0")
        world.reconcile()
        world.now = world.now.adding(seconds: 1)
        world.reconcile()
        #expect(world.observedCanaryWeights == [0])
        // 20 seconds later someone puts 20% back on the old canary.
        world.now = world.now.adding(seconds: 20)
        let i = world.virtualServices[0].spec.http.firstIndex { $0.name == "primary" }!
        world.virtualServices[0].spec.http[i].route[0].weight = 80
        world.virtualServices[0].spec.http[i].route[1].weight = 20
        let repaired = world.now
        world.reconcile()
        #expect(selector(world) == old, "not moved in the plan that repairs the drift")
        world.settle(until: { selector($0) != old })
        #expect(world.now.secondsSince1970 - repaired.secondsSince1970 >= 30, "the delay counts from the repair")
    }

    /// Abort after the Deployment finished rolling the new template out but before the promotion
    /// was recorded: the paused Deployment controller would keep the new ReplicaSet, so the
    /// stable template goes back on the Deployment and its own rollout brings the stable back.
    @Test func abortAfterTheRolloutCompletedBringsTheStableBack() {
        var (world, watch) = CapacityScenarioTests.midPromotion()
        for _ in 0..<10 { world.runDeploymentController() }
        let stable = world.replicaSets.first { $0.metadata.name == world.status.stableReplicaSet }
        #expect(stable?.spec.replicas == 0, "the rollout is complete")
        world.annotate(Labels.abort, "too late?")
        let violations = CapacityScenarioTests.settleWatched(&world, watch: &watch)
        #expect(violations == [])
        #expect(world.executed.contains { if case .restoreDeploymentTemplate(let t) = $0.1 {
            t.metadata?.labels?[PodTemplateSpec.podTemplateHashLabel] == nil } else { false } })
        let back = world.replicaSets.first { $0.metadata.name == world.status.stableReplicaSet }
        #expect(back?.spec.replicas == 4 && back?.status?.readyReplicas == 4)
        #expect(world.observedCanaryWeights == [0])
        #expect(world.deployment.spec.paused == true)
        // Sluice put the stable template back: that is not a revert, the release stays Aborted.
        #expect(world.status.phase == .aborted)
        #expect(world.condition(ConditionType.ready) == .false)
        let stalled = world.status.conditions?.first { $0.type == ConditionType.stalled }
        #expect(stalled?.status == .true)
        #expect(stalled?.message.contains("revert the template in Git") == true, "\(stalled?.message ?? "")")
        #expect(stalled?.message.contains("put revision") == true, "\(stalled?.message ?? "")")
        // A GitOps re-sync of the aborted template is held, not released again.
        world.setImage("shop/checkout:2.0")
        world.settle()
        #expect(world.status.phase == .aborted)
        #expect(world.status.currentRelease == nil)
        #expect(world.observedCanaryWeights == [0])
        #expect(world.serving.allSatisfy { Array($0.readyPods.keys) == ["shop/checkout:1.0"] })
        // Reverted in Git from there: healthy at the stable revision.
        world.setImage("shop/checkout:1.0")
        world.settle()
        #expect(world.status.phase == .healthy)
        #expect(world.condition(ConditionType.ready) == .true)
    }

    /// After Sluice restored the stable template, retry has nothing to release until Git writes
    /// the aborted template again; then it releases it.
    @Test func retryAfterARestoredTemplateWaitsForTheTemplateFromGit() {
        var (world, watch) = CapacityScenarioTests.midPromotion()
        for _ in 0..<10 { world.runDeploymentController() }
        world.annotate(Labels.abort, "stop")
        #expect(CapacityScenarioTests.settleWatched(&world, watch: &watch) == [])
        #expect(world.status.templateRestoredFrom != nil)
        world.annotate(Labels.retry, "1")
        world.settle()
        #expect(world.status.phase == .aborted, "nothing to retry: the Deployment holds the stable template")
        world.setImage("shop/checkout:2.0")
        world.settle()
        #expect(world.status.phase == .aborted)
        world.annotate(Labels.retry, "2")
        world.reconcile()
        #expect(world.status.currentRelease?.images == ["shop/checkout:2.0"], "retry starts it again")
        #expect(world.status.templateRestoredFrom == nil)
    }

    /// Deletion during a promotion: traffic goes back only as the stable's pods return, the
    /// canary is deleted after the delay, and the selector keys only once the canary is gone.
    @Test func deletionDuringAPromotionKeepsEveryRequestServed() {
        var (world, watch) = CapacityScenarioTests.midPromotion()
        world.rollout.metadata.deletionTimestamp = world.now
        var tracker = PropertyTests.Tracker()
        var keysRemovedWithCanaries = false
        for _ in 0..<100 where world.rollout.metadata.finalizers?.contains(Labels.finalizer) == true {
            let plan = world.reconcile()
            if plan.actions.contains(where: { if case .setSelector(_, _, nil) = $0 { true } else { false } }), !world.canaries.isEmpty {
                keysRemovedWithCanaries = true
            }
            watch.check(world, into: &tracker)
            world.advance(after: plan)
        }
        #expect(tracker.violations == [])
        #expect(world.rollout.metadata.finalizers?.contains(Labels.finalizer) != true)
        #expect(world.canaries.isEmpty)
        #expect(!keysRemovedWithCanaries)
        let wrote = world.executed.last { if case .writeVirtualService = $0.1 { true } else { false } }!.0
        let deleted = world.executed.first { if case .deleteCanary = $0.1 { true } else { false } }!.0
        #expect(deleted.secondsSince1970 - wrote.secondsSince1970 >= 30)
    }

    /// Steps edited so that a gate now lies before the current step: held, never skipped.
    @Test func aGateMovedBeforeTheCurrentStepHolds() {
        var world = Engine.released(Rollout.fixture(), until: { $0.status.currentStepIndex == 3 })
        world.rollout.spec.strategy.canary?.steps = [CanaryStep(setWeight: 20), CanaryStep(analysis: Engine.gate),
                                                    CanaryStep(setWeight: 50), CanaryStep(pause: PauseStep())]
        world.rollout.metadata.generation = 2
        world.settle(limit: 20)
        #expect(world.status.phase == .paused)
        #expect(world.status.message?.contains("steps changed") == true)
        #expect(world.status.history?.first?.outcome != .promoted)
    }

    /// A promote with nothing to move on says so.
    @Test func aPromoteWithNothingToMoveOnIsReported() {
        var world = Engine.healthy()
        world.canaryBecomesReady = false
        world.setImage("shop/checkout:2.0")
        world.reconcile()
        world.annotate(Labels.promote, "step/1")
        world.reconcile()
        #expect(world.events.contains { $0.reason == .commandIgnored && $0.message.contains("step/1") })
    }
}
