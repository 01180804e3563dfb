import Foundation
import KubeClient
import KubeTestServer
import SluiceModel
import Testing

/// The simulated Deployment controller held to kube-controller-manager's arithmetic: `maxSurge`
/// rounded up and `maxUnavailable` down (`ResolveFenceposts`), an absolute `maxUnavailable` above
/// the replicas, both fenceposts resolving to zero, `minReadySeconds` and slow pods.
@Suite struct RollingUpdateArithmeticTests {
    typealias D = DeploymentSimulatorTests

    /// Every state the namespace's ReplicaSets pass through (name → object), one per watch event
    /// from `start`, until `done` holds or the watch's 30 s run out.
    static func states(_ client: KubernetesClient, from start: ObjectList<JSONValue>,
                       until done: @escaping @Sendable ([String: JSONValue]) -> Bool) async throws -> Task<[[String: JSONValue]], Error> {
        let stream: AsyncThrowingStream<WatchLine<JSONValue>, Error> = try await client.watch(
            .replicaSets, namespace: "shop", resourceVersion: start.metadata.resourceVersion, timeoutSeconds: 30, allowBookmarks: false)
        let initial = Dictionary(start.items.map { ($0["metadata"]?["name"]?.string ?? "", $0) }) { a, _ in a }
        return Task {
            var state = initial
            var states = [state]
            for try await line in stream {
                switch line.event {
                case .added(let rs), .modified(let rs): state[rs["metadata"]?["name"]?.string ?? ""] = rs
                case .deleted(let rs): state[rs["metadata"]?["name"]?.string ?? ""] = nil
                default: continue
                }
                states.append(state)
                if done(state) { break }
            }
            return states
        }
    }

    /// The Deployment as each MODIFIED event shows it, from `version` until `done` holds (40 s at most).
    static func deploymentEvents(_ client: KubernetesClient, from version: String,
                                 until done: @escaping @Sendable (JSONValue) -> Bool) async throws -> Task<[JSONValue], Error> {
        let stream: AsyncThrowingStream<WatchLine<JSONValue>, Error> = try await client.watch(
            .deployments, namespace: "shop", resourceVersion: version, timeoutSeconds: 40, allowBookmarks: false)
        return Task {
            var seen: [JSONValue] = []
            for try await line in stream {
                guard case .modified(let d) = line.event else { continue }
                seen.append(d)
                if done(d) { break }
            }
            return seen
        }
    }

    static func spec(_ rs: JSONValue?) -> Int { Int(rs?["spec"]?["replicas"]?.number ?? 0) }
    static func available(_ rs: JSONValue?) -> Int { Int(rs?["status"]?["availableReplicas"]?.number ?? 0) }
    static func total(_ state: [String: JSONValue], _ count: (JSONValue?) -> Int) -> Int { state.values.reduce(0) { $0 + count($1) } }

    /// One ReplicaSet's `spec.replicas` through the states, repeats dropped (0 before it exists).
    static func sizes(_ states: [[String: JSONValue]], _ name: String) -> [Int] {
        states.compactMap { $0[name].map { Self.spec($0) } }.reduce(into: [Int]()) { out, n in if out.last != n { out.append(n) } }
    }

