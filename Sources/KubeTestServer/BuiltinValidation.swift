import Foundation
import SluiceModel

/// The checks kube-apiserver makes of the built-in kinds Sluice writes (k8s.io/kubernetes
/// pkg/apis/*/validation), with its messages: object names and label syntax, a workload's
/// selector matching its template and not changing, and status counts that cannot exceed
/// the replicas they count.
enum BuiltinValidation {
    static let dns1123Subdomain = #"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"#
    static let dns1123Label = #"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"#
    static let dns1035Label = #"^[a-z]([-a-z0-9]*[a-z0-9])?$"#
    static let labelValue = #"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$"#
    static let qualifiedName = #"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$"#

    static func matches(_ s: String, _ pattern: String) -> Bool { s.range(of: pattern, options: .regularExpression) != nil }

    /// Errors of a create or update of a built-in kind (`old` on update).
    static func errors(_ object: JSONValue, old: JSONValue?, info: ResourceInfo) -> [FieldError] {
        guard !info.isCustom, !info.isCustomResourceDefinition else { return metadataErrors(object, info: info) }
        var out = metadataErrors(object, info: info)
        if info.group == "apps", ["deployments", "replicasets"].contains(info.plural) {
            out += workloadErrors(object, old: old, info: info)
        }
        return out
    }

    static func nameErrors(_ name: String, info: ResourceInfo) -> [FieldError] {
        switch info.plural {
        case "namespaces":
            guard name.count <= 63, matches(name, dns1123Label) else {
                return [FieldError(.invalid, "metadata.name", value: .string(name), label1123Message)]
            }
        case "services":
            guard name.count <= 63, matches(name, dns1035Label) else {
                return [FieldError(.invalid, "metadata.name", value: .string(name), label1035Message)]
            }
        default:
            guard name.count <= 253, matches(name, dns1123Subdomain) else {
                return [FieldError(.invalid, "metadata.name", value: .string(name), subdomainMessage)]
            }
        }
        return []
    }

    static let subdomainMessage = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
    static let label1123Message = "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
    static let label1035Message = "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')"
    static let labelValueMessage = "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"
    static let nameMessage = "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"

    /// Names of every kind, and the syntax of label keys and values.
    static func metadataErrors(_ object: JSONValue, info: ResourceInfo) -> [FieldError] {
        var out: [FieldError] = []
        if let name = object["metadata"]?["name"]?.string, !name.isEmpty { out += nameErrors(name, info: info) }
        out += ownerReferenceErrors(object)
        for (key, value) in (object["metadata"]?["labels"]?.object ?? [:]).sorted(by: { $0.key < $1.key }) {
            out += labelKeyErrors(key, path: "metadata.labels")
            if let v = value.string, v.count > 63 || !matches(v, labelValue) {
                out.append(FieldError(.invalid, "metadata.labels", value: .string(v),
                                      v.count > 63 ? "must be no more than 63 characters" : labelValueMessage))
            }
        }
        return out
    }

    /// A label key: an optional DNS subdomain prefix (≤ 253) and '/', then a name (≤ 63).
    static func labelKeyErrors(_ key: String, path: String) -> [FieldError] {
        let parts = key.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        let name = parts.last ?? ""
        var out: [FieldError] = []
        if parts.count > 2 || name.isEmpty || name.count > 63 || !matches(name, qualifiedName) {
            out.append(FieldError(.invalid, path, value: .string(key), name.count > 63 ? "name part must be no more than 63 characters" : nameMessage))
        }
        if parts.count == 2, parts[0].count > 253 || !matches(parts[0], dns1123Subdomain) {
            out.append(FieldError(.invalid, path, value: .string(key), "prefix part " + subdomainMessage))
        }
        return out
    }

    /// A selector as the real server compares it: empty lists and maps are no different from absent.
    static func normalizedSelector(_ selector: JSONValue?) -> JSONValue {
        var out: [String: JSONValue] = [:]
        if let labels = selector?["matchLabels"]?.object, !labels.isEmpty { out["matchLabels"] = .object(labels) }
        if let expressions = selector?["matchExpressions"]?.array, !expressions.isEmpty { out["matchExpressions"] = .array(expressions) }
        return .object(out)
    }

    /// A workload's pod template: containers, each with a name (a DNS label) and an image, and
    /// `restartPolicy: Always`.
    static func podTemplateErrors(_ template: JSONValue?, path: String) -> [FieldError] {
        var out: [FieldError] = []
        let containers = template?["spec"]?["containers"]?.array ?? []
        if containers.isEmpty { out.append(FieldError(.required, "\(path).spec.containers", "")) }
        var names: Set<String> = []
        for (i, container) in containers.enumerated() {
            let at = "\(path).spec.containers[\(i)]"
            if let name = container["name"]?.string, !name.isEmpty {
                if name.count > 63 || !matches(name, dns1123Label) {
                    out.append(FieldError(.invalid, "\(at).name", value: .string(name), label1123Message))
                }
                if !names.insert(name).inserted { out.append(FieldError(.duplicate, "\(at).name", value: .string(name), "")) }
            } else {
                out.append(FieldError(.required, "\(at).name", ""))
            }
            if (container["image"]?.string ?? "").isEmpty { out.append(FieldError(.required, "\(at).image", "")) }
        }
        if let policy = template?["spec"]?["restartPolicy"]?.string, policy != "Always" {
            out.append(FieldError(.notSupported, "\(path).spec.restartPolicy", value: .string(policy), "supported values: \"Always\""))
        }
        return out
    }

