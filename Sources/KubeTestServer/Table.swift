import Foundation
import SluiceModel

/// The `meta.k8s.io/v1` Table kubectl asks for (`Accept: ...;as=Table`): a custom resource's
/// `additionalPrinterColumns`, or Name and Age for built-in kinds.
enum Table {
    static func wanted(_ accept: String?) -> Bool { accept?.contains("as=Table") == true }

    static func render(_ objects: [JSONValue], info: ResourceInfo, revision: String, now: Date = Date()) -> JSONValue {
        var columns: [JSONValue] = info.printerColumns
        if !columns.contains(where: { $0["name"]?.string == "Age" }) {
            columns.append(["name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"])
        }
        let definitions: [JSONValue] = [["name": "Name", "type": "string", "format": "name", "description": "Name", "priority": 0]]
            + columns.map { c in
                ["name": c["name"] ?? "", "type": c["type"] ?? "string", "format": "", "description": c["description"] ?? "",
                 "priority": c["priority"] ?? 0]
            }
        let rows: [JSONValue] = objects.map { object in
            let cells: [JSONValue] = [object["metadata"]?["name"] ?? ""] + columns.map { c in
                let value = evaluate(c["jsonPath"]?.string ?? "", object)
                if c["type"] == "date", let text = value?.string, let time = KubeTime(rfc3339: text) {
                    return .string(age(now.timeIntervalSince(time.date)))
                }
                return value ?? .null
            }
            return ["cells": .array(cells), "object": ["kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
                                                       "metadata": object["metadata"] ?? [:]]]
        }
        return ["kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": ["resourceVersion": .string(revision)],
                "columnDefinitions": .array(definitions), "rows": .array(rows)]
    }

    /// Simple JSONPath: `.a.b`, `.a[0].b`, `.a[*].b` (values joined with commas).
    static func evaluate(_ path: String, _ object: JSONValue) -> JSONValue? {
        var current: [JSONValue] = [object]
        var wildcard = false
        for segment in path.split(separator: ".") {
            var name = Substring(segment)
            var index: String?
            if let open = segment.firstIndex(of: "["), segment.hasSuffix("]") {
                name = segment[..<open]
                index = String(segment[segment.index(after: open)..<segment.index(before: segment.endIndex)])
            }
            current = current.compactMap { name.isEmpty ? $0 : $0[String(name)] }
            if let index {
                if index == "*" {
                    wildcard = true
                    current = current.flatMap { $0.array ?? [] }
                } else if let i = Int(index) {
                    current = current.compactMap { $0.array.flatMap { i < $0.count ? $0[i] : nil } }
                }
            }
        }
        if wildcard { return .string(current.map { $0.string ?? MetricText.text($0) }.joined(separator: ",")) }
        return current.first
    }

    static func age(_ seconds: Double) -> String {
        let s = Int(max(0, seconds))
        if s < 120 { return "\(s)s" }
        if s < 7200 { return "\(s / 60)m" }
        if s < 172_800 { return "\(s / 3600)h" }
        return "\(s / 86400)d"
    }
}

enum MetricText {
    static func text(_ value: JSONValue) -> String {
        switch value {
        case .number(let n): n.rounded() == n ? String(Int(n)) : String(n)
        case .bool(let b): String(b)
        case .string(let s): s
        default: ""
        }
    }
}
