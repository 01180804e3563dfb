import Foundation
import KubeTestServer
import SluiceModel
import SluiceTestKit
import Testing

/// What a second `kubectl apply` sends (a three-way strategic merge patch with its directives),
/// `kubectl scale` and `kubectl rollout status`, against the test server.
@Suite struct KubectlWorkflowTests {
    static func manifest(containers: String, finalizers: String, strategy: String) -> String {
        """
        apiVersion: apps/v1
        kind: Deployment
        metadata:
          name: web
          namespace: default
          finalizers: [\(finalizers)]
        spec:
          replicas: 2
          selector: {matchLabels: {app: web}}
          strategy: \(strategy)
          template:
            metadata: {labels: {app: web}}
            spec:
              containers:
        \(containers)
        """
    }

    @Test func applyingTwiceGivesWhatTheSecondManifestSays() async throws {
        try await KubectlTests.withServer { server, k in
            let first = Self.manifest(containers: """
                      - {name: app, image: "web:1", env: [{name: A, value: "1"}, {name: B, value: "2"}]}
                      - {name: sidecar, image: "proxy:1"}
                """, finalizers: "example.com/a, example.com/b",
                strategy: "{type: RollingUpdate, rollingUpdate: {maxSurge: 1, maxUnavailable: 0}}")
            var r = try await k("apply", "-f", "-", stdin: first)
            #expect(r.status == 0, "\(r.output)")
            let second = Self.manifest(containers: """
                      - {name: sidecar, image: "proxy:2"}
                      - {name: app, image: "web:2", env: [{name: A, value: "1"}, {name: C, value: "3"}]}
                """, finalizers: "example.com/a", strategy: "{type: Recreate}")
            r = try await k("apply", "-f", "-", stdin: second)
            #expect(r.status == 0, "\(r.output)")
            let sent = await server.store.writes.last { $0.verb == "PATCH" }?.body ?? ""
            #expect(sent.contains("$setElementOrder/containers") && sent.contains("$retainKeys") && sent.contains("$deleteFromPrimitiveList/finalizers"),
                    "kubectl sent the directives: \(sent)")
            r = try await k("get", "deployment", "web", "-o", "json")
            let live = try JSONDecoder().decode(JSONValue.self, from: Data(r.output.utf8))
            let containers = live["spec"]?["template"]?["spec"]?["containers"]?.array ?? []
            #expect(containers.compactMap { $0["name"]?.string } == ["sidecar", "app"], "the order the manifest gives ($setElementOrder)")
            #expect(containers.compactMap { $0["image"]?.string } == ["proxy:2", "web:2"])
            #expect(containers.last?["env"]?.array?.compactMap { $0["name"]?.string } == ["A", "C"], "B removed, C added")
            #expect(live["metadata"]?["finalizers"]?.array?.compactMap(\.string) == ["example.com/a"], "$deleteFromPrimitiveList")
            #expect(live["spec"]?["strategy"] == ["type": "Recreate"], "$retainKeys drops rollingUpdate: \(live["spec"]?["strategy"] ?? .null)")
            // Let the Deployment go (its finalizer is not ours to keep).
            r = try await k("patch", "deployment", "web", "--type", "merge", "-p", #"{"metadata":{"finalizers":null}}"#)
            #expect(r.status == 0, "\(r.output)")
        }
    }

    @Test func scaleAndRolloutStatusWork() async throws {
        try await KubectlTests.withServer { server, k in
            await server.store.setControllerStep(0.05)
            var r = try await k("apply", "-f", "-", stdin: Self.manifest(containers: "              - {name: app, image: \"web:1\"}",
                                                                       finalizers: "", strategy: "{type: RollingUpdate}"))
            #expect(r.status == 0, "\(r.output)")
            r = try await k("rollout", "status", "deployment/web", "--timeout=20s")
            #expect(r.status == 0 && r.output.contains("successfully rolled out"), "\(r.output)")
            r = try await k("scale", "deployment/web", "--replicas=5")
            #expect(r.status == 0 && r.output.contains("scaled"), "\(r.output)")
            r = try await k("rollout", "status", "deployment/web", "--timeout=20s")
            #expect(r.status == 0, "\(r.output)")
            r = try await k("get", "deployment", "web", "-o", "jsonpath={.status.availableReplicas}")
            #expect(r.output == "5", "\(r.output)")
        }
    }

