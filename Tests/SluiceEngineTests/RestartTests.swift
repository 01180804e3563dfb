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
        /// Status written and half the actions run.
        case partway
        /// The status write itself lost: nothing of the plan happened.
        case statusLost
    }

    /// A crash at one reconcile: its kind, and for `partway` how many of the plan's actions were done.
    struct CrashPoint: Sendable {
        var kind: Crash
        var prefix = 1
    }

    struct Run {
        var world: WorldSimulator
        var reconciles: Int
        var violations: [String]
        /// How many actions the plan of the last crash had.
        var actionsAtCrash = 0
    }

    static let canary = Rollout.fixture().steps(Engine.everyStep)
        .backgroundAnalysis(BackgroundAnalysis(templates: [TemplateRef(name: "success-rate")], args: Engine.gate.args, startingStep: 2))
    static let blueGreen = Rollout.fixture().subsetMode().blueGreen(BlueGreenTests.strategy)

    /// Several crashes in one run: at each reconcile, with probability one in `oneIn`, a crash
    /// of a random kind (after a random prefix of the actions when part-way), consecutive ones
    /// included, so a restart that is itself interrupted is exercised too.
    static func schedule(seed: UInt64, reconciles: Int, oneIn: Int = 4) -> [Int: CrashPoint] {
        var rng = SplitMix64(seed: seed)
        var out: [Int: CrashPoint] = [:]
        func crash() -> CrashPoint { CrashPoint(kind: Crash.allCases.randomElement(using: &rng)!, prefix: Int.random(in: 1...6, using: &rng)) }
        for i in 0..<reconciles where Int.random(in: 0..<oneIn, using: &rng) == 0 { out[i] = crash() }
        // At least two, however short the run.
        while out.count < min(2, reconciles) { out[Int.random(in: 0..<reconciles, using: &rng)] = crash() }
        return out
    }

    /// Drives a release to its end, promoting at an indefinite pause, crashing as `crashes` says.
    static func drive(_ rollout: Rollout, crashes: [Int: CrashPoint] = [:]) -> Run {
        var world = Engine.healthy(rollout)
        world.setImage("shop/checkout:2.0")
        var run = Run(world: world, reconciles: 0, violations: [])
        var lastStep = 0
        var lastWeight = 0
        var promoted = 0
        for i in 0..<800 {
            // The crash: this reconcile's status is written (or not); its actions are lost, done
            // in part or done; the next reconcile is the restarted process's first, which knows
            // nothing of them.
            let restarted = i > 0 && crashes[i - 1] != nil
            let plan: Plan
            switch crashes[i]?.kind {
            case .statusLost?:
                let kept = run.world.rollout.status
                plan = run.world.reconcile(execute: false, pendingDone: !restarted)
                run.world.rollout.status = kept
            case .partway?:
                plan = run.world.reconcile(execute: false, pendingDone: !restarted)
                run.actionsAtCrash = plan.actions.count
                for action in plan.actions.prefix(crashes[i]!.prefix) { run.world.apply(action) }
                run.world.runDeploymentController()
            case .actionsLost?:
                plan = run.world.reconcile(execute: false, pendingDone: !restarted)
            case .doneButNotObserved?, nil:
                plan = run.world.reconcile(execute: true, pendingDone: !restarted)
            }
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
            if crashes[i] == nil, status.phase == .healthy, status.history?.isEmpty == false, plan.actions.isEmpty,
               run.world.canaries.isEmpty { break }
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

    /// The run ended as the clean one did: promoted, the same history, all traffic on the
    /// stable, no canary, the Deployment held.
    static func expectSameEnd(_ run: Run, as clean: Run, partway: Bool, _ label: String) {
        #expect(run.violations == [], "\(label)")
        // The same entries; lost actions are redone a reconcile later, so some times differ
        // (and after a half-done plan a measurement may land after a traffic change).
        let got = untimed(run.world.status.history), want = untimed(clean.world.status.history)
        #expect(partway ? got.sorted() == want.sorted() : got == want, "\(label)")
        #expect(run.world.status.phase == .healthy, "\(label)")
        #expect(run.world.observedCanaryWeights.allSatisfy { $0 == 0 }, "\(label)")
        #expect(run.world.canaries.isEmpty, "\(label)")
        #expect(run.world.deployment.spec.paused == true, "\(label)")
    }

    static func check(_ rollout: Rollout) async {
        let clean = drive(rollout)
        #expect(clean.violations == [])
        #expect(clean.world.status.history?.first?.outcome == .promoted)
        var crashes = 0
        for crash in Crash.allCases {
            for k in 0..<clean.reconciles {
                // CPU-bound: let the suite's I/O-bound tests run in between.
                await Task.yield()
                // Partway: after every proper prefix of that reconcile's actions.
                var prefix = 1
                while true {
                    let run = drive(rollout, crashes: [k: CrashPoint(kind: crash, prefix: prefix)])
                    prefix += 1
                    crashes += 1
                    expectSameEnd(run, as: clean, partway: crash == .partway, "\(crash) at reconcile \(k)")
                    if crash != .partway || prefix >= run.actionsAtCrash { break }
                }
            }
        }
        #expect(crashes >= Crash.allCases.count * clean.reconciles)
        #expect(clean.reconciles > 10)
    }

    /// Several crashes per run, on random reconciles (seeded, so a failure names its schedule).
    static func checkSeveral(_ rollout: Rollout, runs: Int) async {
        let clean = drive(rollout)
        var total = 0
        for seed in 0..<UInt64(runs) {
            await Task.yield()
            let crashes = schedule(seed: seed, reconciles: clean.reconciles)
            total += crashes.count
            let run = drive(rollout, crashes: crashes)
            let partway = crashes.values.contains { $0.kind == .partway }
            expectSameEnd(run, as: clean, partway: partway, "seed \(seed): crashes at \(crashes.keys.sorted())")
        }
        #expect(total >= runs * 2, "\(total) crashes over \(runs) runs: several per run")
        print("restart: \(runs) runs of \(clean.reconciles)+ reconciles, \(total) crashes in all")
    }

    @Test func canaryWithEveryStepTypeSurvivesACrashAtEveryPoint() async {
        await RestartTests.check(RestartTests.canary)
    }

    @Test func blueGreenSurvivesACrashAtEveryPoint() async {
        await RestartTests.check(RestartTests.blueGreen)
    }

    @Test func canarySurvivesSeveralCrashesPerRun() async {
        await RestartTests.checkSeveral(RestartTests.canary, runs: 150)
    }

    @Test func blueGreenSurvivesSeveralCrashesPerRun() async {
        await RestartTests.checkSeveral(RestartTests.blueGreen, runs: 150)
    }
}
