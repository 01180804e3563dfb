import SluiceCore
import SluiceModel
import SluiceTestKit
import Testing

@Suite struct CommandTests {
    @Test func abortSendsEveryRouteToStableFirstAndAlone() {
        let rollout = Rollout.fixture().steps(Engine.everyStep).with {
            $0.spec.trafficRouting.istio?.virtualServices.append(VirtualServiceRef(name: "checkout-gateway", routes: ["primary"]))
        }
        var world = Engine.released(rollout)
        #expect(world.observedCanaryWeights == [50, 50])
        world.annotate(Labels.abort, "p99 alarms")
        let plan = world.reconcile()
        #expect(plan.status.phase == .aborted)
        let kinds = plan.actions.map(\.pending.type)
        #expect(kinds.filter { $0 == .writeVirtualService }.count == 2)
        #expect(Set(kinds).isSubset(of: [.writeVirtualService, .recordEvent]), "nothing but the route writes moves first: \(kinds)")
        #expect(kinds.prefix(2) == [.writeVirtualService, .writeVirtualService], "the route writes are the plan's first actions: \(kinds)")
        #expect(world.observedCanaryWeights == [0, 0])
        #expect(world.routeNames == ["health", "primary"])
        #expect(plan.status.commands?.abort?.value == "p99 alarms")
        world.settle()
        #expect(world.status.history?.first?.outcome == .aborted)
        #expect(world.status.history?.first?.reason == "aborted: p99 alarms")
        #expect(world.canaries.first?.spec.replicas == 0)
        // The same value again (a GitOps re-apply) does nothing; removing it restarts nothing.
        world.annotate(Labels.abort, "p99 alarms")
        world.settle()
        world.rollout.metadata.annotations?[Labels.abort] = nil
        world.settle()
        #expect(world.status.phase == .aborted)
        #expect(world.status.history?.count == 1)
    }

    @Test func retryStartsTheRevisionAgain() {
        var world = Engine.released(AnalysisTests.gated, oracle: Engine.bad)
        #expect(world.status.phase == .failed)
        world.oracle = Engine.good
        world.annotate(Labels.retry, "1")
        world.settle()
        #expect(world.status.phase == .healthy)
        #expect(world.status.history?.map(\.outcome) == [.promoted, .rolledBack])
        #expect(world.status.history?[0].revision == world.status.history?[1].revision)
        world.annotate(Labels.retry, "1")
        world.settle()
        #expect(world.status.history?.count == 2, "a handled retry value is not acted on again")
    }

    @Test func promoteFullSkipsToPromotion() {
        var world = Engine.released(Rollout.fixture().steps(Engine.everyStep), until: { $0.status.currentStepIndex == 1 })
        world.annotate(Labels.promote, "full/1764237600")
        world.settle()
        #expect(world.status.phase == .healthy)
        #expect(world.status.history?.first?.outcome == .promoted)
        #expect(world.status.history?.first?.timeline.contains { $0.message == "promoted in full by command" } == true)
    }
}

@Suite struct RevisionChangeTests {
    @Test func aNewRevisionSupersedesTheReleaseThroughTheAbortFastPath() {
        var world = Engine.released(Rollout.fixture(), until: { $0.status.currentStepIndex == 1 && $0.observedCanaryWeights == [20] })
        let first = world.status.canaryReplicaSet!
        world.setImage("shop/checkout:3.0")
        let plan = world.reconcile()
        #expect(Set(plan.actions.map(\.pending.type)).isSubset(of: [.writeVirtualService, .recordEvent]))
        #expect(world.observedCanaryWeights == [0])
        #expect(plan.status.history?.first?.outcome == .superseded)
        #expect(plan.status.currentRelease?.images == ["shop/checkout:3.0"])
        world.settle()
        #expect(world.status.phase == .paused)
        #expect(!world.canaries.contains { $0.metadata.name == first }, "the superseded canary is deleted")
        world.annotate(Labels.promote, "step/2")
        world.settle()
        #expect(world.status.history?.map(\.outcome) == [.promoted, .superseded])
    }

