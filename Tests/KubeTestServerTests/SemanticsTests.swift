import Foundation
import KubeClient
import KubeTestServer
import Logging
import SluiceModel
import SluiceTestKit
import Testing

/// Where the integration tests run: always against the test server; also against a real
/// cluster (with our CRDs and Istio's installed) when `SLUICE_E2E_KUBECONFIG` names its kubeconfig.
enum Target: Sendable, CustomTestStringConvertible {
    case testServer
    case realCluster(kubeconfig: String)

    static var all: [Target] {
        [.testServer] + (ProcessInfo.processInfo.environment["SLUICE_E2E_KUBECONFIG"].map { [.realCluster(kubeconfig: $0)] } ?? [])
    }

    var testDescription: String {
        switch self {
        case .testServer: "test server"
        case .realCluster: "real cluster"
        }
    }

    var isTestServer: Bool { if case .testServer = self { true } else { false } }

    /// Runs `body` with a client and a namespace of its own, deleted afterwards.
    func run(_ body: (KubernetesClient, String) async throws -> Void) async throws {
        switch self {
        case .testServer:
            try await SemanticsTests.withServer { client, _ in
                try await body(client, "shop")
            }
        case .realCluster(let kubeconfig):
            let client = try KubernetesClient(config: try KubeConfig.fromFiles([kubeconfig]), logger: Logger(label: "e2e"))
            let ns = "sluice-e2e-\(UInt32.random(in: 0...UInt32.max))"
            let _: JSONValue = try await client.create(.namespaces, ["apiVersion": "v1", "kind": "Namespace", "metadata": ["name": .string(ns)]])
            let outcome: Result<Void, any Error>
            do {
                try await body(client, ns)
                outcome = .success(())
            } catch {
                outcome = .failure(error)
            }
            try? await client.delete(.namespaces, name: ns)
            try await client.shutdown()
            try outcome.get()
        }
    }
}

/// The server's semantics over real HTTP, through Sluice's own client: the same tests run
/// against a real cluster when one is configured (see `Target`).
@Suite struct SemanticsTests {
    static func withServer(_ body: (KubernetesClient, KubeTestServer) async throws -> Void) async throws {
        let server = try await KubeTestServer(replayWindow: 50)
        try await server.createNamespace("shop")
        let client = try KubernetesClient(config: KubeConfig(server: server.url), logger: Logger(label: "test"))
        try await closing(client, server) {
            for crd in try Self.crds.get() {
                let _: JSONValue = try await client.create(ResourceType(group: "apiextensions.k8s.io", version: "v1", plural: "customresourcedefinitions",
                                                                       namespaced: false), crd.json)
            }
            try await $current.withValue(server) { try await body(client, server) }
        }
    }

    /// Runs `body`, then shuts the client and the server down, also when it throws (a client
    /// dropped without its shutdown brings the test process down).
    static func closing(_ client: KubernetesClient, _ server: KubeTestServer, _ body: () async throws -> Void) async throws {
        do { try await body() } catch {
            try? await client.shutdown()
            try? await server.stop()
            throw error
        }
        try await client.shutdown()
        try await server.stop()
    }

    /// Our Rollout CRD and Istio's, parsed once (Istio's file is 600 KB).
    static let crds: Result<[ManifestDocument], any Error> = Result {
        try ManifestParser.parse(try RepositoryFiles.text("crds/rollouts.sluice.dev.yaml"))
            + ManifestParser.parse(try RepositoryFiles.fixture("istio/crds.yaml"))
    }

    static let rollout: JSONValue = {
        var json = try! JSONValue(encoding: Rollout.fixture())
        json["metadata"] = ["name": "checkout", "namespace": "shop"]
        return json
    }()

