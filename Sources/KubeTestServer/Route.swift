import SluiceModel

/// A request path resolved against the registry.
struct Route {
    var info: ResourceInfo
    var namespace: String?
    var name: String?
    var subresource: String?

    /// `/api/v1/...` and `/apis/<group>/<version>/...`; nil when the path names no resource.
    static func resolve(_ path: String, in store: APIStore) async -> Route? {
        var parts = path.split(separator: "/").map(String.init)
        let apiVersion: String
        if parts.first == "api", parts.count >= 2 {
            apiVersion = parts[1]
            parts.removeFirst(2)
        } else if parts.first == "apis", parts.count >= 3 {
            apiVersion = "\(parts[1])/\(parts[2])"
            parts.removeFirst(3)
        } else {
            return nil
        }
        guard !parts.isEmpty else { return nil }
        if parts[0] == "namespaces", parts.count >= 3, let info = await store.resource(apiVersion: apiVersion, plural: parts[2]), info.namespaced {
            return Route(info: info, namespace: parts[1], name: parts.count > 3 ? parts[3] : nil, subresource: parts.count > 4 ? parts[4] : nil)
        }
        guard let info = await store.resource(apiVersion: apiVersion, plural: parts[0]) else { return nil }
        return Route(info: info, namespace: nil, name: parts.count > 1 ? parts[1] : nil, subresource: parts.count > 2 ? parts[2] : nil)
    }
}
