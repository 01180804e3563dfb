import SluiceModel
import SluiceTestKit
import Testing

/// The guard against pruning: a real API server silently drops every field its CRD schema does
/// not declare, so the model and the schema must have exactly the same fields.
@Suite struct CRDSchemaTests {
    static func crd(_ file: String) throws -> JSONValue {
        let docs = try ManifestParser.parse(try RepositoryFiles.text("crds/\(file)"))
        try #require(docs.count == 1)
        return docs[0].json
    }

    static func schema(_ crd: JSONValue) -> JSONValue? {
        crd["spec"]?["versions"]?.array?.first?["schema"]?["openAPIV3Schema"]
    }

    @Test func rolloutModelAndSchemaDeclareTheSameFields() throws {
        let schema = try #require(CRDSchemaTests.schema(try CRDSchemaTests.crd("rollouts.sluice.dev.yaml")))
        var rollout = Rollout(metadata: ObjectMeta(name: "checkout"), spec: EveryFieldSet.rolloutSpec)
        rollout.status = EveryFieldSet.rolloutStatus
        let json = try JSONValue(encoding: rollout)
        let spec = try #require(schema["properties"]?["spec"])
        let status = try #require(schema["properties"]?["status"])
        #expect(SchemaComparison.differences(json["spec"]!, spec, path: "spec") == [])
        #expect(SchemaComparison.differences(json["status"]!, status, path: "status") == [])
    }

    @Test(arguments: ["analysistemplates.sluice.dev.yaml", "clusteranalysistemplates.sluice.dev.yaml"])
    func templateModelAndSchemaDeclareTheSameFields(file: String) throws {
        let schema = try #require(CRDSchemaTests.schema(try CRDSchemaTests.crd(file)))
        let json = try JSONValue(encoding: EveryFieldSet.analysisTemplate)
        #expect(SchemaComparison.differences(json["spec"]!, schema["properties"]!["spec"]!, path: "spec") == [])
    }

