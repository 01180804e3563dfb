import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import KubeClient
import KubeTestServer
import SluiceModel
import Testing

/// What kube-apiserver answers on the wire, read without a client library in between: server-side
/// apply's required field manager, the watch-list's end bookmark as sent, strategic merge
/// directives from `kubectl patch`, and kubectl's protobuf bodies.
@Suite struct APIServerWireTests {
    /// One HTTP request to the server exactly as given; the answer's code and body.
    static func send(_ server: KubeTestServer, _ method: String, _ path: String, contentType: String? = nil,
                     body: String? = nil) async throws -> (code: Int, body: Data) {
        guard let url = URL(string: server.url + path) else { throw URLError(.badURL) }
        var request = URLRequest(url: url, timeoutInterval: 20)
        request.httpMethod = method
        request.setValue("application/json", forHTTPHeaderField: "Accept")
        if let contentType { request.setValue(contentType, forHTTPHeaderField: "Content-Type") }
        if let body { request.httpBody = Data(body.utf8) }
        let (data, response) = try await URLSession.shared.data(for: request)
        return ((response as? HTTPURLResponse)?.statusCode ?? 0, data)
    }

    /// An apply patch without `fieldManager` is refused by `ValidatePatchOptions` before anything
    /// else (so also for an object that does not exist), with the real 422 Status.
    @Test func serverSideApplyWithoutAFieldManagerIsRefused() async throws {
        try await SemanticsTests.withServer { client, server in
            let _: JSONValue = try await client.create(.deployments, namespace: "shop", DeploymentSimulatorTests.deployment(image: "web:1"))
            func applied(_ name: String) -> String {
                "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: \(name)\n  namespace: shop\n  labels: {team: a}\n"
            }
            let message = #"PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: is required for apply patch"#
            for name in ["web", "ghost"] {
                let (code, data) = try await Self.send(server, "PATCH", "/apis/apps/v1/namespaces/shop/deployments/\(name)",
                                                       contentType: "application/apply-patch+yaml", body: applied(name))
                let status = try JSONDecoder().decode(JSONValue.self, from: data)
                #expect(code == 422, "\(name): \(code) \(status)")
                #expect(status["kind"] == "Status" && status["status"] == "Failure" && status["reason"] == "Invalid" && status["code"] == 422)
                #expect(status["message"]?.string == message)
                #expect(status["details"]?["group"] == "meta.k8s.io" && status["details"]?["kind"] == "PatchOptions")
                let causes: JSONValue = [["reason": "FieldValueRequired", "message": "Required value: is required for apply patch", "field": "fieldManager"]]
                #expect(status["details"]?["causes"] == causes)
            }
            #expect(await SemanticsTests.label { let _: JSONValue = try await client.get(.deployments, namespace: "shop", name: "ghost") } == "not_found",
                    "refused before anything was created")
            // An empty fieldManager is none either (our client sends `fieldManager=`).
            var refusal: KubeClientError?
            do {
                let _: JSONValue = try await client.patch(.deployments, namespace: "shop", name: "web",
                                                          .apply(Data(applied("web").utf8), fieldManager: "", force: false))
            } catch let error as KubeClientError {
                refusal = error
            }
            #expect(refusal?.label == "invalid" && refusal?.status?.message == message, "\(String(describing: refusal))")
            // Named, the same apply goes through.
            let (code, data) = try await Self.send(server, "PATCH", "/apis/apps/v1/namespaces/shop/deployments/web?fieldManager=tests",
                                                   contentType: "application/apply-patch+yaml", body: applied("web"))
            #expect(code == 200, "\(String(decoding: data, as: UTF8.self))")
            let web: JSONValue = try await client.get(.deployments, namespace: "shop", name: "web")
            #expect(web["metadata"]?["labels"]?["team"] == "a")
        }
    }

    /// The bookmark that ends a watch-list's initial events carries
    /// `k8s.io/initial-events-end: "true"` (the client's WatchLine keeps only its resourceVersion,
    /// so the raw body is read); a plain watch sends no such bookmark.
    @Test func theInitialEventsEndBookmarkCarriesItsAnnotation() async throws {
        try await SemanticsTests.withServer { client, server in
            var versions: [Int] = []
            for name in ["a", "b"] {
                let cm: JSONValue = try await client.create(.configMaps, namespace: "shop",
                                                            ["apiVersion": "v1", "kind": "ConfigMap", "metadata": ["name": .string(name)]])
                versions.append(Int(cm["metadata"]?["resourceVersion"]?.string ?? "") ?? 0)
            }
            let query = "watch=1&sendInitialEvents=true&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true&timeoutSeconds=1"
            let (code, data) = try await Self.send(server, "GET", "/api/v1/namespaces/shop/configmaps?\(query)")
            #expect(code == 200)
            let events = try String(decoding: data, as: UTF8.self).split(separator: "\n")
                .map { try JSONDecoder().decode(JSONValue.self, from: Data($0.utf8)) }
            #expect(events.map { $0["type"]?.string ?? "" } == ["ADDED", "ADDED", "BOOKMARK"], "\(events)")
            #expect(Set(events.prefix(2).compactMap { $0["object"]?["metadata"]?["name"]?.string }) == ["a", "b"])
            let bookmark = events.last?["object"]
            #expect(bookmark?["kind"] == "ConfigMap" && bookmark?["apiVersion"] == "v1")
            #expect(bookmark?["metadata"]?["annotations"] == ["k8s.io/initial-events-end": "true"], "\(bookmark ?? .null)")
            #expect((Int(bookmark?["metadata"]?["resourceVersion"]?.string ?? "") ?? 0) >= (versions.max() ?? .max),
                    "the initial state is at least as new as the objects in it")
            let (_, plain) = try await Self.send(server, "GET", "/api/v1/namespaces/shop/configmaps?watch=1&allowWatchBookmarks=true&timeoutSeconds=1")
            let text = String(decoding: plain, as: UTF8.self)
            #expect(text.contains("ADDED") && !text.contains("initial-events-end"), "\(text)")
        }
    }

    /// `kubectl patch --type strategic` with the directives: `$patch: delete` on a list element
    /// (by its merge key), `$patch: replace` on a list and on a map.
    @Test func strategicMergeDirectivesFromKubectlPatch() async throws {
        try await KubectlTests.withServer { server, k in
            var r = try await k("apply", "-f", "-", stdin: """
                apiVersion: apps/v1
                kind: Deployment
                metadata:
                  name: web
                  namespace: default
                  labels: {app: web, tier: front}
                spec:
                  replicas: 1
                  selector: {matchLabels: {app: web}}
                  template:
                    metadata: {labels: {app: web}}
                    spec:
                      containers:
                      - {name: app, image: "web:1"}
                      - {name: sidecar, image: "proxy:1"}
                """)
            #expect(r.status == 0, "\(r.output)")
            func live() async throws -> JSONValue {
                let out = try await k("get", "deployment", "web", "-o", "json").output
                return try JSONDecoder().decode(JSONValue.self, from: Data(out.utf8))
            }
            func containers(_ d: JSONValue) -> [String] {
                (d["spec"]?["template"]?["spec"]?["containers"]?.array ?? []).map { "\($0["name"]?.string ?? "") \($0["image"]?.string ?? "")" }
            }
            r = try await k("patch", "deployment", "web", "--type", "strategic", "-p",
                            #"{"spec":{"template":{"spec":{"containers":[{"name":"sidecar","$patch":"delete"}]}}}}"#)
            #expect(r.status == 0 && r.output.contains("deployment.apps/web patched"), "\(r.output)")
            var d = try await live()
            #expect(containers(d) == ["app web:1"], "the element named sidecar deleted, the other kept")
            r = try await k("patch", "deployment", "web", "--type", "strategic", "-p",
                            #"{"spec":{"template":{"spec":{"containers":[{"$patch":"replace"},{"name":"solo","image":"solo:1"}]}}}}"#)
            #expect(r.status == 0, "\(r.output)")
            let sent = await server.store.writes.last { $0.verb == "PATCH" }?.body ?? ""
            #expect(sent.contains(#""$patch":"replace""#), "kubectl sent the directive: \(sent)")
            d = try await live()
            #expect(containers(d) == ["solo solo:1"], "the list replaced whole, not merged by name")
            r = try await k("patch", "deployment", "web", "--type", "strategic", "-p", #"{"metadata":{"labels":{"extra":"1"}}}"#)
            #expect(r.status == 0, "\(r.output)")
            d = try await live()
            let merged: JSONValue = ["app": "web", "tier": "front", "extra": "1"]
            #expect(d["metadata"]?["labels"] == merged, "without a directive a map merges")
            r = try await k("patch", "deployment", "web", "--type", "strategic", "-p", #"{"metadata":{"labels":{"$patch":"replace","owner":"ops"}}}"#)
            #expect(r.status == 0, "\(r.output)")
            d = try await live()
            #expect(d["metadata"]?["labels"] == ["owner": "ops"], "the map replaced whole: \(d["metadata"]?["labels"] ?? .null)")
        }
    }

    /// kubectl's typed commands send protobuf, which the test server does not read: `kubectl create
    /// namespace` gets the 415 its README documents (a real kube-apiserver accepts it), while
    /// `kubectl apply` of the same Namespace (JSON) works.
    @Test func kubectlCreateSendsProtobufAndApplyDoesNot() async throws {
        try await KubectlTests.withServer { server, k in
            var r = try await k("create", "namespace", "x")
            #expect(r.status != 0)
            #expect(r.output.contains("the body of the request was in an unknown format - accepted media types include: application/json, application/yaml"),
                    "\(r.output)")
            let sent = await server.store.writes.last { $0.verb == "POST" && $0.path == "/api/v1/namespaces" }
            #expect(sent?.body.hasPrefix("k8s\u{0}") == true, "a protobuf envelope")
            r = try await k("get", "namespace", "x")
            #expect(r.status != 0 && r.output.contains(#"namespaces "x" not found"#), "\(r.output)")
            r = try await k("apply", "-f", "-", stdin: "apiVersion: v1\nkind: Namespace\nmetadata: {name: x}\n")
            #expect(r.status == 0 && r.output.contains("namespace/x created"), "\(r.output)")
            r = try await k("get", "namespace", "x", "-o", "jsonpath={.status.phase}")
            #expect(r.status == 0 && r.output == "Active", "\(r.output)")
        }
    }
}

/// RBAC on a subresource and for ServiceAccount groups, as kube-apiserver's RBAC authorizer
/// decides (`ResourceMatches`: `rollouts` does not cover `rollouts/status`; a ServiceAccount's
/// token carries the groups `system:serviceaccounts` and `system:serviceaccounts:<namespace>`).
@Suite struct RBACSubresourceTests {
    static func role(_ resources: String) -> String {
        """
        apiVersion: rbac.authorization.k8s.io/v1
        kind: Role
        metadata: {name: rollout-editor, namespace: shop}
        rules:
        - {apiGroups: [sluice.dev], resources: [\(resources)], verbs: [get, list, update]}
        """
    }

    static func forbidden(_ user: String, _ verb: String, _ resource: String, name: String? = nil) -> String {
        let object = name.map { #"rollouts.sluice.dev "\#($0)""# } ?? "rollouts.sluice.dev"
        return #"\#(object) is forbidden: User "\#(user)" cannot \#(verb) resource "\#(resource)" in API group "sluice.dev" in the namespace "shop""#
    }

    @Test func statusNeedsItsOwnRuleAndAServiceAccountGroupCanBeBound() async throws {
        guard KubectlTests.kubectl != nil else { Issue.record("kubectl is not installed"); return }
        let server = try await KubeTestServer(token: "root", tls: true, users: ["alice-token": User(name: "alice", groups: ["team-a"])])
        do { try await Self.check(server) } catch {
            try await server.stop()
            throw error
        }
        try await server.stop()
    }

    static func check(_ server: KubeTestServer) async throws {
        let admin = try RBACTests.kubectl(server, token: "root")
        let alice = try RBACTests.kubectl(server, token: "alice-token")
        var r = try await admin("apply", "-f", "crds/rollouts.sluice.dev.yaml")
        #expect(r.status == 0, "\(r.output)")
        r = try await admin("apply", "-f", "-", stdin: """
            apiVersion: v1
            kind: Namespace
            metadata: {name: shop}
            ---
            apiVersion: v1
            kind: Namespace
            metadata: {name: other}
            ---
            \(Self.role("rollouts"))
            ---
            apiVersion: rbac.authorization.k8s.io/v1
            kind: RoleBinding
            metadata: {name: alice-edits, namespace: shop}
            subjects: [{kind: User, name: alice, apiGroup: rbac.authorization.k8s.io}]
            roleRef: {kind: Role, name: rollout-editor, apiGroup: rbac.authorization.k8s.io}
            ---
            apiVersion: v1
            kind: ServiceAccount
            metadata: {name: builder, namespace: shop}
            ---
            apiVersion: v1
            kind: ServiceAccount
            metadata: {name: builder, namespace: other}
            """)
        #expect(r.status == 0, "\(r.output)")
        r = try await admin("apply", "-f", "-", stdin: String(decoding: try JSONEncoder().encode(SemanticsTests.rollout), as: UTF8.self))
        #expect(r.status == 0 && r.output.contains("rollout.sluice.dev/checkout created"), "\(r.output)")
        /// The Rollout as Alice reads it now, with a status: the body of a PUT.
        func withStatus() async throws -> String {
            let out = try await alice("get", "rollout", "checkout", "-n", "shop", "-o", "json").output
            var object = try JSONDecoder().decode(JSONValue.self, from: Data(out.utf8))
            object["status"] = ["phase": "Healthy"]
            return String(decoding: try JSONEncoder().encode(object), as: UTF8.self)
        }
        var body = try await withStatus()
        r = try await alice("replace", "--subresource=status", "-f", "-", stdin: body)
        #expect(r.status != 0)
        #expect(r.output.contains(Self.forbidden("alice", "update", "rollouts/status", name: "checkout")), "\(r.output)")
        let put = await server.store.writes.last { $0.verb == "PUT" }
        #expect(put?.path == "/apis/sluice.dev/v1alpha1/namespaces/shop/rollouts/checkout/status", "a PUT to /status")
        // The Rollout itself she may update; that endpoint ignores status.
        r = try await alice("replace", "-f", "-", stdin: body)
        #expect(r.status == 0 && r.output.contains("rollout.sluice.dev/checkout replaced"), "\(r.output)")
        r = try await admin("get", "rollout", "checkout", "-n", "shop", "-o", "jsonpath={.status.phase}")
        #expect(r.status == 0 && r.output.isEmpty, "\(r.output)")
        // Once the Role names rollouts/status too, the PUT to /status is allowed.
        r = try await admin("apply", "-f", "-", stdin: Self.role("rollouts, rollouts/status"))
        #expect(r.status == 0, "\(r.output)")
        for _ in 0..<20 {
            body = try await withStatus()
            r = try await alice("replace", "--subresource=status", "-f", "-", stdin: body)
            if r.status == 0 { break }
            try await Task.sleep(for: .milliseconds(250))
        }
        #expect(r.status == 0 && r.output.contains("rollout.sluice.dev/checkout replaced"), "\(r.output)")
        r = try await admin("get", "rollout", "checkout", "-n", "shop", "-o", "jsonpath={.status.phase}")
        #expect(r.output == "Healthy", "\(r.output)")

        // A RoleBinding to the group of a namespace's ServiceAccounts: a token of one of them gets in.
        func kubectl(as namespace: String) async throws -> KubectlTests.Kubectl {
            let minted = try await admin("create", "token", "builder", "-n", namespace)
            #expect(minted.status == 0, "\(minted.output)")
            return try RBACTests.kubectl(server, token: minted.output.trimmingCharacters(in: .whitespacesAndNewlines))
        }
        let builder = try await kubectl(as: "shop")
        let outsider = try await kubectl(as: "other")
        r = try await builder("get", "rollouts", "-n", "shop")
        #expect(r.status != 0 && r.output.contains(Self.forbidden("system:serviceaccount:shop:builder", "list", "rollouts")), "\(r.output)")
        r = try await admin("apply", "-f", "-", stdin: """
            apiVersion: rbac.authorization.k8s.io/v1
            kind: RoleBinding
            metadata: {name: shop-service-accounts, namespace: shop}
            subjects: [{kind: Group, name: "system:serviceaccounts:shop", apiGroup: rbac.authorization.k8s.io}]
            roleRef: {kind: Role, name: rollout-editor, apiGroup: rbac.authorization.k8s.io}
            """)
        #expect(r.status == 0, "\(r.output)")
        for _ in 0..<20 {
            r = try await builder("get", "rollouts", "-n", "shop")
            if r.status == 0 { break }
            try await Task.sleep(for: .milliseconds(250))
        }
        #expect(r.status == 0 && r.output.contains("checkout"), "\(r.output)")
        r = try await outsider("get", "rollouts", "-n", "shop")
        #expect(r.status != 0 && r.output.contains(Self.forbidden("system:serviceaccount:other:builder", "list", "rollouts")),
                "another namespace's ServiceAccount is not in that group: \(r.output)")
    }
}
