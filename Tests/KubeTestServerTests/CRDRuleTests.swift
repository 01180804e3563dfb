import Foundation
import KubeClient
import KubeTestServer
import Logging
import SluiceModel
import SluiceTestKit
import Testing

/// Every `x-kubernetes-validations` rule in crds/, proven on the test server to refuse an object
/// that breaks it: the test walks the CRDs for their rules, and each rule must have a way to
/// break it below (a rule added without one fails the test).
@Suite struct CRDRuleTests {
    struct Location: Hashable, CustomStringConvertible {
        var file: String
        /// Where the rule's node is in an object: `spec.metrics[0]`, `...headers[*]` for a map's values.
        var path: String
        var rule: String
        var message: String
        var description: String { "\(file) \(path): \(rule)" }
    }

    /// Every rule of every CRD in crds/, where it sits.
    static func locations() throws -> [Location] {
        var out: [Location] = []
        for file in ["rollouts.sluice.dev.yaml", "analysistemplates.sluice.dev.yaml", "clusteranalysistemplates.sluice.dev.yaml"] {
            let crd = try ManifestParser.parse(try RepositoryFiles.text("crds/\(file)"))[0].json
            func walk(_ s: JSONValue, _ path: String) {
                for rule in s["x-kubernetes-validations"]?.array ?? [] {
                    out.append(Location(file: file, path: path, rule: rule["rule"]?.string ?? "", message: rule["message"]?.string ?? ""))
                }
                for (key, sub) in s["properties"]?.object ?? [:] { walk(sub, path.isEmpty ? key : "\(path).\(key)") }
                if let items = s["items"] { walk(items, "\(path)[0]") }
                if let values = s["additionalProperties"], values.object != nil { walk(values, "\(path)[*]") }
            }
            walk(crd["spec"]!["versions"]!.array![0]["schema"]!["openAPIV3Schema"]!, "")
        }
        return out
    }

    /// How to break each rule, given the valid node it guards.
    static func breaking(_ rule: String) -> ((inout JSONValue) -> Void)? {
        let every = try! JSONValue(encoding: EveryFieldSet.metric)
        let breakers: [(String, (inout JSONValue) -> Void)] = [
            ("has(self.successCondition) || has(self.failureCondition)", { node in
                node["successCondition"] = nil
                node["failureCondition"] = nil
                node["thresholdRange"] = nil
            }),
            ("!(has(self.successCondition) && has(self.thresholdRange))", { node in
                node["successCondition"] = "result > 0.9"
                node["thresholdRange"] = ["min": 0.9]
            }),
            ("!(has(self.bearerToken) && has(self.basicAuth))", { node in
                node["bearerToken"] = every["provider"]!["prometheus"]!["bearerToken"]
                node["basicAuth"] = every["provider"]!["prometheus"]!["basicAuth"]
            }),
            ("has(self.value) != has(self.valueFrom)", { node in
                node["value"] = nil
                node["valueFrom"] = nil
            }),
            ("(has(self.stableService) && has(self.canaryService)) != has(self.destinationRule)", { node in
                node["destinationRule"] = ["name": "checkout", "stableSubsetName": "stable", "canarySubsetName": "canary"]
            }),
            ("has(self.stableService) == has(self.canaryService)", { node in node["canaryService"] = nil }),
            ("!has(self.stableService) || self.stableService != self.canaryService", { node in node["canaryService"] = node["stableService"] }),
            ("[has(self.proportional) && self.proportional, has(self.count), has(self.percent)]", { node in
                node = ["count": 2, "percent": 50]
            }),
            ("has(self.canary) != has(self.blueGreen)", { node in node["blueGreen"] = [:] }),
            ("has(self.steps) != (has(self.stepWeight)", { node in node["stepWeight"] = 10 }),
            ("[has(self.setWeight), has(self.pause), has(self.analysis)", { node in node["pause"] = [:] }),
            ("[has(self.exact), has(self.prefix), has(self.regex)]", { node in node["prefix"] = "x" }),
            ("self.stable + self.canary == 100", { node in node = ["stable": 50, "canary": 40] }),
        ]
        return breakers.first { rule.hasPrefix($0.0) }?.1
    }

    /// Applies `f` to the value at `path` (every element for `[0]` steps' first item, the first
    /// value of a map for `[*]`).
    static func modify(_ value: inout JSONValue, _ steps: ArraySlice<String>, _ f: (inout JSONValue) -> Void) -> Bool {
        guard let step = steps.first else {
            f(&value)
            return true
        }
        let rest = steps.dropFirst()
        if step == "[0]" {
            guard case .array(var items) = value, !items.isEmpty else { return false }
            let done = modify(&items[0], rest, f)
            value = .array(items)
            return done
        }
        if step == "[*]" {
            guard case .object(var fields) = value, let key = fields.keys.sorted().first else { return false }
            let done = modify(&fields[key]!, rest, f)
            value = .object(fields)
            return done
        }
        guard case .object(var fields) = value, var child = fields[step] else { return false }
        let done = modify(&child, rest, f)
        fields[step] = child
        value = .object(fields)
        return done
    }

    static func steps(_ path: String) -> [String] {
        path.replacingOccurrences(of: "[0]", with: ".[0]").replacingOccurrences(of: "[*]", with: ".[*]")
            .split(separator: ".").map(String.init)
    }

