import Foundation
import KubeClient
@testable import KubeTestServer
import Logging
import SluiceModel
import SluiceTestKit
import Testing

/// The test server refuses CustomResourceDefinitions whose CEL rules a real kube-apiserver
/// would refuse: over the per-rule or per-CRD cost budget, or not compiling.
@Suite struct CELCostTests {
    static let headersRulePath = "spec.validation.openAPIV3Schema.properties[spec].properties[strategy].properties[canary]"
        + ".properties[steps].items.properties[setHeaderRoute].properties[match].items.properties[headers]"
        + ".additionalProperties.x-kubernetes-validations[0].rule"

    static func rolloutCRD() throws -> JSONValue {
        try ManifestParser.parse(try RepositoryFiles.text("crds/rollouts.sluice.dev.yaml"))[0].json
    }

    /// The schema node at a path of property names (`[]` for items, `{}` for additionalProperties).
    static func edit(_ crd: inout JSONValue, _ path: [String], _ change: (inout JSONValue) -> Void) {
        func go(_ node: inout JSONValue, _ rest: ArraySlice<String>) {
            guard let key = rest.first else { return change(&node) }
            let child = key == "[]" ? "items" : key == "{}" ? "additionalProperties" : nil
            if let child {
                var next = node[child] ?? .null
                go(&next, rest.dropFirst())
                node[child] = next
            } else {
                var properties = node["properties"] ?? [:]
                var next = properties[key] ?? .null
                go(&next, rest.dropFirst())
                properties[key] = next
                node["properties"] = properties
            }
        }
        var versions = crd["spec"]?["versions"]?.array ?? []
        var schema = versions[0]["schema"]?["openAPIV3Schema"] ?? .null
        go(&schema, path[...])
        versions[0]["schema"]?["openAPIV3Schema"] = schema
        crd["spec"]?["versions"] = .array(versions)
    }

    static func create(_ crd: JSONValue) async throws -> KubeClientError? {
        let server = try await KubeTestServer()
        let client = try KubernetesClient(config: KubeConfig(server: server.url), logger: Logger(label: "test"))
        var failure: KubeClientError?
        do {
            let _: JSONValue = try await client.create(ResourceType(group: "apiextensions.k8s.io", version: "v1", plural: "customresourcedefinitions", namespaced: false), crd)
        } catch {
            failure = error
        }
        try await client.shutdown()
        try await server.stop()
        return failure
    }

