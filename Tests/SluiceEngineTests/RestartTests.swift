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

    struct Run {
        var world: WorldSimulator
        var reconciles: Int
        var violations: [String]
        var actionsAtCrash = 0
    }

    static let canary = Rollout.fixture().steps(Engine.everyStep)
        .backgroundAnalysis(BackgroundAnalysis(templates: [TemplateRef(name: "success-rate")], args: Engine.gate.args, startingStep: 2))
    static let blueGreen = Rollout.fixture().subsetMode().blueGreen(BlueGreenTests.strategy)

    /// Drives a release to its end, promoting at an indefinite pause, crashing at reconcile `crashAt`.
    /// `prefix`: for a `partway` crash, how many of the plan's actions were done.
    static func drive(_ rollout: Rollout, crashAt: Int?, crash: Crash, prefix: Int = 1) -> Run {
        var world = Engine.healthy(rollout)
        world.setImage("shop/checkout:2.0")
        var run = Run(world: world, reconciles: 0, violations: [])
        var lastStep = 0
        var lastWeight = 0
        var promoted = 0
        for i in 0..<500 {
            // The crash: this reconcile's status is written; its actions are lost or done; the
            // next reconcile is the restarted process's first, which knows nothing of them.
            let plan: Plan
            if i == crashAt, crash == .statusLost {
                let kept = run.world.rollout.status
                plan = run.world.reconcile(execute: false, pendingDone: true)
                run.world.rollout.status = kept
            } else if i == crashAt, crash == .partway {
                // Status written, and only the first `prefix` actions done.
                plan = run.world.reconcile(execute: false, pendingDone: true)
                run.actionsAtCrash = plan.actions.count
                for action in plan.actions.prefix(prefix) { run.world.apply(action) }
                run.world.runDeploymentController()
            } else {
                plan = run.world.reconcile(execute: i != crashAt || crash == .doneButNotObserved,
                                           pendingDone: crashAt.map { i != $0 + 1 } ?? true)
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

    static func check(_ rollout: Rollout) async {
        let clean = drive(rollout, crashAt: nil, crash: .actionsLost)
        #expect(clean.violations == [])
        #expect(clean.world.status.history?.first?.outcome == .promoted)
        let expected = clean.world.status.history
        var crashes = 0
        for crash in Crash.allCases {
            for k in 0..<clean.reconciles {
                // CPU-bound: let the suite's I/O-bound tests run in between.
                await Task.yield()
                // Partway: after every proper prefix of that reconcile's actions.
                var prefix = 1
                while true {
                    let run = drive(rollout, crashAt: k, crash: crash, prefix: prefix)
                    prefix += 1
                    crashes += 1
                    #expect(run.violations == [], "\(crash) at \(k)")
                    // The same entries; lost actions are redone a reconcile later, so some times differ
                    // (and after a half-done plan a measurement may land after a traffic change).
                    let got = RestartTests.untimed(run.world.status.history), want = RestartTests.untimed(expected)
                    #expect(crash == .partway ? got.sorted() == want.sorted() : got == want, "\(crash) at reconcile \(k)")
                    #expect(run.world.status.phase == .healthy, "\(crash) at \(k)")
                    #expect(run.world.observedCanaryWeights.allSatisfy { $0 == 0 }, "\(crash) at \(k)")
                    #expect(run.world.canaries.isEmpty, "\(crash) at \(k)")
                    #expect(run.world.deployment.spec.paused == true, "\(crash) at \(k)")
                    if crash != .partway || prefix >= run.actionsAtCrash { break }
                }
            }
        }
        #expect(crashes >= Crash.allCases.count * clean.reconciles)
        #expect(clean.reconciles > 10)
    }

    @Test func canaryWithEveryStepTypeSurvivesACrashAtEveryPoint() async {
        await RestartTests.check(RestartTests.canary)
    }

    @Test func blueGreenSurvivesACrashAtEveryPoint() async {
        await RestartTests.check(RestartTests.blueGreen)
    }
}

/// Crashes on the failure paths, between any two actions: for each path (abort, rollback,
/// supersede, revert, deletion, drift, abort while promoting) the run is repeated with a crash
/// at every reconcile — the status write lost, or kept with only the first few of the plan's
/// actions done — and must end where the uninterrupted run ended, with the same history.
@Suite struct FailurePathRestartTests {
    enum Crash: CaseIterable {
        case statusLost, actionsLost, partway, doneButNotObserved
    }

    struct Path: Sendable, CustomTestStringConvertible {
        var name: String
        var rollout: Rollout
        var oracle: @Sendable (String, String, String, Int) -> MeasurementResult.Outcome = Engine.good
        /// When the disturbance happens, read from the world (so a crash does not move it).
        var when: @Sendable (WorldSimulator) -> Bool
        var disturb: @Sendable (inout WorldSimulator) -> Void
        /// Traffic goes back to stable in steps as the stable's pods return, and how many steps
        /// depends on when each reconcile ran: the weight entries are left out of the comparison.
        var ramps = false
        var testDescription: String { name }
    }

    static let short = Rollout.fixture()
    static let paths: [Path] = [
        Path(name: "abort", rollout: short, when: { $0.observedCanaryWeights == [20] }, disturb: { $0.annotate(Labels.abort, "stop") }),
        Path(name: "rollback", rollout: short.steps([CanaryStep(setWeight: 20), CanaryStep(analysis: Engine.gate), CanaryStep(setWeight: 50)]),
             oracle: Engine.bad, when: { $0.observedCanaryWeights == [20] }, disturb: { _ in }),
        Path(name: "supersede", rollout: short, when: { $0.observedCanaryWeights == [20] }, disturb: { $0.setImage("shop/checkout:3.0") }),
        Path(name: "revert", rollout: short, when: { $0.observedCanaryWeights == [20] }, disturb: { $0.setImage("shop/checkout:1.0") }),
        Path(name: "deletion", rollout: short, when: { $0.observedCanaryWeights == [20] },
             disturb: { $0.rollout.metadata.deletionTimestamp = $0.now }),
        Path(name: "drift", rollout: short, when: { $0.observedCanaryWeights == [20] }, disturb: { world in
            let i = world.virtualServices[0].spec.http.firstIndex { $0.name == "primary" }!
            world.virtualServices[0].spec.http[i].route[0].weight = 0
            world.virtualServices[0].spec.http[i].route[1].weight = 100
        }),
        Path(name: "abort while promoting", rollout: short.steps([CanaryStep(setWeight: 50)]),
             when: { w in w.status.phase == .promoting && w.deployment.spec.paused == false },
             disturb: { $0.annotate(Labels.abort, "stop") }, ramps: true),
        Path(name: "supersede while promoting", rollout: short.steps([CanaryStep(setWeight: 50)]),
             when: { w in w.status.phase == .promoting && w.deployment.spec.paused == false },
             disturb: { $0.setImage("shop/checkout:3.0") }, ramps: true),
        Path(name: "abort with an invalid spec", rollout: short, when: { $0.observedCanaryWeights == [20] }, disturb: { world in
            world.templates = TemplateCatalog([])
            world.rollout.spec.strategy.canary?.steps?.append(CanaryStep(analysis: Engine.gate))
            world.annotate(Labels.abort, "stop")
        }),
    ]

    struct Outcome: Equatable {
        var history: [String]
        var phase: RolloutPhase?
        var canaryWeights: [Int]
        var canaryReplicas: [Int]
        var paused: Bool?
        var finalizer: Bool
        var stableReady: Int
    }

    /// `prefix`: for a `partway` crash, how many of the plan's actions were done.
    static func drive(_ path: Path, crashAt: Int?, crash: Crash, prefix: Int = 1)
        -> (outcome: Outcome, reconciles: Int, violations: [String], actionsAtCrash: Int) {
        var world = Engine.healthy(path.rollout, oracle: path.oracle)
        var watch = PropertyTests.WorldWatch(world: world)
        var tracker = PropertyTests.Tracker()
        world.setImage("shop/checkout:2.0")
        var disturbed = false
        var promoted = 0
        var reconciles = 0
        var actionsAtCrash = 0
        var lastWasCrash = false
        for i in 0..<400 {
            if !disturbed, path.when(world) {
                path.disturb(&world)
                disturbed = true
                if path.name == "drift" { watch.written = [:] }
            }
            let plan = SluiceCore.plan(world.rollout, world.observation(pendingDone: !lastWasCrash), now: world.now)
            let crashing = i == crashAt
            if crashing { actionsAtCrash = plan.actions.count }
            var done = plan.actions.count
            if crashing {
                switch crash {
                case .statusLost, .actionsLost: done = 0
                case .partway: done = min(prefix, plan.actions.count)
                case .doneButNotObserved: break
                }
            }
            if !(crashing && crash == .statusLost) { world.rollout.status = plan.status }
            world.pendingMeasurements = []
            for action in plan.actions.prefix(done) {
                world.apply(action)
                watch.wrote(action)
            }
            world.runDeploymentController()
            lastWasCrash = crashing
            reconciles += 1
            if plan.status.history?.first?.outcome == .promoted { watch.stableAllowed.formUnion(plan.status.history!.first!.images) }
            // Once deletion has removed the selector keys, the Deployment is the user's again (unpaused,
            // rolling its own template): Sluice's invariants no longer apply.
            let handedBack = world.rollout.metadata.deletionTimestamp != nil
                && world.services.allSatisfy { $0.spec.selector[PodTemplateSpec.podTemplateHashLabel] == nil }
            if !handedBack { watch.check(world, into: &tracker) }
            let status = world.status
            if status.phase == .paused, status.message?.contains("until promoted") == true {
                promoted += 1
                world.annotate(Labels.promote, "step/\(promoted)")
            }
            let finalizer = world.rollout.metadata.finalizers?.contains(Labels.finalizer) == true
            if world.rollout.metadata.deletionTimestamp != nil, !finalizer { break }
            if disturbed, !crashing, plan.actions.isEmpty, case .awaitChange = plan.requeue,
               [.healthy, .failed, .aborted].contains(status.phase) { break }
            world.advance(after: plan)
        }
        let outcome = Outcome(
            history: RestartTests.untimed(world.status.history).filter { !path.ramps || !$0.hasPrefix("Weights") },
            phase: world.status.phase, canaryWeights: world.observedCanaryWeights,
            canaryReplicas: world.canaries.map { $0.spec.replicas ?? 0 }, paused: world.deployment.spec.paused,
            finalizer: world.rollout.metadata.finalizers?.contains(Labels.finalizer) == true,
            // After deletion the Deployment rolls its own template at its own pace: not compared.
            stableReady: world.rollout.metadata.deletionTimestamp != nil ? 0
                : world.replicaSets.first { $0.metadata.name == world.status.stableReplicaSet }?.status?.readyReplicas ?? 0)
        return (outcome, reconciles, tracker.violations, actionsAtCrash)
    }

    @Test(arguments: FailurePathRestartTests.paths)
    func aCrashBetweenAnyTwoActionsEndsWhereTheCleanRunEnds(path: Path) async {
        let clean = FailurePathRestartTests.drive(path, crashAt: nil, crash: .partway)
        #expect(clean.violations == [])
        #expect(clean.outcome.canaryWeights.allSatisfy { $0 == 0 }, "\(path.name): all traffic back on stable")
        #expect(clean.reconciles > 3 && clean.reconciles < 400, "\(clean.reconciles)")
        print("failure path \(path.name): \(clean.reconciles) reconciles, a crash of each kind at each, partway after every prefix")
        for k in 0..<clean.reconciles {
            await Task.yield()
            for crash in Crash.allCases {
                // Partway: after every proper prefix of that reconcile's actions (none and all are
                // the actionsLost and doneButNotObserved crashes).
                var prefix = 1
                repeat {
                    let run = FailurePathRestartTests.drive(path, crashAt: k, crash: crash, prefix: prefix)
                    #expect(run.violations == [], "\(path.name): \(crash) at \(k)")
                    #expect(run.outcome == clean.outcome, "\(path.name): \(crash) (\(prefix)) at reconcile \(k)")
                    prefix += 1
                    if crash != .partway || prefix >= run.actionsAtCrash { break }
                } while true
            }
        }
    }
}
