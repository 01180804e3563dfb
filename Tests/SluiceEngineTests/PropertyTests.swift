import SluiceCore
import SluiceModel
import SluiceTestKit
import Synchronization
import Testing

/// Random sequences of observations — metrics good, bad, missing or failing, commands, new
/// revisions, crashes, failing actions, canaries that do not come up — and the invariants that must hold
/// whatever happens.
@Suite struct PropertyTests {
    /// What the metric oracle answers, changed by the sequence as it goes.
    final class Metrics: Sendable {
        enum Mode: Int, CaseIterable { case good, bad, missing, failing }
        let mode = Mutex(Mode.good)
        func outcome() -> MeasurementResult.Outcome {
            switch mode.withLock({ $0 }) {
            case .good: .value(.number(0.999))
            case .bad: .value(.number(0.5))
            case .missing: .value(.samples([]))
            case .failing: .error("connection refused")
            }
        }
    }

    struct Tracker {
        var violations: [String] = []
        var ended: [ReleaseRecord] = []
        var promotedByCommand: Set<String> = []
    }

    static let rollouts: [Rollout] = [
        RestartTests.canary, RestartTests.blueGreen,
        Rollout.fixture().steps([CanaryStep(setWeight: 30), CanaryStep(analysis: Engine.gate), CanaryStep(setWeight: 60),
                                 CanaryStep(pause: PauseStep(duration: "2m"))]).with { $0.spec.revisionHistoryLimit = 3 },
    ]

    @Test(arguments: 0..<3)
    func invariantsHoldOverRandomSequences(rolloutIndex: Int) {
        var tracker = Tracker()
        var promotions = 0
        for seed in 0..<40 {
            var rng = SplitMix64(seed: UInt64(seed * 31 + rolloutIndex))
            let metrics = Metrics()
            var world = WorldSimulator(rollout: PropertyTests.rollouts[rolloutIndex], templates: [.fixture()],
                                       oracle: { _, _, _, _ in metrics.outcome() })
            world.settle()
            var image = 1
            var crashed = false
            for _ in 0..<120 {
                let dice = rng.next() % 100
                switch dice {
                case 0..<6:
                    image += 1
                    world.setImage("shop/checkout:\(image)")
                case 6..<14: metrics.mode.withLock { $0 = Metrics.Mode(rawValue: Int(rng.next() % 4))! }
                case 14..<16: world.annotate(Labels.abort, "stop \(rng.next() % 1000)")
                case 16..<19:
                    world.annotate(Labels.promote, "\(dice == 16 ? "full" : "step")/\(rng.next() % 10000)")
                    if let revision = world.status.canaryRevision { tracker.promotedByCommand.insert(revision) }
                case 19..<22: world.annotate(Labels.retry, "\(rng.next() % 10000)")
                case 22..<24: world.canaryBecomesReady.toggle()
                default: break
                }
                let crash = rng.next() % 20 == 0
                let before = world.status
                let plan = SluiceCore.plan(world.rollout, world.observation(pendingDone: !crashed), now: world.now)
                world.rollout.status = plan.status
                world.pendingMeasurements = []
                PropertyTests.checkPlan(plan, before: before, world: world, into: &tracker)
                // Now and then an action fails (a conflict, a timeout): the shell stops there.
                let failAt = rng.next() % 8 == 0 ? Int(rng.next() % UInt64(max(plan.actions.count, 1))) : plan.actions.count
                if !crash {
                    for action in plan.actions.prefix(failAt) {
                        PropertyTests.checkAction(action, world: world, into: &tracker)
                        world.apply(action)
                    }
                }
                crashed = crash
                world.runDeploymentController()
                if plan.status.history?.first?.outcome == .promoted, before.history?.first != plan.status.history?.first { promotions += 1 }
                switch plan.requeue {
                case .after(let seconds): world.now = world.now.adding(seconds: min(max(seconds, 1), Double(1 + rng.next() % 90)))
                case .awaitChange: world.now = world.now.adding(seconds: Double(1 + rng.next() % 30))
                }
            }
        }
        #expect(tracker.violations.prefix(10) == [], "\(tracker.violations.count) violations")
        #expect(promotions >= 5, "the sequences should reach promotion often enough to test it: \(promotions)")
        print("property sequences for rollout \(rolloutIndex): \(tracker.ended.count) releases ended, \(promotions) promoted")
        #expect(tracker.ended.count >= 40)
    }

