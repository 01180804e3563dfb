import Foundation
import SluiceCore
import SluiceModel
import SluiceTestKit
import Synchronization
import Testing

@Suite struct AnalysisTests {
    static let gated = Rollout.fixture().steps([CanaryStep(setWeight: 20), CanaryStep(analysis: Engine.gate), CanaryStep(setWeight: 50)])

    static func template(_ change: @escaping @Sendable (inout AnalysisMetric) -> Void) -> [AnalysisTemplate] {
        [AnalysisTemplate.fixture().with { change(&$0.spec.metrics[0]) }]
    }

    static func run(_ templates: [AnalysisTemplate], oracle: @escaping @Sendable (String, String, String, Int) -> MeasurementResult.Outcome,
                    rollout: Rollout = gated) -> WorldSimulator {
        var world = WorldSimulator(rollout: rollout, templates: templates, oracle: oracle)
        world.settle()
        world.setImage("shop/checkout:2.0")
        world.settle()
        return world
    }

    @Test func failureRollsBackAllRoutesBeforeTheCanaryShrinks() {
        var world = AnalysisTests.run([.fixture()], oracle: Engine.bad)
        #expect(world.status.phase == .failed)
        #expect(world.observedCanaryWeights == [0])
        let release = world.status.history![0]
        #expect(release.outcome == .rolledBack)
        #expect(release.reason?.contains("analysis step-1 failed") == true)
        #expect(world.eventReasons().contains(.analysisFailed))
        // The plan that rolled back wrote the routes and nothing else.
        let rollback = world.executed.firstIndex { if case .writeVirtualService(let vs) = $0.1 { vs.spec.http[1].route[1].weight == 0 } else { false } }!
        let shrink = world.executed.firstIndex { if case .scaleCanary(_, 0) = $0.1 { true } else { false } }!
        #expect(shrink > rollback)
        #expect(world.executed[shrink].0.secondsSince1970 - world.executed[rollback].0.secondsSince1970 >= 30)
        #expect(world.canaries.first?.spec.replicas == 0)
        #expect(world.deployment.spec.paused == true)
        #expect(world.deployment.spec.template.images == ["shop/checkout:2.0"])
        #expect(world.condition("Stalled") == .true)
        world.now = world.now.adding(seconds: 3600)
        world.settle()
        #expect(world.status.phase == .failed, "a failed revision is not tried again on its own")
    }

    @Test func firstMeasurementWaitsForTheWindow() {
        var world = WorldSimulator(rollout: AnalysisTests.gated, templates: [.fixture()], oracle: Engine.good)
        world.settle()
        world.setImage("shop/checkout:2.0")
        world.settle(until: { $0.executed.contains { if case .runMeasurement = $0.1 { true } else { false } } })
        let measured = world.executed.first { if case .runMeasurement = $0.1 { true } else { false } }!.0
        #expect(measured.secondsSince1970 - world.status.weightsSince!.secondsSince1970 == 120, "window: 2m")
    }

    @Test func backgroundMeasurementsWaitForTheWindowAfterEachWeightChange() {
        let rollout = Rollout.fixture().steps([CanaryStep(setWeight: 10), CanaryStep(pause: PauseStep(duration: "10m")),
                                               CanaryStep(setWeight: 50), CanaryStep(pause: PauseStep(duration: "10m"))])
            .backgroundAnalysis(BackgroundAnalysis(templates: [TemplateRef(name: "until-end")], args: Engine.gate.args))
        let templates = [AnalysisTemplate.fixture(name: "until-end", metrics: [.successRate(count: 0)])]
        var w = WorldSimulator(rollout: rollout, templates: templates, oracle: Engine.good)
        w.settle()
        w.setImage("shop/checkout:2.0")
        w.settle()
        #expect(w.status.phase == .healthy)
        let times = w.status.history![0].timeline.filter { $0.type == .measurement }.map(\.at.secondsSince1970)
        let changes = w.status.history![0].timeline.filter { $0.type == .weights }.map(\.at.secondsSince1970)
        #expect(times.count > 10)
        // No measurement within the 2m window after any weight change.
        for t in times {
            #expect(!changes.contains { t >= $0 && t < $0 + 120 }, "measured at \(t) within the window of a change at \(changes)")
        }
    }

    @Test func inconclusivePausesAndPromoteStepGoesOn() {
        let templates = AnalysisTests.template { $0.failureCondition = "result < 0.9" }
        var world = AnalysisTests.run(templates, oracle: { _, _, _, _ in .value(.number(0.95)) })
        #expect(world.status.phase == .paused)
        #expect(world.status.message?.contains("inconclusive") == true)
        #expect(world.eventReasons().contains(.analysisInconclusive))
        #expect(world.observedCanaryWeights == [20])
        world.annotate(Labels.promote, "step/1")
        world.settle()
        #expect(world.status.phase == .healthy)
    }

    @Test func limitsTolerateThatManyBadMeasurements() {
        let counter = Counter()
        let templates = AnalysisTests.template { $0.failureLimit = 1; $0.count = 4 }
        let world = AnalysisTests.run(templates, oracle: { _, _, _, _ in .value(.number(counter.next() == 1 ? 0.5 : 0.999)) })
        #expect(world.status.phase == .healthy)
        let metric = world.status.analysis?.first { $0.name == "step-1" }?.metrics[0]
        #expect(metric?.failed == 1)
        #expect(metric?.successful == 3)
    }

