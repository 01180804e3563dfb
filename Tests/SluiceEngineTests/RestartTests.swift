import SluiceCore
import SluiceModel
import SluiceTestKit
import Testing

/// A restart at any moment repeats no step, loses nothing, and moves no weight except forward
/// along the steps or back to stable: for every reconcile of a whole release, crash there and
/// check the release ends as the uninterrupted one did, with the same history.
@Suite struct RestartTests {
    enum Crash: CaseIterable {
        /// Status written, then the process died before any action ran.
        case actionsLost
        /// Status written and every action run, then the process died before seeing the results.
        case doneButNotObserved
    }

    struct Run {
        var world: WorldSimulator
        var reconciles: Int
        var violations: [String]
    }

    static let canary = Rollout.fixture().steps(Engine.everyStep)
        .backgroundAnalysis(BackgroundAnalysis(templates: [TemplateRef(name: "success-rate")], args: Engine.gate.args, startingStep: 2))
    static let blueGreen = Rollout.fixture().subsetMode().blueGreen(BlueGreenTests.strategy)

    /// Drives a release to its end, promoting at an indefinite pause, crashing at reconcile `crashAt`.
    static func drive(_ rollout: Rollout, crashAt: Int?, crash: Crash) -> Run {
        var world = Engine.healthy(rollout)
        world.setImage("shop/checkout:2.0")
        var run = Run(world: world, reconciles: 0, violations: [])
        var lastStep = 0
        var lastWeight = 0
        var promoted = 0
        for i in 0..<500 {
            // The crash: this reconcile's status is written; its actions are lost or done; the
            // next reconcile is the restarted process's first, which knows nothing of them.
            let plan = run.world.reconcile(execute: i != crashAt || crash == .doneButNotObserved,
                                           pendingDone: crashAt.map { i != $0 + 1 } ?? true)
            run.reconciles += 1
            let status = run.world.status
            if let step = status.currentStepIndex, status.currentRelease != nil {
                if step < lastStep { run.violations.append("reconcile \(i): step went back from \(lastStep) to \(step)") }
                lastStep = step
            }
            for weight in run.world.observedCanaryWeights where weight != lastWeight {
                if weight < lastWeight && weight != 0 { run.violations.append("reconcile \(i): canary weight moved back from \(lastWeight) to \(weight)") }
                lastWeight = weight
            }
            if status.phase == .paused, status.message?.contains("until promoted") == true {
                promoted += 1
                run.world.annotate(Labels.promote, "step/\(promoted)")
                continue
            }
            if status.phase == .healthy, status.history?.isEmpty == false, plan.actions.isEmpty, run.world.canaries.isEmpty { break }
            run.world.advance(after: plan)
        }
        return run
    }

    /// A history's entries without their times, one line each.
    static func untimed(_ history: [ReleaseRecord]?) -> [String] {
        (history ?? []).flatMap { release in
            ["\(release.revision) \(release.images) \(release.outcome?.rawValue ?? "") \(release.reason ?? "")"]
                + release.timeline.map { e in
                    [e.type.rawValue, e.weights.map { "\($0.stable)/\($0.canary)" }, e.mirrorPercentage.map(String.init), e.headerRoute,
                     e.phase?.rawValue, e.analysis, e.metric, e.measurement?.value, e.measurement?.verdict.rawValue, e.message]
                        .compactMap { $0 }.joined(separator: " ")
                }
        }
    }

    static func check(_ rollout: Rollout) {
        let clean = drive(rollout, crashAt: nil, crash: .actionsLost)
        #expect(clean.violations == [])
        #expect(clean.world.status.history?.first?.outcome == .promoted)
        let expected = clean.world.status.history
        var crashes = 0
        for crash in Crash.allCases {
            for k in 0..<clean.reconciles {
                let run = drive(rollout, crashAt: k, crash: crash)
                crashes += 1
                #expect(run.violations == [], "\(crash) at \(k)")
                // The same entries; lost actions are redone a reconcile later, so some times differ.
                #expect(RestartTests.untimed(run.world.status.history) == RestartTests.untimed(expected), "\(crash) at reconcile \(k)")
                #expect(run.world.status.phase == .healthy, "\(crash) at \(k)")
                #expect(run.world.observedCanaryWeights.allSatisfy { $0 == 0 }, "\(crash) at \(k)")
                #expect(run.world.canaries.isEmpty, "\(crash) at \(k)")
                #expect(run.world.deployment.spec.paused == true, "\(crash) at \(k)")
            }
        }
        #expect(crashes == 2 * clean.reconciles)
        #expect(clean.reconciles > 10)
    }

    @Test func canaryWithEveryStepTypeSurvivesACrashAtEveryPoint() {
        RestartTests.check(RestartTests.canary)
    }

    @Test func blueGreenSurvivesACrashAtEveryPoint() {
        RestartTests.check(RestartTests.blueGreen)
    }
}
