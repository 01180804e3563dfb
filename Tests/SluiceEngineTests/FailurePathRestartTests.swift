import SluiceCore
import SluiceModel
import SluiceTestKit
import Testing

/// Crashes on the failure paths, between any two actions: for each path (abort, rollback,
/// supersede, revert, deletion, drift, abort while promoting) the run is repeated with a crash
/// at every reconcile — the status write lost, or kept with only the first few of the plan's
/// actions done — and must end where the uninterrupted run ended, with the same history.
@Suite struct FailurePathRestartTests {
    typealias Crash = RestartTests.Crash
    typealias CrashPoint = RestartTests.CrashPoint

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

    /// Drives the path to its end, crashing as `crashes` says.
    static func drive(_ path: Path, crashes: [Int: CrashPoint] = [:])
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
        for i in 0..<800 {
            if !disturbed, path.when(world) {
                path.disturb(&world)
                disturbed = true
                if path.name == "drift" { watch.written = [:] }
            }
            let plan = SluiceCore.plan(world.rollout, world.observation(pendingDone: !lastWasCrash), now: world.now)
            let crash = crashes[i]
            let crashing = crash != nil
            if crashing { actionsAtCrash = plan.actions.count }
            var done = plan.actions.count
            switch crash?.kind {
            case .statusLost?, .actionsLost?: done = 0
            case .partway?: done = min(crash!.prefix, plan.actions.count)
            case .doneButNotObserved?, nil: break
            }
            if crash?.kind != .statusLost { world.rollout.status = plan.status }
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
        let clean = FailurePathRestartTests.drive(path)
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
                    let run = FailurePathRestartTests.drive(path, crashes: [k: CrashPoint(kind: crash, prefix: prefix)])
                    #expect(run.violations == [], "\(path.name): \(crash) at \(k)")
                    #expect(run.outcome == clean.outcome, "\(path.name): \(crash) (\(prefix)) at reconcile \(k)")
                    prefix += 1
                    if crash != .partway || prefix >= run.actionsAtCrash { break }
                } while true
            }
        }
    }

    /// Several crashes per run, on random reconciles, consecutive ones included.
    @Test(arguments: FailurePathRestartTests.paths)
    func severalCrashesPerRunEndWhereTheCleanRunEnds(path: Path) async {
        let clean = FailurePathRestartTests.drive(path)
        var total = 0
        for seed in 0..<UInt64(60) {
            await Task.yield()
            let crashes = RestartTests.schedule(seed: seed, reconciles: clean.reconciles, oneIn: 3)
            total += crashes.count
            let run = FailurePathRestartTests.drive(path, crashes: crashes)
            let label = "\(path.name), seed \(seed): crashes at \(crashes.keys.sorted())"
            #expect(run.violations == [], "\(label)")
            #expect(run.outcome == clean.outcome, "\(label)")
        }
        #expect(total >= 60 * 2, "\(total) crashes over 60 runs: several per run")
    }
}
