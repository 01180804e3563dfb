import SluiceCore
import SluiceModel
import SluiceTestKit
import Testing

/// The scenarios about capacity and the order traffic moves in, each checked tick by tick
/// against which image serves each route in the simulated world.
@Suite struct CapacityScenarioTests {
    /// Reconciles like `settle`, checking the world's invariants after every reconcile.
    static func settleWatched(_ world: inout WorldSimulator, watch: inout PropertyTests.WorldWatch, limit: Int = 400,
                              until: ((WorldSimulator) -> Bool)? = nil) -> [String] {
        var tracker = PropertyTests.Tracker()
        for _ in 0..<limit {
            let before = world.status
            let plan = world.reconcile()
            if plan.status.history?.first?.outcome == .promoted, before.history?.first != plan.status.history?.first {
                watch.stableAllowed.formUnion(plan.status.history!.first!.images)
            }
            for action in plan.actions { watch.wrote(action) }
            watch.check(world, into: &tracker)
            if let until, until(world) { break }
            if case .awaitChange = plan.requeue, plan.actions.isEmpty { break }
            world.advance(after: plan)
        }
        return tracker.violations
    }

    /// Promoting, with the Deployment's rollout part-way: the stable ReplicaSet already smaller.
    static func midPromotion() -> (WorldSimulator, PropertyTests.WorldWatch) {
        var world = Engine.healthy(Rollout.fixture().steps([CanaryStep(setWeight: 50)]))
        var watch = PropertyTests.WorldWatch(world: world)
        world.setImage("shop/checkout:2.0")
        let violations = settleWatched(&world, watch: &watch, until: { w in
            w.status.phase == .promoting && (w.replicaSets.first { $0.metadata.name == w.status.stableReplicaSet }?.spec.replicas ?? 4) < 4
        })
        #expect(violations == [])
        #expect(world.status.phase == .promoting)
        return (world, watch)
    }

    var stableReplicas: (WorldSimulator) -> (Int, Int) = { w in
        let rs = w.replicaSets.first { $0.metadata.name == w.status.stableReplicaSet }
        return (rs?.spec.replicas ?? 0, rs?.status?.readyReplicas ?? 0)
    }

