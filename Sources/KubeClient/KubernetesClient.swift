import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import NIOSSL

/// A Kubernetes REST client. Requests and watches use separate connection pools, so long-lived
/// watches never starve writes or lease renewals. Every request but an urgent one (an abort's
/// writes) waits for the client-side rate limiter.
public final class KubernetesClient: Sendable {
    public let config: KubeConfig
    let requests: HTTPClient
    let watches: HTTPClient
    let limiter: TokenBucket<ContinuousClock>
    let logger: Logger
    let exec: ExecCredentialPlugin?
    let requestTimeout: TimeAmount
    /// The TLS settings from the kubeconfig; an exec plugin's client certificate is added per request.
    let tls: TLSConfiguration
    /// Sent as `User-Agent` (the API server's audit log and field managers name writers by it).
    let userAgent: String

    /// The server's URL as requests name it: with `tls-server-name`, that name (the connection
    /// still goes to the server's address, and its certificate is checked against the name).
    let base: String

    public init(config: KubeConfig, logger: Logger, qps: Double = 50, burst: Int = 100,
                requestTimeout: Duration = .seconds(30), connectTimeout: Duration = .seconds(10),
                environment: [String: String] = ProcessInfo.processInfo.environment,
                http2ReadIdle: Duration = .seconds(30), http2PingTimeout: Duration = .seconds(15),
                userAgent: String = "sluice") throws(KubeClientError) {
        self.userAgent = userAgent
        let keepaliveIdle = TimeAmount(http2ReadIdle), keepalivePingTimeout = TimeAmount(http2PingTimeout)
        self.config = config
        self.logger = logger
        self.limiter = TokenBucket(qps: qps, burst: burst, clock: ContinuousClock())
        // Whole nanoseconds: a sub-second timeout (500 ms) must not become zero.
        self.requestTimeout = TimeAmount(requestTimeout)
        if case .exec(let plugin) = config.credentials {
            exec = ExecCredentialPlugin(plugin, server: config.server, certificateAuthority: config.certificateAuthority,
                                        insecureSkipTLSVerify: config.insecureSkipTLSVerify)
        } else {
            exec = nil
        }
        let tls = try KubernetesClient.tls(config)
        self.tls = tls
        var dnsOverride: [String: String] = [:]
        var base = config.server.trimmingTrailingSlash
        if let name = config.tlsServerName, !name.isEmpty, var url = URLComponents(string: base), let host = url.host, host != name {
            dnsOverride[name] = host
            url.host = name
            base = url.string ?? base
        }
        self.base = base
        let proxy = ProxySettings.configuration(try ProxySettings.choose(server: config.server, proxyURL: config.proxyURL,
                                                                         environment: environment))
        var requestConfig = HTTPClient.Configuration(tlsConfiguration: tls)
        requestConfig.dnsOverride = dnsOverride
        requestConfig.proxy = proxy
        let connect = TimeAmount(connectTimeout)
        requestConfig.timeout = .init(connect: connect, read: self.requestTimeout)
        var watchConfig = HTTPClient.Configuration(tlsConfiguration: tls)
        watchConfig.dnsOverride = dnsOverride
        watchConfig.proxy = proxy
        // Watches ask the server to end them after `timeoutSeconds` (Watcher: 300 s) and carry
        // bookmarks, so one silent for longer is a half-open connection: fail it and watch again.
        watchConfig.timeout = .init(connect: connect, read: .seconds(KubernetesClient.watchSilenceLimit))
        // One connection per open watch: a controller holds a dozen; the default allows 8 per host.
        watchConfig.connectionPool = .init(idleTimeout: .seconds(60), concurrentHTTP1ConnectionsPerHostSoftLimit: KubernetesClient.maxWatches)
        // A stuck HTTP/2 connection is noticed by PING and closed (see HTTP2Keepalive).
        let keepalive: @Sendable (Channel) -> EventLoopFuture<Void> = { channel in
            channel.eventLoop.makeCompletedFuture {
                try channel.pipeline.syncOperations.addHandler(HTTP2Keepalive(readIdle: keepaliveIdle, pingTimeout: keepalivePingTimeout))
            }
        }
        requestConfig.http2ConnectionDebugInitializer = keepalive
        watchConfig.http2ConnectionDebugInitializer = keepalive
        requests = HTTPClient(eventLoopGroupProvider: .singleton, configuration: requestConfig)
        watches = HTTPClient(eventLoopGroupProvider: .singleton, configuration: watchConfig)
    }

