import Foundation
import KubeClient
import Testing

/// The client against a real cluster, when `SLUICE_E2E_KUBECONFIG` names a kubeconfig for one.
/// Works in a namespace of its own, deleted at the end.
@Suite(.enabled(if: ProcessInfo.processInfo.environment["SLUICE_E2E_KUBECONFIG"] != nil,
                "SLUICE_E2E_KUBECONFIG is not set: no real cluster to test against"))
struct RealClusterTests {
    struct Namespace: Codable, Sendable {
        struct Meta: Codable, Sendable { var name: String }
        var apiVersion = "v1"
        var kind = "Namespace"
        var metadata: Meta
    }

    @Test func crudPagingWatchAndConflictOnARealCluster() async throws {
        let path = ProcessInfo.processInfo.environment["SLUICE_E2E_KUBECONFIG"]!
        let client = try KubernetesClient(config: try KubeConfig.fromFiles([path]), logger: CapturedLogs().logger)
        let ns = "sluice-e2e-\(UInt32.random(in: 0...UInt32.max))"
        let _: Namespace = try await client.create(.namespaces, Namespace(metadata: .init(name: ns)))
        let outcome: Result<Void, any Error>
        do {
            try await RealClusterTests.exercise(client, ns)
            outcome = .success(())
        } catch {
            outcome = .failure(error)
        }
        try? await client.delete(.namespaces, name: ns)
        try await client.shutdown()
        try outcome.get()
    }

    static func exercise(_ client: KubernetesClient, _ ns: String) async throws {
        for i in 0..<5 {
            var t = Thing(metadata: .init(name: "c\(i)"))
            t.data = ["i": String(i)]
            let _: Thing = try await client.create(.configMaps, namespace: ns, t)
        }
        let listed: (items: [Thing], resourceVersion: String) = try await client.listAll(
            .configMaps, namespace: ns, selectors: Selectors(fields: "metadata.name!=kube-root-ca.crt"), pageSize: 2)
        #expect(listed.items.count == 5)
        let stream: AsyncThrowingStream<WatchLine<Thing>, Error> = try await client.watch(
            .configMaps, namespace: ns, resourceVersion: listed.resourceVersion, timeoutSeconds: 30)
        let stale: Thing = try await client.get(.configMaps, namespace: ns, name: "c0")
        var changed = stale
        changed.data = ["i": "changed"]
        let _: Thing = try await client.update(.configMaps, namespace: ns, name: "c0", changed)
        let conflict = await RealClusterTests.errorLabel { let _: Thing = try await client.update(.configMaps, namespace: ns, name: "c0", stale) }
        #expect(conflict == "conflict")
        let _: Thing = try await client.patch(.configMaps, namespace: ns, name: "c1", .merge(Data(#"{"data":{"i":null,"j":"x"}}"#.utf8)))
        try await client.delete(.configMaps, namespace: ns, name: "c2")
        var seen: [String] = []
        for try await line in stream {
            switch line.event {
            case .modified(let t): seen.append("modified \(t.metadata.name)")
            case .deleted(let t): seen.append("deleted \(t.metadata.name)")
            default: break
            }
            if seen.count == 3 { break }
        }
        #expect(seen == ["modified c0", "modified c1", "deleted c2"])
    }

    static func errorLabel(_ body: () async throws -> Void) async -> String? {
        do {
            try await body()
            return nil
        } catch let error as KubeClientError {
            return error.label
        } catch {
            return "\(error)"
        }
    }
}