    @Test func comparisonCatchesAFieldTheSchemaLacks() {
        let schema: JSONValue = ["type": "object", "properties": ["a": ["type": "string"], "c": ["type": "integer"]]]
        let value: JSONValue = ["a": "x", "b": "y"]
        #expect(SchemaComparison.differences(value, schema, path: "status") == [
            "status.b: in the model but not in the CRD schema; the API server would prune it",
            "status.c: in the CRD schema but not in the model",
        ])
        #expect(SchemaComparison.differences(["a": 1], schema, path: "s") == [
            "s.a: the model writes a number where the schema says string",
            "s.c: in the CRD schema but not in the model",
        ])
    }

    @Test func enumsMatchTheModel() throws {
        let schema = try #require(CRDSchemaTests.schema(try CRDSchemaTests.crd("rollouts.sluice.dev.yaml")))
        func enumValues(_ path: [String]) -> Set<String> {
            var node: JSONValue? = schema
            for key in path { node = key == "[]" ? node?["items"] : node?["properties"]?[key] }
            return Set(node?["enum"]?.array?.compactMap(\.string) ?? [])
        }
        #expect(enumValues(["status", "phase"]) == Set(RolloutPhase.allCases.map(\.rawValue)))
        #expect(enumValues(["status", "pending", "actions", "[]", "type"]) == Set(ActionType.allCases.map(\.rawValue)))
        #expect(enumValues(["status", "history", "[]", "outcome"]) == Set(ReleaseOutcome.allCases.map(\.rawValue)))
        #expect(enumValues(["status", "analysis", "[]", "phase"]) == Set(AnalysisPhase.allCases.map(\.rawValue)))
        #expect(enumValues(["status", "history", "[]", "timeline", "[]", "type"]) == Set(TimelineEntryType.allCases.map(\.rawValue)))
        #expect(enumValues(["status", "currentRelease", "timeline", "[]", "measurement", "verdict"])
            == Set(MeasurementVerdict.allCases.map(\.rawValue)))
        #expect(enumValues(["status", "analysis", "[]", "metrics", "[]", "definition", "noData"])
            == Set(NoDataPolicy.allCases.map(\.rawValue)))
    }

    @Test func rolloutCRDIsInstallable() throws {
        let crd = try CRDSchemaTests.crd("rollouts.sluice.dev.yaml")
        #expect(crd["apiVersion"] == "apiextensions.k8s.io/v1")
        #expect(crd["metadata"]?["name"] == "rollouts.sluice.dev")
        #expect(crd["spec"]?["group"] == "sluice.dev")
        #expect(crd["spec"]?["scope"] == "Namespaced")
        #expect(crd["spec"]?["names"]?["shortNames"] == ["sro"])
        #expect(crd["spec"]?["names"]?["categories"] == ["sluice"])
        let version = try #require(crd["spec"]?["versions"]?.array?.first)
        #expect(version["name"] == "v1alpha1")
        #expect(version["subresources"]?["status"] == .object([:]))
        let columns = version["additionalPrinterColumns"]?.array?.compactMap { $0["name"]?.string } ?? []
        for name in ["Phase", "Weight", "Step", "Revision", "Age"] { #expect(columns.contains(name)) }
        let rules = SchemaComparison.celRules(in: CRDSchemaTests.schema(crd)!)
        #expect(rules.contains { $0.contains("has(self.destinationRule)") }, "exactly one of host and subset mode")
        #expect(rules.contains { $0.contains("self.stable + self.canary == 100") }, "weights sum to 100")
    }

    @Test(arguments: ["rollouts.sluice.dev.yaml", "analysistemplates.sluice.dev.yaml", "clusteranalysistemplates.sluice.dev.yaml"])
    func schemasAreStructural(file: String) throws {
        let crd = try CRDSchemaTests.crd(file)
        #expect(SchemaComparison.structuralViolations(CRDSchemaTests.schema(crd)!, path: "") == [])
        #expect(crd["spec"]?["names"]?["categories"] == ["sluice"])
    }

    @Test(arguments: ["rollouts.sluice.dev.yaml", "analysistemplates.sluice.dev.yaml", "clusteranalysistemplates.sluice.dev.yaml"])
    func everyArrayMapAndRuleReadStringIsBounded(file: String) throws {
        #expect(SchemaComparison.unbounded(try #require(CRDSchemaTests.schema(try CRDSchemaTests.crd(file)))) == [])
    }

    @Test func theBoundsCheckFindsTheHeaderMapTheRealServerRefused() {
        // The header match as first shipped: a map of match objects with a rule and no bounds.
        let headers: JSONValue = ["type": "object", "additionalProperties": [
            "type": "object", "properties": ["exact": ["type": "string"], "regex": ["type": "string", "maxLength": 1024]],
            "x-kubernetes-validations": [["rule": "[has(self.exact), has(self.regex)].filter(x, x).size() == 1"]],
        ]]
        let schema: JSONValue = ["type": "object", "properties": ["match": ["type": "array", "items": ["type": "object", "properties": ["headers": headers]]]]]
        #expect(SchemaComparison.unbounded(schema) == [
            ".match: array without maxItems", ".match[].headers: map without maxProperties",
            ".match[].headers{}.exact: string under a CEL rule without maxLength",
        ])
    }

    @Test(arguments: ["rollouts.sluice.dev.yaml", "analysistemplates.sluice.dev.yaml", "clusteranalysistemplates.sluice.dev.yaml"])
    func everyFieldIsDescribedForKubectlExplain(file: String) throws {
        let schema = try #require(CRDSchemaTests.schema(try CRDSchemaTests.crd(file)))
        // The root `metadata` is the one node that must stay bare: a real API server refuses a CRD
        // that says anything of it but `type: object`.
        #expect(schema["properties"]?["metadata"] == ["type": "object"])
        let undescribed = SchemaComparison.nodes(schema).filter { ($0.node["description"]?.string ?? "").isEmpty && $0.path != ".metadata" }
            .map(\.path)
        #expect(undescribed == [])
    }

    @Test func clusterTemplatesAreClusterScoped() throws {
        #expect(try CRDSchemaTests.crd("clusteranalysistemplates.sluice.dev.yaml")["spec"]?["scope"] == "Cluster")
        #expect(try CRDSchemaTests.crd("analysistemplates.sluice.dev.yaml")["spec"]?["scope"] == "Namespaced")
    }
}

