import Foundation
import KubeClient
import KubeTestServer
import Logging
import SluiceModel
import SluiceTestKit
import Testing

/// Custom resources refused as kube-apiserver refuses them: each keyword of a structural schema,
/// the schema's defaults, and CEL rules evaluated — with the real server's messages (from
/// k8s.io/kube-openapi's validator and apiextensions-apiserver's conversion to field errors).
@Suite struct ValidationTests {
    static let gadgets = ResourceType(group: "example.com", version: "v1", plural: "gadgets", namespaced: true)
    static let crds = ResourceType(group: "apiextensions.k8s.io", version: "v1", plural: "customresourcedefinitions", namespaced: false)

    static let crd: JSONValue = [
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": ["name": "gadgets.example.com"],
        "spec": ["group": "example.com", "scope": "Namespaced",
                 "names": ["plural": "gadgets", "singular": "gadget", "kind": "Gadget"],
                 "versions": [["name": "v1", "served": true, "storage": true, "subresources": ["status": [:]],
                               "schema": ["openAPIV3Schema": ["type": "object", "properties": [
                                   "spec": ["type": "object", "required": ["size"],
                                            "x-kubernetes-validations": [
                                                ["rule": "self.size != 7", "messageExpression": "'size ' + (self.size == 7 ? 'seven' : 'other') + ' is unlucky'"],
                                                ["rule": "!has(self.note) || self.note != 'forbidden'", "message": "note must not say forbidden",
                                                 "reason": "FieldValueForbidden", "fieldPath": ".note"],
                                                ["rule": "!has(self.tags) || self.tags.all(t, t.size() > 0)"],
                                            ],
                                            "properties": [
                                                "size": ["type": "integer", "minimum": 1, "maximum": 10],
                                                "ratio": ["type": "number", "maximum": 1, "exclusiveMaximum": true],
                                                "name": ["type": "string", "minLength": 2, "maxLength": 5, "pattern": "^[a-z]+$",
                                                         "x-kubernetes-validations": [["rule": "self == oldSelf", "message": "name is immutable"]]],
                                                "mode": ["type": "string", "enum": ["fast", "slow"], "default": "fast"],
                                                "at": ["type": "string", "format": "date-time"],
                                                "tags": ["type": "array", "maxItems": 2, "x-kubernetes-list-type": "set", "items": ["type": "string"]],
                                                "ports": ["type": "array", "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"],
                                                          "items": ["type": "object", "required": ["name"],
                                                                    "properties": ["name": ["type": "string"], "port": ["type": "integer"]]]],
                                                "labels": ["type": "object", "maxProperties": 2,
                                                           "additionalProperties": ["type": "string", "maxLength": 3]],
                                                "note": ["type": "string", "nullable": true],
                                                "limits": ["type": "object", "default": [:],
                                                           "properties": ["cpu": ["type": "integer", "default": 2]]],
                                            ]],
                                   "status": ["type": "object", "properties": ["level": ["type": "integer", "minimum": 0]]],
                               ]]]]]],
    ]

    static func withGadgets(_ body: (KubernetesClient) async throws -> Void) async throws {
        let server = try await KubeTestServer()
        let client = try KubernetesClient(config: KubeConfig(server: server.url), logger: Logger(label: "test"))
        try await SemanticsTests.closing(client, server) {
            let _: JSONValue = try await client.create(crds, crd)
            try await body(client)
        }
    }

    static func gadget(_ spec: JSONValue, name: String = "g") -> JSONValue {
        ["apiVersion": "example.com/v1", "kind": "Gadget", "metadata": ["name": .string(name)], "spec": spec]
    }

    /// The causes of a refusal, each as `field: message`; nil when the write was accepted.
    static func refusal(_ write: () async throws -> Void) async -> [String]? {
        do {
            try await write()
            return nil
        } catch KubeClientError.invalid(let status) {
            #expect(status.code == 422)
            return (status.details?.causes ?? []).map { "\($0.field ?? ""): \($0.message ?? "")" }
        } catch {
            return ["unexpected: \(error)"]
        }
    }

    static func create(_ client: KubernetesClient, _ spec: JSONValue, name: String = "g") async -> [String]? {
        await refusal { let _: JSONValue = try await client.create(gadgets, namespace: "default", gadget(spec, name: name)) }
    }

    static let blocked = "<nil>: Invalid value: null: some validation rules were not checked because the object was invalid; correct the existing errors to complete validation"

    @Test func eachSchemaKeywordRefusesWithTheRealMessage() async throws {
        try await Self.withGadgets { client in
            let cases: [(JSONValue, [String])] = [
                (["size": 11], ["spec.size: Invalid value: 11: spec.size in body should be less than or equal to 10"]),
                (["size": 0], ["spec.size: Invalid value: 0: spec.size in body should be greater than or equal to 1"]),
                (["size": "3"], ["spec.size: Invalid value: \"string\": spec.size in body must be of type integer: \"string\"", Self.blocked]),
                (["size": 2, "ratio": 1], ["spec.ratio: Invalid value: 1: spec.ratio in body should be less than 1"]),
                (["ratio": 0.5], ["spec.size: Required value", Self.blocked]),
                (["size": 2, "name": "abcdefg"], ["spec.name: Too long: may not be more than 5 bytes", Self.blocked]),
                (["size": 2, "name": "a"], ["spec.name: Invalid value: \"a\": spec.name in body should be at least 2 chars long"]),
                (["size": 2, "name": "ab1"], ["spec.name: Invalid value: \"ab1\": spec.name in body should match '^[a-z]+$'"]),
                (["size": 2, "mode": "medium"], ["spec.mode: Unsupported value: \"medium\": supported values: \"fast\", \"slow\"", Self.blocked]),
                (["size": 2, "at": "yesterday"], ["spec.at: Invalid value: \"yesterday\": spec.at in body must be of type date-time: \"yesterday\"", Self.blocked]),
                (["size": 2, "tags": ["a", "b", "c"]], ["spec.tags: Too many: 3: must have at most 2 items", Self.blocked]),
                (["size": 2, "tags": ["a", "a"]], ["spec.tags[1]: Duplicate value: \"a\""]),
                (["size": 2, "ports": [["name": "http", "port": 80], ["name": "http", "port": 81]]],
                 ["spec.ports[1]: Duplicate value: {\"name\":\"http\"}"]),
                (["size": 2, "ports": [["port": 80]]], ["spec.ports[0].name: Required value", Self.blocked]),
                (["size": 2, "labels": ["a": "x", "b": "y", "c": "z"]], ["spec.labels: Too many: 3: must have at most 2 items", Self.blocked]),
                (["size": 2, "labels": ["a": "long"]], ["spec.labels.a: Too long: may not be more than 3 bytes", Self.blocked]),
                (["size": 2, "tags": [.null]], ["spec.tags[0]: Invalid value: \"null\": spec.tags[0] in body must be of type string: \"null\"", Self.blocked]),
            ]
            for (i, (spec, expected)) in cases.enumerated() {
                let got = await Self.create(client, spec, name: "g\(i)")
                #expect(got == expected, "\(spec)")
            }
            #expect(await Self.create(client, ["size": 2, "note": .null]) == nil, "nullable takes null")
            // A null where null is not allowed is dropped, then defaulted (the real server prunes it).
            let nulls: JSONValue = try await client.create(Self.gadgets, namespace: "default", Self.gadget(["size": 2, "mode": .null, "at": .null], name: "nulls"))
            #expect(nulls["spec"]?["mode"] == "fast" && nulls["spec"]?["at"] == nil)
        }
    }

    @Test func defaultsAreFilledInOnCreateUpdateAndRead() async throws {
        try await Self.withGadgets { client in
            let created: JSONValue = try await client.create(Self.gadgets, namespace: "default", Self.gadget(["size": 2]))
            #expect(created["spec"]?["mode"] == "fast")
            #expect(created["spec"]?["limits"]?["cpu"] == 2, "a defaulted object gets its own fields' defaults")
            var updated = created
            updated["spec"]?["limits"] = [:]
            let written: JSONValue = try await client.update(Self.gadgets, namespace: "default", name: "g", updated)
            #expect(written["spec"]?["limits"]?["cpu"] == 2)
            let read: JSONValue = try await client.get(Self.gadgets, namespace: "default", name: "g")
            #expect(read["spec"]?["mode"] == "fast")
        }
    }

    @Test func celRulesAreEvaluatedWithTheirMessagesReasonsAndTransitions() async throws {
        try await Self.withGadgets { client in
            let seven = await Self.create(client, ["size": 7])
            #expect(seven == ["spec: Invalid value: size seven is unlucky"], "messageExpression, value of an object omitted")
            #expect(await Self.create(client, ["size": 2, "note": "forbidden"]) == ["spec.note: Forbidden: note must not say forbidden"],
                    "reason and fieldPath")
            let empty = await Self.create(client, ["size": 2, "tags": [""]])
            #expect(empty == ["spec: Invalid value: failed rule: !has(self.tags) || self.tags.all(t, t.size() > 0)"], "no message: the rule itself")
            let created: JSONValue = try await client.create(Self.gadgets, namespace: "default", Self.gadget(["size": 2, "name": "ab"]))
            var renamed = created
            renamed["spec"]?["name"] = "zz"
            let got = await Self.refusal { let _: JSONValue = try await client.update(Self.gadgets, namespace: "default", name: "g", renamed) }
            #expect(got == ["spec.name: Invalid value: \"zz\": name is immutable"], "a transition rule compares with oldSelf")
            var resized = created
            resized["spec"]?["size"] = 3
            #expect(await Self.refusal { let _: JSONValue = try await client.update(Self.gadgets, namespace: "default", name: "g", resized) } == nil)
            // The status subresource is validated too.
            var status: JSONValue = try await client.get(Self.gadgets, namespace: "default", name: "g")
            status["status"] = ["level": -1]
            let refused = await Self.refusal {
                let _: JSONValue = try await client.update(Self.gadgets, namespace: "default", name: "g", status, subresource: "status")
            }
            #expect(refused == ["status.level: Invalid value: -1: level in body should be greater than or equal to 0"],
                    "a /status write is checked against the status schema, which names fields from there")
        }
    }

    /// The examples and Istio's CRDs and examples load on the stricter server.
    @Test func theExamplesLoad() async throws {
        try await SemanticsTests.withServer { client, _ in
            let _: JSONValue = try await client.create(.namespaces, ["apiVersion": "v1", "kind": "Namespace", "metadata": ["name": "payments"]])
            let templates = try ManifestParser.parse(try RepositoryFiles.text("crds/analysistemplates.sluice.dev.yaml"))
                + ManifestParser.parse(try RepositoryFiles.text("crds/clusteranalysistemplates.sluice.dev.yaml"))
            for crd in templates { let _: JSONValue = try await client.create(Self.crds, crd.json) }
            var created = 0
            for file in RepositoryFiles.yamlFiles(in: RepositoryFiles.root.appendingPathComponent("examples")) {
                for doc in try ManifestParser.parse(String(contentsOf: file, encoding: .utf8)) {
                    let type = try #require(ValidationTests.type(of: doc.json))
                    let namespace = doc.json["metadata"]?["namespace"]?.string ?? "payments"
                    if namespace != "payments", (try? await client.get(.namespaces, name: namespace) as JSONValue) == nil {
                        let _: JSONValue = try await client.create(.namespaces, ["apiVersion": "v1", "kind": "Namespace", "metadata": ["name": .string(namespace)]])
                    }
                    let _: JSONValue = try await client.create(type, namespace: namespace, doc.json)
                    created += 1
                }
            }
            #expect(created >= 20)
        }
    }

    static func type(of object: JSONValue) -> ResourceType? {
        let apiVersion = object["apiVersion"]?.string ?? ""
        let parts = apiVersion.split(separator: "/").map(String.init)
        let group = parts.count == 2 ? parts[0] : ""
        let version = parts.last ?? ""
        let plural = ["Deployment": "deployments", "Service": "services", "VirtualService": "virtualservices", "DestinationRule": "destinationrules",
                      "AnalysisTemplate": "analysistemplates", "ClusterAnalysisTemplate": "clusteranalysistemplates", "Rollout": "rollouts"][object["kind"]?.string ?? ""]
        return plural.map { ResourceType(group: group, version: version, plural: $0, namespaced: object["kind"]?.string != "ClusterAnalysisTemplate") }
    }
}
