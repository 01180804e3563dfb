import SluiceModel

/// `/version` and the discovery documents kubectl reads (`/api`, `/api/v1`, `/apis`,
/// `/apis/<group>`, `/apis/<group>/<version>`), and empty OpenAPI documents, so that kubectl
/// leaves field validation to the server (`fieldValidation=Strict`).
enum Discovery {
    static func answer(_ path: String, store: APIStore, port: Int) async -> JSONValue? {
        let parts = path.split(separator: "/").map(String.init)
        let resources = await store.resources()
        switch parts.count {
        case 1 where parts[0] == "version":
            return ["major": "1", "minor": "32", "gitVersion": "v1.32.0-sluice", "platform": "linux/amd64", "goVersion": "go1.23",
                    "compiler": "gc", "buildDate": "2026-01-01T00:00:00Z", "gitCommit": "sluice", "gitTreeState": "clean"]
        case 2 where parts[0] == "openapi" && parts[1] == "v3":
            var paths: [String: JSONValue] = [:]
            for gv in Set(resources.map { $0.group.isEmpty ? "api/\($0.version)" : "apis/\($0.group)/\($0.version)" }) {
                paths[gv] = ["serverRelativeURL": .string("/openapi/v3/\(gv)")]
            }
            return ["paths": .object(paths)]
        case 4 where parts[0] == "openapi" && parts[1] == "v3" && parts[2] == "api":
            return openAPI(resources.filter { $0.group.isEmpty && $0.version == parts[3] })
        case 5 where parts[0] == "openapi" && parts[1] == "v3" && parts[2] == "apis":
            return openAPI(resources.filter { $0.group == parts[3] && $0.version == parts[4] })
        case 1 where parts[0] == "api":
            return ["kind": "APIVersions", "versions": ["v1"],
                    "serverAddressByClientCIDRs": [["clientCIDR": "0.0.0.0/0", "serverAddress": .string("127.0.0.1:\(port)")]]]
        case 1 where parts[0] == "apis":
            var groups: [String: [String]] = [:]
            for info in resources where !info.group.isEmpty { groups[info.group, default: []].append(info.version) }
            return ["kind": "APIGroupList", "apiVersion": "v1",
                    "groups": .array(groups.keys.sorted().map { group(name: $0, versions: Array(Set(groups[$0]!)).sorted()) })]
        case 2 where parts[0] == "api" && parts[1] == "v1":
            return resourceList("v1", resources.filter { $0.group.isEmpty })
        case 2 where parts[0] == "apis":
            let versions = Array(Set(resources.filter { $0.group == parts[1] }.map(\.version))).sorted()
            return versions.isEmpty ? nil : group(name: parts[1], versions: versions)
        case 3 where parts[0] == "apis":
            let matching = resources.filter { $0.group == parts[1] && $0.version == parts[2] }
            return matching.isEmpty ? nil : resourceList("\(parts[1])/\(parts[2])", matching)
        default:
            return nil
        }
    }

    /// A group-version's OpenAPI v3 document: the operations only, each declaring the
    /// `fieldValidation` parameter, so that kubectl validates on the server.
    static func openAPI(_ infos: [ResourceInfo]) -> JSONValue? {
        guard !infos.isEmpty else { return nil }
        var paths: [String: JSONValue] = [:]
        for info in infos {
            let base = (info.group.isEmpty ? "/api/\(info.version)" : "/apis/\(info.group)/\(info.version)")
                + (info.namespaced ? "/namespaces/{namespace}" : "") + "/\(info.plural)"
            let operation: JSONValue = [
                "x-kubernetes-group-version-kind": ["group": .string(info.group), "version": .string(info.version), "kind": .string(info.kind)],
                "parameters": [["name": "fieldValidation", "in": "query", "schema": ["type": "string"]]],
                "responses": ["200": ["description": "OK"]],
            ]
            paths[base] = ["post": operation]
            paths[base + "/{name}"] = ["patch": operation, "put": operation]
        }
        // A custom resource's schema, under the name the real server gives it (reversed group,
        // version, kind), so `kubectl explain` shows its fields and their descriptions.
        var schemas: [String: JSONValue] = [:]
        for info in infos {
            guard var schema = info.schema else { continue }
            schema["x-kubernetes-group-version-kind"] = [["group": .string(info.group), "version": .string(info.version), "kind": .string(info.kind)]]
            let reversedGroup = info.group.split(separator: ".").reversed().joined(separator: ".")
            schemas["\(reversedGroup).\(info.version).\(info.kind)"] = schema
        }
        return ["openapi": "3.0.0", "info": ["title": "Kubernetes", "version": "v1.32.0"], "paths": .object(paths),
                "components": ["schemas": .object(schemas)]]
    }

    static func group(name: String, versions: [String]) -> JSONValue {
        let entries: [JSONValue] = versions.map { ["groupVersion": .string("\(name)/\($0)"), "version": .string($0)] }
        return ["kind": "APIGroup", "apiVersion": "v1", "name": .string(name), "versions": .array(entries),
                "preferredVersion": entries.last ?? [:]]
    }

    static func resourceList(_ groupVersion: String, _ infos: [ResourceInfo]) -> JSONValue {
        var resources: [JSONValue] = []
        for info in infos {
            resources.append(["name": .string(info.plural), "singularName": .string(info.singular), "namespaced": .bool(info.namespaced),
                              "kind": .string(info.kind),
                              "verbs": ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"],
                              "shortNames": .array(info.shortNames.map(JSONValue.string)),
                              "categories": .array(info.categories.map(JSONValue.string))])
            if info.statusSubresource {
                resources.append(["name": .string(info.plural + "/status"), "singularName": "", "namespaced": .bool(info.namespaced),
                                  "kind": .string(info.kind), "verbs": ["get", "patch", "update"]])
            }
        }
        return ["kind": "APIResourceList", "apiVersion": "v1", "groupVersion": .string(groupVersion), "resources": .array(resources)]
    }
}