    /// Seconds a watch may go without a byte before its connection is taken for dead.
    public static let watchSilenceLimit: Int64 = 360

    /// Watches open at once, each on its own connection of the watch pool.
    public static let maxWatches = 64

    /// Closes both connection pools.
    public func shutdown() async throws {
        try await requests.shutdown()
        try await watches.shutdown()
    }

    static func tls(_ config: KubeConfig) throws(KubeClientError) -> TLSConfiguration {
        var tls = TLSConfiguration.makeClientConfiguration()
        // A connection closed as stuck is not waited on for its close_notify (5 s by default).
        tls.shutdownTimeout = .seconds(1)
        do {
            if config.insecureSkipTLSVerify { tls.certificateVerification = .none }
            if let ca = config.certificateAuthority {
                tls.trustRoots = .certificates(try NIOSSLCertificate.fromPEMBytes(Array(ca)))
            }
            if case .clientCertificate(let cert, let key) = config.credentials {
                tls.certificateChain = try NIOSSLCertificate.fromPEMBytes(Array(cert)).map { .certificate($0) }
                tls.privateKey = .privateKey(try NIOSSLPrivateKey(bytes: Array(key), format: .pem))
            }
        } catch {
            throw .credentials("TLS material in the kubeconfig cannot be read: \(error)")
        }
        return tls
    }

    // MARK: Typed requests

    public func get<T: Decodable & Sendable>(_ type: ResourceType, namespace: String? = nil, name: String,
                                             subresource: String? = nil, urgent: Bool = false, as: T.Type = T.self) async throws(KubeClientError) -> T {
        try decode(await send(.GET, type.path(namespace: namespace, name: name, subresource: subresource), urgent: urgent))
    }

    /// One page of a list.
    public func list<T: Decodable & Sendable>(_ type: ResourceType, namespace: String? = nil, selectors: Selectors = Selectors(),
                                              limit: Int? = nil, continue token: String? = nil, resourceVersion: String? = nil,
                                              as: T.Type = T.self) async throws(KubeClientError) -> ObjectList<T> {
        var query = selectors.query
        if let limit { query.append(("limit", String(limit))) }
        if let token { query.append(("continue", token)) }
        if let resourceVersion { query.append(("resourceVersion", resourceVersion)) }
        return try decode(await send(.GET, type.path(namespace: namespace), query: query))
    }

    /// Every item, following continue tokens page by page; with the list's resourceVersion.
    public func listAll<T: Decodable & Sendable>(_ type: ResourceType, namespace: String? = nil, selectors: Selectors = Selectors(),
                                                 pageSize: Int = 500, as: T.Type = T.self) async throws(KubeClientError)
        -> (items: [T], resourceVersion: String)
    {
        var items: [T] = []
        var token: String?
        var version = ""
        repeat {
            let page: ObjectList<T> = try await list(type, namespace: namespace, selectors: selectors, limit: pageSize, continue: token)
            items += page.items
            version = page.metadata.resourceVersion ?? version
            token = page.metadata.continue.flatMap { $0.isEmpty ? nil : $0 }
        } while token != nil
        return (items, version)
    }

    public func create<T: Codable & Sendable>(_ type: ResourceType, namespace: String? = nil, _ object: T,
                                              urgent: Bool = false) async throws(KubeClientError) -> T {
        try decode(await send(.POST, type.path(namespace: namespace), body: encode(object), urgent: urgent))
    }

    /// PUT: the object must carry the resourceVersion it was read at; a stale one is a conflict.
    public func update<T: Codable & Sendable>(_ type: ResourceType, namespace: String? = nil, name: String, _ object: T,
                                              subresource: String? = nil, urgent: Bool = false) async throws(KubeClientError) -> T {
        try decode(await send(.PUT, type.path(namespace: namespace, name: name, subresource: subresource), body: encode(object),
                              urgent: urgent))
    }

