import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import NIOSSL

/// Where a query goes and how it authenticates. Secret values come from Kubernetes Secrets
/// read by the caller; this type only carries them.
public struct PrometheusEndpoint: Sendable, Hashable {
    public var address: String
    public var bearerToken: String?
    public var basicAuth: BasicAuth?
    /// Extra headers (a tenant header for Thanos or Cortex, say).
    public var headers: [String: String]

    public struct BasicAuth: Sendable, Hashable {
        public var username: String
        public var password: String
        public init(username: String, password: String) {
            self.username = username
            self.password = password
        }
    }

    public init(address: String, bearerToken: String? = nil, basicAuth: BasicAuth? = nil, headers: [String: String] = [:]) {
        self.address = address
        self.bearerToken = bearerToken
        self.basicAuth = basicAuth
        self.headers = headers
    }
}

/// Runs instant queries against Prometheus's HTTP API. A query longer than `postThreshold`
/// characters goes as a form POST (URLs have limits). Every failure is a `PrometheusError`,
/// never a value.
public final class PrometheusQuerier: Sendable {
    let client: HTTPClient
    let admits: @Sendable (String) -> Bool
    public static let postThreshold = 2000

    /// `certificateAuthority`: PEM to trust for https addresses, beside the system's roots.
    /// `admits`: the addresses that may be called (the controller passes its allowlist); any
    /// other is answered `.notAllowed` without a request.
    public init(certificateAuthority: Data? = nil, connectTimeout: Duration = .seconds(5),
                admits: @escaping @Sendable (String) -> Bool = { _ in true }) throws {
        self.admits = admits
        var tls = TLSConfiguration.makeClientConfiguration()
        if let ca = certificateAuthority {
            tls.trustRoots = .certificates(try NIOSSLCertificate.fromPEMBytes(Array(ca)))
        }
        var configuration = HTTPClient.Configuration(tlsConfiguration: tls)
        configuration.timeout = .init(connect: .milliseconds(connectTimeout.components.seconds * 1000
                                                             + connectTimeout.components.attoseconds / 1_000_000_000_000_000))
        client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }

    public func shutdown() async throws { try await client.shutdown() }

    /// The result of `promql` at `time` (now if nil), within `timeout`.
    public func query(_ promql: String, at endpoint: PrometheusEndpoint, timeout: Duration,
                      time: Date? = nil) async -> Result<QueryResult, PrometheusError> {
        guard admits(endpoint.address) else { return .failure(.notAllowed(endpoint.address)) }
        let seconds = Double(timeout.components.seconds) + Double(timeout.components.attoseconds) / 1e18
        // Prometheus parses durations in whole units: milliseconds, at least 1.
        var parameters = [("query", promql), ("timeout", "\(max(1, Int((seconds * 1000).rounded())))ms")]
        if let time { parameters.append(("time", String(format: "%.3f", time.timeIntervalSince1970))) }
        let base = endpoint.address.hasSuffix("/") ? String(endpoint.address.dropLast()) : endpoint.address
        let encoded = parameters.map { "\($0.0)=\(PrometheusQuerier.formEncode($0.1))" }.joined(separator: "&")
        var request: HTTPClientRequest
        if promql.count > PrometheusQuerier.postThreshold {
            request = HTTPClientRequest(url: base + "/api/v1/query")
            request.method = .POST
            request.headers.add(name: "Content-Type", value: "application/x-www-form-urlencoded")
            request.body = .bytes(ByteBuffer(string: encoded))
        } else {
            request = HTTPClientRequest(url: base + "/api/v1/query?" + encoded)
            request.method = .GET
        }
        request.headers.add(name: "Accept", value: "application/json")
        for (name, value) in endpoint.headers.sorted(by: { $0.key < $1.key }) { request.headers.add(name: name, value: value) }
        if let token = endpoint.bearerToken {
            request.headers.add(name: "Authorization", value: "Bearer \(token)")
        } else if let basic = endpoint.basicAuth {
            request.headers.add(name: "Authorization", value: "Basic " + Data("\(basic.username):\(basic.password)".utf8).base64EncodedString())
        }
        let deadline = TimeAmount.nanoseconds(Int64(seconds * 1e9))
        do {
            let response = try await client.execute(request, timeout: deadline)
            var body = try await response.body.collect(upTo: 16 << 20)
            return QueryResultDecoder.decode(code: Int(response.status.code), body: Data(body.readBytes(length: body.readableBytes) ?? []))
        } catch let error as HTTPClientError where error == .deadlineExceeded || error == .readTimeout {
            return .failure(.clientTimeout(seconds: seconds))
        } catch {
            return .failure(.unreachable("\(error)"))
        }
    }

    /// application/x-www-form-urlencoded, as Prometheus parses it.
    static func formEncode(_ text: String) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        return text.addingPercentEncoding(withAllowedCharacters: allowed) ?? text
    }
}