    /// Weights are integers summing to 100 in every route of every VirtualService write.
    static func checkAction(_ action: Action, world: WorldSimulator, into tracker: inout Tracker) {
        switch action {
        case .writeVirtualService(let vs):
            for route in vs.spec.http where route.route.count > 1 || route.name?.contains("-sluice-") == true {
                let weights = route.route.map(\.weight)
                if weights.contains(nil) || weights.reduce(0, { $0 + ($1 ?? 0) }) != 100 {
                    tracker.violations.append("route \(route.name ?? "") weights \(weights)")
                }
            }
        case .scaleCanary(let name, let replicas):
            let current = world.replicaSets.first { $0.metadata.name == name }?.spec.replicas ?? 0
            if replicas < current { checkNoTraffic(to: name, world: world, into: &tracker) }
        case .deleteCanary(let name):
            checkNoTraffic(to: name, world: world, into: &tracker)
        default:
            break
        }
    }

    /// Nothing scales a canary down while a route can still send it requests.
    static func checkNoTraffic(to name: String, world: WorldSimulator, into tracker: inout Tracker) {
        guard let revision = world.replicaSets.first(where: { $0.metadata.name == name })?.metadata.labels?[Labels.revision] else { return }
        let selected = world.services.first { $0.metadata.name == "checkout-canary" }?.spec.selector[Labels.revision] == revision
            || world.destinationRule?.spec.subsets.first { $0.name == "canary" }?.labels[Labels.revision] == revision
        guard selected else { return }
        let http = world.virtualServices.flatMap(\.spec.http)
        if world.observedCanaryWeights.contains(where: { $0 > 0 }) || http.contains(where: { $0.name?.contains("-sluice-") == true })
            || http.contains(where: { $0.mirror != nil }) {
            tracker.violations.append("canary \(name) scaled down while routes still send it traffic")
        }
    }

    static func checkPlan(_ plan: Plan, before: RolloutStatus, world: WorldSimulator, into tracker: inout Tracker) {
        let status = plan.status
        if let w = status.weights, w.stable + w.canary != 100 || w.canary < 0 { tracker.violations.append("status weights \(w)") }
        // History never loses an entry: what was there stays, behind what ended since, up to the limit.
        let old = before.history ?? []
        let new = status.history ?? []
        let limit = world.rollout.spec.revisionHistoryLimit ?? 10
        if new.count > limit { tracker.violations.append("history holds \(new.count) entries, more than \(limit)") }
        if let first = old.first {
            if let k = new.firstIndex(of: first) {
                if Array(new[k...]) != Array(old.prefix(new.count - k)) { tracker.violations.append("history changed an ended release") }
            } else if limit > 0 {
                tracker.violations.append("history lost an entry: \(first.revision) \(first.outcome?.rawValue ?? "")")
            }
        }
        if let current = before.currentRelease, status.currentRelease?.startedAt != current.startedAt || status.currentRelease?.revision != current.revision,
           !new.contains(where: { $0.revision == current.revision && $0.startedAt == current.startedAt }) {
            tracker.violations.append("release \(current.revision) ended without a history entry")
        }
        // No promotion without every gate passed (unless a person promoted).
        if let top = new.first, top != old.first {
            tracker.ended.append(top)
            if top.outcome == .promoted, !tracker.promotedByCommand.contains(top.revision) {
                let gates = world.rollout.spec.strategy.canary?.resolvedSteps.indices.filter { world.rollout.spec.strategy.canary!.resolvedSteps[$0].analysis != nil }
                    ?? []
                let runs = status.analysis ?? []
                for gate in gates where runs.first(where: { $0.name == "step-\(gate)" && $0.revision == top.revision })?.phase != .successful {
                    tracker.violations.append("revision \(top.revision) promoted without gate step-\(gate) passing")
                }
                if runs.contains(where: { $0.revision == top.revision && ($0.phase == .failed || $0.phase == .inconclusive) }) {
                    tracker.violations.append("revision \(top.revision) promoted with a failed or inconclusive analysis")
                }
            }
        }
    }
}
