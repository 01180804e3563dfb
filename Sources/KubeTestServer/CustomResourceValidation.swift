import SluiceModel

/// A custom resource checked as kube-apiserver checks one on create, update, patch and
/// `/status`: its schema first; then, unless that found an error that blocks them, every
/// `x-kubernetes-validations` rule evaluated with `self` (and, for transition rules, `oldSelf`
/// where an old value corresponds). On update, errors on values that did not change are not
/// reported (validation ratcheting).
enum CustomResourceValidation {
    static func errors(_ object: JSONValue, old: JSONValue?, schema: JSONValue, statusOnly: Bool = false) -> [FieldError] {
        var errors: [FieldError]
        if statusOnly {
            // A /status write is checked against the status schema, which names fields from there.
            errors = []
            if let status = object["status"], let statusSchema = schema["properties"]?["status"] {
                SchemaValidation.validate(status, statusSchema, path: "status", into: &errors)
            }
            errors = errors.map { e in
                var e = e
                e.detail = e.detail.replacingOccurrences(of: "status.", with: "", options: .anchored)
                return e
            }
        } else {
            errors = SchemaValidation.errors(object, schema: schema)
        }
        if let old { errors = errors.filter { !unchanged($0.field, old, object) } }
        let blocking: Set<FieldError.Kind> = [.notSupported, .required, .tooLong, .tooMany, .typeInvalid]
        if errors.contains(where: { blocking.contains($0.kind) }) {
            return errors + [FieldError(.invalid, "<nil>", value: .null,
                                        "some validation rules were not checked because the object was invalid; correct the existing errors to complete validation")]
        }
        var rules = RuleRun()
        rules.visit(object, old, schema, path: nil)
        // Ratcheting by the node the rule sits on; a rule that failed to run is never ratcheted.
        if let old { rules.errors = rules.errors.filter { $0.transition || $0.runtime || !unchanged($0.node, old, object) } }
        return errors + rules.errors.map(\.error)
    }

    /// The value at a field path (`spec.steps[2].setWeight`) is the same in both objects. Through
    /// a list, items correspond only when the whole list is unchanged (the real server correlates
    /// items of atomic lists no other way).
    static func unchanged(_ path: String, _ old: JSONValue, _ new: JSONValue) -> Bool {
        guard path != "<nil>" else { return false }
        var a: JSONValue? = old
        var b: JSONValue? = new
        for step in FieldPathSteps.parse(path) {
            switch step {
            case .key(let k):
                a = a?[k]
                b = b?[k]
            case .index(let i):
                guard a == b else { return false }
                a = a?.array.flatMap { i < $0.count ? $0[i] : nil }
                b = b?.array.flatMap { i < $0.count ? $0[i] : nil }
            }
        }
        return a == b && a != nil
    }

    struct RuleError {
        var error: FieldError
        var transition: Bool
        /// The path of the node the rule sits on (ratcheting judges it, not the error's field).
        var node: String = "<nil>"
        /// The rule failed to run (an error, not false).
        var runtime = false
    }

    /// Walks an object with its schema and evaluates the rules on each node.
    struct RuleRun {
        var errors: [RuleError] = []
        /// Each rule and message expression parsed once per validation, not once per value it checks.
        var parsed: [String: CELExpression?] = [:]

        mutating func parse(_ text: String) -> CELExpression? {
            if let known = parsed[text] { return known }
            let expression = try? CELParser.parse(text)
            parsed[text] = expression
            return expression
        }

        mutating func visit(_ value: JSONValue, _ old: JSONValue?, _ schema: JSONValue, path: String?) {
            if let rules = schema["x-kubernetes-validations"]?.array, value != .null {
                for rule in rules { check(rule, value, old, schema, path: path) }
            }
            switch value {
            case .object(let fields):
                let properties = schema["properties"]?.object
                let additional = schema["additionalProperties"].flatMap { $0.object != nil ? $0 : nil }
                for (key, field) in fields.sorted(by: { $0.key < $1.key }) {
                    if path == nil, key == "metadata" { continue }
                    // A map's values are named by key in brackets, as the CEL validator names them.
                    if let sub = properties?[key] {
                        visit(field, old?[key], sub, path: path.map { "\($0).\(key)" } ?? key)
                    } else if let additional {
                        visit(field, old?[key], additional, path: "\(path ?? "")[\(key)]")
                    }
                }
            case .array(let items):
                guard let itemSchema = schema["items"] else { return }
                let keys = schema["x-kubernetes-list-type"]?.string == "map" ? schema["x-kubernetes-list-map-keys"]?.array?.compactMap(\.string) : nil
                for (i, item) in items.enumerated() {
                    // Only items of a map list correlate with old ones (by their keys).
                    let before = keys.flatMap { keys in old?.array?.first { o in keys.allSatisfy { o[$0] == item[$0] } } }
                    visit(item, before, itemSchema, path: "\(path ?? "")[\(i)]")
                }
            default:
                break
            }
        }

