import Foundation
import SluiceModel

/// Who a request is from.
public struct User: Sendable, Hashable {
    public var name: String
    public var groups: [String]

    public init(name: String, groups: [String] = []) {
        self.name = name
        self.groups = groups
    }

    /// A ServiceAccount as its tokens authenticate it.
    static func serviceAccount(_ namespace: String, _ name: String) -> User {
        User(name: "system:serviceaccount:\(namespace):\(name)",
             groups: ["system:serviceaccounts", "system:serviceaccounts:\(namespace)", "system:authenticated"])
    }
}

/// What a request asks to do, as the authorizer sees it.
struct RequestAttributes: Sendable {
    var verb: String
    var group: String
    var resource: String
    var subresource: String?
    var namespace: String?
    var name: String?
    /// For a request to no resource (`/metrics`, `/healthz`).
    var path: String?

    var resourceWithSubresource: String { subresource.map { "\(resource)/\($0)" } ?? resource }

    static func of(_ request: LoopbackHTTPServer.Request, _ route: Route) -> RequestAttributes {
        let verb: String
        switch request.method {
        case "GET", "HEAD":
            verb = route.name != nil ? "get" : (["1", "true"].contains(request.query["watch"]) ? "watch" : "list")
        case "POST": verb = "create"
        case "PUT": verb = "update"
        case "PATCH": verb = "patch"
        case "DELETE": verb = route.name == nil ? "deletecollection" : "delete"
        default: verb = request.method.lowercased()
        }
        return RequestAttributes(verb: verb, group: route.info.group, resource: route.info.plural, subresource: route.subresource,
                                 namespace: route.namespace, name: route.name)
    }

    /// The 403 the real authorizer's denial becomes.
    func forbidden(_ user: User) -> APIError {
        if let path {
            return APIError(403, "Forbidden", "forbidden: User \"\(user.name)\" cannot \(verb) path \"\(path)\"", details: [:])
        }
        let qualified = group.isEmpty ? resource : "\(resource).\(group)"
        let object = name.map { "\(qualified) \"\($0)\"" } ?? qualified
        let scope = namespace.map { "in the namespace \"\($0)\"" } ?? "at the cluster scope"
        return APIError(403, "Forbidden",
                        "\(object) is forbidden: User \"\(user.name)\" cannot \(verb) resource \"\(resourceWithSubresource)\" in API group \"\(group)\" \(scope)",
                        details: ["name": .string(name ?? ""), "group": .string(group), "kind": .string(resource)])
    }
}

/// RBAC, as kube-apiserver's RBAC authorizer decides: the Roles and ClusterRoles bound to the
/// user, its groups or its ServiceAccount by RoleBindings (within their namespace) and
/// ClusterRoleBindings (everywhere); `system:masters` may do anything, and every authenticated
/// user may use discovery and ask what it may do (`system:discovery`, `system:basic-user`).
extension APIStore {
    func allowed(_ user: User, _ a: RequestAttributes) -> Bool {
        if user.groups.contains("system:masters") { return true }
        if let path = a.path {
            // system:discovery and system:public-info-viewer.
            if a.verb == "get", ["/api", "/apis", "/version", "/openapi", "/healthz", "/livez", "/readyz"]
                .contains(where: { path == $0 || path.hasPrefix($0 + "/") }) { return true }
        } else if a.group == "authorization.k8s.io", a.resource == "selfsubjectaccessreviews" || a.resource == "selfsubjectrulesreviews",
                  a.verb == "create" {
            return true
        }
        return rules(for: user, namespace: a.namespace).contains { rule in matches(rule, a) }
    }

    /// The rules that apply to a user in a namespace (nil: cluster-wide only).
    func rules(for user: User, namespace: String?) -> [JSONValue] {
        func subjectMatches(_ subject: JSONValue, bindingNamespace: String?) -> Bool {
            let name = subject["name"]?.string ?? ""
            switch subject["kind"]?.string {
            case "User": return name == user.name
            case "Group": return user.groups.contains(name)
            case "ServiceAccount":
                return user.name == "system:serviceaccount:\(subject["namespace"]?.string ?? bindingNamespace ?? ""):\(name)"
            default: return false
            }
        }
        func roleRules(_ ref: JSONValue?, namespace: String?) -> [JSONValue] {
            guard let name = ref?["name"]?.string else { return [] }
            let resource = ref?["kind"]?.string == "ClusterRole" ? "rbac.authorization.k8s.io/clusterroles" : "rbac.authorization.k8s.io/roles"
            let key = Key(resource: resource, namespace: ref?["kind"]?.string == "ClusterRole" ? "" : namespace ?? "", name: name)
            return objects[key]?["rules"]?.array ?? []
        }
        var out: [JSONValue] = []
        for (key, binding) in objects where key.resource == "rbac.authorization.k8s.io/clusterrolebindings" {
            if (binding["subjects"]?.array ?? []).contains(where: { subjectMatches($0, bindingNamespace: nil) }) {
                out += roleRules(binding["roleRef"], namespace: nil)
            }
        }
        if let namespace {
            for (key, binding) in objects where key.resource == "rbac.authorization.k8s.io/rolebindings" && key.namespace == namespace {
                if (binding["subjects"]?.array ?? []).contains(where: { subjectMatches($0, bindingNamespace: namespace) }) {
                    out += roleRules(binding["roleRef"], namespace: namespace)
                }
            }
        }
        return out
    }

