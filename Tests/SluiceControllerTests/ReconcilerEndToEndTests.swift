import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import KubeClient
import KubeTestServer
import PrometheusClient
import Logging
import SluiceController
import SluiceCore
import SluiceModel
import SluiceTestKit
import Testing

/// The reconciler against the test API server and its Deployment simulator: a release carried
/// from a new template to promotion, with nothing but the API between them.
@Suite struct ReconcilerEndToEndTests {
    static let ns = "shop"

    /// The test server with Sluice's and Istio's CRDs, namespace `shop`, and the objects a
    /// Rollout routes through, as `WorldSimulator` builds them.
    static func withWorld(_ rollout: Rollout, server made: KubeTestServer? = nil, token: String? = nil,
                          _ body: (KubernetesClient, KubeTestServer) async throws -> Void) async throws {
        let server: KubeTestServer
        if let made { server = made } else { server = try await KubeTestServer() }
        await server.store.setControllerStep(0.05)
        try await server.createNamespace(ns)
        let client = try KubernetesClient(config: KubeConfig(server: server.url, certificateAuthority: server.certificateAuthority,
                                                             credentials: token.map { .token($0) } ?? .none), logger: Logger(label: "test"))
        do {
            let crds = ResourceType(group: "apiextensions.k8s.io", version: "v1", plural: "customresourcedefinitions", namespaced: false)
            for file in ["crds/rollouts.sluice.dev.yaml", "crds/analysistemplates.sluice.dev.yaml", "crds/clusteranalysistemplates.sluice.dev.yaml"] {
                for document in try ManifestParser.parse(try RepositoryFiles.text(file)) {
                    let _: JSONValue = try await client.create(crds, document.json)
                }
            }
            for document in try ManifestParser.parse(try RepositoryFiles.fixture("istio/crds.yaml")) {
                let _: JSONValue = try await client.create(crds, document.json)
            }
            let world = WorldSimulator(rollout: rollout)
            let _: Deployment = try await client.create(.deployments, namespace: ns, world.deployment)
            for service in world.services { let _: Service = try await client.create(.services, namespace: ns, service) }
            for vs in world.virtualServices { let _: VirtualService = try await client.create(.virtualServices, namespace: ns, vs) }
            var fresh = rollout
            fresh.metadata.uid = nil
            let _: Rollout = try await client.create(.rollouts, namespace: ns, fresh)
            try await body(client, server)
        } catch {
            try? await client.shutdown()
            try? await server.stop()
            throw error
        }
        try await client.shutdown()
        try await server.stop()
    }

