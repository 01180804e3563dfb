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