    func matches(_ rule: JSONValue, _ a: RequestAttributes) -> Bool {
        func list(_ field: String) -> [String] { rule[field]?.array?.compactMap(\.string) ?? [] }
        let verbs = list("verbs")
        guard verbs.contains("*") || verbs.contains(a.verb) else { return false }
        if let path = a.path {
            return list("nonResourceURLs").contains { $0 == path || ($0.hasSuffix("*") && path.hasPrefix(String($0.dropLast()))) }
        }
        let groups = list("apiGroups")
        guard groups.contains("*") || groups.contains(a.group) else { return false }
        let resources = list("resources")
        let wanted = a.resourceWithSubresource
        guard resources.contains("*") || resources.contains(wanted)
            || (a.subresource != nil && resources.contains("*/\(a.subresource!)")) else { return false }
        let names = list("resourceNames")
        return names.isEmpty || (a.name.map(names.contains) ?? false)
    }

    // MARK: Tokens

    /// A token for a ServiceAccount (`TokenRequest`, what `kubectl create token` asks for).
    func mintToken(namespace: String, serviceAccount: String) throws(APIError) -> String {
        guard let info = registry["v1/serviceaccounts"] else { throw APIError(404, "NotFound", "serviceaccounts are not served") }
        guard objects[key(info, namespace, serviceAccount)] != nil else { throw .notFound(info, serviceAccount) }
        let token = "sa." + UUID().uuidString.lowercased()
        tokens[token] = User.serviceAccount(namespace, serviceAccount)
        return token
    }

    func user(forToken token: String) -> User? { tokens[token] }
}

extension APIHandler {
    /// The user a request authenticates as; nil when it does not.
    func authenticate(_ request: Request) async -> User? {
        let header = request.headers["authorization"] ?? ""
        let bearer = header.hasPrefix("Bearer ") ? String(header.dropFirst("Bearer ".count)) : nil
        if token == nil && users.isEmpty { return User(name: "admin", groups: ["system:masters", "system:authenticated"]) }
        guard let bearer else { return nil }
        if bearer == token { return User(name: "admin", groups: ["system:masters", "system:authenticated"]) }
        if let user = users[bearer] { return User(name: user.name, groups: user.groups + ["system:authenticated"]) }
        return await store.user(forToken: bearer)
    }

    /// `SelfSubjectAccessReview`, `TokenRequest`: the answers that are not stored objects.
    func review(_ request: Request, _ route: Route, user: User) async throws(APIError) -> Response? {
        if route.info.plural == "selfsubjectaccessreviews", request.method == "POST" {
            var review = try body(request)
            let spec = review["spec"]
            let attributes: RequestAttributes
            if let r = spec?["resourceAttributes"] {
                attributes = RequestAttributes(verb: r["verb"]?.string ?? "", group: r["group"]?.string ?? "", resource: r["resource"]?.string ?? "",
                                               subresource: r["subresource"]?.string.flatMap { $0.isEmpty ? nil : $0 },
                                               namespace: r["namespace"]?.string.flatMap { $0.isEmpty ? nil : $0 },
                                               name: r["name"]?.string.flatMap { $0.isEmpty ? nil : $0 })
            } else {
                let n = spec?["nonResourceAttributes"]
                attributes = RequestAttributes(verb: n?["verb"]?.string ?? "", group: "", resource: "", path: n?["path"]?.string ?? "")
            }
            let allowed = await store.allowed(user, attributes)
            review["status"] = ["allowed": .bool(allowed)]
            if !allowed { review["status"]?["reason"] = "" }
            review["metadata"] = ["creationTimestamp": .null]
            return .json(201, review, headers: [])
        }
        if route.info.plural == "serviceaccounts", route.subresource == "token", request.method == "POST", let name = route.name,
           let namespace = route.namespace {
            let token = try await store.mintToken(namespace: namespace, serviceAccount: name)
            let seconds = (try? body(request))?["spec"]?["expirationSeconds"]?.number ?? 3600
            var answer = (try? body(request)) ?? [:]
            answer["apiVersion"] = "authentication.k8s.io/v1"
            answer["kind"] = "TokenRequest"
            answer["metadata"] = ["name": .string(name), "namespace": .string(namespace), "creationTimestamp": .null]
            answer["status"] = ["token": .string(token), "expirationTimestamp": .string(KubeTime(Date().addingTimeInterval(seconds)).formatted)]
            return .json(201, answer, headers: [])
        }
        return nil
    }
}