    @Test func consecutiveErrorsFailClosed() {
        let templates = AnalysisTests.template { $0.consecutiveErrorLimit = 2 }
        let world = AnalysisTests.run(templates, oracle: { _, _, _, _ in .error("connection refused") })
        #expect(world.status.phase == .failed)
        let metric = world.status.analysis?.first { $0.name == "step-1" }?.metrics[0]
        #expect(metric?.errors == 3)
        #expect(metric?.phase == .error)
        #expect(metric?.measurements?.last?.message == "connection refused")
    }

    @Test(arguments: [(NoDataPolicy.failure, RolloutPhase.failed), (.success, .healthy), (.inconclusive, .paused)])
    func noDataFollowsThePolicy(policy: NoDataPolicy, expected: RolloutPhase) {
        let templates = AnalysisTests.template { $0.noData = policy }
        let world = AnalysisTests.run(templates, oracle: { _, _, _, _ in .value(.samples([])) })
        #expect(world.status.phase == expected)
    }

    @Test func dryRunIsRecordedButNeverGates() {
        let templates = [AnalysisTemplate.fixture(metrics: [.successRate(), .successRate(name: "strict").with { $0.dryRun = true; $0.successCondition = "result > 2" }])]
        let world = AnalysisTests.run(templates, oracle: Engine.good)
        #expect(world.status.phase == .healthy)
        let strict = world.status.analysis?.first { $0.name == "step-1" }?.metrics.first { $0.name == "strict" }
        #expect((strict?.failed ?? 0) > 0)
        #expect(world.status.history?.first?.timeline.allSatisfy { $0.metric != "strict" } == true)
    }

    @Test func templatesAreFrozenWhenTheRunStarts() {
        var world = WorldSimulator(rollout: AnalysisTests.gated, templates: [.fixture()], oracle: { _, _, _, _ in .value(.number(0.97)) })
        world.settle()
        world.setImage("shop/checkout:2.0")
        world.settle(until: { $0.status.analysis?.isEmpty == false })
        // Loosening the template mid-run changes nothing for this run.
        world.templates = TemplateCatalog([AnalysisTemplate.fixture().with { $0.spec.metrics[0].successCondition = "result >= 0.9" }])
        world.settle()
        #expect(world.status.phase == .failed)
        #expect(world.status.analysis?.first?.metrics[0].definition.successCondition == "result >= 0.99")
    }

    @Test func backgroundAnalysisStartsAtItsStepAndFailsTheRelease() {
        let rollout = Rollout.fixture().steps([CanaryStep(setWeight: 10), CanaryStep(pause: PauseStep(duration: "5m")), CanaryStep(setWeight: 50)])
            .backgroundAnalysis(BackgroundAnalysis(templates: [TemplateRef(name: "until-end")], args: Engine.gate.args, startingStep: 1))
        let templates = [AnalysisTemplate.fixture(name: "until-end", metrics: [.successRate(count: 0)])]
        var world = WorldSimulator(rollout: rollout, templates: templates, oracle: { _, _, _, weight in .value(.number(weight >= 10 ? 0.5 : 1)) })
        world.settle()
        world.setImage("shop/checkout:2.0")
        world.settle(until: { $0.status.currentStepIndex == 1 && $0.observedCanaryWeights == [10] })
        #expect(world.status.analysis?.first?.name == "background")
        world.settle()
        #expect(world.status.phase == .failed)
        #expect(world.status.history?.first?.reason?.contains("background analysis failed") == true)
    }

    @Test func timelineKeepsTwentyMeasurementsAndCountsTheRest() {
        let templates = AnalysisTests.template { $0.count = 30; $0.interval = "10s" }
        let world = AnalysisTests.run(templates, oracle: Engine.good)
        let release = world.status.history![0]
        #expect(release.timeline.filter { $0.type == .measurement }.count == 20)
        #expect(release.omittedMeasurements == MeasurementTally(successful: 10))
        #expect(world.status.analysis?.first?.metrics[0].measurements?.count == 10)
    }
}

final class Counter: Sendable {
    private let value = Mutex(0)
    func next() -> Int {
        value.withLock {
            $0 += 1
            return $0
        }
    }
}

@Suite struct HistoryTests {
    @Test func historyIsBoundedByTheLimitAndBySize() throws {
        let rollout = Rollout.fixture().steps([CanaryStep(setWeight: 20), CanaryStep(analysis: Engine.gate)])
        var small = Engine.healthy(rollout.with { $0.spec.revisionHistoryLimit = 2 })
        for image in 2...5 {
            small.setImage("shop/checkout:\(image)")
            small.settle()
        }
        #expect(small.status.history?.map(\.images) == [["shop/checkout:5"], ["shop/checkout:4"]])

        // The largest limit still keeps status under 256 KiB: 100 full-size entries (20
        // measurements each) are in history when one more release ends.
        let templates = [AnalysisTemplate.fixture().with { $0.spec.metrics[0].count = 25; $0.spec.metrics[0].interval = "5s" }]
        var big = Engine.healthy(rollout.with { $0.spec.revisionHistoryLimit = RolloutSpec.maxRevisionHistoryLimit }, templates: templates)
        big.setImage("shop/checkout:2")
        big.settle()
        let full = try #require(big.status.history?.first)
        #expect(full.timeline.filter { $0.type == .measurement }.count == 20)
        big.rollout.status?.history = Array(repeating: full, count: RolloutSpec.maxRevisionHistoryLimit)
        big.setImage("shop/checkout:3")
        big.settle()
        let size = try JSONEncoder().encode(big.status).count
        #expect(size < 256 * 1024, "status is \(size) bytes")
        #expect((big.status.history?.count ?? 0) > 10)
        #expect((big.status.history?.count ?? 0) < RolloutSpec.maxRevisionHistoryLimit)
        #expect(big.status.history?.first?.images == ["shop/checkout:3"])
    }
}
