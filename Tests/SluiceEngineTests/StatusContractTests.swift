import SluiceCore
import SluiceModel
import SluiceTestKit
import Testing

/// What status and the order of actions promise to the people and tools that read them.
@Suite struct StatusContractTests {
    /// The fast path: an abort's route writes come first, the Deployment's pause after them,
    /// then Events; selectors, canaries and measurements wait for the next plan.
    @Test func theFastPathWritesRoutesFirstAndAlone() {
        let rollout = Rollout.fixture().steps([CanaryStep(setWeight: 20), CanaryStep(analysis: Engine.gate)]).with {
            $0.spec.trafficRouting.istio?.virtualServices.append(VirtualServiceRef(name: "checkout-gateway", routes: ["primary"]))
        }
        var world = Engine.released(rollout, until: { $0.status.pending?.actions.contains { $0.type == .runMeasurement } == true })
        world.annotate(Labels.abort, "stop")
        let plan = world.reconcile()
        let kinds = plan.actions.map(\.pending.type)
        #expect(kinds.prefix(2) == [.writeVirtualService, .writeVirtualService], "\(kinds)")
        #expect(Set(kinds.dropFirst(2)).isSubset(of: [.recordEvent, .pauseDeployment]), "\(kinds)")
        #expect(plan.status.pending?.actions.map(\.type) == kinds, "pending lists the plan's actions in order")
        #expect(plan.status.pending?.weights == .allStable)
        #expect(plan.status.pending?.phase == .aborted)
    }

    @Test func pendingNamesTheStateTheActionsLeadTo() {
        var world = Engine.healthy()
        world.setImage("shop/checkout:2.0")
        world.settle(until: { $0.status.pending?.actions.contains { $0.type == .writeVirtualService } == true })
        let pending = world.status.pending!
        #expect(pending.phase == .progressing)
        #expect(pending.stepIndex == 0)
        #expect(pending.weights == Weights(canary: 20))
        #expect(pending.reason == world.status.message)
        #expect(pending.actions.first { $0.type == .writeVirtualService }?.name == "checkout")
        world.settle()
        #expect(world.status.pending == nil, "nothing pending once a plan has nothing to do")
    }

    @Test func observedGenerationAndReconcilingFollowTheSpec() {
        var world = Engine.healthy()
        #expect(world.status.observedGeneration == 1)
        #expect(world.condition(ConditionType.reconciling) == .false)
        #expect(world.condition(ConditionType.ready) == .true)
        world.rollout.metadata.generation = 2
        world.rollout.spec.progressDeadlineSeconds = 900
        world.setImage("shop/checkout:2.0")
        let plan = world.reconcile()
        #expect(plan.status.observedGeneration == 2)
        #expect(plan.status.conditions?.allSatisfy { $0.observedGeneration == 2 } == true)
        #expect(world.condition(ConditionType.reconciling) == .true)
        #expect(world.condition(ConditionType.ready) == .false)
    }

    /// Subset mode: the DestinationRule's subsets select the stable hash and the canary revision,
    /// and the canary subset serves only the new image.
    @Test func subsetModeCanariesServeOnlyTheNewImage() {
        var world = Engine.released(Rollout.fixture().subsetMode(), until: { $0.observedCanaryWeights == [20] })
        let subsets = world.destinationRule!.spec.subsets
        #expect(subsets.first { $0.name == "stable" }?.labels[PodTemplateSpec.podTemplateHashLabel] == world.status.stableRevision)
        #expect(subsets.first { $0.name == "canary" }?.labels[Labels.revision] == world.status.canaryRevision)
        let serving = world.serving
        #expect(serving.first { $0.side == "canary" }?.readyPods.keys.sorted() == ["shop/checkout:2.0"])
        #expect(serving.first { $0.side == "stable" }?.readyPods.keys.sorted() == ["shop/checkout:1.0"])
        #expect(serving.first { $0.side == "canary" }?.weight == 20)
    }

    /// Two VirtualServices step forward together: a step is done only when both say it.
    @Test func twoVirtualServicesStepForwardTogether() {
        let rollout = Rollout.fixture().with {
            $0.spec.trafficRouting.istio?.virtualServices.append(VirtualServiceRef(name: "checkout-gateway", routes: ["primary"]))
        }
        var world = Engine.healthy(rollout)
        world.setImage("shop/checkout:2.0")
        var seen: [[Int]] = []
        for _ in 0..<200 {
            let plan = world.reconcile()
            let weights = world.observedCanaryWeights
            if seen.last != weights { seen.append(weights) }
            if world.status.phase == .paused, world.status.message?.contains("until promoted") == true { break }
            world.advance(after: plan)
        }
        #expect(seen == [[0, 0], [20, 20], [50, 50]], "\(seen)")
        // With one of them failing to take the write, the step does not advance.
        var stuck = Engine.healthy(rollout)
        stuck.setImage("shop/checkout:2.0")
        for _ in 0..<20 {
            let plan = SluiceCore.plan(stuck.rollout, stuck.observation(), now: stuck.now)
            stuck.rollout.status = plan.status
            for action in plan.actions {
                if case .writeVirtualService(let vs) = action, vs.metadata.name == "checkout-gateway" { continue }
                stuck.apply(action)
            }
            stuck.runDeploymentController()
            stuck.now = stuck.now.adding(seconds: 30)
        }
        #expect(stuck.status.currentStepIndex == 0)
        #expect(stuck.observedCanaryWeights == [20, 0])
    }
}