    /// Scenario 1: a new image while Promoting never becomes the stable unanalysed.
    @Test func aNewImageWhilePromotingPausesTheDeploymentAndStartsAFreshCanary() {
        var (world, watch) = CapacityScenarioTests.midPromotion()
        world.setImage("shop/checkout:3.0")
        let plan = world.reconcile()
        let kinds = plan.actions.map(\.pending.type)
        #expect(kinds.contains(.pauseDeployment), "\(kinds)")
        #expect(kinds.prefix { $0 == .writeVirtualService }.count == kinds.filter { $0 == .writeVirtualService }.count,
                "route writes lead: \(kinds)")
        #expect(world.deployment.spec.paused == true)
        #expect(plan.status.history?.first?.outcome == .superseded)
        #expect(plan.status.history?.first?.images == ["shop/checkout:2.0"])
        #expect(plan.status.currentRelease?.images == ["shop/checkout:3.0"])
        let violations = CapacityScenarioTests.settleWatched(&world, watch: &watch)
        #expect(violations == [])
        #expect(world.executed.contains { if case .scaleReplicaSet(_, 4) = $0.1 { true } else { false } },
                "the stable ReplicaSet is put back at full size")
        #expect(world.status.history?.first?.timeline.contains { $0.weights?.canary == 50 } == true, "the fresh canary ran its steps")
        #expect(world.status.history?.map(\.outcome) == [.promoted, .superseded])
        #expect(world.status.history?.first?.images == ["shop/checkout:3.0"])
        #expect(world.serving.allSatisfy { $0.side == "stable" && Array($0.readyPods.keys) == ["shop/checkout:3.0"] })
    }

    /// A new image while Promoting whose pause lands late (the writes failed): the Deployment
    /// rolls the unanalysed template out on its own. Sluice puts the stable template back to bring
    /// the stable's pods back — which is not a revert — runs the new release, and at its promotion
    /// puts the release's template back on the Deployment.
    @Test func aNewImageRolledOutBeforeThePauseLandedIsStillReleasedThroughItsGates() {
        var (world, watch) = CapacityScenarioTests.midPromotion()
        world.setImage("shop/checkout:3.0")
        for _ in 0..<4 {
            let plan = SluiceCore.plan(world.rollout, world.observation(), now: world.now)
            world.rollout.status = plan.status
            for action in plan.actions where action != .setDeploymentPaused(true) { world.apply(action) }
            for _ in 0..<3 { world.runDeploymentController() }
            world.now = world.now.adding(seconds: 1)
        }
        let rolled = world.replicaSets.first { $0.metadata.labels?[Labels.role] == nil && $0.spec.template.images == ["shop/checkout:3.0"] }
        #expect(rolled?.status?.readyReplicas == 4, "the Deployment rolled 3.0 out on its own")
        let violations = CapacityScenarioTests.settleWatched(&world, watch: &watch)
        #expect(violations == [])
        #expect(world.executed.contains { if case .restoreDeploymentTemplate(let t) = $0.1 { t.images == ["shop/checkout:1.0"] } else { false } })
        #expect(world.status.history?.map(\.outcome) == [.promoted, .superseded])
        #expect(world.status.history?.first?.images == ["shop/checkout:3.0"])
        #expect(world.deployment.spec.template.images == ["shop/checkout:3.0"], "Git's template is on the Deployment again")
        #expect(world.serving.allSatisfy { $0.side == "stable" && Array($0.readyPods.keys) == ["shop/checkout:3.0"] })
        #expect(world.status.templateRestoredFrom == nil)
    }

    @Test func theTemplateRevertedWhilePromotingEndsReverted() {
        var (world, watch) = CapacityScenarioTests.midPromotion()
        world.setImage("shop/checkout:1.0")
        let violations = CapacityScenarioTests.settleWatched(&world, watch: &watch)
        #expect(violations == [])
        #expect(world.status.history?.first?.outcome == .reverted)
        #expect(world.status.phase == .healthy)
        #expect(stableReplicas(world) == (4, 4))
        #expect(world.observedCanaryWeights == [0])
        #expect(world.canaries.isEmpty)
        #expect(world.condition(ConditionType.ready) == .true)
    }

    /// Scenario 4: abort while Promoting sends traffic back only as the stable's pods return,
    /// keeps the canary until then, and ends Aborted, not Healthy.
    @Test func abortWhilePromotingWaitsForStableCapacityAndStaysAborted() {
        var (world, watch) = CapacityScenarioTests.midPromotion()
        let canaryBefore = world.observedCanaryWeights
        world.annotate(Labels.abort, "stop")
        let plan = world.reconcile()
        #expect(plan.actions.first.map(\.pending.type) == .writeVirtualService || !plan.actions.contains { $0.pending.type == .writeVirtualService })
        #expect(plan.actions.contains(.setDeploymentPaused(true)))
        #expect(world.observedCanaryWeights.allSatisfy { $0 <= canaryBefore.max()! })
        #expect(world.observedCanaryWeights != [0], "the stable has not got its pods back yet: \(stableReplicas(world))")
        #expect(world.canaries.first?.spec.replicas == 4, "the canary keeps serving meanwhile")
        let violations = CapacityScenarioTests.settleWatched(&world, watch: &watch)
        #expect(violations == [])
        #expect(stableReplicas(world) == (4, 4))
        #expect(world.observedCanaryWeights == [0])
        #expect(world.canaries.first?.spec.replicas == 0, "scaled to zero after the delay, kept for a retry")
        #expect(world.status.phase == .aborted)
        #expect(world.deployment.spec.template.images == ["shop/checkout:2.0"], "the template from Git is not overwritten")
        let stalled = world.status.conditions?.first { $0.type == ConditionType.stalled }
        #expect(stalled?.status == .true)
        #expect(stalled?.message.contains("revert the template in Git") == true, "\(stalled?.message ?? "")")
        // A GitOps re-sync of the same template does not start it again.
        world.setImage("shop/checkout:2.0")
        world.settle()
        #expect(world.status.phase == .aborted)
        #expect(world.status.currentRelease == nil)
        world.annotate(Labels.retry, "1")
        world.reconcile()
        #expect(world.status.currentRelease?.images == ["shop/checkout:2.0"], "retry starts it again")
    }

    /// Scenario 2: a new revision at 20% moves the canary selector only once all traffic is
    /// seen on stable; while the write back to stable fails, it does not move at all.
    @Test func aNewRevisionMidCanaryMovesTheSelectorOnlyAfterStableIsObserved() {
        var world = Engine.released(Rollout.fixture(), until: { $0.status.currentStepIndex == 1 && $0.observedCanaryWeights == [20] })
        var watch = PropertyTests.WorldWatch(world: world)
        watch.stableAllowed.insert("shop/checkout:1.0")
        let oldRevision = world.status.canaryRevision
        let selector = { (w: WorldSimulator) in w.services.first { $0.metadata.name == "checkout-canary" }?.spec.selector[Labels.revision] }
        world.setImage("shop/checkout:3.0")
        // The write back to stable fails three times.
        for _ in 0..<3 {
            let plan = SluiceCore.plan(world.rollout, world.observation(), now: world.now)
            world.rollout.status = plan.status
            for action in plan.actions where action.pending.type != .writeVirtualService { world.apply(action) }
            world.runDeploymentController()
            #expect(world.observedCanaryWeights == [20])
            #expect(selector(world) == oldRevision, "the selector stays on the old canary while it has traffic")
            world.now = world.now.adding(seconds: 40)
        }
        let violations = CapacityScenarioTests.settleWatched(&world, watch: &watch, until: { selector($0) != oldRevision })
        #expect(violations == [])
        #expect(world.observedCanaryWeights == [0], "moved only with all traffic on stable")
        #expect(selector(world) == world.status.canaryRevision)
        let wrote = world.executed.last { if case .writeVirtualService = $0.1 { true } else { false } }!.0
        let moved = world.executed.last { if case .setSelector(.service("checkout-canary"), _, _) = $0.1 { true } else { false } }!.0
        #expect(moved.secondsSince1970 - wrote.secondsSince1970 >= 30, "and scaleDownDelaySeconds after that was seen")
    }

    /// Scenario 7: the canary is scaled down `scaleDownDelaySeconds` after 100% stable was
    /// observed, not after the plan that wrote it.
    @Test func scaleDownDelayCountsFromTheObservation() {
        var world = Engine.released(Rollout.fixture(), until: { $0.observedCanaryWeights == [20] })
        world.annotate(Labels.abort, "stop")
        var failedUntil = world.now.adding(seconds: 60)
        while world.now < failedUntil {
            let plan = SluiceCore.plan(world.rollout, world.observation(), now: world.now)
            world.rollout.status = plan.status
            for action in plan.actions where action.pending.type != .writeVirtualService { world.apply(action) }
            world.now = world.now.adding(seconds: 10)
        }
        #expect(world.canaries.first?.spec.replicas ?? 0 > 0, "no scale-down while the routes still say 20%")
        world.settle(until: { $0.observedCanaryWeights == [0] })
        failedUntil = world.now
        world.settle()
        let scaled = world.executed.first { if case .scaleCanary(_, 0) = $0.1 { true } else { false } }!.0
        #expect(scaled.secondsSince1970 - failedUntil.secondsSince1970 >= 29)
    }

    /// Scenario 7: a deadline counts from when its wait began, not from the release's start.
    @Test func theProgressDeadlineCountsFromTheWait() {
        let rollout = Rollout.fixture().steps([CanaryStep(setWeight: 20), CanaryStep(pause: PauseStep(duration: "20m")),
                                               CanaryStep(setWeight: 50)]).with { $0.spec.progressDeadlineSeconds = 300 }
        var world = Engine.released(rollout, until: { $0.status.currentStepIndex == 1 })
        world.canaryBecomesReady = false
        world.settle(until: { $0.status.currentStepIndex == 2 })
        let waitBegan = world.now
        #expect(world.status.phase == .progressing, "a 20 minute release is not rolled back for a 5 minute deadline")
        world.settle()
        #expect(world.status.history?.first?.outcome == .rolledBack)
        #expect(world.status.history?.first?.reason?.contains("the canary checkout-") == true, "the reason names the wait")
        #expect(world.status.history?.first?.reason?.contains("ready for 50%") == true, "\(world.status.history?.first?.reason ?? "")")
        let failed = world.status.history!.first!.finishedAt!
        #expect(failed.secondsSince1970 - waitBegan.secondsSince1970 >= 299)
        #expect(failed.secondsSince1970 - waitBegan.secondsSince1970 <= 310)
    }

    /// Scenario 7: a timed pause does not count while spec.paused holds the release.
    @Test func timedPausesStopWhileHeld() {
        var world = Engine.released(Rollout.fixture(), until: { $0.status.currentStepIndex == 1 && $0.observedCanaryWeights == [20] })
        let start = world.status.stepStartedAt!
        world.now = start.adding(seconds: 20)
        world.rollout.spec.paused = true
        world.reconcile()
        #expect(world.status.phase == .paused)
        world.now = world.now.adding(seconds: 600)
        world.reconcile()
        world.rollout.spec.paused = nil
        let resumed = world.now
        world.reconcile()
        #expect(world.status.currentStepIndex == 1, "40 seconds of the minute are left")
        world.settle(until: { $0.status.currentStepIndex == 2 })
        #expect(world.now.secondsSince1970 - resumed.secondsSince1970 >= 39)
        #expect(world.now.secondsSince1970 - resumed.secondsSince1970 <= 45)
    }
}
