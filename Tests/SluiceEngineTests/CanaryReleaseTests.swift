import SluiceCore
import SluiceModel
import SluiceTestKit
import Testing

@Suite struct CanaryReleaseTests {
    static let analysis = AnalysisStep(templates: [TemplateRef(name: "success-rate")],
                                       args: [AnalysisArg(name: "service", value: "checkout-canary")])

    static func world(_ rollout: Rollout = .fixture(), oracle: @escaping @Sendable (String, String, String, Int) -> MeasurementResult.Outcome = { _, _, _, _ in .value(.number(0.999)) })
        -> WorldSimulator
    {
        var world = WorldSimulator(rollout: rollout, templates: [.fixture()], oracle: oracle)
        world.settle()
        return world
    }

    @Test func initializesPausesTheDeploymentAndRoutesAllToStable() {
        let world = CanaryReleaseTests.world()
        let status = world.rollout.status!
        #expect(status.phase == .healthy)
        #expect(world.deployment.spec.paused == true)
        #expect(world.rollout.metadata.finalizers == [Labels.finalizer])
        #expect(status.stableRevision != nil)
        #expect(world.services.first { $0.metadata.name == "checkout-stable" }?.spec.selector["pod-template-hash"] == status.stableRevision)
        #expect(world.observedCanaryWeights == [0])
        #expect(status.conditions?.first { $0.type == "Ready" }?.status == .true)
        #expect(status.pending == nil)
    }

    @Test func runsEveryStepAndPromotes() {
        let rollout = Rollout.fixture().steps([
            CanaryStep(setWeight: 10), CanaryStep(pause: PauseStep(duration: "1m")),
            CanaryStep(analysis: CanaryReleaseTests.analysis),
            CanaryStep(setMirror: MirrorStep(percentage: 20, methods: ["GET"])),
            CanaryStep(setHeaderRoute: HeaderRouteStep(name: "insiders", match: [HeaderRouteMatch(headers: ["x-canary": StringMatch(exact: "1")])])),
            CanaryStep(setWeight: 50), CanaryStep(pause: PauseStep()),
        ])
        var world = CanaryReleaseTests.world(rollout)
        let stableBefore = world.rollout.status?.stableRevision
        world.setImage("shop/checkout:2.0")
        world.settle()
        #expect(world.rollout.status?.phase == .paused)
        #expect(world.rollout.status?.currentStepIndex == 6)
        #expect(world.observedCanaryWeights == [50])
        let names = world.virtualServices[0].spec.http.compactMap(\.name)
        #expect(names == ["health", "primary-sluice-insiders", "primary-sluice-mirror", "primary"])
        world.annotate(Labels.promote, "step/1")
        world.settle()
        let status = world.rollout.status!
        #expect(status.phase == .healthy, "\(status.message ?? "")")
        #expect(status.stableRevision != stableBefore)
        #expect(world.deployment.spec.paused == true)
        #expect(world.observedCanaryWeights == [0])
        #expect(world.virtualServices[0].spec.http.compactMap(\.name) == ["health", "primary"])
        #expect(world.replicaSets.allSatisfy { $0.metadata.labels?[Labels.role] != "canary" })
        #expect(status.history?.first?.outcome == .promoted)
        #expect(status.history?.first?.images == ["shop/checkout:2.0"])
        #expect(status.history?.first?.timeline.contains { $0.type == .measurement } == true)
        #expect(world.eventReasons() == [.initialized, .releaseStarted, .trafficShifted, .analysisPassed, .mirrorChanged,
                                         .headerRouteSet, .trafficShifted, .paused, .promoting, .promoted])
    }
}