    /// A port nothing listens on now, on 127.0.0.1.
    static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) } }
        guard bound == 0 else { throw CocoaError(.fileNoSuchFile) }
        _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    /// Polls the Rollout until `condition` holds (up to `limit`).
    static func until(_ client: KubernetesClient, limit: Duration = .seconds(60), _ condition: (Rollout) -> Bool) async throws -> Rollout {
        let start = ContinuousClock.now
        while ContinuousClock.now - start < limit {
            let rollout: Rollout = try await client.get(.rollouts, namespace: ns, name: "checkout")
            if condition(rollout) { return rollout }
            try await Task.sleep(for: .milliseconds(100))
        }
        let last: Rollout = try await client.get(.rollouts, namespace: ns, name: "checkout")
        Issue.record("the Rollout never got there: \(last.status?.phase?.rawValue ?? "") \(last.status?.message ?? "")")
        return last
    }

    @Test func aCanaryIsPromotedThroughEveryStep() async throws {
        let rollout = Rollout.fixture().steps([CanaryStep(setWeight: 20), CanaryStep(pause: PauseStep(duration: "1s")),
                                               CanaryStep(setWeight: 50), CanaryStep(pause: PauseStep(duration: "1s"))])
            .with { $0.spec.scaleDownDelaySeconds = 1 }
        try await Self.withWorld(rollout) { client, server in
            let reconciler = Reconciler(client: client, settings: .init(namespace: Self.ns, workers: 2), measurements: nil,
                                        logger: Logger(label: "sluiced"))
            #expect(await reconciler.start(timeout: .seconds(20)))
            let healthy = try await Self.until(client) { $0.status?.phase == .healthy }
            let stable = try #require(healthy.status?.stableRevision)
            let paused: Deployment = try await client.get(.deployments, namespace: Self.ns, name: "checkout")
            #expect(paused.spec.paused == true, "Sluice holds the Deployment paused between releases")
            // A new image, as a GitOps sync writes it.
            let _: JSONValue = try await client.patch(.deployments, namespace: Self.ns, name: "checkout", .merge(Data(
                #"{"spec":{"template":{"spec":{"containers":[{"name":"app","image":"shop/checkout:2.0"}]}}}}"#.utf8)))
            let promoted = try await Self.until(client) { $0.status?.history?.first?.outcome == .promoted && $0.status?.phase == .healthy }
            // The canary goes once all traffic has been on the new stable for the scale-down delay.
            var canaries: [ReplicaSet] = []
            for _ in 0..<100 {
                let sets: ObjectList<ReplicaSet> = try await client.list(.replicaSets, namespace: Self.ns)
                canaries = sets.items.filter { $0.metadata.labels?[Labels.role] == "canary" }
                if canaries.isEmpty { break }
                try await Task.sleep(for: .milliseconds(100))
            }
            await reconciler.stop()
            #expect(canaries.isEmpty, "the canary is removed after the scale-down delay")
            #expect(promoted.status?.stableRevision != stable)
            let weights = promoted.status?.history?.first?.timeline.compactMap { $0.weights?.canary } ?? []
            #expect(weights == [20, 50, 100, 0], "every step, then all to the new stable: \(weights)")
            // Every VirtualService write sent 100% in all, and left what Sluice does not manage alone.
            let writes = await server.store.writes.filter { $0.verb == "PUT" && $0.path.contains("/virtualservices/") }
            #expect(writes.count >= 4)
            for write in writes {
                let vs = try JSONDecoder().decode(VirtualService.self, from: Data(write.body.utf8))
                let primary = vs.spec.http.first { $0.name == "primary" }
                #expect(primary?.route.reduce(0) { $0 + ($1.weight ?? 0) } == 100, "\(write.body)")
                #expect(primary?.json["retries"] == ["attempts": 2], "retries untouched")
                #expect(vs.spec.http.first?.name == "health", "the health route untouched")
            }
            let deployment: Deployment = try await client.get(.deployments, namespace: Self.ns, name: "checkout")
            #expect(deployment.spec.paused == true, "paused again after its own rollout")
            #expect(deployment.spec.template.images == ["shop/checkout:2.0"])
            let sets: ObjectList<ReplicaSet> = try await client.list(.replicaSets, namespace: Self.ns)
            let stableSet = sets.items.first { $0.metadata.name == promoted.status?.stableReplicaSet }
            #expect(stableSet?.spec.template.images == ["shop/checkout:2.0"])
            let service: Service = try await client.get(.services, namespace: Self.ns, name: "checkout-stable")
            #expect(service.spec.selector[PodTemplateSpec.podTemplateHashLabel] == promoted.status?.stableRevision)
        }
    }

    @Test func anAbortSendsEverythingToStableInOneWriteAndEndsAborted() async throws {
        let rollout = Rollout.fixture().steps([CanaryStep(setWeight: 20), CanaryStep(pause: PauseStep())])
            .with { $0.spec.scaleDownDelaySeconds = 1 }
        try await Self.withWorld(rollout) { client, server in
            let reconciler = Reconciler(client: client, settings: .init(namespace: Self.ns, workers: 2), measurements: nil,
                                        logger: Logger(label: "sluiced"))
            #expect(await reconciler.start(timeout: .seconds(20)))
            _ = try await Self.until(client) { $0.status?.phase == .healthy }
            let _: JSONValue = try await client.patch(.deployments, namespace: Self.ns, name: "checkout", .merge(Data(
                #"{"spec":{"template":{"spec":{"containers":[{"name":"app","image":"shop/checkout:2.0"}]}}}}"#.utf8)))
            _ = try await Self.until(client) { $0.status?.phase == .paused && $0.status?.weights?.canary == 20 }
            let before = await server.store.writes.count
            let _: JSONValue = try await client.patch(.rollouts, namespace: Self.ns, name: "checkout", .merge(Data(
                #"{"metadata":{"annotations":{"sluice.dev/abort":"bad latency"}}}"#.utf8)))
            let aborted = try await Self.until(client) { $0.status?.phase == .aborted }
            #expect(aborted.status?.history?.first?.outcome == .aborted)
            #expect(aborted.status?.history?.first?.reason?.contains("bad latency") == true)
            // The canary is scaled down only after all traffic is on stable for the delay.
            var canary: ReplicaSet?
            for _ in 0..<100 {
                let sets: ObjectList<ReplicaSet> = try await client.list(.replicaSets, namespace: Self.ns)
                canary = sets.items.first { $0.metadata.labels?[Labels.role] == "canary" }
                if canary?.spec.replicas == 0 { break }
                try await Task.sleep(for: .milliseconds(100))
            }
            #expect(canary?.spec.replicas == 0, "kept for a retry, at zero")
            let writes = await server.store.writes.dropFirst(before).filter { $0.verb == "PUT" && $0.path.contains("/virtualservices/") }
            #expect(writes.count == 1, "one write per VirtualService: \(writes.count)")
            let vs = try JSONDecoder().decode(VirtualService.self, from: Data((writes.first?.body ?? "{}").utf8))
            #expect(vs.spec.http.first { $0.name == "primary" }?.route.map { $0.weight ?? 0 } == [100, 0])
            // The same annotation again does nothing.
            let count = await server.store.writes.count
            let _: JSONValue = try await client.patch(.rollouts, namespace: Self.ns, name: "checkout", .merge(Data(
                #"{"metadata":{"labels":{"touched":"yes"}}}"#.utf8)))
            try await Task.sleep(for: .seconds(1))
            let later = await server.store.writes.dropFirst(count).filter { $0.path.contains("/virtualservices/") || $0.path.contains("/replicasets") }
            #expect(later.isEmpty, "\(later.map(\.path))")
            await reconciler.stop()
        }
    }

    /// `sluiced` itself, as a child process with a kubeconfig: it releases, and stops on SIGTERM.
    @Test func sluicedRunsAReleaseAndStopsOnSIGTERM() async throws {
        let binary = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("sluiced")
        guard FileManager.default.isExecutableFile(atPath: binary.path) else {
            Issue.record("sluiced is not built next to the tests: \(binary.path)")
            return
        }
        let rollout = Rollout.fixture().steps([CanaryStep(setWeight: 50), CanaryStep(pause: PauseStep(duration: "1s"))])
        try await Self.withWorld(rollout) { client, server in
            let kubeconfig = try server.writeKubeconfig(to: NSTemporaryDirectory() + "sluiced-\(UUID().uuidString)")
            defer { try? FileManager.default.removeItem(atPath: kubeconfig) }
            let process = Process()
            process.executableURL = binary
            let port = try Self.freePort()
            process.arguments = ["--kubeconfig", kubeconfig, "--namespace", Self.ns, "--workers", "2", "--log-level", "warning",
                                 "--no-leader-elect", "--health-address", "127.0.0.1:\(port)"]
            let output = Pipe()
            process.standardOutput = output
            process.standardError = output
            try process.run()
            _ = try await Self.until(client) { $0.status?.phase == .healthy }
            let _: JSONValue = try await client.patch(.deployments, namespace: Self.ns, name: "checkout", .merge(Data(
                #"{"spec":{"template":{"spec":{"containers":[{"name":"app","image":"shop/checkout:2.0"}]}}}}"#.utf8)))
            let promoted = try await Self.until(client) { $0.status?.history?.first?.outcome == .promoted && $0.status?.phase == .healthy }
            #expect(promoted.status?.history?.first?.images == ["shop/checkout:2.0"])
            // Health, readiness and metrics.
            func get(_ path: String) async throws -> (Int, String) {
                let (data, response) = try await URLSession.shared.data(from: URL(string: "http://127.0.0.1:\(port)\(path)")!)
                return ((response as? HTTPURLResponse)?.statusCode ?? 0, String(decoding: data, as: UTF8.self))
            }
            #expect(try await get("/healthz").0 == 200)
            let ready = try await get("/readyz")
            #expect(ready.0 == 200 && ready.1.contains("leading; caches synced"), "\(ready)")
            let metrics = try await get("/metrics").1
            #expect(metrics.contains("sluice_reconcile_duration_seconds"), "\(metrics.prefix(500))")
            #expect(metrics.contains("# TYPE"), "Prometheus's text format")
            #expect(try await get("/nothing").0 == 404)
            let stopping = ContinuousClock.now
            process.terminate()
            for _ in 0..<100 where process.isRunning { try await Task.sleep(for: .milliseconds(50)) }
            #expect(!process.isRunning, "stopped on SIGTERM")
            if process.isRunning { process.interrupt() } else {
                #expect(process.terminationStatus == 0, "\(String(decoding: output.fileHandleForReading.availableData, as: UTF8.self))")
            }
            #expect(ContinuousClock.now - stopping < .seconds(5))
        }
    }

    /// With the RBAC in `deploy/` and nothing more: the ServiceAccount's token, bound by
    /// `deploy/clusterrolebinding.yaml` to `deploy/clusterrole.yaml`, carries a release to
    /// promotion — every request sluiced makes is allowed — and a write the role does not grant
    /// is refused.
    @Test func theRoleInDeployIsEnoughForARelease() async throws {
        let account = User(name: "system:serviceaccount:sluice-system:sluiced",
                           groups: ["system:serviceaccounts", "system:serviceaccounts:sluice-system", "system:authenticated"])
        let server = try await KubeTestServer(token: "admin", tls: true, users: ["sluiced-token": account])
        let rollout = Rollout.fixture().steps([CanaryStep(setWeight: 50), CanaryStep(pause: PauseStep(duration: "1s"))])
            .with { $0.spec.scaleDownDelaySeconds = 1 }
        try await Self.withWorld(rollout, server: server, token: "admin") { admin, server in
            let rbac = ResourceType(group: "rbac.authorization.k8s.io", version: "v1", plural: "clusterroles", namespaced: false)
            let bindings = ResourceType(group: "rbac.authorization.k8s.io", version: "v1", plural: "clusterrolebindings", namespaced: false)
            for document in try ManifestParser.parse(try RepositoryFiles.text("deploy/clusterrole.yaml")) {
                let _: JSONValue = try await admin.create(rbac, document.json)
            }
            for document in try ManifestParser.parse(try RepositoryFiles.text("deploy/clusterrolebinding.yaml")) {
                let _: JSONValue = try await admin.create(bindings, document.json)
            }
            let client = try KubernetesClient(config: KubeConfig(server: server.url, certificateAuthority: server.certificateAuthority,
                                                                 credentials: .token("sluiced-token")), logger: Logger(label: "sluiced"))
            let reconciler = Reconciler(client: client, settings: .init(workers: 2), measurements: nil, logger: Logger(label: "sluiced"))
            #expect(await reconciler.start(timeout: .seconds(20)), "every cache fills with the role's list and watch")
            _ = try await Self.until(admin) { $0.status?.phase == .healthy }
            let _: JSONValue = try await admin.patch(.deployments, namespace: Self.ns, name: "checkout", .merge(Data(
                #"{"spec":{"template":{"spec":{"containers":[{"name":"app","image":"shop/checkout:2.0"}]}}}}"#.utf8)))
            let promoted = try await Self.until(admin) { $0.status?.history?.first?.outcome == .promoted && $0.status?.phase == .healthy }
            #expect(promoted.status?.history?.first?.images == ["shop/checkout:2.0"])
            var canaries = 1
            for _ in 0..<100 where canaries > 0 {
                let sets: ObjectList<ReplicaSet> = try await admin.list(.replicaSets, namespace: Self.ns)
                canaries = sets.items.filter { $0.metadata.labels?[Labels.role] == "canary" }.count
                try await Task.sleep(for: .milliseconds(100))
            }
            #expect(canaries == 0, "the canary deleted under the role too")
            await reconciler.stop()
            // Least privilege: what the role does not name is refused.
            await #expect(throws: KubeClientError.self) {
                try await client.delete(.deployments, namespace: Self.ns, name: "checkout")
            }
            await #expect(throws: KubeClientError.self) {
                let _: JSONValue = try await client.get(.configMaps, namespace: Self.ns, name: "anything")
            }
            try await client.shutdown()
        }
    }

    /// Two sluiced processes with leader election: only the leader writes; SIGKILLed, the other
    /// takes over within the lease's duration and carries the next release.
    @Test func twoReplicasOnlyTheLeaderWritesAndTheOtherTakesOver() async throws {
        let binary = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("sluiced")
        guard FileManager.default.isExecutableFile(atPath: binary.path) else {
            Issue.record("sluiced is not built next to the tests: \(binary.path)")
            return
        }
        let rollout = Rollout.fixture().steps([CanaryStep(setWeight: 50), CanaryStep(pause: PauseStep(duration: "1s"))])
            .with { $0.spec.scaleDownDelaySeconds = 1 }
        try await Self.withWorld(rollout) { client, server in
            try await server.createNamespace("sluice-system")
            let kubeconfig = try server.writeKubeconfig(to: NSTemporaryDirectory() + "sluiced-\(UUID().uuidString)")
            defer { try? FileManager.default.removeItem(atPath: kubeconfig) }
            func start(_ name: String) throws -> Process {
                let process = Process()
                process.executableURL = binary
                process.arguments = ["--kubeconfig", kubeconfig, "--namespace", Self.ns, "--identity", name, "--log-level", "error",
                                     "--lease-duration", "3", "--renew-deadline", "2", "--retry-period", "0.3", "--health-address", ""]
                process.standardOutput = FileHandle.nullDevice
                process.standardError = FileHandle.nullDevice
                try process.run()
                return process
            }
            let a = try start("a")
            try await Task.sleep(for: .milliseconds(500))
            let b = try start("b")
            defer { for p in [a, b] where p.isRunning { p.terminate() } }
            _ = try await Self.until(client) { $0.status?.phase == .healthy }
            let lease: Lease = try await client.get(.leases, namespace: "sluice-system", name: "sluiced")
            let leader = try #require(lease.spec.holderIdentity)
            let (first, second) = leader == "a" ? (a, b) : (b, a)
            let follower = leader == "a" ? "b" : "a"
            let _: JSONValue = try await client.patch(.deployments, namespace: Self.ns, name: "checkout", .merge(Data(
                #"{"spec":{"template":{"spec":{"containers":[{"name":"app","image":"shop/checkout:2.0"}]}}}}"#.utf8)))
            _ = try await Self.until(client) { $0.status?.history?.first?.outcome == .promoted && $0.status?.phase == .healthy }
            let writers = Set(await server.store.writes.map(\.client).filter { $0.hasPrefix("sluiced/") && !$0.isEmpty })
            let leaseWrites = await server.store.writes.filter { !$0.path.contains("/leases/") && !$0.path.hasSuffix("/leases") }
            let nonLeaseWriters = Set(leaseWrites.map(\.client).filter { $0.hasPrefix("sluiced/") })
            #expect(nonLeaseWriters == ["sluiced/\(leader)"], "only the leader wrote anything but the Lease: \(writers)")
            // The leader dies without a word; the other takes over after the lease's 3 s.
            kill(first.processIdentifier, SIGKILL)
            let killed = ContinuousClock.now
            var taken: String?
            for _ in 0..<200 {
                let current: Lease = try await client.get(.leases, namespace: "sluice-system", name: "sluiced")
                if current.spec.holderIdentity == follower { taken = follower; break }
                try await Task.sleep(for: .milliseconds(100))
            }
            #expect(taken == follower)
            #expect(ContinuousClock.now - killed < .seconds(8), "within the lease duration and a few retries: \(ContinuousClock.now - killed)")
            let _: JSONValue = try await client.patch(.deployments, namespace: Self.ns, name: "checkout", .merge(Data(
                #"{"spec":{"template":{"spec":{"containers":[{"name":"app","image":"shop/checkout:3.0"}]}}}}"#.utf8)))
            let again = try await Self.until(client) { $0.status?.history?.first?.images == ["shop/checkout:3.0"] && $0.status?.phase == .healthy }
            #expect(again.status?.history?.first?.outcome == .promoted, "the new leader carried the next release")
            second.terminate()
            for _ in 0..<100 where second.isRunning { try await Task.sleep(for: .milliseconds(50)) }
            #expect(!second.isRunning)
        }
    }

    /// Prometheus unreachable: the gate never passes, each failed query counts against the
    /// metric's error limit, and the release rolls back — with traffic back on stable.
    @Test func anUnreachablePrometheusRollsTheReleaseBackAtTheErrorLimit() async throws {
        var metric = AnalysisMetric.successRate(count: 3)
        metric.interval = "1s"
        metric.window = "1s"
        metric.consecutiveErrorLimit = 2
        let template = AnalysisTemplate.fixture(metrics: [metric])
        let gate = AnalysisStep(templates: [TemplateRef(name: "success-rate")], args: [AnalysisArg(name: "service", value: "checkout-canary")])
        let rollout = Rollout.fixture().steps([CanaryStep(setWeight: 20), CanaryStep(analysis: gate), CanaryStep(setWeight: 50)])
        try await Self.withWorld(rollout) { client, _ in
            let _: AnalysisTemplate = try await client.create(.analysisTemplates, namespace: Self.ns, template)
            // Nothing listens on port 1.
            let allowlist = PrometheusAllowlist(defaultAddress: "http://127.0.0.1:1")
            let querier = try PrometheusQuerier(admits: allowlist.admits)
            let runner = MeasurementRunner(querier: querier, allowlist: allowlist, secrets: KubernetesSecretReader(client: client))
            let reconciler = Reconciler(client: client, settings: .init(namespace: Self.ns, workers: 2, engine: EngineConfig(prometheus: allowlist)),
                                        measurements: runner, logger: Logger(label: "sluiced"))
            #expect(await reconciler.start(timeout: .seconds(20)))
            _ = try await Self.until(client) { $0.status?.phase == .healthy }
            let _: JSONValue = try await client.patch(.deployments, namespace: Self.ns, name: "checkout", .merge(Data(
                #"{"spec":{"template":{"spec":{"containers":[{"name":"app","image":"shop/checkout:2.0"}]}}}}"#.utf8)))
            let failed = try await Self.until(client, limit: .seconds(30)) { $0.status?.phase == .failed }
            await reconciler.stop()
            try await querier.shutdown()
            #expect(failed.status?.history?.first?.outcome == .rolledBack)
            #expect(failed.status?.history?.first?.reason?.contains("analysis") == true, "\(failed.status?.history?.first?.reason ?? "")")
            #expect(failed.status?.history?.first?.timeline.contains { $0.weights?.canary == 50 } == false, "never past the gate")
            let vs: VirtualService = try await client.get(.virtualServices, namespace: Self.ns, name: "checkout")
            #expect(vs.spec.http.first { $0.name == "primary" }?.route.map { $0.weight ?? 0 } == [100, 0], "all traffic back on stable")
        }
    }
}