    /// Valid objects in which every rule's node is present.
    static var rollout: JSONValue {
        // The header route first: the rules of steps[0] and of its match are both reached.
        var spec = try! JSONValue(encoding: Rollout.fixture().steps([
            CanaryStep(setHeaderRoute: HeaderRouteStep(name: "insiders", match: [HeaderRouteMatch(headers: ["x-canary": StringMatch(exact: "1")])])),
            CanaryStep(setWeight: 20),
        ]).spec)
        spec["canaryReplicas"] = ["proportional": true]
        return ["apiVersion": "sluice.dev/v1alpha1", "kind": "Rollout", "metadata": ["name": "checkout"], "spec": spec]
    }

    static var status: JSONValue {
        var status = try! JSONValue(encoding: EveryFieldSet.rolloutStatus)
        _ = modify(&status, steps("analysis[0].metrics[0].definition.provider.prometheus")[...]) { $0["basicAuth"] = nil }
        _ = modify(&status, steps("analysis[0].metrics[0].definition.provider.prometheus.headers[0]")[...]) { $0["valueFrom"] = nil }
        _ = modify(&status, steps("analysis[0].metrics[0].definition")[...]) { $0["thresholdRange"] = nil }
        return status
    }

    static var template: JSONValue {
        var spec = try! JSONValue(encoding: EveryFieldSet.analysisTemplate.spec)
        _ = modify(&spec, steps("metrics[0].provider.prometheus")[...]) { $0["basicAuth"] = nil }
        _ = modify(&spec, steps("metrics[0].provider.prometheus.headers[0]")[...]) { $0["valueFrom"] = nil }
        _ = modify(&spec, steps("metrics[0]")[...]) { $0["thresholdRange"] = nil }
        _ = modify(&spec, steps("args[0]")[...]) { $0["valueFrom"] = nil }
        return ["metadata": ["name": "success-rate"], "spec": spec]
    }

    @Test func everyRuleInTheCRDsRefusesAnObjectThatBreaksIt() async throws {
        let locations = try Self.locations()
        #expect(locations.count >= 23)
        for location in locations { #expect(Self.breaking(location.rule) != nil, "no way to break \(location)") }
        try await SemanticsTests.withServer { client, _ in
            for file in ["analysistemplates.sluice.dev.yaml", "clusteranalysistemplates.sluice.dev.yaml"] {
                let _: JSONValue = try await client.create(ValidationTests.crds, try ManifestParser.parse(try RepositoryFiles.text("crds/\(file)"))[0].json)
            }
            let rollouts = ResourceType(group: "sluice.dev", version: "v1alpha1", plural: "rollouts", namespaced: true)
            let templates = ResourceType(group: "sluice.dev", version: "v1alpha1", plural: "analysistemplates", namespaced: true)
            let clusterTemplates = ResourceType(group: "sluice.dev", version: "v1alpha1", plural: "clusteranalysistemplates", namespaced: false)
            // The valid objects are accepted as they are.
            let created: JSONValue = try await client.create(rollouts, namespace: "shop", Self.rollout)
            var withStatus = created
            withStatus["status"] = Self.status
            let _: JSONValue = try await client.update(rollouts, namespace: "shop", name: "checkout", withStatus, subresource: "status")
            var template = Self.template
            template["apiVersion"] = "sluice.dev/v1alpha1"
            template["kind"] = "AnalysisTemplate"
            let _: JSONValue = try await client.create(templates, namespace: "shop", template)
            var proven = 0
            for (n, location) in locations.enumerated() {
                guard let breaker = Self.breaking(location.rule) else { continue }
                let refusal: [String]?
                switch location.file {
                case "rollouts.sluice.dev.yaml" where location.path.hasPrefix("status"):
                    var object: JSONValue = try await client.get(rollouts, namespace: "shop", name: "checkout")
                    object["status"] = Self.status
                    #expect(Self.modify(&object, Self.steps(location.path)[...], breaker), "\(location)")
                    refusal = await ValidationTests.refusal {
                        let _: JSONValue = try await client.update(rollouts, namespace: "shop", name: "checkout", object, subresource: "status")
                    }
                case "rollouts.sluice.dev.yaml":
                    var object = Self.rollout
                    object["metadata"] = ["name": .string("r\(n)")]
                    #expect(Self.modify(&object, Self.steps(location.path)[...], breaker), "\(location)")
                    refusal = await ValidationTests.refusal { let _: JSONValue = try await client.create(rollouts, namespace: "shop", object) }
                default:
                    var object = Self.template
                    let cluster = location.file.hasPrefix("cluster")
                    object["apiVersion"] = "sluice.dev/v1alpha1"
                    object["kind"] = .string(cluster ? "ClusterAnalysisTemplate" : "AnalysisTemplate")
                    object["metadata"] = ["name": .string("t\(n)")]
                    #expect(Self.modify(&object, Self.steps(location.path)[...], breaker), "\(location)")
                    refusal = await ValidationTests.refusal {
                        let _: JSONValue = try await client.create(cluster ? clusterTemplates : templates, namespace: cluster ? nil : "shop", object)
                    }
                }
                // A map's values are named `[key]` by the CEL validator.
                let wanted = location.path.replacingOccurrences(of: ".[*]", with: "[x-canary]").replacingOccurrences(of: "[*]", with: "[x-canary]")
                #expect(refusal?.contains { $0.hasPrefix(wanted + ":") && $0.hasSuffix(location.message) } == true,
                        "\(location): \(refusal ?? ["accepted"])")
                if refusal != nil { proven += 1 }
            }
            #expect(proven == locations.count)
        }
    }
}
