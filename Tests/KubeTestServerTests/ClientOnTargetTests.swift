import Foundation
import KubeClient
import Logging
import SluiceModel
import Synchronization
import Testing

/// The watcher, the informer and leader election through Sluice's client, against the test
/// server and — when `SLUICE_E2E_KUBECONFIG` names one — a real cluster (see `Target`).
@Suite struct ClientOnTargetTests {
    /// A value shared with handlers.
    final class Shared<V: Sendable>: @unchecked Sendable {
        let lock = NSLock()
        var value: V
        init(_ v: V) { value = v }
        func withLock<R>(_ body: (inout V) -> R) -> R { lock.withLock { body(&value) } }
    }

    static func configMap(_ name: String, _ value: String) -> JSONValue {
        ["apiVersion": "v1", "kind": "ConfigMap", "metadata": ["name": .string(name)], "data": ["v": .string(value)]]
    }

    /// Polls `condition` for up to 20 s.
    static func eventually(_ condition: () async -> Bool) async throws -> Bool {
        for _ in 0..<400 {
            if await condition() { return true }
            try await Task.sleep(for: .milliseconds(50))
        }
        return false
    }

    @Test(arguments: Target.all)
    func anInformerFollowsAddsUpdatesAndDeletesAcrossWatchRestarts(target: Target) async throws {
        try await target.run { client, ns in
            let _: JSONValue = try await client.create(.configMaps, namespace: ns, Self.configMap("before", "1"))
            // Each watch ends after 2 s: the informer must carry on from the last version seen.
            let informer = Informer(watcher: Watcher<JSONValue>(client: client, type: .configMaps, namespace: ns, logger: Logger(label: "e2e"),
                                                                watchTimeout: 2))
            let deletedLast = Shared<JSONValue?>(nil)
            await informer.onDelete { _, last in deletedLast.withLock { $0 = last } }
            await informer.start()
            #expect(await informer.waitForSync(timeout: .seconds(20)))
            #expect(await informer.get("\(ns)/before") != nil, "listed")
            let _: JSONValue = try await client.create(.configMaps, namespace: ns, Self.configMap("a", "1"))
            #expect(try await Self.eventually { await informer.get("\(ns)/a")?["data"]?["v"] == "1" }, "added")
            // Past at least one watch restart.
            try await Task.sleep(for: .seconds(3))
            let _: JSONValue = try await client.patch(.configMaps, namespace: ns, name: "a", .merge(Data(#"{"data":{"v":"2"}}"#.utf8)))
            #expect(try await Self.eventually { await informer.get("\(ns)/a")?["data"]?["v"] == "2" }, "updated after the watch restarted")
            try await client.delete(.configMaps, namespace: ns, name: "a")
            #expect(try await Self.eventually { await informer.get("\(ns)/a") == nil }, "deleted")
            #expect(deletedLast.withLock { $0 }?["data"]?["v"] == "2", "the delete handler gets the last object known")
            await informer.stop()
        }
    }

    @Test(arguments: Target.all)
    func exactlyOneElectorLeadsAndTheLeaseIsHandedOverOnRelease(target: Target) async throws {
        try await target.run { client, ns in
            func elector(_ identity: String) -> LeaderElector {
                LeaderElector(rules: LeaseRules(identity: identity, leaseDuration: 15, renewDeadline: 10),
                              store: KubernetesLeaseStore(client: client, name: "sluice-e2e", namespace: ns),
                              name: "sluice-e2e", namespace: ns, retryPeriod: 0.2, logger: Logger(label: "e2e"))
            }
            let a = elector("a"), b = elector("b")
            let leading = Shared<[String: Bool]>([:])
            let runA = Task { await a.run { leads in leading.withLock { $0["a"] = leads } } }
            #expect(try await Self.eventually { leading.withLock { $0["a"] } == true }, "a takes the free lease")
            let runB = Task { await b.run { leads in leading.withLock { $0["b"] = leads } } }
            try await Task.sleep(for: .seconds(1))
            #expect(leading.withLock { $0["b"] } != true, "never two leaders")
            // a stops: it releases the lease, and b takes it over long before the 15 s lease would expire.
            let stopped = ContinuousClock.now
            runA.cancel()
            await runA.value
            #expect(try await Self.eventually { leading.withLock { $0["b"] } == true }, "b takes over")
            #expect(ContinuousClock.now - stopped < .seconds(10), "on release, not on expiry: \(ContinuousClock.now - stopped)")
            runB.cancel()
            await runB.value
        }
    }
}
