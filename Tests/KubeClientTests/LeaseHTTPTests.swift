import Foundation
import KubeClient
import KubeTestServer
import Logging
import Synchronization
import Testing

/// `LeaderElector.run` itself, over HTTP against the test server: a holder that stopped renewing
/// with its clock an hour ahead, and a renewal that hangs.
@Suite struct LeaseHTTPTests {
    static func withClient(_ body: (KubernetesClient, KubeTestServer) async throws -> Void) async throws {
        let server = try await KubeTestServer()
        try await server.createNamespace("sluice-system")
        let client = try KubernetesClient(config: KubeConfig(server: server.url), logger: Logger(label: "test"))
        do { try await body(client, server) } catch {
            try await client.shutdown()
            try await server.stop()
            throw error
        }
        try await client.shutdown()
        try await server.stop()
    }

    /// Leadership changes as `run` reports them, with when (since `start`).
    final class Changes: Sendable {
        let start = ContinuousClock.now
        let log = Mutex<[(Bool, Duration)]>([])
        func record(_ leads: Bool) { log.withLock { $0.append((leads, ContinuousClock.now - start)) } }
        var all: [(Bool, Duration)] { log.withLock { $0 } }
        func wait(for leads: Bool, within limit: Duration) async throws -> Duration? {
            while ContinuousClock.now - start < limit {
                if let hit = all.first(where: { $0.0 == leads }) { return hit.1 }
                try await Task.sleep(for: .milliseconds(20))
            }
            return nil
        }
    }

    @Test func aFrozenHolderWithAClockAnHourAheadLosesTheLeaseAfterItsDuration() async throws {
        try await Self.withClient { client, _ in
            let ahead = ISO8601DateFormatter().string(from: Date().addingTimeInterval(3600))
            let frozen = Lease(name: "sluice", namespace: "sluice-system",
                               spec: .init(holderIdentity: "other", leaseDurationSeconds: 2, acquireTime: ahead, renewTime: ahead, leaseTransitions: 0))
            let _: Lease = try await client.create(.leases, namespace: "sluice-system", frozen)
            let elector = LeaderElector(rules: LeaseRules(identity: "a", leaseDuration: 2, renewDeadline: 1),
                                        store: KubernetesLeaseStore(client: client, name: "sluice", namespace: "sluice-system"),
                                        name: "sluice", namespace: "sluice-system", retryPeriod: 0.1, logger: Logger(label: "test"))
            let changes = Changes()
            let running = Task { await elector.run { changes.record($0) } }
            let took = try await changes.wait(for: true, within: .seconds(10))
            running.cancel()
            await running.value
            let at = try #require(took, "never took over from a holder that stopped renewing")
            #expect(at >= .milliseconds(1900), "not before the holder's lease ran its duration on our clock: \(at)")
            #expect(at < .seconds(4), "soon after it: \(at)")
        }
    }

    @Test func aHungRenewalGivesLeadershipUpAtTheRenewDeadline() async throws {
        try await Self.withClient { client, server in
            let elector = LeaderElector(rules: LeaseRules(identity: "a", leaseDuration: 4, renewDeadline: 2),
                                        store: KubernetesLeaseStore(client: client, name: "sluice", namespace: "sluice-system"),
                                        name: "sluice", namespace: "sluice-system", retryPeriod: 0.2, logger: Logger(label: "test"))
            let changes = Changes()
            let running = Task { await elector.run { changes.record($0) } }
            _ = try #require(try await changes.wait(for: true, within: .seconds(5)))
            // Every renewal from now on hangs for 20 s.
            let hungAt = ContinuousClock.now - changes.start
            server.faults.hang("PUT", path: "/leases/sluice", milliseconds: 20_000, count: 100)
            server.faults.hang("GET", path: "/leases/sluice", milliseconds: 20_000, count: 100)
            let lost = try await changes.wait(for: false, within: .seconds(10))
            running.cancel()
            await running.value
            let at = try #require(lost, "still leading with every renewal hung")
            #expect(at - hungAt <= .milliseconds(2600), "given up at the renew deadline (2 s after the last renewal): \(at - hungAt)")
            #expect(at - hungAt < .seconds(4), "before the 4 s lease could expire and another take over")
        }
    }
}
