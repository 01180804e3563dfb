import Foundation
import SluiceModel

/// Turns an HTTP request into an answer, as kube-apiserver would.
struct APIHandler: Sendable {
    typealias Request = LoopbackHTTPServer.Request

    enum Response: Sendable {
        case json(Int, JSONValue, headers: [(String, String)])
        case stream(AsyncStream<String>)
    }

    let store: APIStore
    let faults: Faults
    let token: String?
    /// Bearer tokens and the users they authenticate (RBAC applies to them; `token` is an admin's).
    var users: [String: User] = [:]
    let port: @Sendable () -> Int
    let bookmarkInterval: Double

    func handle(_ request: Request) async -> Response {
        guard let user = await authenticate(request) else {
            return error(APIError(401, "Unauthorized", "Unauthorized"))
        }
        // Every write attempted is logged, refused or not.
        if request.method != "GET" {
            await store.logWrite(client: request.headers["user-agent"] ?? "", verb: request.method, path: request.path,
                                 body: String(decoding: request.body, as: UTF8.self))
        }
        let latency = faults.latency
        if latency > 0 { try? await Task.sleep(for: .milliseconds(latency)) }
        let fault = faults.take(verb: request.method, path: request.path)
        if let hang = fault, hang.code == 0 { try? await Task.sleep(for: .milliseconds(hang.delayMilliseconds)) }
        if let rule = fault, rule.code != 0 {
            let reason = rule.code == 429 ? "TooManyRequests" : rule.code >= 500 ? "InternalError" : "BadRequest"
            var response = error(APIError(rule.code, reason, "injected fault", details: rule.retryAfter.map { ["retryAfterSeconds": .number(Double($0))] }))
            if let after = rule.retryAfter, case .json(let code, let body, var headers) = response {
                headers.append(("Retry-After", String(after)))
                response = .json(code, body, headers: headers)
            }
            return response
        }
        guard let route = await Route.resolve(request.path, in: store) else {
            let attributes = RequestAttributes(verb: request.method == "GET" ? "get" : request.method.lowercased(), group: "", resource: "",
                                               path: request.path)
            guard await store.allowed(user, attributes) else { return error(attributes.forbidden(user)) }
            if let discovery = await Discovery.answer(request.path, store: store, port: port()) { return .json(200, discovery, headers: []) }
            return error(APIError(404, "NotFound", "the server could not find the requested resource"))
        }
        let attributes = RequestAttributes.of(request, route)
        guard await store.allowed(user, attributes) else { return error(attributes.forbidden(user)) }
        do {
            if let answer = try await review(request, route, user: user) { return answer }
            return try await serve(request, route)
        } catch {
            return self.error(error)
        }
    }

    func serve(_ request: Request, _ route: Route) async throws(APIError) -> Response {
        let validation = FieldValidation(rawValue: request.query["fieldValidation"] ?? "") ?? .warn
        if request.method != "GET" { try checkDryRun(request) }
        // Only the subresources a kind declares exist.
        if let sub = route.subresource {
            let scalable = route.info.group == "apps" && ["deployments", "replicasets"].contains(route.info.plural)
            let token = sub == "token" && route.info.plural == "serviceaccounts" && route.info.group.isEmpty
            guard (sub == "status" && route.info.statusSubresource) || (sub == "scale" && scalable) || token else {
                throw APIError(404, "NotFound", "the server could not find the requested resource")
            }
            if sub == "scale", let name = route.name { return try await scale(request, route, name: name, validation: validation) }
        }
        switch (request.method, route.name) {
        case ("GET", nil):
            let selector = try Selector(labels: request.query["labelSelector"], fields: request.query["fieldSelector"])
            if ["1", "true"].contains(request.query["watch"]) { return try await watch(request, route, selector) }
            return try await list(request, route, selector)
        case ("GET", .some(let name)):
            let object = try await store.get(route.info, namespace: route.namespace, name: name)
            if Table.wanted(request.headers["accept"]), route.subresource == nil {
                return .json(200, Table.render([object], info: route.info, revision: object["metadata"]?["resourceVersion"]?.string ?? ""), headers: [])
            }
            return .json(200, object, headers: [])
        case ("POST", nil):
            return written(try await store.create(route.info, namespace: route.namespace, try body(request), validation: validation,
                                                  dryRun: dryRun(request), fieldManager: fieldManager(request)))
        case ("PUT", .some(let name)):
            return written(try await store.update(route.info, namespace: route.namespace, name: name, try body(request),
                                                  subresource: route.subresource, validation: validation, dryRun: dryRun(request),
                                                  fieldManager: fieldManager(request)))
        case ("PATCH", .some(let name)):
            let type = APIStore.PatchType(rawValue: (request.headers["content-type"] ?? "").split(separator: ";").first.map(String.init) ?? "")
            guard let type else {
                throw APIError(415, "UnsupportedMediaType", "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml")
            }
            let patch: JSONValue
            if type == .apply {
                guard let doc = try? ManifestParser.parse(String(decoding: request.body, as: UTF8.self)).first?.json else {
                    throw APIError(400, "BadRequest", "the apply patch is not YAML or JSON")
                }
                patch = doc
            } else {
                patch = try body(request)
            }
            let manager = type == .apply ? request.query["fieldManager"] : fieldManager(request)
            let result = try await store.patch(route.info, namespace: route.namespace, name: name, type: type, patch,
                                               subresource: route.subresource, validation: validation, dryRun: dryRun(request),
                                               fieldManager: manager, force: request.query["force"] == "true")
            return written(result)
        case ("DELETE", .some(let name)):
            let options = (try? JSONDecoder().decode(JSONValue.self, from: request.body)) ?? [:]
            let object = try await store.delete(route.info, namespace: route.namespace, name: name,
                                                uid: options["preconditions"]?["uid"]?.string,
                                                resourceVersion: options["preconditions"]?["resourceVersion"]?.string,
                                                propagation: options["propagationPolicy"]?.string ?? request.query["propagationPolicy"],
                                                dryRun: dryRun(request) || options["dryRun"]?.array?.contains("All") == true)
            return .json(200, object, headers: [])
        default:
            throw APIError(405, "MethodNotAllowed", "\(request.method) is not supported on \(request.path)")
        }
    }