    /// Owner references: each names its owner fully, and at most one is the controller.
    static func ownerReferenceErrors(_ object: JSONValue) -> [FieldError] {
        let references = object["metadata"]?["ownerReferences"]?.array ?? []
        var out: [FieldError] = []
        for reference in references {
            for (field, what) in [("apiVersion", "version"), ("kind", "kind"), ("name", "name"), ("uid", "uid")]
            where (reference[field]?.string ?? "").isEmpty {
                out.append(FieldError(.invalid, "metadata.ownerReferences.\(field)", value: .string(""), "\(what) must not be empty"))
            }
        }
        let controllers = references.filter { $0["controller"] == .bool(true) }
        if controllers.count > 1 {
            let names = controllers.map { "\($0["kind"]?.string ?? "")/\($0["name"]?.string ?? "")" }.joined(separator: ", ")
            out.append(FieldError(.invalid, "metadata.ownerReferences", value: .array(references),
                                  "Only one reference can have Controller set to true. Found \"true\" in references for \(names)"))
        }
        return out
    }

    /// Deployments and ReplicaSets: a selector that matches the template's labels and does not
    /// change, and status counts within the replicas.
    static func workloadErrors(_ object: JSONValue, old: JSONValue?, info: ResourceInfo) -> [FieldError] {
        var out: [FieldError] = []
        let selector = object["spec"]?["selector"]
        let matchLabels = selector?["matchLabels"]?.object ?? [:]
        let expressions = selector?["matchExpressions"]?.array ?? []
        if selector == nil || (matchLabels.isEmpty && expressions.isEmpty) {
            out.append(selector == nil ? FieldError(.required, "spec.selector", "")
                                       : FieldError(.invalid, "spec.selector", value: selector, "empty selector is invalid for deployment"))
        } else {
            let labels = object["spec"]?["template"]?["metadata"]?["labels"] ?? [:]
            let podLabels = (labels.object ?? [:]).compactMapValues(\.string)
            let selected = matchLabels.allSatisfy { podLabels[$0.key] == $0.value.string } && expressions.allSatisfy { e in
                let key = e["key"]?.string ?? ""
                let values = e["values"]?.array?.compactMap(\.string) ?? []
                switch e["operator"]?.string {
                case "In": return podLabels[key].map(values.contains) ?? false
                case "NotIn": return !(podLabels[key].map(values.contains) ?? false)
                case "Exists": return podLabels[key] != nil
                case "DoesNotExist": return podLabels[key] == nil
                default: return false
                }
            }
            if !selected {
                out.append(FieldError(.invalid, "spec.template.metadata.labels", value: labels, "`selector` does not match template `labels`"))
            }
        }
        if let old, let before = old["spec"]?["selector"], normalizedSelector(before) != normalizedSelector(selector) {
            out.append(FieldError(.invalid, "spec.selector", value: selector ?? .null, "field is immutable"))
        }
        out += podTemplateErrors(object["spec"]?["template"], path: "spec.template")
        if info.plural == "deployments", object["spec"]?["strategy"]?["type"]?.string ?? "RollingUpdate" == "RollingUpdate" {
            let rolling = object["spec"]?["strategy"]?["rollingUpdate"]
            let surge = rolling?["maxSurge"]
            let unavailable = rolling?["maxUnavailable"]
            if surge != nil, unavailable != nil, surge?.number == 0 || surge?.string == "0%", unavailable?.number == 0 || unavailable?.string == "0%" {
                out.append(FieldError(.invalid, "spec.strategy.rollingUpdate.maxUnavailable", value: unavailable,
                                      "may not be 0 when `maxSurge` is 0"))
            }
        }
        if let replicas = object["spec"]?["replicas"]?.number, replicas < 0 {
            out.append(FieldError(.invalid, "spec.replicas", value: .number(replicas), "must be greater than or equal to 0"))
        }
        if let status = object["status"]?.object {
            let count = { (key: String) in status[key]?.number ?? 0 }
            for key in ["replicas", "updatedReplicas", "readyReplicas", "availableReplicas", "fullyLabeledReplicas"] where count(key) < 0 {
                out.append(FieldError(.invalid, "status.\(key)", value: .number(count(key)), "must be greater than or equal to 0"))
            }
            let bounded = info.plural == "deployments"
                ? [("updatedReplicas", "replicas", "status.replicas"), ("readyReplicas", "replicas", "status.replicas"),
                   ("availableReplicas", "replicas", "status.replicas"), ("availableReplicas", "readyReplicas", "readyReplicas")]
                : [("fullyLabeledReplicas", "replicas", "status.replicas"), ("readyReplicas", "replicas", "status.replicas"),
                   ("availableReplicas", "replicas", "status.replicas"), ("availableReplicas", "readyReplicas", "readyReplicas")]
            for (key, limit, name) in bounded where count(key) > count(limit) {
                out.append(FieldError(.invalid, "status.\(key)", value: .number(count(key)), "cannot be greater than \(name)"))
            }
        }
        return out
    }
}
