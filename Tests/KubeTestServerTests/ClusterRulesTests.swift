import Foundation
import KubeClient
import KubeTestServer
import Logging
import SluiceModel
import SluiceTestKit
import Testing

/// The rules a cluster enforces beyond a kind's schema, over HTTP: namespaces, the built-in
/// kinds' own validation, write semantics, and garbage collection. The same tests run against a
/// real cluster when one is configured (deletes cascade there in the background, so they poll).
@Suite struct ClusterRulesTests {
    static func deployment(_ name: String, selector: JSONValue = ["app": "web"], labels: JSONValue = ["app": "web"]) -> JSONValue {
        ["apiVersion": "apps/v1", "kind": "Deployment", "metadata": ["name": .string(name)],
         "spec": ["replicas": 2, "selector": ["matchLabels": selector],
                  "template": ["metadata": ["labels": labels], "spec": ["containers": [["name": "app", "image": "nginx:1.27"]]]]]]
    }

    static func configMap(_ name: String, owner: JSONValue? = nil) -> JSONValue {
        var cm: JSONValue = ["apiVersion": "v1", "kind": "ConfigMap", "metadata": ["name": .string(name)]]
        if let owner {
            cm["metadata"]?["ownerReferences"] = [["apiVersion": "v1", "kind": "ConfigMap", "name": owner["metadata"]!["name"]!,
                                                   "uid": owner["metadata"]!["uid"]!, "blockOwnerDeletion": true]]
        }
        return cm
    }

    /// Waits up to 30 s for `condition` (a real cluster's garbage collector takes a moment).
    static func eventually(_ condition: () async throws -> Bool) async throws -> Bool {
        for _ in 0..<300 {
            if try await condition() { return true }
            try await Task.sleep(for: .milliseconds(100))
        }
        return false
    }

    static func exists(_ client: KubernetesClient, _ type: ResourceType, _ ns: String?, _ name: String) async -> Bool {
        do {
            let _: JSONValue = try await client.get(type, namespace: ns, name: name)
            return true
        } catch {
            return false
        }
    }