    /// A list is at least as new as its `resourceVersion` (the current state); a version the
    /// server has not reached yet is 504, as the real server answers. Pages after the first are
    /// the list as it was at the first page's resourceVersion, which every page reports; a
    /// continue token older than the compaction is 410.
    func list(_ request: Request, _ route: Route, _ selector: Selector) async throws(APIError) -> Response {
        if let wanted = request.query["resourceVersion"].flatMap(Int.init), wanted > (await store.currentRevision) {
            throw APIError(504, "Timeout", "Too large resource version: \(wanted), current: \(await store.currentRevision)",
                           details: ["causes": [["reason": "ResourceVersionTooLarge", "message": "Too large resource version"]], "retryAfterSeconds": 1])
        }
        let all: [JSONValue]
        let revision: String
        let start: Int
        if let token = request.query["continue"], !token.isEmpty {
            guard let data = Data(base64Encoded: token), let parsed = try? JSONDecoder().decode(ContinueToken.self, from: data) else {
                throw APIError(400, "BadRequest", "invalid continue token: continue key is not valid")
            }
            guard let snapshot = await store.list(route.info, namespace: route.namespace, selector: selector, at: parsed.rv) else {
                // As etcd answers a compacted revision: a token for the rest, from the current state.
                let fresh = ContinueToken(rv: await store.currentRevision, start: parsed.start)
                var error = APIError(410, "Expired", "The provided continue parameter is too old to display a consistent list result. "
                                     + "You can start a new list without the continue parameter, or use the continue token in this response to "
                                     + "retrieve the remainder of the results. Continuing with the provided token results in an inconsistent list - "
                                     + "objects that were created, modified, or deleted between the time the first chunk was returned and now may show up in the list.")
                error.metadata = ["continue": .string(((try? JSONEncoder.sorted.encode(fresh)) ?? Data()).base64EncodedString())]
                throw error
            }
            (all, revision, start) = (snapshot, String(parsed.rv), parsed.start)
        } else {
            (all, revision) = await store.list(route.info, namespace: route.namespace, selector: selector)
            start = 0
        }
        let limit = Int(request.query["limit"] ?? "") ?? 0
        let end = limit > 0 ? min(all.count, start + limit) : all.count
        var meta: [String: JSONValue] = ["resourceVersion": .string(revision)]
        if end < all.count {
            let token = ContinueToken(rv: Int(revision) ?? 0, start: end)
            meta["continue"] = .string(((try? JSONEncoder.sorted.encode(token)) ?? Data()).base64EncodedString())
            meta["remainingItemCount"] = .number(Double(all.count - end))
        }
        let items = start < all.count ? Array(all[start..<end]) : []
        if Table.wanted(request.headers["accept"]) {
            var table = Table.render(items, info: route.info, revision: revision)
            table["metadata"]?["continue"] = meta["continue"]
            return .json(200, table, headers: [])
        }
        return .json(200, ["kind": .string(route.info.kind + "List"), "apiVersion": .string(route.info.apiVersion),
                           "metadata": .object(meta), "items": .array(items)], headers: [])
    }