    @Test(arguments: Target.all)
    func pruningOnCreateUpdatePatchAndStatus(target: Target) async throws {
        try await target.run { client, ns in
            var body = Self.rollout
            body["metadata"]?["namespace"] = .string(ns)
            body["spec"]?["unknownTop"] = 1
            body["spec"]?["strategy"]?["canary"]?["notAField"] = "x"
            body["status"] = ["phase": "Healthy"]
            var created: JSONValue = try await client.create(.rollouts, namespace: ns, body)
            #expect(created["spec"]?["unknownTop"] == nil)
            #expect(created["spec"]?["strategy"]?["canary"]?["notAField"] == nil)
            #expect(created["status"] == nil, "create drops status when it is a subresource")
            created["spec"]?["alsoUnknown"] = true
            created["status"] = ["phase": "Failed"]
            let updated: JSONValue = try await client.update(.rollouts, namespace: ns, name: "checkout", created)
            #expect(updated["spec"]?["alsoUnknown"] == nil)
            #expect(updated["status"] == nil, "the main endpoint ignores status")
            var withStatus = updated
            withStatus["status"] = ["phase": "Healthy", "bogus": 1]
            withStatus["spec"]?["paused"] = true
            let status: JSONValue = try await client.update(.rollouts, namespace: ns, name: "checkout", withStatus, subresource: "status")
            #expect(status["status"] == ["phase": "Healthy"])
            #expect(status["spec"]?["paused"] == nil, "/status ignores everything but status")
            let patched: JSONValue = try await client.patch(.rollouts, namespace: ns, name: "checkout",
                                                            .merge(Data(#"{"spec":{"paused":true,"x":1}}"#.utf8)))
            #expect(patched["spec"]?["paused"] == true)
            #expect(patched["spec"]?["x"] == nil)
        }
    }

    @Test(arguments: Target.all)
    func metadataGenerationAndResourceVersions(target: Target) async throws {
        try await target.run { client, ns in
            let created: JSONValue = try await client.create(.rollouts, namespace: ns, Self.rollout.inNamespace(ns))
            let meta = created["metadata"]!
            #expect(meta["uid"]?.string?.isEmpty == false)
            #expect(meta["creationTimestamp"]?.string.flatMap(KubeTime.init(rfc3339:)) != nil)
            #expect(meta["generation"] == 1)
            let rv0 = Int(meta["resourceVersion"]!.string!)!
            let annotated: JSONValue = try await client.patch(.rollouts, namespace: ns, name: "checkout",
                                                              .merge(Data(#"{"metadata":{"annotations":{"a":"b"}}}"#.utf8)))
            #expect(annotated["metadata"]?["generation"] == 1, "metadata changes leave generation alone")
            let statused: JSONValue = try await client.patch(.rollouts, namespace: ns, name: "checkout",
                                                             .merge(Data(#"{"status":{"phase":"Healthy"}}"#.utf8)), subresource: "status")
            #expect(statused["metadata"]?["generation"] == 1, "status changes leave generation alone")
            let spec: JSONValue = try await client.patch(.rollouts, namespace: ns, name: "checkout", .merge(Data(#"{"spec":{"paused":true}}"#.utf8)))
            #expect(spec["metadata"]?["generation"] == 2)
            let rv3 = Int(spec["metadata"]!["resourceVersion"]!.string!)!
            #expect(rv3 > rv0)
            // Finalizers: delete marks, removing the last finalizer deletes.
            let _: JSONValue = try await client.patch(.rollouts, namespace: ns, name: "checkout",
                                                      .merge(Data(#"{"metadata":{"finalizers":["sluice.dev/cleanup"],"ownerReferences":[{"apiVersion":"v1","kind":"ConfigMap","name":"o","uid":"u"}]}}"#.utf8)))
            try await client.delete(.rollouts, namespace: ns, name: "checkout")
            let marked: JSONValue = try await client.get(.rollouts, namespace: ns, name: "checkout")
            #expect(marked["metadata"]?["deletionTimestamp"] != nil)
            #expect(marked["metadata"]?["ownerReferences"]?.array?.count == 1, "ownerReferences kept")
            let _: JSONValue = try await client.patch(.rollouts, namespace: ns, name: "checkout", .merge(Data(#"{"metadata":{"finalizers":null}}"#.utf8)))
            let gone = await Self.label { let _: JSONValue = try await client.get(.rollouts, namespace: ns, name: "checkout") }
            #expect(gone == "not_found")
        }
    }

    @Test(arguments: Target.all)
    func writesNeedVersionsAndPatchesFollowTheirRFCs(target: Target) async throws {
        try await target.run { client, ns in
            let created: JSONValue = try await client.create(.rollouts, namespace: ns, Self.rollout.inNamespace(ns))
            var noVersion = created
            noVersion["metadata"]?["resourceVersion"] = nil
            #expect(await Self.label { let _: JSONValue = try await client.update(.rollouts, namespace: ns, name: "checkout", noVersion) } == "invalid")
            var stale = created
            stale["metadata"]?["resourceVersion"] = "1"
            #expect(await Self.label { let _: JSONValue = try await client.update(.rollouts, namespace: ns, name: "checkout", stale) } == "conflict")
            // merge patch: null deletes, arrays are replaced whole; a resourceVersion in it is a precondition.
            let merged: JSONValue = try await client.patch(.rollouts, namespace: ns, name: "checkout",
                                                           .merge(Data(#"{"spec":{"trafficRouting":{"istio":{"virtualServices":[{"name":"other"}],"canaryService":null,"stableService":null,"destinationRule":{"name":"d","stableSubsetName":"s","canarySubsetName":"c"}}}}}"#.utf8)))
            #expect(merged["spec"]?["trafficRouting"]?["istio"]?["virtualServices"] == [["name": "other"]])
            #expect(merged["spec"]?["trafficRouting"]?["istio"]?["canaryService"] == nil)
            #expect(await Self.label { let _: JSONValue = try await client.patch(.rollouts, namespace: ns, name: "checkout",
                                                                                 .merge(Data(#"{"metadata":{"resourceVersion":"1"}}"#.utf8))) } == "conflict")
            // JSON patch with ~1 escapes; a failing test is 422.
            let escaped: JSONValue = try await client.patch(.rollouts, namespace: ns, name: "checkout",
                                                            .json(Data(#"[{"op":"add","path":"/metadata/annotations","value":{}},{"op":"add","path":"/metadata/annotations/sluice.dev~1abort","value":"x"}]"#.utf8)))
            #expect(escaped["metadata"]?["annotations"] == ["sluice.dev/abort": "x"])
            #expect(await Self.label { let _: JSONValue = try await client.patch(.rollouts, namespace: ns, name: "checkout",
                                                                                 .json(Data(#"[{"op":"test","path":"/spec/paused","value":true}]"#.utf8))) } == "invalid")
            // Strategic merge: lists merged by key for built-in kinds, 415 for custom resources.
            let deployment: JSONValue = ["apiVersion": "apps/v1", "kind": "Deployment", "metadata": ["name": "checkout"],
                                         "spec": ["selector": ["matchLabels": ["app": "c"]], "template": ["metadata": ["labels": ["app": "c"]],
                                                  "spec": ["containers": [["name": "app", "image": "a:1"], ["name": "sidecar", "image": "s:1"]]]]]]
            let _: JSONValue = try await client.create(.deployments, namespace: ns, deployment)
            let smp: JSONValue = try await client.patch(.deployments, namespace: ns, name: "checkout",
                                                        .strategicMerge(Data(#"{"spec":{"template":{"spec":{"containers":[{"name":"app","image":"a:2"}]}}}}"#.utf8)))
            // The patched container merged by name; both carry the defaults a real server fills in.
            func defaulted(_ name: JSONValue, _ image: JSONValue) -> JSONValue {
                ["name": name, "image": image, "imagePullPolicy": "IfNotPresent", "terminationMessagePath": "/dev/termination-log",
                 "terminationMessagePolicy": "File", "resources": [:]]
            }
            #expect(smp["spec"]?["template"]?["spec"]?["containers"] == [defaulted("app", "a:2"), defaulted("sidecar", "s:1")])
            #expect(smp["spec"]?["template"]?["spec"]?["restartPolicy"] == "Always")
            #expect(smp["spec"]?["strategy"] == ["type": "RollingUpdate", "rollingUpdate": ["maxUnavailable": "25%", "maxSurge": "25%"]])
            #expect(smp["spec"]?["progressDeadlineSeconds"] == 600)
            #expect(await Self.label { let _: JSONValue = try await client.patch(.rollouts, namespace: ns, name: "checkout",
                                                                                 .strategicMerge(Data("{}".utf8))) } == "unsupported_media_type")
        }
    }

    @Test(arguments: Target.all)
    func listPagesAndSelects(target: Target) async throws {
        try await target.run { client, ns in
            for i in 0..<5 {
                let cm: JSONValue = ["apiVersion": "v1", "kind": "ConfigMap", "metadata": ["name": .string("c\(i)"), "labels": ["n": .string(i % 2 == 0 ? "even" : "odd")]]]
                let _: JSONValue = try await client.create(.configMaps, namespace: ns, cm)
            }
            let page: ObjectList<JSONValue> = try await client.list(.configMaps, namespace: ns, limit: 2)
            #expect(page.items.count == 2)
            #expect(page.metadata.continue?.isEmpty == false)
            let all: (items: [JSONValue], resourceVersion: String) = try await client.listAll(.configMaps, namespace: ns, pageSize: 2)
            #expect(all.items.compactMap { $0["metadata"]?["name"]?.string } == ["c0", "c1", "c2", "c3", "c4"])
            let even: (items: [JSONValue], resourceVersion: String) = try await client.listAll(.configMaps, namespace: ns, selectors: Selectors(labels: "n=even"))
            #expect(even.items.count == 3)
            let named: (items: [JSONValue], resourceVersion: String) = try await client.listAll(.configMaps, namespace: ns, selectors: Selectors(labels: "n in (odd)", fields: "metadata.name=c3"))
            #expect(named.items.compactMap { $0["metadata"]?["name"]?.string } == ["c3"])
            // A list at a resourceVersion is at least that new; one from the future is refused.
            let current: ObjectList<JSONValue> = try await client.list(.configMaps, namespace: ns, resourceVersion: all.resourceVersion)
            #expect(current.items.count == 5)
            let future = String((Int(all.resourceVersion) ?? 0) + 1_000_000)
            #expect(await Self.label { let _: ObjectList<JSONValue> = try await client.list(.configMaps, namespace: ns, resourceVersion: future) } == "timeout")
        }
    }

    @Test(arguments: Target.all)
    func watchReplaysSynthesizesAndExpires(target: Target) async throws {
        try await target.run { client, ns in
            let cm: JSONValue = ["apiVersion": "v1", "kind": "ConfigMap", "metadata": ["name": "a"]]
            let created: JSONValue = try await client.create(.configMaps, namespace: ns, cm)
            let version = created["metadata"]!["resourceVersion"]!.string!
            // No resourceVersion: a synthetic ADDED per existing object first.
            var fresh: AsyncThrowingStream<WatchLine<JSONValue>, Error> = try await client.watch(.configMaps, namespace: ns, resourceVersion: nil,
                                                                                                 timeoutSeconds: 1, allowBookmarks: false)
            var types: [String] = []
            for try await line in fresh { if case .added = line.event { types.append("ADDED") } }
            #expect(types == ["ADDED"], "and timeoutSeconds ended the stream")
            // From a resourceVersion: what followed it.
            let _: JSONValue = try await client.patch(.configMaps, namespace: ns, name: "a", .merge(Data(#"{"data":{"k":"v"}}"#.utf8)))
            try await client.delete(.configMaps, namespace: ns, name: "a")
            fresh = try await client.watch(.configMaps, namespace: ns, resourceVersion: version, timeoutSeconds: 1, allowBookmarks: false)
            types = []
            for try await line in fresh {
                switch line.event {
                case .modified: types.append("MODIFIED")
                case .deleted: types.append("DELETED")
                default: types.append("other")
                }
            }
            #expect(types == ["MODIFIED", "DELETED"])
            // Too old: one ERROR event with a 410 Status in a 200 stream, or a 410 answer. What is
            // too old is the server's choice: the test server forgets everything when compacted; a
            // real one decides by its watch cache and etcd's compaction, and may still replay from an
            // old version. Either way a client sees 410 or only changes newer than what it asked for.
            let _: JSONValue = try await client.create(.configMaps, namespace: ns, cm)
            if target.isTestServer { try await SemanticsTests.compactAll() }
            var errors: [Int] = []
            var replayed: [Int] = []
            do {
                fresh = try await client.watch(.configMaps, namespace: ns, resourceVersion: "1", timeoutSeconds: 3, allowBookmarks: false)
                for try await line in fresh {
                    switch line.event {
                    case .error(let status): errors.append(status.code ?? 0)
                    case .added(let o), .modified(let o), .deleted(let o):
                        replayed.append(Int(o["metadata"]?["resourceVersion"]?.string ?? "") ?? 0)
                    default: break
                    }
                }
            } catch KubeClientError.gone {
                errors.append(410)
            }
            if target.isTestServer {
                #expect(errors == [410] && replayed.isEmpty, "after compaction the test server has nothing to replay")
            } else {
                #expect(errors == [410] || (errors.isEmpty && replayed.allSatisfy { $0 > 1 } && !replayed.isEmpty),
                        "410, or a replay of newer changes: errors \(errors), replayed \(replayed)")
            }
        }
    }

    @Test(arguments: Target.all)
    func istioExamplesRoundTripUnchanged(target: Target) async throws {
        try await target.run { client, ns in
            for file in RepositoryFiles.yamlFiles(in: RepositoryFiles.sharedFixtures.appendingPathComponent("istio/examples")) {
                for doc in try ManifestParser.parse(String(contentsOf: file, encoding: .utf8)) {
                    let plural = ["VirtualService": "virtualservices", "DestinationRule": "destinationrules", "Gateway": "gateways"][doc.kind ?? ""]!
                    let version = String(doc.apiVersion!.split(separator: "/")[1])
                    let type = ResourceType(group: "networking.istio.io", version: version, plural: plural)
                    let _: JSONValue = try await client.create(type, namespace: ns, doc.json)
                    let back: JSONValue = try await client.get(type, namespace: ns, name: doc.name!)
                    #expect(back["spec"] == doc.json["spec"], "\(file.lastPathComponent) \(doc.name!)")
                    try await client.delete(type, namespace: ns, name: doc.name!)
                }
            }
        }
    }

    /// The test server of the running test, for what only it can do (compaction).
    @TaskLocal static var current: KubeTestServer?

    static func compactAll() async throws {
        await current?.store.compact()
    }

    static func label(_ body: () async throws -> Void) async -> String? {
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

extension JSONValue {
    func inNamespace(_ ns: String) -> JSONValue {
        var copy = self
        copy["metadata"]?["namespace"] = .string(ns)
        return copy
    }
}