    /// `revisionHistoryLimit` as `cleanupDeployment` keeps it: only once the rollout is complete or
    /// the Deployment paused, counting every old ReplicaSet, and skipping (not replacing) an old one
    /// that still has pods — here the stable of a stuck rollout.
    @Test func revisionHistoryLimitCountsOldReplicaSetsWithPods() async throws {
        try await KubectlTests.withServer { server, k in
            await server.store.setControllerStep(0.05)
            let manifest = Self.manifest(containers: "              - {name: app, image: \"web:1\"}", finalizers: "",
                                         strategy: "{type: RollingUpdate}")
                .replacingOccurrences(of: "  replicas: 2\n", with: "  replicas: 2\n  revisionHistoryLimit: 1\n")
            var r = try await k("apply", "-f", "-", stdin: manifest)
            #expect(r.status == 0, "\(r.output)")
            r = try await k("rollout", "status", "deployment/web", "--timeout=20s")
            r = try await k("set", "image", "deployment/web", "app=web:2")
            #expect(r.status == 0, "\(r.output)")
            r = try await k("rollout", "status", "deployment/web", "--timeout=20s")
            #expect(r.status == 0, "\(r.output)")
            // Revision 3's pods never become ready: the rollout sticks with revision 2 still serving.
            let never = #"{"spec":{"template":{"metadata":{"annotations":{"\#(APIStore.simulateAnnotation)":"never"}},"spec":{"containers":[{"name":"app","image":"web:3"}]}}}}"#
            r = try await k("patch", "deployment", "web", "-p", never)
            #expect(r.status == 0, "\(r.output)")
            func sets() async throws -> [String: (revision: String, replicas: Int)] {
                let out = try await k("get", "rs", "-o", "json").output
                let list = try JSONDecoder().decode(JSONValue.self, from: Data(out.utf8))
                var byImage: [String: (String, Int)] = [:]
                for rs in list["items"]?.array ?? [] {
                    let image = rs["spec"]?["template"]?["spec"]?["containers"]?.array?.first?["image"]?.string ?? ""
                    byImage[image] = (rs["metadata"]?["annotations"]?["deployment.kubernetes.io/revision"]?.string ?? "",
                                      Int(rs["spec"]?["replicas"]?.number ?? 0))
                }
                return byImage.mapValues { (revision: $0.0, replicas: $0.1) }
            }
            var current: [String: (revision: String, replicas: Int)] = [:]
            for _ in 0..<100 {
                current = try await sets()
                if (current["web:3"]?.replicas ?? 0) > 0, (current["web:2"]?.replicas ?? 0) > 0 { break }
                try await Task.sleep(for: .milliseconds(50))
            }
            try await Task.sleep(for: .milliseconds(500))
            current = try await sets()
            #expect(Set(current.keys) == ["web:1", "web:2", "web:3"], "stuck, not complete: no clean-up yet: \(current)")
            #expect(current["web:1"]?.replicas == 0 && (current["web:2"]?.replicas ?? 0) > 0)
            // Paused: two old ReplicaSets against a limit of one; the oldest, at zero, goes.
            r = try await k("rollout", "pause", "deployment/web")
            #expect(r.status == 0, "\(r.output)")
            for _ in 0..<100 where try await sets()["web:1"] != nil { try await Task.sleep(for: .milliseconds(50)) }
            current = try await sets()
            #expect(Set(current.keys) == ["web:2", "web:3"], "\(current)")
            // A limit of zero: the one old ReplicaSet still has pods, so it is skipped, and kept.
            r = try await k("patch", "deployment", "web", "-p", #"{"spec":{"revisionHistoryLimit":0}}"#)
            #expect(r.status == 0, "\(r.output)")
            try await Task.sleep(for: .milliseconds(500))
            current = try await sets()
            #expect(Set(current.keys) == ["web:2", "web:3"], "\(current)")
        }
    }
}

/// Server-side apply as Flux and `kubectl apply --server-side` use it: field managers,
/// conflicts, forced takeovers, and fields a manager stops applying removed.
@Suite struct ServerSideApplyTests {
    static func manifest(replicas: Int, labels: String) -> String {
        """
        apiVersion: apps/v1
        kind: Deployment
        metadata:
          name: web
          namespace: default
          labels: {\(labels)}
        spec:
          replicas: \(replicas)
          selector: {matchLabels: {app: web}}
          template:
            metadata: {labels: {app: web}}
            spec:
              containers:
              - {name: app, image: "web:1"}
        """
    }

    @Test func managersOwnFieldsConflictAndLetGo() async throws {
        try await KubectlTests.withServer { server, k in
            var r = try await k("apply", "--server-side", "-f", "-", stdin: Self.manifest(replicas: 2, labels: "app: web, tier: front"))
            #expect(r.status == 0 && r.output.contains("serverside-applied"), "\(r.output)")
            r = try await k("get", "deployment", "web", "-o", "json", "--show-managed-fields")
            var live = try JSONDecoder().decode(JSONValue.self, from: Data(r.output.utf8))
            let applier = live["metadata"]?["managedFields"]?.array?.first { $0["manager"] == "kubectl" }
            #expect(applier?["operation"] == "Apply")
            #expect(applier?["fieldsV1"]?["f:spec"]?["f:replicas"] != nil)
            #expect(applier?["fieldsV1"]?["f:spec"]?["f:template"]?["f:spec"]?["f:containers"]?["k:{\"name\":\"app\"}"]?["f:image"] != nil,
                    "containers owned by name: \(applier?["fieldsV1"] ?? .null)")
            // Another writer changes replicas with an update: it now owns them.
            r = try await k("patch", "deployment", "web", "--type", "merge", "-p", #"{"spec":{"replicas":3}}"#, "--field-manager=autoscaler")
            #expect(r.status == 0, "\(r.output)")
            // A third applier asking for other replicas conflicts with it...
            r = try await k("apply", "--server-side", "--field-manager=flux", "-f", "-", stdin: Self.manifest(replicas: 5, labels: "app: web"))
            #expect(r.status != 0)
            #expect(r.output.contains(#"conflict with "autoscaler""#) && r.output.contains(".spec.replicas"), "\(r.output)")
            // ...unless it forces.
            r = try await k("apply", "--server-side", "--field-manager=flux", "--force-conflicts", "-f", "-",
                            stdin: Self.manifest(replicas: 5, labels: "app: web"))
            #expect(r.status == 0, "\(r.output)")
            // kubectl stops applying the tier label: it goes (nobody else owns it).
            r = try await k("apply", "--server-side", "-f", "-", stdin: Self.manifest(replicas: 5, labels: "app: web"))
            #expect(r.status == 0, "\(r.output)")
            r = try await k("get", "deployment", "web", "-o", "json", "--show-managed-fields")
            live = try JSONDecoder().decode(JSONValue.self, from: Data(r.output.utf8))
            #expect(live["spec"]?["replicas"] == 5)
            #expect(live["metadata"]?["labels"] == ["app": "web"], "\(live["metadata"]?["labels"] ?? .null)")
            let managers = Set(live["metadata"]?["managedFields"]?.array?.compactMap { $0["manager"]?.string } ?? [])
            #expect(managers.isSuperset(of: ["kubectl", "flux"]))
        }
    }