    /// Where the next page starts, and the revision the pages are a snapshot of.
    struct ContinueToken: Codable {
        var rv: Int
        var start: Int
    }

    /// The `/scale` subresource: an autoscaling/v1 `Scale` read from and written to the object's
    /// `spec.replicas`.
    func scale(_ request: Request, _ route: Route, name: String, validation: FieldValidation) async throws(APIError) -> Response {
        func render(_ object: JSONValue) -> JSONValue {
            let meta = object["metadata"] ?? [:]
            let labels = Selector.text(of: object["spec"]?["selector"])
            return ["kind": "Scale", "apiVersion": "autoscaling/v1",
                    "metadata": ["name": meta["name"] ?? .null, "namespace": meta["namespace"] ?? .null, "uid": meta["uid"] ?? .null,
                                 "resourceVersion": meta["resourceVersion"] ?? .null, "creationTimestamp": meta["creationTimestamp"] ?? .null],
                    "spec": ["replicas": object["spec"]?["replicas"] ?? 1],
                    "status": ["replicas": object["status"]?["replicas"] ?? 0, "selector": .string(labels)]]
        }
        let current = try await store.get(route.info, namespace: route.namespace, name: name)
        let wanted: JSONValue
        switch request.method {
        case "GET":
            return .json(200, render(current), headers: [])
        case "PUT":
            wanted = try body(request)
        case "PATCH":
            wanted = Patching.merge(render(current), try body(request))
        default:
            throw APIError(405, "MethodNotAllowed", "\(request.method) is not supported on \(request.path)")
        }
        if let version = wanted["metadata"]?["resourceVersion"]?.string, version != current["metadata"]?["resourceVersion"]?.string {
            throw .conflict(route.info, name)
        }
        // A Scale without spec.replicas asks for zero, as the real server reads it.
        let replicas = wanted["spec"]?["replicas"] ?? 0
        guard replicas.number.map({ $0 >= 0 }) ?? false else {
            throw .invalid(route.info, name, [FieldError(.invalid, "spec.replicas", value: wanted["spec"]?["replicas"] ?? .null,
                                                         "must be greater than or equal to 0")])
        }
        var object = current
        object["spec"]?["replicas"] = replicas
        let result = try await store.update(route.info, namespace: route.namespace, name: name, object, validation: validation,
                                            requireVersion: false, dryRun: dryRun(request))
        return .json(200, render(result.object), headers: [])
    }

    /// Who a write's fields belong to: `fieldManager`, else the user agent up to its first `/`
    /// (as the real server derives it).
    func fieldManager(_ request: Request) -> String {
        if let manager = request.query["fieldManager"], !manager.isEmpty { return manager }
        let agent = request.headers["user-agent"] ?? "unknown"
        return String(agent.split(separator: "/").first ?? "unknown").prefix(128).description
    }

    /// `dryRun=All`: everything but the write (any other value is refused before anything).
    func dryRun(_ request: Request) -> Bool { request.query["dryRun"] == "All" }

    func checkDryRun(_ request: Request) throws(APIError) {
        guard let value = request.query["dryRun"], value != "All" else { return }
        let kind = ["POST": "CreateOptions", "PUT": "UpdateOptions", "PATCH": "PatchOptions", "DELETE": "DeleteOptions"][request.method] ?? "CreateOptions"
        throw APIError(422, "Invalid", "\(kind).meta.k8s.io \"\" is invalid: dryRun: Unsupported value: []string{\"\(value)\"}: supported values: \"All\"",
                       details: ["group": "meta.k8s.io", "kind": .string(kind),
                                 "causes": [["reason": "FieldValueNotSupported", "field": "dryRun",
                                             "message": .string("Unsupported value: []string{\"\(value)\"}: supported values: \"All\"")]]])
    }

    func body(_ request: Request) throws(APIError) -> JSONValue {
        if (request.headers["content-type"] ?? "").contains("protobuf") {
            if let (_, object) = Protobuf.decode(request.body), let object { return object }
            throw APIError(415, "UnsupportedMediaType", "the body of the request was in an unknown format - accepted media types include: "
                           + "application/json, application/yaml")
        }
        if let json = try? JSONDecoder().decode(JSONValue.self, from: request.body) { return json }
        if let doc = try? ManifestParser.parse(String(decoding: request.body, as: UTF8.self)).first?.json { return doc }
        throw APIError(400, "BadRequest", "the request body is not JSON")
    }

    func written(_ result: WriteResult) -> Response {
        .json(result.code, result.object, headers: result.warnings.map { ("Warning", "299 - \"\($0)\"") })
    }

    func error(_ error: APIError) -> Response {
        .json(error.code, error.status, headers: error.retryAfter.map { [("Retry-After", String($0))] } ?? [])
    }
}
