import SluiceCore
import SluiceModel
import SluiceTestKit
import Testing

@Suite struct StepTests {
    @Test func waitsForTheDeploymentToFinishBeforeInitializing() {
        var world = WorldSimulator(rollout: .fixture(), templates: [.fixture()])
        world.deployment.status?.updatedReplicas = 1
        world.deployment.status?.observedGeneration = 0
        let plan = SluiceCore.plan(world.rollout, world.observation(), now: world.now)
        #expect(plan.status.phase == .initializing)
        #expect(!plan.actions.contains(.setDeploymentPaused(true)))
        #expect(plan.requeue == .after(seconds: 5))
    }

    @Test func detectsAReleaseByTemplateNotByHash() {
        var world = Engine.healthy()
        // A label the Deployment controller adds to its ReplicaSets is not a release.
        world.deployment.spec.template.metadata?.labels?["pod-template-hash"] = "zzz"
        world.settle()
        #expect(world.status.phase == .healthy)
        #expect(world.canaries.isEmpty)
        world.setImage("shop/checkout:2.0")
        let plan = world.reconcile()
        #expect(plan.status.phase == .progressing)
        #expect(plan.status.currentRelease?.images == ["shop/checkout:2.0"])
        guard case .createCanary(let rs) = plan.actions.first(where: { if case .createCanary = $0 { true } else { false } }) else {
            Issue.record("no canary created: \(plan.actions)")
            return
        }
        #expect(rs.metadata.name == "checkout-\(plan.status.canaryRevision!)")
        #expect(rs.metadata.labels == ["sluice.dev/rollout": "checkout", "sluice.dev/role": "canary", "sluice.dev/revision": plan.status.canaryRevision!])
        #expect(rs.spec.selector.matchLabels?["sluice.dev/revision"] == plan.status.canaryRevision)
        #expect(rs.spec.template.spec == world.deployment.spec.template.spec)
        #expect(rs.metadata.ownerReferences?.first?.kind == "Rollout")
    }

    @Test(arguments: [
        (CanaryReplicas?.none, 10, 25, 3), (CanaryReplicas?.none, 4, 5, 1), (CanaryReplicas(proportional: true, min: 2), 10, 5, 2),
        (CanaryReplicas(count: 3), 10, 50, 3), (CanaryReplicas(percent: 50), 10, 5, 5),
    ])
    func sizesTheCanary(sizing: CanaryReplicas?, replicas: Int, weight: Int, expected: Int) {
        var world = Engine.healthy(Rollout.fixture().steps([CanaryStep(setWeight: weight), CanaryStep(pause: PauseStep())])
            .with { $0.spec.canaryReplicas = sizing }, replicas: replicas)
        world.setImage("shop/checkout:2.0")
        world.settle()
        #expect(world.canaries.first?.spec.replicas == expected)
        #expect(world.observedCanaryWeights == [weight])
    }

    @Test func blueGreenCanaryIsFullSize() {
        var world = Engine.healthy(Rollout.fixture().blueGreen(BlueGreenStrategy(autoPromotion: false)), replicas: 6)
        world.setImage("shop/checkout:2.0")
        world.settle()
        #expect(world.canaries.first?.spec.replicas == 6)
        #expect(world.status.phase == .paused)
        #expect(world.observedCanaryWeights == [0])
    }

    @Test func weightWaitsForTheCanaryToBeReady() {
        var world = Engine.healthy(Rollout.fixture())
        world.canaryBecomesReady = false
        world.setImage("shop/checkout:2.0")
        for _ in 0..<3 {
            world.reconcile()
            world.now = world.now.adding(seconds: 10)
        }
        #expect(world.status.phase == .progressing)
        #expect(world.observedCanaryWeights == [0])
        #expect(world.status.message?.contains("waiting for canary") == true)
    }