    static let widgetCRD = """
        apiVersion: apiextensions.k8s.io/v1
        kind: CustomResourceDefinition
        metadata: {name: widgets.example.com}
        spec:
          group: example.com
          scope: Namespaced
          names: {plural: widgets, singular: widget, kind: Widget}
          versions:
          - name: v1
            served: true
            storage: true
            schema:
              openAPIV3Schema:
                type: object
                properties:
                  spec:
                    type: object
                    properties:
                      ports:
                        type: array
                        x-kubernetes-list-type: map
                        x-kubernetes-list-map-keys: [name]
                        items:
                          type: object
                          required: [name]
                          properties: {name: {type: string}, port: {type: integer}}
                      tags:
                        type: array
                        x-kubernetes-list-type: set
                        items: {type: string}
                      containers:
                        type: array
                        items:
                          type: object
                          properties: {name: {type: string}, image: {type: string}}
        """

    static func widget(ports: String, tags: String, containers: String) -> String {
        """
        apiVersion: example.com/v1
        kind: Widget
        metadata: {name: w, namespace: default}
        spec:
          ports: [\(ports)]
          tags: [\(tags)]
          containers: [\(containers)]
        """
    }

    /// A custom resource is merged as its schema says, not by the built-in kinds' merge keys: a
    /// `map` list by its keys, a `set` by value, any other list (even one called `containers`) whole.
    @Test func customResourcesMergeByTheirListTypes() async throws {
        try await KubectlTests.withServer { _, k in
            var r = try await k("apply", "-f", "-", stdin: Self.widgetCRD)
            #expect(r.status == 0, "\(r.output)")
            r = try await k("apply", "--server-side", "--field-manager=a", "-f", "-",
                            stdin: Self.widget(ports: "{name: http, port: 80}", tags: "blue", containers: "{name: app, image: app:1}"))
            #expect(r.status == 0, "\(r.output)")
            // Another manager adds its own port and tag; its containers list conflicts (atomic, owned by a).
            let second = Self.widget(ports: "{name: metrics, port: 9090}", tags: "green", containers: "{name: sidecar, image: proxy:1}")
            r = try await k("apply", "--server-side", "--field-manager=b", "-f", "-", stdin: second)
            #expect(r.status != 0 && r.output.contains(#"conflict with "a""#) && r.output.contains(".spec.containers"), "\(r.output)")
            r = try await k("apply", "--server-side", "--field-manager=b", "--force-conflicts", "-f", "-", stdin: second)
            #expect(r.status == 0, "\(r.output)")
            r = try await k("get", "widget", "w", "-o", "json")
            var live = try JSONDecoder().decode(JSONValue.self, from: Data(r.output.utf8))
            #expect(live["spec"]?["ports"]?.array?.compactMap { $0["name"]?.string } == ["http", "metrics"], "merged by name")
            #expect(live["spec"]?["tags"] == ["blue", "green"], "a set: union")
            #expect(live["spec"]?["containers"] == [["name": "sidecar", "image": "proxy:1"]], "atomic: replaced whole")
            // a stops applying its port: it goes; b's stays.
            r = try await k("apply", "--server-side", "--field-manager=a", "-f", "-",
                            stdin: Self.widget(ports: "", tags: "blue", containers: "{name: sidecar, image: proxy:1}"))
            #expect(r.status == 0, "\(r.output)")
            r = try await k("get", "widget", "w", "-o", "json")
            live = try JSONDecoder().decode(JSONValue.self, from: Data(r.output.utf8))
            #expect(live["spec"]?["ports"]?.array?.compactMap { $0["name"]?.string } == ["metrics"], "\(live["spec"] ?? .null)")
            #expect(live["spec"]?["tags"] == ["blue", "green"])
        }
    }
}