    @Test(arguments: Target.all)
    func namespacesMustExistAndStopTakingObjectsWhileTerminating(target: Target) async throws {
        try await target.run { client, ns in
            let missing = await SemanticsTests.label {
                let _: JSONValue = try await client.create(.configMaps, namespace: "no-such-namespace-\(ns)", Self.configMap("a"))
            }
            #expect(missing == "not_found")
            let doomed = "\(ns)-doomed"
            let _: JSONValue = try await client.create(.namespaces, ["apiVersion": "v1", "kind": "Namespace", "metadata": ["name": .string(doomed)]])
            var held = Self.configMap("held")
            held["metadata"]?["finalizers"] = ["example.com/hold"]
            let _: JSONValue = try await client.create(.configMaps, namespace: doomed, held)
            let _: JSONValue = try await client.create(.configMaps, namespace: doomed, Self.configMap("plain"))
            try await client.delete(.namespaces, name: doomed)
            let terminating: JSONValue = try await client.get(.namespaces, name: doomed)
            #expect(terminating["status"]?["phase"] == "Terminating")
            #expect(await SemanticsTests.label { try await client.delete(.namespaces, name: doomed) } == "conflict", "already being deleted")
            #expect(await SemanticsTests.label { try await client.delete(.namespaces, name: "kube-public", urgent: false) } == "forbidden")
            do {
                let _: JSONValue = try await client.create(.configMaps, namespace: doomed, Self.configMap("late"))
                Issue.record("a create in a terminating namespace was accepted")
            } catch KubeClientError.forbidden(let status) {
                #expect(status.message?.contains("unable to create new content in namespace \(doomed) because it is being terminated") == true)
                #expect(status.details?.causes?.first?.reason == "NamespaceTerminating")
            }
            #expect(try await Self.eventually { !(await Self.exists(client, .configMaps, doomed, "plain")) }, "its objects are deleted")
            #expect(await Self.exists(client, .namespaces, nil, doomed), "the namespace waits for the finalizer")
            let _: JSONValue = try await client.patch(.configMaps, namespace: doomed, name: "held", .merge(Data(#"{"metadata":{"finalizers":null}}"#.utf8)))
            #expect(try await Self.eventually { !(await Self.exists(client, .namespaces, nil, doomed)) }, "then the namespace goes")
        }
    }

    @Test(arguments: Target.all)
    func workloadsNamesAndLabelsAreValidated(target: Target) async throws {
        try await target.run { client, ns in
            func refusal(_ body: () async throws -> Void) async -> [String]? { await ValidationTests.refusal(body) }
            let mismatched = await refusal {
                let _: JSONValue = try await client.create(.deployments, namespace: ns, Self.deployment("web", labels: ["app": "other"]))
            }
            #expect(mismatched == ["spec.template.metadata.labels: Invalid value: {\"app\":\"other\"}: `selector` does not match template `labels`"])
            var imageless = Self.deployment("imageless")
            imageless["spec"]?["template"]?["spec"]?["containers"] = [["name": "app"]]
            let noImage = await refusal { let _: JSONValue = try await client.create(.deployments, namespace: ns, imageless) }
            #expect(noImage == ["spec.template.spec.containers[0].image: Required value"])
            var twoControllers = Self.configMap("owned")
            twoControllers["metadata"]?["ownerReferences"] = [["apiVersion": "v1", "kind": "ConfigMap", "name": "a", "uid": "1", "controller": true],
                                                              ["apiVersion": "v1", "kind": "ConfigMap", "name": "b", "uid": "2", "controller": true]]
            let owners = await refusal { let _: JSONValue = try await client.create(.configMaps, namespace: ns, twoControllers) }
            #expect(owners?.first?.contains("Only one reference can have Controller set to true") == true, "\(owners ?? [])")
            let created: JSONValue = try await client.create(.deployments, namespace: ns, Self.deployment("web"))
            #expect(created["spec"]?["strategy"]?["type"] == "RollingUpdate")
            #expect(created["spec"]?["revisionHistoryLimit"] == 10)
            #expect(created["spec"]?["progressDeadlineSeconds"] == 600)
            // A patch (no resourceVersion: the controller writes the Deployment's status meanwhile).
            let immutable = await refusal {
                let _: JSONValue = try await client.patch(.deployments, namespace: ns, name: "web", .merge(Data(
                    #"{"spec":{"selector":{"matchLabels":{"tier":"front"}},"template":{"metadata":{"labels":{"tier":"front"}}}}}"#.utf8)))
            }
            #expect(immutable?.contains { $0.hasPrefix("spec.selector: Invalid value: ") && $0.hasSuffix(": field is immutable") } == true,
                    "\(immutable ?? [])")
            let badName = await refusal { let _: JSONValue = try await client.create(.configMaps, namespace: ns, Self.configMap("Bad_Name")) }
            #expect(badName == ["metadata.name: Invalid value: \"Bad_Name\": " + "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"])
            var badLabel = Self.configMap("labelled")
            badLabel["metadata"]?["labels"] = ["team": "not ok!"]
            let label = await refusal { let _: JSONValue = try await client.create(.configMaps, namespace: ns, badLabel) }
            #expect(label?.first?.hasPrefix("metadata.labels: Invalid value: \"not ok!\": a valid label must be an empty string") == true, "\(label ?? [])")
            // Status counts cannot exceed what they count.
            let status = await refusal {
                let _: JSONValue = try await client.patch(.deployments, namespace: ns, name: "web",
                                                          .merge(Data(#"{"status":{"replicas":0,"readyReplicas":2}}"#.utf8)), subresource: "status")
            }
            #expect(status?.contains("status.readyReplicas: Invalid value: 2: cannot be greater than status.replicas") == true, "\(status ?? [])")
        }
    }

    @Test(arguments: Target.all)
    func writesFollowTheRealRules(target: Target) async throws {
        try await target.run { client, ns in
            // A create carrying a resourceVersion is refused.
            var versioned = Self.configMap("versioned")
            versioned["metadata"]?["resourceVersion"] = "12345"
            #expect(await SemanticsTests.label { let _: JSONValue = try await client.create(.configMaps, namespace: ns, versioned) } == "server_error",
                    "etcd's 'resourceVersion should not be set on objects to be created', as an internal error")
            versioned["metadata"]?["resourceVersion"] = "0"
            versioned["metadata"]?["name"] = "zero"
            let zero: JSONValue = try await client.create(.configMaps, namespace: ns, versioned)
            #expect(zero["metadata"]?["generation"] == nil, "a ConfigMap has no generation")
            // A stale copy of a re-created object is a conflict (its uid is a precondition).
            try await client.delete(.configMaps, namespace: ns, name: "zero")
            let _: JSONValue = try await client.create(.configMaps, namespace: ns, Self.configMap("zero"))
            var stale = zero
            stale["metadata"]?["resourceVersion"] = nil
            #expect(await SemanticsTests.label { let _: JSONValue = try await client.update(.configMaps, namespace: ns, name: "zero", stale) } == "conflict")
            // A dryRun value other than All is refused.
            let odd = await SemanticsTests.label {
                _ = try await client.createRaw(.configMaps, namespace: ns, body: try JSONEncoder().encode(Self.configMap("odd")), query: [("dryRun", "Some")])
            }
            #expect(odd == "invalid")
            // Renaming through an update is an error, not silently undone.
            let cm: JSONValue = try await client.create(.configMaps, namespace: ns, Self.configMap("a"))
            var renamed = cm
            renamed["metadata"]?["name"] = "b"
            #expect(await SemanticsTests.label { let _: JSONValue = try await client.update(.configMaps, namespace: ns, name: "a", renamed) } == "bad_request")
            // No new finalizer on an object being deleted.
            var held = Self.configMap("held")
            held["metadata"]?["finalizers"] = ["example.com/hold"]
            let _: JSONValue = try await client.create(.configMaps, namespace: ns, held)
            try await client.delete(.configMaps, namespace: ns, name: "held")
            let refused = await ValidationTests.refusal {
                let _: JSONValue = try await client.patch(.configMaps, namespace: ns, name: "held",
                                                          .merge(Data(#"{"metadata":{"finalizers":["example.com/hold","example.com/more"]}}"#.utf8)))
            }
            #expect(refused?.first?.hasPrefix("metadata.finalizers: Forbidden: no new finalizers can be added if the object is being deleted") == true,
                    "\(refused ?? [])")
            let _: JSONValue = try await client.patch(.configMaps, namespace: ns, name: "held", .merge(Data(#"{"metadata":{"finalizers":null}}"#.utf8)))
            // Only declared subresources exist.
            #expect(await SemanticsTests.label { let _: JSONValue = try await client.get(.configMaps, namespace: ns, name: "a", subresource: "status") } == "not_found")
            // /scale reads and writes a Scale.
            let _: JSONValue = try await client.create(.deployments, namespace: ns, Self.deployment("web"))
            let scale: JSONValue = try await client.get(.deployments, namespace: ns, name: "web", subresource: "scale")
            #expect(scale["kind"] == "Scale" && scale["spec"]?["replicas"] == 2 && scale["status"]?["selector"] == "app=web")
            let scaled: JSONValue = try await client.patch(.deployments, namespace: ns, name: "web", .merge(Data(#"{"spec":{"replicas":5}}"#.utf8)),
                                                           subresource: "scale")
            #expect(scaled["spec"]?["replicas"] == 5)
            let after: JSONValue = try await client.get(.deployments, namespace: ns, name: "web")
            #expect(after["spec"]?["replicas"] == 5)
            // dryRun=All answers without writing.
            let body = try JSONEncoder().encode(Self.configMap("dry"))
            let answered = try JSONDecoder().decode(JSONValue.self, from: try await client.createRaw(.configMaps, namespace: ns, body: body, query: [("dryRun", "All")]))
            #expect(answered["metadata"]?["name"] == "dry")
            #expect(!(await Self.exists(client, .configMaps, ns, "dry")))
            // generation: a Deployment's annotations count; its status does not.
            let before = after["metadata"]?["generation"]?.number ?? 0
            let annotated: JSONValue = try await client.patch(.deployments, namespace: ns, name: "web",
                                                              .merge(Data(#"{"metadata":{"annotations":{"note":"x"}}}"#.utf8)))
            #expect(annotated["metadata"]?["generation"]?.number == before + 1)
            let labelled: JSONValue = try await client.patch(.deployments, namespace: ns, name: "web",
                                                             .merge(Data(#"{"metadata":{"labels":{"note":"x"}}}"#.utf8)))
            #expect(labelled["metadata"]?["generation"]?.number == before + 1, "labels do not")
        }
    }

    @Test(arguments: Target.all)
    func deletesCascadeByOwnerReferences(target: Target) async throws {
        try await target.run { client, ns in
            for policy in ["Background", "Foreground", "Orphan"] {
                let owner: JSONValue = try await client.create(.configMaps, namespace: ns, Self.configMap("owner-\(policy.lowercased())"))
                let name = "child-\(policy.lowercased())"
                let _: JSONValue = try await client.create(.configMaps, namespace: ns, Self.configMap(name, owner: owner))
                let watch: AsyncThrowingStream<WatchLine<JSONValue>, Error> = try await client.watch(
                    .configMaps, namespace: ns, selectors: Selectors(fields: "metadata.name=\(owner["metadata"]!["name"]!.string!)"),
                    resourceVersion: owner["metadata"]!["resourceVersion"]!.string!, timeoutSeconds: 3, allowBookmarks: false)
                let seen = Task {
                    var finalizers: [[String]] = []
                    for try await line in watch {
                        if case .modified(let o) = line.event { finalizers.append(o["metadata"]?["finalizers"]?.array?.compactMap(\.string) ?? []) }
                        if case .deleted = line.event { break }
                    }
                    return finalizers
                }
                try await client.delete(.configMaps, namespace: ns, name: owner["metadata"]!["name"]!.string!, propagationPolicy: policy)
                let marked = try await seen.value
                if policy != "Background" {
                    let finalizer = policy == "Orphan" ? "orphan" : "foregroundDeletion"
                    #expect(marked.contains { $0.contains(finalizer) }, "\(policy): the owner goes through the \(finalizer) finalizer: \(marked)")
                }
                #expect(try await Self.eventually { !(await Self.exists(client, .configMaps, ns, owner["metadata"]!["name"]!.string!)) })
                if policy == "Orphan" {
                    let child: JSONValue = try await client.get(.configMaps, namespace: ns, name: name)
                    #expect(child["metadata"]?["ownerReferences"] == nil, "orphaned: the reference is removed")
                } else {
                    #expect(try await Self.eventually { !(await Self.exists(client, .configMaps, ns, name)) }, "\(policy): the dependent goes too")
                }
            }
        }
    }
}