        mutating func check(_ rule: JSONValue, _ value: JSONValue, _ old: JSONValue?, _ schema: JSONValue, path: String?) {
            guard let text = rule["rule"]?.string, let expression = parse(text) else { return }
            let transition = CustomResourceValidation.uses("oldSelf", expression)
            if transition, old == nil { return }
            var variables: [String: CELValue] = ["self": CELValue.from(value, schema: schema)]
            if let old { variables["oldSelf"] = CELValue.from(old, schema: schema) }
            let evaluator = CELEvaluator(variables: variables)
            let field = (path ?? "<nil>") + (rule["fieldPath"]?.string ?? "")
            let type = schema["type"]?.string ?? "object"
            let message = (rule["message"]?.string).map { $0.trimmingCharacters(in: .whitespaces) }.flatMap { $0.isEmpty ? nil : $0 }
            // What the real server calls the rule in its messages: its message, else its text.
            let label = message ?? text.trimmingCharacters(in: .whitespaces)
            do {
                guard case .bool(let ok) = try evaluator.evaluate(expression) else {
                    errors.append(RuleError(error: FieldError(.invalid, path ?? "<nil>", value: .string(type),
                                                              "rule did not evaluate to a bool: \(label)"), transition: transition,
                                            node: path ?? "<nil>", runtime: true))
                    return
                }
                if ok { return }
            } catch {
                let detail = error.message.hasPrefix("no such overload")
                    ? "'\(error.message)': call arguments did not match a supported operator, function or macro signature for rule: \(label)"
                    : "\(error.message) evaluating rule: \(label)"
                errors.append(RuleError(error: FieldError(.invalid, path ?? "<nil>", value: .string(type), detail), transition: transition,
                                        node: path ?? "<nil>", runtime: true))
                return
            }
            var detail = message ?? "failed rule: \(label)"
            if let messageExpression = rule["messageExpression"]?.string, let parsed = parse(messageExpression),
               case .string(let message) = try? evaluator.evaluate(parsed),
               !message.trimmingCharacters(in: .whitespaces).isEmpty, !message.contains("\n") {
                detail = message
            }
            let scalar = type != "object" && type != "array"
            let fieldValue: JSONValue? = scalar ? .some(value) : .none  // (a bare nil would be JSON null)
            let error: FieldError
            switch rule["reason"]?.string {
            case "FieldValueForbidden": error = FieldError(.forbidden, field, detail)
            case "FieldValueRequired": error = FieldError(.required, field, detail)
            case "FieldValueDuplicate": error = FieldError(.duplicate, field, value: fieldValue, "")
            default: error = FieldError(.invalid, field, value: fieldValue, detail)
            }
            errors.append(RuleError(error: error, transition: transition, node: path ?? "<nil>"))
        }
    }

    /// The expression names the variable somewhere.
    static func uses(_ name: String, _ e: CELExpression) -> Bool {
        switch e.kind {
        case .ident(let n): return n == name
        case .literal: return false
        case .select(let operand, _, _): return uses(name, operand)
        case .call(_, let target, let args): return (target.map { uses(name, $0) } ?? false) || args.contains { uses(name, $0) }
        case .list(let items): return items.contains { uses(name, $0) }
        case .map(let entries): return entries.contains { uses(name, $0.key) || uses(name, $0.value) }
        case .comprehension(let c):
            return [c.range, c.accuInit, c.condition, c.step, c.result].contains { uses(name, $0) }
        }
    }
}

/// The steps of a field path as the API server writes it: `spec.steps[2].setWeight`.
enum FieldPathSteps {
    enum Step { case key(String), index(Int) }

    static func parse(_ path: String) -> [Step] {
        var steps: [Step] = []
        var current = ""
        var i = path.startIndex
        while i < path.endIndex {
            let c = path[i]
            if c == "." {
                if !current.isEmpty { steps.append(.key(current)) }
                current = ""
            } else if c == "[" {
                if !current.isEmpty { steps.append(.key(current)) }
                current = ""
                let close = path[i...].firstIndex(of: "]") ?? path.endIndex
                let inner = path[path.index(after: i)..<close]
                if let n = Int(inner) { steps.append(.index(n)) } else { steps.append(.key(String(inner))) }
                i = close
            } else {
                current.append(c)
            }
            if i < path.endIndex { i = path.index(after: i) }
        }
        if !current.isEmpty { steps.append(.key(current)) }
        return steps
    }
}
