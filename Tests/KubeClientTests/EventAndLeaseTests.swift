import Foundation
import KubeClient
import Synchronization
import Testing

@Suite struct EventRecorderTests {
    @Test func repeatsRaiseTheCountInsteadOfCreatingObjects() async throws {
        let expired = Mutex(false)
        try await withServer({ request in
            if request.method == "PATCH", expired.withLock({ $0 }) {
                return .json(404, #"{"kind":"Status","code":404,"reason":"NotFound"}"#)
            }
            // The API server answers with the object as stored.
            return request.method == "POST" ? .json(201, String(decoding: request.body, as: UTF8.self)) : .json(200, #"{"metadata":{"name":"e"}}"#)
        }) { client, server in
            let recorder = EventRecorder(client: client, logger: CapturedLogs().logger)
            let rollout = EventRecorder.InvolvedObject(apiVersion: "sluice.dev/v1alpha1", kind: "Rollout", name: "checkout", namespace: "shop", uid: "u1")
            for _ in 0..<3 { await recorder.record(rollout, type: "Warning", reason: "TrafficDrift", message: "written back") }
            await recorder.record(rollout, type: "Normal", reason: "TrafficShifted", message: "canary weight 20%")
            let r = server.requests
            #expect(r.map(\.method) == ["POST", "PATCH", "PATCH", "POST"])
            #expect(r[0].path == "/api/v1/namespaces/shop/events")
            #expect(r[0].json?["reason"] as? String == "TrafficDrift")
            #expect(r[0].json?["count"] as? Int == 1)
            #expect((r[0].json?["involvedObject"] as? [String: Any])?["kind"] as? String == "Rollout")
            #expect(r[2].json?["count"] as? Int == 3)
            #expect(r[1].path.hasPrefix("/api/v1/namespaces/shop/events/checkout."))
            expired.withLock { $0 = true }
            await recorder.record(rollout, type: "Warning", reason: "TrafficDrift", message: "written back")
            #expect(server.requests.suffix(2).map(\.method) == ["PATCH", "POST"], "an Event the server expired is created again")
        }
    }
}

/// Concurrency, memory and spam bounds of the recorder, as client-go's EventCorrelator has them.
@Suite struct EventRecorderBoundsTests {
    static let rollout = EventRecorder.InvolvedObject(apiVersion: "sluice.dev/v1alpha1", kind: "Rollout", name: "checkout", namespace: "shop")
    static let answer: ScriptedServer.Script = { request in
        request.method == "POST" ? .json(201, String(decoding: request.body, as: UTF8.self)) : .json(200, #"{"metadata":{"name":"e"}}"#)
    }

    @Test func concurrentIdenticalCallsCreateOneEvent() async throws {
        try await withServer(Self.answer) { client, server in
            let recorder = EventRecorder(client: client, logger: CapturedLogs().logger)
            await withTaskGroup(of: Void.self) { group in
                for _ in 0..<5 { group.addTask { await recorder.record(Self.rollout, type: "Normal", reason: "TrafficShifted", message: "20%") } }
            }
            let r = server.requests
            #expect(r.map(\.method) == ["POST", "PATCH", "PATCH", "PATCH", "PATCH"], "one create, then the count raised")
            #expect(r.last?.json?["count"] as? Int == 5)
        }
    }

    @Test func whatIsRememberedIsBoundedLeastRecentlyUsedFirst() async throws {
        try await withServer(Self.answer) { client, server in
            let recorder = EventRecorder(client: client, logger: CapturedLogs().logger, maxRemembered: 2)
            for message in ["a", "b", "a", "c", "a", "b"] {
                await recorder.record(Self.rollout, type: "Normal", reason: "R", message: message)
            }
            // a, b created; a raised; c created (b, least recently used, forgotten); a raised; b created again.
            #expect(server.requests.map(\.method) == ["POST", "POST", "PATCH", "POST", "PATCH", "POST"])
        }
    }

    @Test func aSpamFilterPerObjectDropsBeyondItsBurst() async throws {
        try await withServer(Self.answer) { client, server in
            let recorder = EventRecorder(client: client, logger: CapturedLogs().logger, burst: 3, refill: 300)
            let t0 = Date(timeIntervalSince1970: 1_764_237_600)
            for i in 0..<5 { await recorder.record(Self.rollout, type: "Normal", reason: "R", message: "m\(i)", now: t0) }
            #expect(server.requests.count == 3)
            #expect(await recorder.dropped == 2)
            // Another object has its own bucket.
            var other = Self.rollout
            other.name = "payments"
            await recorder.record(other, type: "Normal", reason: "R", message: "m", now: t0)
            #expect(server.requests.count == 4)
            // One token back after five minutes.
            await recorder.record(Self.rollout, type: "Normal", reason: "R", message: "later", now: t0 + 300)
            await recorder.record(Self.rollout, type: "Normal", reason: "R", message: "too soon", now: t0 + 301)
            #expect(server.requests.count == 5)
        }
    }

    @Test func anEventAboutAClusterScopedObjectGoesToDefault() async throws {
        try await withServer(Self.answer) { client, server in
            let recorder = EventRecorder(client: client, logger: CapturedLogs().logger)
            let template = EventRecorder.InvolvedObject(apiVersion: "sluice.dev/v1alpha1", kind: "ClusterAnalysisTemplate", name: "slo", namespace: "")
            await recorder.record(template, type: "Warning", reason: "InvalidSpec", message: "bad")
            await recorder.record(template, type: "Warning", reason: "InvalidSpec", message: "bad")
            #expect(server.requests.first?.path == "/api/v1/namespaces/default/events")
            #expect(server.requests.last?.path.hasPrefix("/api/v1/namespaces/default/events/slo.") == true)
        }
    }
}

/// A Lease store in memory, with resourceVersion compare-and-swap like the API server's, and an off switch.
final class MemoryLeaseStore: LeaseStore, Sendable {
    struct Unreachable: Error {}
    struct Conflict: Error {}
    let state = Mutex<(lease: Lease?, version: Int, reachable: Bool)>((nil, 0, true))

    func get() async throws -> Lease? {
        try state.withLock { s in
            guard s.reachable else { throw Unreachable() }
            return s.lease
        }
    }

    func create(_ lease: Lease) async throws -> Lease {
        try state.withLock { s in
            guard s.reachable else { throw Unreachable() }
            guard s.lease == nil else { throw Conflict() }
            s.version += 1
            var l = lease
            l.metadata.resourceVersion = String(s.version)
            s.lease = l
            return l
        }
    }

    func update(_ lease: Lease) async throws -> Lease {
        try state.withLock { s in
            guard s.reachable else { throw Unreachable() }
            guard lease.metadata.resourceVersion == s.lease?.metadata.resourceVersion else { throw Conflict() }
            s.version += 1
            var l = lease
            l.metadata.resourceVersion = String(s.version)
            s.lease = l
            return l
        }
    }
}

@Suite struct LeaseReleaseTests {
    /// On graceful shutdown the leader clears the holder, so a successor takes over at once.
    @Test func aLeaderReleasesTheLeaseWhenItStops() async throws {
        let store = MemoryLeaseStore()
        let elector = LeaderElector(rules: LeaseRules(identity: "a", leaseDuration: 15, renewDeadline: 10), store: store,
                                    name: "sluice", namespace: "sluice-system", retryPeriod: 0.05, logger: CapturedLogs().logger)
        let (changes, sink) = AsyncStream<Bool>.makeStream()
        let running = Task { await elector.run { sink.yield($0) } }
        for await leads in changes where leads { break }
        running.cancel()
        await running.value
        let lease = try await store.get()
        #expect(lease?.spec.holderIdentity == nil, "released")
        let successor = LeaseRules(identity: "b", leaseDuration: 15, renewDeadline: 10)
        guard case .write(let taken) = successor.decide(lease, unchangedFor: 0, name: "sluice", namespace: "sluice-system", now: Date()) else {
            Issue.record("the successor still has to wait")
            return
        }
        #expect(taken.spec.holderIdentity == "b")
    }

    /// The lease is read on the urgent path: a saturated rate limiter does not hold it back.
    @Test func theLeaseIsReadPastTheRateLimiter() async throws {
        try await withServer({ _ in .json(404, #"{"kind":"Status","code":404,"reason":"NotFound"}"#) }, qps: 0.01, burst: 1) { client, _ in
            let _: Thing? = try? await client.get(.configMaps, namespace: "shop", name: "spend-the-token")
            let store = KubernetesLeaseStore(client: client, name: "sluice", namespace: "sluice-system")
            let start = ContinuousClock.now
            let read = Task { try await store.get() }
            let timer = Task { try await Task.sleep(for: .seconds(5)); read.cancel() }
            let lease = try? await read.value
            timer.cancel()
            #expect(lease == nil)
            #expect(ContinuousClock.now - start < .seconds(3), "not held behind the rate limiter")
        }
    }
}

@Suite struct LeaderElectionTests {
    static let t0 = Date(timeIntervalSince1970: 1_764_237_600)
    let rules = LeaseRules(identity: "a", leaseDuration: 15, renewDeadline: 10)

    @Test func rulesTakeRenewWaitAndTakeOver() {
        guard case .write(let created) = rules.decide(nil, unchangedFor: 0, name: "sluice", namespace: "sluice-system", now: Self.t0) else {
            Issue.record("no lease taken"); return
        }
        #expect(created.spec.holderIdentity == "a")
        #expect(created.spec.leaseTransitions == 0)
        guard case .write(let renewed) = rules.decide(created, unchangedFor: 5, name: "sluice", namespace: "sluice-system", now: Self.t0 + 5) else {
            Issue.record("not renewed"); return
        }
        #expect(renewed.spec.acquireTime == created.spec.acquireTime)
        #expect(renewed.spec.renewTime != created.spec.renewTime)
        let b = LeaseRules(identity: "b", leaseDuration: 15)
        #expect(b.decide(renewed, unchangedFor: 14.9, name: "sluice", namespace: "sluice-system", now: Self.t0 + 19) == .wait)
        guard case .write(let taken) = b.decide(renewed, unchangedFor: 15, name: "sluice", namespace: "sluice-system", now: Self.t0 + 20) else {
            Issue.record("expired lease not taken"); return
        }
        #expect(taken.spec.holderIdentity == "b")
        #expect(taken.spec.leaseTransitions == 1)
    }

    /// Expiry is judged by the time this process has seen the record unchanged, whatever the
    /// holder's `renewTime` says: a holder whose clock runs an hour ahead still loses its lease
    /// `leaseDuration` after it stopped renewing, and one an hour behind keeps a lease it renews.
    @Test func expiryIgnoresTheHoldersClock() {
        let b = LeaseRules(identity: "b", leaseDuration: 15)
        var ahead = Lease(name: "sluice", namespace: "ns", spec: .init(holderIdentity: "a", leaseDurationSeconds: 15,
                                                                        renewTime: ISO8601DateFormatter().string(from: Self.t0 + 3600)))
        #expect(b.decide(ahead, unchangedFor: 14, name: "sluice", namespace: "ns", now: Self.t0) == .wait)
        #expect(b.decide(ahead, unchangedFor: 15, name: "sluice", namespace: "ns", now: Self.t0) != .wait, "taken though renewTime is in the future")
        ahead.spec.renewTime = ISO8601DateFormatter().string(from: Self.t0 - 3600)
        #expect(b.decide(ahead, unchangedFor: 1, name: "sluice", namespace: "ns", now: Self.t0) == .wait, "kept though renewTime is an hour old")
    }

    @Test func twoElectorsExactlyOneLeads() async {
        let store = MemoryLeaseStore()
        let a = LeaderElector(rules: LeaseRules(identity: "a"), store: store, name: "sluice", namespace: "ns", logger: CapturedLogs().logger)
        let b = LeaderElector(rules: LeaseRules(identity: "b"), store: store, name: "sluice", namespace: "ns", logger: CapturedLogs().logger)
        let start = ContinuousClock.now
        for second in stride(from: 0, to: 60, by: 2) {
            let now = start + .seconds(second)
            let first = await a.attempt(at: now)
            let second = await b.attempt(at: now)
            #expect(first != second, "exactly one leads")
        }
        #expect(await a.isLeader)
        #expect(await a.fence == store.state.withLock { $0.lease?.metadata.resourceVersion })
    }

    @Test func aLeaderThatCannotRenewStopsBeforeItsLeaseExpires() async {
        let store = MemoryLeaseStore()
        let a = LeaderElector(rules: LeaseRules(identity: "a", leaseDuration: 15, renewDeadline: 10), store: store, name: "sluice",
                              namespace: "ns", logger: CapturedLogs().logger)
        let start = ContinuousClock.now
        #expect(await a.attempt(at: start))
        store.state.withLock { $0.reachable = false }
        var stoppedAt: Int?
        for second in 1...20 where stoppedAt == nil {
            if await !a.attempt(at: start + .seconds(second)) { stoppedAt = second }
        }
        #expect(stoppedAt == 10, "stops at the renew deadline")
        #expect((stoppedAt ?? 99) < 15, "before the lease expires and another may take over")
        // Another elector, which first saw the lease at second 1, cannot take over before it has
        // seen it unchanged for the lease's duration, and can after.
        store.state.withLock { $0.reachable = true }
        let b = LeaderElector(rules: LeaseRules(identity: "b"), store: store, name: "sluice", namespace: "ns", logger: CapturedLogs().logger)
        #expect(await !b.attempt(at: start + .seconds(1)))
        #expect(await !b.attempt(at: start + .seconds(15)))
        #expect(await b.attempt(at: start + .seconds(16)))
    }
}