    @Test func goingBackToTheStableTemplateEndsTheReleaseAsReverted() {
        var world = Engine.released(Rollout.fixture(), until: { $0.observedCanaryWeights == [20] })
        world.setImage("shop/checkout:1.0")
        world.settle()
        #expect(world.status.phase == .healthy)
        #expect(world.status.history?.first?.outcome == .reverted)
        #expect(world.observedCanaryWeights == [0])
        #expect(world.canaries.isEmpty)
        #expect(world.condition("Ready") == .true)
    }
}

@Suite struct BlueGreenTests {
    static let strategy = BlueGreenStrategy(previewMirror: MirrorStep(percentage: 20, methods: ["GET"]), prePromotionAnalysis: Engine.gate,
                                            autoPromotion: false, postPromotionAnalysis: Engine.gate)

    @Test func previewsMirrorsAnalysesWaitsThenCutsOver() {
        var world = Engine.released(Rollout.fixture().subsetMode().blueGreen(BlueGreenTests.strategy))
        #expect(world.status.phase == .paused)
        #expect(world.observedCanaryWeights == [0])
        #expect(world.routeNames.contains("primary-sluice-mirror"))
        #expect(world.status.analysis?.first?.phase == .successful)
        #expect(world.destinationRule?.spec.subsets.first { $0.name == "canary" }?.labels["sluice.dev/revision"] == world.status.canaryRevision)
        world.annotate(Labels.promote, "step/1")
        world.settle(until: { $0.observedCanaryWeights == [100] })
        #expect(!world.routeNames.contains("primary-sluice-mirror"), "mirroring stops at cut-over")
        world.settle()
        #expect(world.status.phase == .healthy)
        #expect(world.status.history?.first?.outcome == .promoted)
        #expect(world.status.analysis?.map(\.phase) == [.successful, .successful])
    }

    @Test func failedPostPromotionAnalysisCutsBack() {
        let oracle: @Sendable (String, String, String, Int) -> MeasurementResult.Outcome = { _, _, _, weight in
            .value(.number(weight == 100 ? 0.5 : 0.999))
        }
        var world = Engine.released(Rollout.fixture().blueGreen(BlueGreenStrategy(prePromotionAnalysis: Engine.gate,
                                                                                  postPromotionAnalysis: Engine.gate)), oracle: oracle)
        world.settle()
        #expect(world.status.phase == .failed)
        #expect(world.observedCanaryWeights == [0])
        #expect(world.status.history?.first?.timeline.compactMap { $0.weights?.canary } == [100, 0])
    }
}

@Suite struct TrafficDriftTests {
    @Test func weightsChangedBySomeoneElseAreWrittenBack() {
        var world = Engine.released(Rollout.fixture())
        #expect(world.observedCanaryWeights == [50])
        var vs = world.virtualServices[0]
        vs.spec.http[1].route[0].weight = 100
        vs.spec.http[1].route[1].weight = 0
        world.virtualServices[0] = vs
        let plan = world.reconcile()
        #expect(plan.actions.contains { if case .writeVirtualService = $0 { true } else { false } })
        #expect(world.observedCanaryWeights == [50])
        #expect(world.eventReasons().contains(.trafficDrift))
        #expect(world.condition("TrafficDrift") == .true)
        world.settle()
        #expect(world.condition("TrafficDrift") == .false)
        #expect(world.events.filter { $0.reason == .trafficDrift }.count == 1)
    }
}

@Suite struct DeletionTests {
    @Test func deletionRestoresEverythingThenRemovesTheFinalizer() {
        var world = Engine.released(Rollout.fixture().steps(Engine.everyStep), until: { $0.routeNames.contains("primary-sluice-insiders") })
        world.rollout.metadata.deletionTimestamp = world.now
        let first = world.reconcile()
        #expect(first.actions.map(\.pending.type) == [.writeVirtualService])
        world.settle()
        #expect(world.rollout.metadata.finalizers == [])
        #expect(world.routeNames == ["health", "primary"])
        #expect(world.observedCanaryWeights == [0])
        #expect(world.virtualServices[0].spec.http[1].mirror == nil)
        #expect(world.canaries.isEmpty)
        #expect(world.deployment.spec.paused == false)
        #expect(world.services.allSatisfy { $0.spec.selector == ["app": "checkout"] })
        #expect(world.eventReasons().last == .cleanedUp)
    }