    public func patch<T: Decodable & Sendable>(_ type: ResourceType, namespace: String? = nil, name: String, _ patch: Patch,
                                               subresource: String? = nil, urgent: Bool = false, as: T.Type = T.self)
        async throws(KubeClientError) -> T
    {
        var query: [(String, String)] = []
        if case .apply(_, let manager, let force) = patch {
            query.append(("fieldManager", manager))
            if force { query.append(("force", "true")) }
        }
        return try decode(await send(.PATCH, type.path(namespace: namespace, name: name, subresource: subresource), query: query,
                                     body: patch.body, contentType: patch.contentType, urgent: urgent))
    }

    /// Deletes, only if the object still has this uid and resourceVersion when given.
    public func delete(_ type: ResourceType, namespace: String? = nil, name: String, uid: String? = nil,
                       resourceVersion: String? = nil, propagationPolicy: String? = nil, urgent: Bool = false) async throws(KubeClientError) {
        var options: [String: Any] = ["kind": "DeleteOptions", "apiVersion": "v1"]
        var preconditions: [String: String] = [:]
        if let uid { preconditions["uid"] = uid }
        if let resourceVersion { preconditions["resourceVersion"] = resourceVersion }
        if !preconditions.isEmpty { options["preconditions"] = preconditions }
        if let propagationPolicy { options["propagationPolicy"] = propagationPolicy }
        let body = try? JSONSerialization.data(withJSONObject: options, options: [.sortedKeys])
        _ = try await send(.DELETE, type.path(namespace: namespace, name: name), body: body, urgent: urgent)
    }

    /// POSTs a body as given, with extra query parameters (`fieldValidation`, `dryRun`); returns the answer's body.
    public func createRaw(_ type: ResourceType, namespace: String? = nil, body: Data, query: [(String, String)] = [],
                          urgent: Bool = false) async throws(KubeClientError) -> Data {
        try await send(.POST, type.path(namespace: namespace), query: query, body: body, urgent: urgent)
    }

    // MARK: Transport

    func encode<T: Encodable>(_ object: T) throws(KubeClientError) -> Data {
        do { return try JSONEncoder().encode(object) } catch { throw .decoding("cannot encode \(T.self): \(error)") }
    }

    func decode<T: Decodable>(_ data: Data) throws(KubeClientError) -> T {
        do { return try JSONDecoder().decode(T.self, from: data) } catch { throw .decoding("the answer is not a \(T.self): \(error)") }
    }

    func url(_ path: String, _ query: [(String, String)]) -> String {
        var components = URLComponents()
        components.queryItems = query.isEmpty ? nil : query.map { URLQueryItem(name: $0.0, value: $0.1) }
        let encoded = components.percentEncodedQuery.map { "?" + $0.replacingOccurrences(of: "+", with: "%2B") } ?? ""
        return base + path + encoded
    }

    func request(_ method: HTTPMethod, _ path: String, query: [(String, String)], body: Data?, contentType: String?)
        async throws(KubeClientError) -> HTTPClientRequest
    {
        var request = HTTPClientRequest(url: url(path, query))
        request.method = method
        request.headers.add(name: "Accept", value: "application/json")
        request.headers.add(name: "User-Agent", value: userAgent)
        if let body {
            request.body = .bytes(ByteBuffer(bytes: body))
            request.headers.add(name: "Content-Type", value: contentType ?? "application/json")
        }
        if let authorization = try await authorization(&request) { request.headers.add(name: "Authorization", value: authorization) }
        return request
    }

