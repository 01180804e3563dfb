import SluiceCore
import SluiceModel
import SluiceTestKit
import Synchronization
import Testing

/// The engine's invariants, each checked here on every tick of every sequence:
/// 1. No unanalysed revision takes traffic or becomes the stable (`WorldWatch.check`: which
///    image each route's sides serve, read from the simulated Services, subsets and weights;
///    `checkPlan`: no promotion without every gate passed).
/// 2. Abort always acts: its route writes lead the plan and the canary's weight never grows
///    (`checkAbort`).
/// 3. Traffic only goes where there is capacity: no side with weight has zero ready pods, and
///    no canary is scaled down while routes still reach it (`WorldWatch.check`, `checkAction`).
/// 4. Every wait has a deadline: `status.waiting` never outlives `progressDeadlineSeconds`.
/// 5. A held rollout can always be moved on: a promote command changes a Paused release.
///
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
    func invariantsHoldOverRandomSequences(rolloutIndex: Int) async {
        var tracker = Tracker()
        var promotions = 0
        var deletions = 0
        for seed in 0..<40 {
            var rng = SplitMix64(seed: UInt64(seed * 31 + rolloutIndex))
            let metrics = Metrics()
            var world = WorldSimulator(rollout: PropertyTests.rollouts[rolloutIndex], templates: [.fixture()],
                                       oracle: { _, _, _, _ in metrics.outcome() })
            world.settle()
            var watch = WorldWatch(world: world)
            var image = 1
            var crashed = false
            var removedVirtualService: VirtualService?
            var renamedRoute = false
            let templates = world.templates
            // Long and CPU-bound: yield now and then so the suite's I/O-bound tests are not starved.
            await Task.yield()
            for tick in 0..<200 {
                let dice = rng.next() % 100
                let known = tracker.violations.count
                // What a sequence breaks (spec.paused, a template, a VirtualService) is mended a few ticks later.
                if rng.next() % 6 == 0 {
                    world.rollout.spec.paused = nil
                    if renamedRoute, let i = world.virtualServices.first?.spec.http.firstIndex(where: { $0.name == "renamed" }) {
                        world.virtualServices[0].spec.http[i].name = "primary"
                    }
                    renamedRoute = false
                    world.templates = templates
                    if let vs = removedVirtualService {
                        world.virtualServices.append(vs)
                        removedVirtualService = nil
                    }
                }
                defer {
                    for i in known..<tracker.violations.count {
                        tracker.violations[i] = "seed \(seed) tick \(tick) dice \(dice) phase \(world.status.phase?.rawValue ?? ""): " + tracker.violations[i]
                    }
                }
                var aborted = false
                var promotedWhileHeld = false
                switch dice {
                case 0, 1 where rng.next() % 3 == 0:
                    image += 1
                    world.setImage("shop/checkout:\(image)")
                case 2 where rng.next() % 3 == 0:
                    // The template goes back to what the stable selector serves, in whatever phase.
                    if let stable = watch.stableImages(world).first { world.setImage(stable) }
                case 3..<8: metrics.mode.withLock { $0 = Metrics.Mode(rawValue: max(0, Int(rng.next() % 7) - 3))! }
                case 8 where rng.next() % 2 == 0:
                    world.annotate(Labels.abort, "stop \(rng.next() % 1000)")
                    aborted = true
                case 9..<13:
                    promotedWhileHeld = world.status.phase == .paused && world.rollout.spec.paused != true
                        && world.condition(ConditionType.invalidSpec) != .true && !crashed
                    world.annotate(Labels.promote, "\(dice == 9 ? "full" : "step")/\(rng.next() % 10000)")
                    if let revision = world.status.canaryRevision { tracker.promotedByCommand.insert(revision) }
                case 13..<16: world.annotate(Labels.retry, "\(rng.next() % 10000)")
                case 16: world.canaryBecomesReady.toggle()
                case 18..<20:
                    // Drift: someone edits the primary route's weights.
                    let w = Int(rng.next() % 101)
                    if let i = world.virtualServices.first?.spec.http.firstIndex(where: { $0.route.count == 2 }) {
                        world.virtualServices[0].spec.http[i].route[0].weight = 100 - w
                        world.virtualServices[0].spec.http[i].route[1].weight = w
                    }
                case 20: world.rollout.spec.paused = world.rollout.spec.paused == true ? nil : true
                case 24 where world.rollout.spec.strategy.canary?.steps != nil:
                    // The steps edited mid-release: one dropped, or a gate put first.
                    var steps = world.rollout.spec.strategy.canary!.steps!
                    if rng.next() % 2 == 0, steps.count > 1 { steps.removeLast() } else { steps.insert(CanaryStep(analysis: Engine.gate), at: 0) }
                    world.rollout.spec.strategy.canary!.steps = steps
                    world.rollout.metadata.generation = (world.rollout.metadata.generation ?? 1) + 1
                case 25:
                    // A managed route renamed (mended below with the rest).
                    if let i = world.virtualServices.first?.spec.http.firstIndex(where: { $0.name == "primary" }) {
                        world.virtualServices[0].spec.http[i].name = "renamed"
                        renamedRoute = true
                    }
                case 21:
                    world.deployment.spec.replicas = 2 + Int(rng.next() % 5)
                    world.deployment.metadata.generation = (world.deployment.metadata.generation ?? 0) + 1
                case 22: world.templates = world.templates.namespaced.isEmpty ? templates : TemplateCatalog([])
                case 23:
                    if let vs = removedVirtualService {
                        world.virtualServices.append(vs)
                        removedVirtualService = nil
                    } else {
                        removedVirtualService = world.virtualServices.removeLast()
                        watch.written[removedVirtualService?.metadata.name ?? ""] = nil
                    }
                default: break
                }
                // A crash: the status is written and only the first `done` actions run (none when
                // the status write itself was lost); the next plan knows nothing of the rest.
                let crash = rng.next() % 20 == 0
                let statusLost = crash && rng.next() % 3 == 0
                let before = world.status
                let inProgress = [.progressing, .paused, .promoting].contains(before.phase)
                let plan = SluiceCore.plan(world.rollout, world.observation(pendingDone: !crashed), now: world.now)
                if !statusLost { world.rollout.status = plan.status }
                world.pendingMeasurements = []
                PropertyTests.checkPlan(plan, before: before, world: world, into: &tracker)
                // Invariant 5: a promote command moves a held release on, in the plan that reads it.
                if promotedWhileHeld, plan.status.phase == .paused, before.message?.contains("promote") == true, plan.status.currentStepIndex == before.currentStepIndex,
                   plan.status.message == before.message {
                    tracker.violations.append("a promote command left the release held: \(before.message ?? "")")
                }
                // Invariant 4: no wait outlives progressDeadlineSeconds (plus the longest tick).
                if let wait = plan.status.waiting, plan.status.heldSince == nil,
                   world.now.secondsSince1970 - wait.since.secondsSince1970 > Double(RolloutSpec.defaultProgressDeadlineSeconds) + 90 {
                    tracker.violations.append("waited \(Int(world.now.secondsSince1970 - wait.since.secondsSince1970))s for \(wait.on)")
                }
                // Now and then an action fails (a conflict, a timeout): the shell stops there.
                let failAt = rng.next() % 8 == 0 ? Int(rng.next() % UInt64(max(plan.actions.count, 1))) : plan.actions.count
                let done = statusLost ? 0 : crash ? Int(rng.next() % UInt64(plan.actions.count + 1)) : failAt
                let canaryBefore = watch.canaryWeight(world)
                for action in plan.actions.prefix(done) {
                    PropertyTests.checkAction(action, world: world, into: &tracker)
                    world.apply(action)
                    watch.wrote(action)
                }
                crashed = crash
                world.runDeploymentController()
                if aborted, inProgress, done == plan.actions.count, !crash {
                    PropertyTests.checkAbort(plan, canaryBefore: canaryBefore, world: world, into: &tracker)
                }
                if plan.status.history?.first?.outcome == .promoted, before.history?.first != plan.status.history?.first {
                    promotions += 1
                    watch.stableAllowed.formUnion(plan.status.history!.first!.images)
                }
                watch.check(world, into: &tracker)
                switch plan.requeue {
                case .after(let seconds): world.now = world.now.adding(seconds: min(max(seconds, 1), Double(1 + rng.next() % 90)))
                case .awaitChange: world.now = world.now.adding(seconds: Double(1 + rng.next() % 30))
                }
            }
            // Deletion ends every sequence: routes back to stable, canaries gone, finalizer off.
            if let vs = removedVirtualService { world.virtualServices.append(vs) }
            world.templates = templates
            if renamedRoute, let i = world.virtualServices.first?.spec.http.firstIndex(where: { $0.name == "renamed" }) {
                world.virtualServices[0].spec.http[i].name = "primary"
            }
            world.rollout.metadata.deletionTimestamp = world.now
            for _ in 0..<60 where world.rollout.metadata.finalizers?.contains(Labels.finalizer) == true {
                let plan = world.reconcile()
                for action in plan.actions { watch.wrote(action) }
                watch.check(world, into: &tracker)
                world.advance(after: plan)
            }
            if world.rollout.metadata.finalizers?.contains(Labels.finalizer) == true || !world.canaries.isEmpty
                || world.observedCanaryWeights.contains(where: { $0 != 0 }) {
                tracker.violations.append("seed \(seed): deletion left the finalizer, a canary or canary weight behind")
            }
            deletions += 1
        }
        #expect(tracker.violations.prefix(10) == [], "\(tracker.violations.count) violations")
        #expect(promotions >= 10, "the sequences should reach promotion often enough to test it: \(promotions)")
        print("property sequences for rollout \(rolloutIndex): \(tracker.ended.count) releases ended, \(promotions) promoted, \(deletions) deleted")
        #expect(tracker.ended.count >= 40)
    }

    /// The invariants read from the simulated world alone — which ReplicaSets each Service or
    /// subset selects, and the weights — tick after tick.
    struct WorldWatch {
        /// Images that may serve as stable: the first, and those whose release history says promoted.
        var stableAllowed: Set<String>
        var lastServing: [WorldSimulator.Serving]
        var lastRoutes: [VirtualService]
        /// What Sluice last wrote to each VirtualService; a different one was drifted by the test.
        var written: [String: VirtualService] = [:]

        init(world: WorldSimulator) {
            stableAllowed = Set(world.deployment.spec.template.images)
            lastServing = world.serving
            lastRoutes = world.virtualServices
            for vs in world.virtualServices { written[vs.metadata.name ?? ""] = vs }
        }

        mutating func wrote(_ action: Action) {
            if case .writeVirtualService(let vs) = action { written[vs.metadata.name ?? ""] = vs }
        }

        func stableImages(_ world: WorldSimulator) -> [String] { Self.stableImages(world.serving) }

        static func stableImages(_ serving: [WorldSimulator.Serving]) -> [String] {
            serving.filter { $0.side == "stable" }.flatMap(\.readyPods.keys)
        }

        func canaryWeight(_ world: WorldSimulator) -> Int { world.observedCanaryWeights.max() ?? 0 }

        /// Canary share of each image: weight spread over the ready pods the side selects.
        static func canaryShares(_ serving: [WorldSimulator.Serving]) -> [String: Double] {
            var shares: [String: Double] = [:]
            for s in serving where s.side == "canary" {
                let total = Double(s.readyPods.values.reduce(0, +))
                for (image, pods) in s.readyPods { shares[image, default: 0] += Double(s.weight) * Double(pods) / total }
            }
            return shares
        }

        mutating func check(_ world: WorldSimulator, into tracker: inout Tracker) {
            // Read from the world once per tick: it walks every route and ReplicaSet.
            let serving = world.serving
            defer {
                lastServing = serving
                lastRoutes = world.virtualServices
            }
            // Routes someone else edited are Sluice's to write back, not its decision.
            let drifted = world.virtualServices.contains { vs in written[vs.metadata.name ?? ""].map { $0 != vs } ?? true }
            if drifted { return }
            for s in serving where s.readyPods.isEmpty {
                tracker.violations.append("route \(s.route) sends \(s.weight)% to the \(s.side) side, which has no ready pods")
            }
            for image in Self.stableImages(serving) where !stableAllowed.contains(image) {
                tracker.violations.append("the stable selector serves \(image), which never passed its gates")
            }
            let before = WorldWatch.canaryShares(lastServing)
            // What Git wrote: Sluice may put the stable template on the Deployment for a while.
            let current = world.gitImage ?? world.deployment.spec.template.images.first ?? ""
            for (image, share) in WorldWatch.canaryShares(serving) where share > (before[image] ?? 0) + 0.001 {
                if world.virtualServices == lastRoutes {
                    tracker.violations.append("\(image) took canary traffic by a selector change, not a weight step")
                }
                if image != current, !stableAllowed.contains(image) {
                    tracker.violations.append("\(image) gained canary traffic while Git's template is \(current)")
                }
            }
        }
    }

    /// An abort during a release: route writes lead the plan, and the canary's weight does not grow.
    static func checkAbort(_ plan: Plan, canaryBefore: Int, world: WorldSimulator, into tracker: inout Tracker) {
        let writes = plan.actions.filter { if case .writeVirtualService = $0 { true } else { false } }
        if writes.isEmpty, canaryBefore > 0, world.virtualServices.count == world.rollout.spec.trafficRouting.istio?.virtualServices.count {
            tracker.violations.append("abort with \(canaryBefore)% on the canary wrote no route")
        }
        if !writes.isEmpty, plan.actions.prefix(writes.count) != writes[...] {
            tracker.violations.append("abort: the route writes are not the first actions: \(plan.actions.map(\.pending.type))")
        }
        if (world.observedCanaryWeights.max() ?? 0) > canaryBefore {
            tracker.violations.append("abort raised the canary weight from \(canaryBefore)")
        }
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
