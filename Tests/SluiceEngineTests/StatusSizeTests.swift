import Foundation
import SluiceCore
import SluiceModel
import SluiceTestKit
import Testing

/// Status must stay well under the API server's limits however many gates a Rollout has.
@Suite struct StatusSizeTests {
    @Test func manyGatesWithLongQueriesStayUnder256KiB() throws {
        let templates = try RepositoryFiles.readyTemplates()
        let refs = templates.map { TemplateRef(name: $0.metadata.name ?? "", clusterScope: true) }
        let gate = CanaryStep(analysis: AnalysisStep(templates: refs))
        var steps: [CanaryStep] = []
        for weight in [5, 10, 20, 30, 40, 50, 60, 70, 80, 90] { steps += [CanaryStep(setWeight: weight), gate] }
        let rollout = Rollout.fixture().steps(steps)
            .backgroundAnalysis(BackgroundAnalysis(templates: refs, startingStep: 1))
        var world = WorldSimulator(rollout: rollout, templates: templates) { _, _, _, _ in .value(.number(0.5)) }
        world.oracle = { _, metric, _, _ in
            // Values every template passes: a high success rate, low latency and burn, enough traffic.
            switch metric {
            case "success-rate": .value(.number(0.999))
            case "request-volume": .value(.number(50))
            case "latency-p99", "latency-p95": .value(.number(40))
            case "burn-rate": .value(.number(1))
            case "error-rate-vs-stable": .value(.number(0))
            default: .value(.number(1))
            }
        }
        world.settle()
        var largest = 0
        for release in 0..<12 {
            world.setImage("shop/checkout:2.\(release)")
            for _ in 0..<2000 {
                let plan = world.reconcile()
                // Status grows when a plan acts (a measurement asked for, a step taken, a release ended).
                if !plan.actions.isEmpty { largest = max(largest, try JSONEncoder().encode(world.rollout.status).count) }
                if world.rollout.status?.phase == .healthy, plan.actions.isEmpty { break }
                world.advance(after: plan)
            }
        }
        #expect(world.rollout.status?.history?.count ?? 0 >= 1)
        #expect(world.rollout.status?.history?.first?.outcome == .promoted)
        #expect(largest < 240 * 1024, "largest status: \(largest) bytes")
        let last = try #require(world.rollout.status?.history?.first?.timeline.filter { $0.type == .measurement })
        #expect(last.count == 20)
        let queried = last.filter { $0.measurement?.query != nil }
        #expect(Set(queried.map { "\($0.analysis ?? "") \($0.metric ?? "")" }).count == queried.count,
                "one query per metric and run in the timeline")
    }
}