    @Test func progressDeadlineRollsBack() {
        var world = Engine.healthy(Rollout.fixture().with { $0.spec.progressDeadlineSeconds = 120 })
        world.canaryBecomesReady = false
        world.setImage("shop/checkout:2.0")
        world.reconcile()
        let start = world.now
        world.settle()
        #expect(world.status.phase == .failed)
        #expect(world.status.history?.first?.outcome == .rolledBack)
        #expect(world.status.history?.first?.reason?.contains("progressDeadlineSeconds (120s)") == true)
        #expect(world.eventReasons().contains(.progressDeadlineExceeded))
        let failedAt = world.status.history!.first!.finishedAt!
        #expect(failedAt.secondsSince1970 - start.secondsSince1970 == 120)
    }

    @Test func timedPauseHoldsForItsDuration() {
        var world = Engine.released(Rollout.fixture(), until: { $0.status.currentStepIndex == 1 && $0.observedCanaryWeights == [20] })
        let plan = world.reconcile()
        #expect(plan.status.currentStepIndex == 1)
        #expect(plan.requeue == .after(seconds: 60 - (world.now.secondsSince1970 - plan.status.stepStartedAt!.secondsSince1970)))
        world.now = world.status.stepStartedAt!.adding(seconds: 59)
        #expect(world.reconcile().status.currentStepIndex == 1)
        world.now = world.status.stepStartedAt!.adding(seconds: 60)
        #expect(world.reconcile().status.currentStepIndex == 2)
    }

    @Test func indefinitePauseWaitsForPromoteStep() {
        var world = Engine.released(Rollout.fixture())
        #expect(world.status.phase == .paused)
        #expect(world.status.currentStepIndex == 3)
        world.now = world.now.adding(seconds: 86400)
        world.settle()
        #expect(world.status.currentStepIndex == 3)
        world.annotate(Labels.promote, "step/1764237600")
        world.settle()
        #expect(world.status.phase == .healthy)
        #expect(world.status.commands?.promote?.value == "step/1764237600")
    }

    @Test func mirrorAndHeaderRouteStepsShapeTheRoutes() {
        var world = Engine.released(Rollout.fixture().steps(Engine.everyStep), until: { $0.routeNames.contains("primary-sluice-insiders") })
        #expect(world.routeNames == ["health", "primary-sluice-insiders", "primary-sluice-mirror", "primary"])
        let mirrorRoute = world.virtualServices[0].spec.http[2]
        #expect(mirrorRoute.mirror?.host == "checkout-canary")
        #expect(mirrorRoute.mirrorPercentage == 20)
        #expect(mirrorRoute.match == [["method": ["exact": "GET"]]])
        let header = world.virtualServices[0].spec.http[1]
        #expect(header.match == [["headers": ["x-canary": ["exact": "1"]]]])
        #expect(header.route.map(\.weight) == [100])
        #expect(header.json["retries"] == ["attempts": 2])
        world.settle()
        #expect(world.routeNames == ["health", "primary-sluice-insiders", "primary"])
        #expect(world.status.mirrorPercentage == nil)
        #expect(world.status.phase == .paused)
    }

    @Test func specPausedHoldsTheCurrentStep() {
        var world = Engine.released(Rollout.fixture(), until: { $0.status.currentStepIndex == 1 })
        world.rollout.spec.paused = true
        world.now = world.now.adding(seconds: 600)
        world.settle()
        #expect(world.status.phase == .paused)
        #expect(world.status.currentStepIndex == 1)
        world.rollout.spec.paused = false
        world.settle()
        #expect(world.status.currentStepIndex == 3)
    }

    @Test func shorthandRunsAsSteps() {
        var canary = CanaryStrategy()
        canary.stepWeight = 25
        canary.maxWeight = 50
        canary.interval = "30s"
        let world = Engine.released(Rollout.fixture().with { $0.spec.strategy = Strategy(canary: canary) })
        #expect(world.status.phase == .healthy)
        let weights = world.status.history?.first?.timeline.compactMap { $0.weights?.canary }
        #expect(weights == [25, 50, 100, 0])
    }
}
