import Foundation
import SluiceModel

/// What kube-apiserver checks of a CustomResourceDefinition's `x-kubernetes-validations` when
/// the CRD is written: each rule must compile against its schema node, and its estimated cost
/// — the rule's own worst case times the most times it can run, from the `maxItems` and
/// `maxProperties` above it — must stay within the per-rule and per-CRD budgets
/// (k8s.io/apiextensions-apiserver `validation.go`, `cel_validation.go`).
enum CELRuleBudget {
    /// `StaticEstimatedCostLimit`: one rule, times its cardinality.
    static let perRule: UInt64 = 10_000_000
    /// `StaticEstimatedCRDCostLimit`: every rule of one schema together.
    static let perCRD: UInt64 = 100_000_000

    struct RuleCost: Sendable {
        var path: String
        var cost: UInt64
    }

    /// The field errors for one `openAPIV3Schema`, whose path is `base`.
    static func errors(schema: JSONValue, base: String) -> [FieldError] {
        evaluate(schema: schema, base: base).errors
    }

    /// Each rule's estimated cost (its own times its cardinality), and the field errors.
    static func evaluate(schema: JSONValue, base: String) -> (costs: [RuleCost], errors: [FieldError]) {
        var walk = Walk()
        walk.visit(schema, path: base, cardinality: 1, isRoot: true)
        var errors = walk.errors
        if walk.total > perCRD {
            for expensive in walk.costs.filter({ $0.cost >= perCRD / 100 }).sorted(by: { $0.cost > $1.cost }).prefix(4) {
                errors.append(FieldError(.forbidden, expensive.path,
                                         "contributed to estimated rule cost total exceeding cost limit for entire OpenAPIv3 schema"))
            }
            errors.append(FieldError(.forbidden, base,
                                     message("x-kubernetes-validations estimated rule cost total for entire OpenAPIv3 schema", walk.total, perCRD)))
        }
        return (walk.costs, errors)
    }

    /// The real server's wording, factor and all.
    static func message(_ name: String, _ cost: UInt64, _ limit: UInt64) -> String {
        let factor = Double(cost) / Double(limit)
        let text: String
        if factor > 100 { text = "more than 100x" } else if factor < 1.5 { text = String(format: "%fx", factor) } else { text = String(format: "%.1fx", factor) }
        return "\(name) exceeds budget by factor of \(text) (try simplifying the rule, or adding maxItems, maxProperties, and maxLength where arrays, maps, and strings are declared)"
    }

    private struct Walk {
        var errors: [FieldError] = []
        var costs: [RuleCost] = []
        var total: UInt64 = 0

        /// `cardinality`: how many times this node can occur, nil when an array or map above it is unbounded.
        mutating func visit(_ schema: JSONValue, path: String, cardinality: UInt64?, isRoot: Bool) {
            if let rules = schema["x-kubernetes-validations"]?.array, !rules.isEmpty {
                check(rules, schema: schema, path: path, cardinality: cardinality, isRoot: isRoot)
            }
            let childCardinality: UInt64? = cardinality.flatMap { c in Self.maxElements(schema).map { c.multipliedSaturated($0) } }
            for (name, property) in (schema["properties"]?.object ?? [:]).sorted(by: { $0.key < $1.key }) {
                visit(property, path: "\(path).properties[\(name)]", cardinality: childCardinality, isRoot: property.embeddedResource)
            }
            if let items = schema["items"], items.object != nil {
                visit(items, path: "\(path).items", cardinality: childCardinality, isRoot: items.embeddedResource)
            }
            if let values = schema["additionalProperties"], values.object != nil {
                visit(values, path: "\(path).additionalProperties", cardinality: childCardinality, isRoot: values.embeddedResource)
            }
        }

        /// How many children one value of this schema can have: nil for an unbounded list or map.
        static func maxElements(_ schema: JSONValue) -> UInt64? {
            switch schema["type"]?.string {
            case "array": return schema["maxItems"]?.int.map { UInt64(max(0, $0)) }
            case "object" where schema["additionalProperties"]?.object != nil:
                return schema["maxProperties"]?.int.map { UInt64(max(0, $0)) }
            default: return 1
            }
        }

        mutating func check(_ rules: [JSONValue], schema: JSONValue, path: String, cardinality: UInt64?, isRoot: Bool) {
            guard let decl = CELDeclType.from(schema, isResourceRoot: isRoot) else {
                errors.append(FieldError(.invalid, "\(path).x-kubernetes-validations", "rules are not supported on a schema without a type CEL can see"))
                return
            }
            // Unbounded above: the most values of this size that fit in one request.
            let times = cardinality ?? UInt64(CELDeclType.maxRequestSizeBytes / (decl.minSerializedSize + 1))
            for (i, rule) in rules.enumerated() {
                let rulePath = "\(path).x-kubernetes-validations[\(i)]"
                guard let text = rule["rule"]?.string, !text.trimmingCharacters(in: .whitespaces).isEmpty else {
                    errors.append(FieldError(.required, "\(rulePath).rule", "rule is not specified"))
                    continue
                }
                observe(compile(text, decl, expecting: .bool, path: "\(rulePath).rule", what: "rule"), times: times)
                if let expression = rule["messageExpression"]?.string {
                    // The real server prices a messageExpression once: it runs only for a value that failed.
                    observe(compile(expression, decl, expecting: .string, path: "\(rulePath).messageExpression", what: "messageExpression"),
                            times: 1)
                }
            }
        }

        private mutating func observe(_ compiled: (cost: UInt64, path: String)?, times: UInt64) {
            guard let compiled else { return }
            let cost = compiled.cost == 0 ? 0 : compiled.cost.multipliedSaturated(times)
            if cost > CELRuleBudget.perRule {
                let name = compiled.path.hasSuffix("messageExpression") ? "estimated messageExpression cost" : "estimated rule cost"
                errors.append(FieldError(.forbidden, compiled.path, CELRuleBudget.message(name, cost, CELRuleBudget.perRule)))
            }
            total = total.addingSaturated(cost)
            costs.append(RuleCost(path: compiled.path, cost: cost))
        }

        /// The rule's own worst-case cost, or nil after recording why it does not compile.
        private mutating func compile(_ text: String, _ decl: CELDeclType, expecting: CELType, path: String, what: String) -> (cost: UInt64, path: String)? {
            do {
                let expression = try CELParser.parse(text)
                let variables: [String: CELType] = ["self": .of(decl), "oldSelf": .of(decl)]
                var checker = CELChecker(variables: variables)
                let type = try checker.check(expression)
                guard type == expecting || type == .dyn else {
                    errors.append(FieldError(.invalid, path, text, what == "rule" ? "cel expression must evaluate to a bool"
                                                                                   : "messageExpression must evaluate to a string"))
                    return nil
                }
                return (CELCostEstimator.maxCost(of: expression, checker: checker, root: decl), path)
            } catch let error as CELSyntaxError {
                errors.append(FieldError(.invalid, path, text, "compilation failed: ERROR: <input>:1:\(error.offset + 1): Syntax error: \(error.message)"))
            } catch let error as CELTypeError {
                errors.append(FieldError(.invalid, path, text, "compilation failed: ERROR: <input>: \(error.message)"))
            } catch {
                errors.append(FieldError(.invalid, path, text, "compilation failed: \(error)"))
            }
            return nil
        }
    }
}