/// Compares an encoded value with an OpenAPI v3 schema, both ways.
enum SchemaComparison {
    static func differences(_ value: JSONValue, _ schema: JSONValue, path: String) -> [String] {
        let type = schema["type"]?.string
        switch (type, value) {
        case ("object", .object(let object)):
            if let properties = schema["properties"]?.object {
                var out: [String] = []
                for key in Set(object.keys).union(properties.keys).sorted() {
                    switch (object[key], properties[key]) {
                    case (.some(let v), .some(let s)): out += differences(v, s, path: "\(path).\(key)")
                    case (.some, nil): out.append("\(path).\(key): in the model but not in the CRD schema; the API server would prune it")
                    case (nil, .some): out.append("\(path).\(key): in the CRD schema but not in the model")
                    case (nil, nil): break
                    }
                }
                return out
            }
            if let values = schema["additionalProperties"] {
                return object.keys.sorted().flatMap { differences(object[$0]!, values, path: "\(path)[\($0)]") }
            }
            if schema["x-kubernetes-preserve-unknown-fields"] == .bool(true) { return [] }
            return object.isEmpty ? [] : ["\(path): the schema declares no fields; the API server would prune \(object.keys.sorted())"]
        case ("array", .array(let items)):
            guard let itemSchema = schema["items"] else { return ["\(path): array schema without items"] }
            return items.enumerated().flatMap { differences($0.element, itemSchema, path: "\(path)[\($0.offset)]") }
        case ("string", .string(let s)):
            if let allowed = schema["enum"]?.array, !allowed.contains(.string(s)) {
                return ["\(path): '\(s)' is not in the schema's enum"]
            }
            if schema["format"] == "date-time", KubeTime(rfc3339: s) == nil { return ["\(path): '\(s)' is not a date-time"] }
            return []
        case ("integer", .number(let n)) where n.rounded() == n: return []
        case ("number", .number): return []
        case ("boolean", .bool): return []
        default:
            return ["\(path): the model writes \(kind(of: value)) where the schema says \(type ?? "no type")"]
        }
    }

    static func kind(of value: JSONValue) -> String {
        switch value {
        case .null: "null"
        case .bool: "a boolean"
        case .number: "a number"
        case .string: "a string"
        case .array: "an array"
        case .object: "an object"
        }
    }

    /// Every node of a schema with its path (`[]` for items, `{}` for map values), and whether a
    /// CEL rule at it or above it can read it.
    static func nodes(_ schema: JSONValue, path: String = "", underRule: Bool = false) -> [(path: String, node: JSONValue, underRule: Bool)] {
        let underRule = underRule || !(schema["x-kubernetes-validations"]?.array ?? []).isEmpty
        var out = [(path, schema, underRule)]
        for (key, child) in (schema["properties"]?.object ?? [:]).sorted(by: { $0.key < $1.key }) {
            out += nodes(child, path: "\(path).\(key)", underRule: underRule)
        }
        if let items = schema["items"] { out += nodes(items, path: "\(path)[]", underRule: underRule) }
        if let values = schema["additionalProperties"], values.object != nil { out += nodes(values, path: "\(path){}", underRule: underRule) }
        return out
    }

    /// A structural schema gives every node a type, and never both properties and additionalProperties.
    static func structuralViolations(_ schema: JSONValue, path: String) -> [String] {
        nodes(schema, path: path).flatMap { path, node, _ in
            var out: [String] = []
            if node["type"]?.string == nil, node["x-kubernetes-int-or-string"] == nil, node["x-kubernetes-preserve-unknown-fields"] == nil {
                out.append("\(path): no type")
            }
            if node["properties"] != nil, node["additionalProperties"] != nil { out.append("\(path): both properties and additionalProperties") }
            return out
        }
    }

    /// What a real API server cannot bound when it prices CEL rules: arrays without `maxItems`
    /// and maps without `maxProperties` anywhere, strings without `maxLength` (or `enum`) under a rule.
    static func unbounded(_ schema: JSONValue) -> [String] {
        nodes(schema).compactMap { path, node, underRule in
            switch node["type"]?.string {
            case "array" where node["maxItems"] == nil: "\(path): array without maxItems"
            case "object" where node["additionalProperties"]?.object != nil && node["maxProperties"] == nil: "\(path): map without maxProperties"
            case "string" where underRule && node["maxLength"] == nil && node["enum"] == nil: "\(path): string under a CEL rule without maxLength"
            default: nil
            }
        }
    }

    static func celRules(in schema: JSONValue) -> [String] {
        nodes(schema).flatMap { _, node, _ in (node["x-kubernetes-validations"]?.array ?? []).compactMap { $0["rule"]?.string } }
    }
}