    /// The Authorization header the credentials give; an exec plugin's client certificate goes
    /// on the request's TLS settings instead (its connections are pooled apart).
    func authorization(_ request: inout HTTPClientRequest) async throws(KubeClientError) -> String? {
        switch config.credentials {
        case .token(let token): return "Bearer \(token)"
        case .tokenFile(let path):
            guard let token = try? String(contentsOfFile: path, encoding: .utf8) else { throw .credentials("cannot read token file \(path)") }
            return "Bearer \(token.trimmingCharacters(in: .whitespacesAndNewlines))"
        case .basic(let user, let password): return "Basic " + Data("\(user):\(password)".utf8).base64EncodedString()
        case .exec:
            guard let credential = try await exec?.credential() else { return nil }
            if let token = credential.token { return "Bearer \(token)" }
            guard let cert = credential.clientCertificate, let key = credential.clientKey else {
                throw .credentials("the exec plugin returned a client certificate without its key")
            }
            var tls = self.tls
            do {
                tls.certificateChain = try NIOSSLCertificate.fromPEMBytes(Array(cert)).map { .certificate($0) }
                tls.privateKey = .privateKey(try NIOSSLPrivateKey(bytes: Array(key), format: .pem))
            } catch {
                throw .credentials("the exec plugin's client certificate cannot be read: \(error)")
            }
            request.tlsConfiguration = tls
            return nil
        case .none, .clientCertificate: return nil
        }
    }

    /// Sends a request and returns the body of a 2xx answer; anything else is a `KubeClientError`.
    /// A 401 with refreshable credentials is retried once with fresh ones; a 429 or 5xx to a GET
    /// or PUT is retried up to `maxRetries` times.
    func send(_ method: HTTPMethod, _ path: String, query: [(String, String)] = [], body: Data? = nil,
              contentType: String? = nil, urgent: Bool = false) async throws(KubeClientError) -> Data {
        if !urgent {
            // Cancelled while waiting for the rate limiter: the request is not sent.
            do { try await limiter.acquire() } catch { throw .transport("\(method) \(path): cancelled while waiting for the rate limiter") }
        }
        var refreshed = false
        var retries = 0
        while true {
            let request = try await request(method, path, query: query, body: body, contentType: contentType)
            let response: HTTPClientResponse
            let data: Data
            do {
                response = try await requests.execute(request, timeout: requestTimeout)
                var buffer = try await response.body.collect(upTo: 64 << 20)
                data = Data(buffer.readBytes(length: buffer.readableBytes) ?? [])
            } catch {
                throw .transport("\(method) \(path): \(error)")
            }
            logWarnings(response.headers, method: method, path: path)
            let code = Int(response.status.code)
            if (200..<300).contains(code) { return data }
            if code == 401, !refreshed, let exec {
                refreshed = true
                await exec.invalidate()
                continue
            }
            // Throttled or a server error on a request that is safe to repeat (a read, or a
            // replace at a resourceVersion, which a conflict stops if it did land): again, after
            // Retry-After or a growing, jittered pause.
            let retryAfter = response.headers.first(name: "Retry-After")
            // Urgent requests (an abort's writes, lease renewals) have deadlines of their own: never held here.
            if (code == 429 || (500..<600).contains(code)), method == .GET || method == .PUT, !urgent, retries < KubernetesClient.maxRetries {
                retries += 1
                let backoff = min(5.0, 0.2 * Double(1 << (retries - 1))) * Double.random(in: 0.5...1.0)
                let wait = retryAfter.flatMap(Double.init).map { min($0, 30) } ?? backoff
                logger.debug("retrying", metadata: ["request": "\(method) \(path)", "code": "\(code)", "after": "\(wait)s"])
                do { try await Task.sleep(for: .seconds(wait)) } catch { throw .transport("\(method) \(path): cancelled while waiting to retry") }
                continue
            }
            throw KubeClientError.from(code: code, body: data, retryAfter: retryAfter)
        }
    }

    /// How many times a throttled or failed read or replace is repeated.
    static let maxRetries = 3

    func logWarnings(_ headers: HTTPHeaders, method: HTTPMethod, path: String) {
        for warning in headers["Warning"] {
            logger.warning("API server warning", metadata: ["warning": "\(warning)", "request": "\(method) \(path)"])
        }
    }
}

extension String {
    var trimmingTrailingSlash: String { hasSuffix("/") ? String(dropLast()) : self }
}