    @Test func headerMatchRuleWithoutMaxPropertiesIsRefusedAsTheRealServerRefusesIt() async throws {
        // The header-match map as the first release shipped it, with no maxProperties: a real
        // kube-apiserver 1.36 refused the CRD with exactly this message.
        var crd = try Self.rolloutCRD()
        Self.edit(&crd, ["spec", "strategy", "canary", "steps", "[]", "setHeaderRoute", "match", "[]", "headers"]) { $0["maxProperties"] = nil }
        let error = try #require(await Self.create(crd))
        #expect(error.label == "invalid")
        #expect(error.status?.message == "CustomResourceDefinition.apiextensions.k8s.io \"rollouts.sluice.dev\" is invalid: "
            + Self.headersRulePath + ": Forbidden: estimated rule cost exceeds budget by factor of 7.1x (try simplifying the rule, "
            + "or adding maxItems, maxProperties, and maxLength where arrays, maps, and strings are declared)")
        #expect(error.status?.details?.causes?.first?.field == Self.headersRulePath)
        #expect(error.status?.details?.causes?.first?.reason == "FieldValueForbidden")
    }

    @Test func aDescribedRootMetadataIsRefusedAsTheRealServerRefusesIt() async throws {
        var crd = try Self.rolloutCRD()
        Self.edit(&crd, ["metadata"]) { $0["description"] = "commands are annotations" }
        let error = try #require(await Self.create(crd))
        #expect(error.status?.message?.hasSuffix("spec.validation.openAPIV3Schema.properties[metadata]: Forbidden: must not specify anything "
            + "other than name and generateName, but metadata is implicitly specified") == true, "\(error)")
    }

    @Test func theRepositoryCRDsAndIstiosAreAccepted() async throws {
        let documents = try ["crds/rollouts.sluice.dev.yaml", "crds/analysistemplates.sluice.dev.yaml", "crds/clusteranalysistemplates.sluice.dev.yaml"]
            .flatMap { try ManifestParser.parse(try RepositoryFiles.text($0)) }
            + ManifestParser.parse(try RepositoryFiles.fixture("istio/crds.yaml"))
        for document in documents where document.json["kind"] == "CustomResourceDefinition" {
            let error = try await Self.create(document.json)
            #expect(error == nil, "\(document.json["metadata"]?["name"]?.string ?? ""): \(error?.description ?? "")")
        }
    }

    @Test(arguments: ["rollouts.sluice.dev.yaml", "analysistemplates.sluice.dev.yaml", "clusteranalysistemplates.sluice.dev.yaml"])
    func theRepositoryCRDsStayFarInsideTheBudgets(file: String) throws {
        let crd = try ManifestParser.parse(try RepositoryFiles.text("crds/\(file)"))[0].json
        let schema = try #require(crd["spec"]?["versions"]?.array?.first?["schema"]?["openAPIV3Schema"])
        let (costs, errors) = CELRuleBudget.evaluate(schema: schema, base: "")
        #expect(errors.isEmpty)
        let total = costs.reduce(0) { $0 + $1.cost }
        let top = try #require(costs.max { $0.cost < $1.cost })
        print("\(file): \(costs.count) rules, total \(total) of \(CELRuleBudget.perCRD); most expensive \(top.cost) at \(top.path)")
        // Room to grow: the costliest rule (the header match, 68 × 64 steps × 16 matches × 16
        // headers) under a fifth of its budget, all rules together under a tenth of theirs.
        #expect(top.cost < CELRuleBudget.perRule / 5)
        #expect(total < CELRuleBudget.perCRD / 10)
    }

    /// Rule costs worked by hand from cel-go's estimator with the Kubernetes options.
    static let handWorkedCosts: [(rule: String, cost: UInt64)] = [
        // filter over a 3-element literal: list 10 + has() 1 each; accumulator [] 10; result 1;
        // 3 × step (x ? accu + [x] : accu = 1 + (1 + 1 + 11)); size() 1; == 1.
        ("[has(self.a), has(self.b), has(self.c)].filter(x, x).size() == 1", 68),
        // + is 1 + 2 + 2; == on scalars 1
        ("self.n + self.m == 100", 6),
        // strings of maxLength 10 are 40 bytes: × 0.1 = 4, plus the two selects
        ("self.a == self.b", 8),
        ("!has(self.a) || self.a != self.b", 10),
        // range 2, init 0, result 1; 7 × (condition @not_strictly_false 2 + step && 1 + (size() 2 + < 1))
        ("self.list.all(x, x.size() < 5)", 45),
    ]

    @Test(arguments: CELCostTests.handWorkedCosts)
    func ruleCostsMatchCelGo(rule: String, expected: UInt64) throws {
        let schema: JSONValue = ["type": "object", "properties": [
            "a": ["type": "string", "maxLength": 10], "b": ["type": "string", "maxLength": 10], "c": ["type": "string"],
            "n": ["type": "integer"], "m": ["type": "integer"],
            "list": ["type": "array", "maxItems": 7, "items": ["type": "string", "maxLength": 3]],
        ]]
        let decl = try #require(CELDeclType.from(schema, isResourceRoot: false))
        let expression = try CELParser.parse(rule)
        var checker = CELChecker(variables: ["self": .of(decl)])
        try checker.check(expression)
        #expect(CELCostEstimator.maxCost(of: expression, checker: checker, root: decl) == expected)
    }

    @Test func theWholeSchemaHasABudgetToo() {
        // 13 rules of 8 each, each able to run a million times: every rule is under its own
        // budget (8M of 10M), together over the CRD's (104M of 100M).
        var properties: [String: JSONValue] = [:]
        for i in 0..<13 {
            properties["list\(i)"] = ["type": "array", "maxItems": 1_000_000, "items": [
                "type": "object", "x-kubernetes-validations": [["rule": "self.a == self.b"]],
                "properties": ["a": ["type": "string", "maxLength": 10], "b": ["type": "string", "maxLength": 10]],
            ]]
        }
        let errors = CELRuleBudget.errors(schema: ["type": "object", "properties": .object(properties)], base: "spec.validation.openAPIV3Schema")
        #expect(errors.count == 5)
        #expect(errors.filter { $0.detail == "contributed to estimated rule cost total exceeding cost limit for entire OpenAPIv3 schema" }.count == 4)
        #expect(errors.last?.description == "spec.validation.openAPIV3Schema: Forbidden: x-kubernetes-validations estimated rule cost total "
            + "for entire OpenAPIv3 schema exceeds budget by factor of 1.040000x (try simplifying the rule, or adding maxItems, "
            + "maxProperties, and maxLength where arrays, maps, and strings are declared)")
    }

    @Test(arguments: [
        ("self.missing == 1", "undefined field 'missing'"),
        ("self.a.size(", "Syntax error: mismatched input '<EOF>'"),
        ("self.a", "cel expression must evaluate to a bool"),
        ("self.a.lowerAscii() == 'x'", "found no matching overload for 'lowerAscii'"),
    ])
    func aRuleTheServerCannotCompileRefusesTheCRDAndNamesTheRule(rule: String, says: String) {
        let schema: JSONValue = ["type": "object", "properties": ["a": ["type": "string", "maxLength": 10]],
                                 "x-kubernetes-validations": [["rule": .string(rule)]]]
        let errors = CELRuleBudget.errors(schema: schema, base: "spec.validation.openAPIV3Schema")
        #expect(errors.count == 1)
        #expect(errors.first?.field == "spec.validation.openAPIV3Schema.x-kubernetes-validations[0].rule")
        #expect(errors.first?.description.contains(says) == true, "\(errors)")
    }
}