    @Test func keepPausedAnnotationKeepsTheDeploymentPaused() {
        var world = Engine.healthy()
        world.annotate(Labels.onDelete, "keep-paused")
        world.rollout.metadata.deletionTimestamp = world.now
        world.settle()
        #expect(world.rollout.metadata.finalizers == [])
        #expect(world.deployment.spec.paused == true)
    }

    @Test func aTerminatingNamespaceOnlyLosesTheFinalizer() {
        var world = Engine.released(Rollout.fixture())
        world.rollout.metadata.deletionTimestamp = world.now
        world.namespaceTerminating = true
        let plan = world.reconcile()
        #expect(plan.actions == [.removeFinalizer])
    }
}

@Suite struct InvalidSpecTests {
    @Test func anInvalidSpecMovesNothingAndSaysWhy() {
        var world = Engine.released(Rollout.fixture(), until: { $0.observedCanaryWeights == [20] })
        let step = world.status.currentStepIndex
        world.rollout.spec.strategy.canary?.steps?[2] = CanaryStep(setWeight: 140)
        world.now = world.now.adding(seconds: 120)
        let plan = world.reconcile()
        #expect(plan.actions.allSatisfy { if case .recordEvent = $0 { true } else { false } })
        #expect(plan.status.conditions?.first { $0.type == "InvalidSpec" }?.status == .true)
        #expect(plan.status.message?.contains("spec.strategy.canary.steps[2].setWeight: 140 is outside 0...100") == true)
        #expect(world.observedCanaryWeights == [20])
        #expect(plan.status.currentStepIndex == step)
        world.rollout.spec.strategy.canary?.steps?[2] = CanaryStep(setWeight: 50)
        world.settle()
        #expect(world.condition("InvalidSpec") == .false)
    }

    @Test(arguments: [
        ("a route that does not split stable and canary", { @Sendable (w: inout WorldSimulator) in w.rollout.spec.trafficRouting.istio?.virtualServices[0].routes = ["health"] },
         "route 'health' of VirtualService checkout must route to exactly checkout-stable and checkout-canary"),
        ("a missing VirtualService", { @Sendable (w: inout WorldSimulator) in w.virtualServices = [] }, "VirtualService shop/checkout is not found"),
        ("a missing template", { @Sendable (w: inout WorldSimulator) in
            w.rollout.spec.strategy.canary?.steps = [CanaryStep(analysis: Engine.gate)]
            w.templates = TemplateCatalog()
        }, "template 'success-rate' is not found"),
        ("a route that already mirrors", { @Sendable (w: inout WorldSimulator) in
            w.rollout.spec.strategy.canary?.steps = [CanaryStep(setMirror: MirrorStep(percentage: 5))]
            w.virtualServices[0].spec.http[1].json["mirrors"] = [["destination": ["host": "x"]]]
        }, "already uses mirrors"),
        ("another namespace without consent", { @Sendable (w: inout WorldSimulator) in
            w.rollout.spec.trafficRouting.istio?.virtualServices[0].namespace = "mesh"
            w.virtualServices[0].metadata.namespace = "mesh"
        }, "annotate it sluice.dev/allow-rollouts: \"shop/checkout\""),
    ] as [(String, @Sendable (inout WorldSimulator) -> Void, String)])
    func trafficProblemsAreInvalidSpecs(name: String, change: @Sendable (inout WorldSimulator) -> Void, message: String) {
        var world = WorldSimulator(rollout: .fixture(), templates: [.fixture()])
        change(&world)
        let plan = world.reconcile()
        #expect(plan.status.message?.contains(message) == true, "\(name): \(plan.status.message ?? "")")
        #expect(!plan.actions.contains { if case .writeVirtualService = $0 { true } else { false } })
    }
}