    static func setImage(_ client: KubernetesClient, _ image: String) async throws {
        let _: JSONValue = try await client.patch(.deployments, namespace: "shop", name: "web", .merge(Data(
            #"{"spec":{"template":{"spec":{"containers":[{"name":"app","image":"\#(image)"}]}}}}"#.utf8)))
    }

    /// Rolls `web:1` → `web:2`; returns the old ReplicaSet's name, the states seen until the new
    /// one holds `replicas` available and the old one none, and the Deployment's statuses meanwhile.
    static func roll(_ client: KubernetesClient, replicas: Int, surge: JSONValue, unavailable: JSONValue) async throws
        -> (old: String, states: [[String: JSONValue]], statuses: [JSONValue])
    {
        let _: JSONValue = try await client.create(.deployments, namespace: "shop",
                                                   D.deployment(image: "web:1", replicas: replicas, surge: surge, unavailable: unavailable))
        let rolled = try await D.until(client, D.complete)
        let start: ObjectList<JSONValue> = try await client.list(.replicaSets, namespace: "shop")
        #expect(start.items.count == 1)
        let old = start.items.first?["metadata"]?["name"]?.string ?? ""
        let sets = try await states(client, from: start) { s in
            s.count == 2 && Self.spec(s[old]) == 0 && s.values.contains { Self.spec($0) == replicas && Self.available($0) == replicas }
        }
        let deployments = try await deploymentEvents(client, from: rolled["metadata"]?["resourceVersion"]?.string ?? "") { d in
            D.complete(d) && d["metadata"]?["annotations"]?["deployment.kubernetes.io/revision"] == "2"
        }
        try await setImage(client, "web:2")
        let seen = try await sets.value
        let statuses = try await deployments.value.compactMap { $0["status"] }
        return (old, seen, statuses)
    }

    /// 10 replicas at 25%/25%: maxSurge ceil(2.5) = 3, maxUnavailable floor(2.5) = 2.
    @Test func percentagesRoundSurgeUpAndUnavailableDown() async throws {
        try await D.withServer { client, _ in
            let (old, states, statuses) = try await Self.roll(client, replicas: 10, surge: "25%", unavailable: "25%")
            let specs = states.map { Self.total($0, Self.spec) }
            let available = states.map { Self.total($0, Self.available) }
            #expect(specs.max() == 13, "10 + 3, never more: \(specs)")
            #expect(available.min() == 8, "10 - 2, never fewer: \(available)")
            let new = states.last?.keys.first { $0 != old } ?? ""
            #expect(Self.sizes(states, new).first == 3, "the new ReplicaSet starts at the surge: \(Self.sizes(states, new))")
            #expect(Self.sizes(states, old).dropFirst().first == 8, "the old one first goes down by maxUnavailable: \(Self.sizes(states, old))")
            #expect(Self.sizes(states, new).last == 10 && Self.sizes(states, old).last == 0)
            // The Deployment's status agrees: never fewer than 8 available while it rolls.
            #expect(!statuses.isEmpty && statuses.allSatisfy { Int($0["availableReplicas"]?.number ?? 0) >= 8 },
                    "\(statuses.map { $0["availableReplicas"]?.number ?? 0 })")
        }
    }

    /// An absolute maxUnavailable above the replicas: `ResolveFenceposts` does not cap it (and
    /// `MaxUnavailable` caps it at the replicas, which leaves a minimum of 0 available either way):
    /// with maxSurge 0 the old ReplicaSet goes to 0 in one step, the new one is created at 0 and
    /// then scaled to 4, and the Deployment stays Available with no pod available.
    @Test func anAbsoluteMaxUnavailableAboveTheReplicasAllowsAllDown() async throws {
        try await D.withServer { client, _ in
            let (old, states, statuses) = try await Self.roll(client, replicas: 4, surge: 0, unavailable: 10)
            let new = states.last?.keys.first { $0 != old } ?? ""
            #expect(Self.sizes(states, old) == [4, 0], "\(Self.sizes(states, old))")
            #expect(Self.sizes(states, new) == [0, 4], "\(Self.sizes(states, new))")
            #expect(states.map { Self.total($0, Self.spec) }.max() == 4, "maxSurge 0: never more than 4")
            #expect(statuses.contains { $0["availableReplicas"] == nil }, "a moment with nothing available")
            let available = statuses.compactMap { st in (st["conditions"]?.array ?? []).first { $0["type"] == "Available" } }
            #expect(!available.isEmpty && available.allSatisfy { $0["status"] == "True" && $0["reason"] == "MinimumReplicasAvailable" },
                    "0 >= 4 - 4: minimum availability all along: \(available)")
        }
    }

    /// maxSurge 0 and maxUnavailable 25% of 3 (which rounds down to 0): `ResolveFenceposts` makes
    /// maxUnavailable 1, so the rollout goes one pod at a time instead of never moving.
    @Test func fencepostsBothZeroMakeMaxUnavailableOne() async throws {
        try await D.withServer { client, _ in
            let (old, states, _) = try await Self.roll(client, replicas: 3, surge: 0, unavailable: "25%")
            let new = states.last?.keys.first { $0 != old } ?? ""
            #expect(Self.sizes(states, old) == [3, 2, 1, 0], "\(Self.sizes(states, old))")
            #expect(Self.sizes(states, new) == [0, 1, 2, 3], "\(Self.sizes(states, new))")
            #expect(states.map { Self.total($0, Self.spec) }.max() == 3)
            #expect(states.map { Self.total($0, Self.available) }.min() == 2, "3 - 1")
        }
    }

    /// `minReadySeconds: 2`: a pod counts as available 2 s after it is ready, so readyReplicas
    /// reaches 4 about 2 s before availableReplicas does, and the Deployment is not yet Available.
    @Test func minReadySecondsDelaysAvailability() async throws {
        try await D.withServer { client, _ in
            var d = D.deployment(image: "web:1")
            d["spec"]?["minReadySeconds"] = 2
            let _: JSONValue = try await client.create(.deployments, namespace: "shop", d)
            let clock = ContinuousClock()
            var readyAt: ContinuousClock.Instant?
            var atReady: JSONValue?
            var availableAt: ContinuousClock.Instant?
            for _ in 0..<300 {
                let now: JSONValue = try await client.get(.deployments, namespace: "shop", name: "web")
                if readyAt == nil, now["status"]?["readyReplicas"] == 4 {
                    readyAt = clock.now
                    atReady = now
                }
                if now["status"]?["availableReplicas"] == 4 {
                    availableAt = clock.now
                    break
                }
                try await Task.sleep(for: .milliseconds(50))
            }
            let ready = try #require(readyAt, "readyReplicas never reached 4")
            let available = try #require(availableAt, "availableReplicas never reached 4")
            let lag = ready.duration(to: available)
            #expect(lag >= .milliseconds(1500) && lag <= .seconds(6), "available lags ready by about 2 s: \(lag)")
            #expect(atReady?["status"]?["availableReplicas"] == nil)
            #expect(D.condition(atReady ?? [:], "Available")?["status"] == "False")
            #expect(D.condition(atReady ?? [:], "Available")?["reason"] == "MinimumReplicasUnavailable")
            let sets: ObjectList<JSONValue> = try await client.list(.replicaSets, namespace: "shop")
            #expect(sets.items.first?["spec"]?["minReadySeconds"] == 2, "the ReplicaSet carries it, as getNewReplicaSet copies it")
        }
    }

    /// Pods annotated `ready-after-2`: created at once, available only about 2 s later.
    @Test func slowPodsBecomeAvailableLater() async throws {
        try await D.withServer { client, _ in
            let clock = ContinuousClock()
            let start = clock.now
            let _: JSONValue = try await client.create(.deployments, namespace: "shop", D.deployment(image: "web:1", pods: "ready-after-2"))
            var firstAvailable: Duration?
            var allAvailable: Duration?
            var pending = false
            for _ in 0..<300 {
                let now: JSONValue = try await client.get(.deployments, namespace: "shop", name: "web")
                let available = Int(now["status"]?["availableReplicas"]?.number ?? 0)
                if available == 0, now["status"]?["updatedReplicas"] == 4, now["status"]?["replicas"] == 4,
                   now["status"]?["readyReplicas"] == nil { pending = true }
                if available > 0, firstAvailable == nil { firstAvailable = start.duration(to: clock.now) }
                if available == 4 {
                    allAvailable = start.duration(to: clock.now)
                    break
                }
                try await Task.sleep(for: .milliseconds(50))
            }
            #expect(pending, "4 pods made, none ready yet")
            let first = try #require(firstAvailable)
            let all = try #require(allAvailable, "never all available")
            #expect(first >= .milliseconds(1800), "none available before about 2 s: \(first)")
            #expect(all <= .seconds(8), "\(all)")
        }
    }
}
