import Foundation
import KubeTestServer
import PrometheusClient
import SluiceTestKit
import Synchronization
import Testing

@Suite struct PrometheusQuerierTests {
    final class Seen: Sendable {
        let requests = Mutex<[LoopbackHTTPServer.Request]>([])
    }

    static func fixture(_ name: String) -> Data {
        (try? Data(contentsOf: RepositoryFiles.sharedFixtures.appendingPathComponent("prometheus/\(name)"))) ?? Data()
    }

    static func withPrometheus(_ answer: @escaping @Sendable (LoopbackHTTPServer.Request) async -> LoopbackHTTPServer.Response,
                               _ body: (PrometheusQuerier, String, Seen) async throws -> Void) async throws {
        let seen = Seen()
        let server = try await LoopbackHTTPServer { request in
            seen.requests.withLock { $0.append(request) }
            return await answer(request)
        }
        let querier = try PrometheusQuerier(connectTimeout: .milliseconds(500))
        do { try await body(querier, "http://127.0.0.1:\(server.port)", seen) } catch {
            try await querier.shutdown()
            try await server.stop()
            throw error
        }
        try await querier.shutdown()
        try await server.stop()
    }

    @Test func getsShortQueriesAndPostsLongOnesWithAuth() async throws {
        try await Self.withPrometheus({ _ in .full(code: 200, body: Self.fixture("vector_one_sample_success_rate.json"), headers: []) }) { querier, address, seen in
            let endpoint = PrometheusEndpoint(address: address, bearerToken: "t0k", headers: ["X-Scope-OrgID": "shop"])
            let short = await querier.query(#"sum(rate(istio_requests_total{response_code!~"5.*"}[2m]))"#, at: endpoint, timeout: .seconds(5))
            #expect(short.map(\.numbers) == .success([0.95]))
            let long = String(repeating: "x", count: PrometheusQuerier.postThreshold + 1)
            _ = await querier.query(long, at: PrometheusEndpoint(address: address, basicAuth: .init(username: "u", password: "p")), timeout: .seconds(5))
            let r = seen.requests.withLock { $0 }
            #expect(r[0].method == "GET")
            #expect(r[0].path == "/api/v1/query")
            #expect(r[0].query["query"] == #"sum(rate(istio_requests_total{response_code!~"5.*"}[2m]))"#)
            #expect(r[0].query["timeout"] == "5000ms")
            #expect(r[0].headers["authorization"] == "Bearer t0k")
            #expect(r[0].headers["x-scope-orgid"] == "shop")
            #expect(r[1].method == "POST")
            #expect(r[1].headers["content-type"] == "application/x-www-form-urlencoded")
            #expect(String(decoding: r[1].body, as: UTF8.self).hasPrefix("query=xxx"))
            #expect(r[1].headers["authorization"] == "Basic " + Data("u:p".utf8).base64EncodedString())
        }
    }

    @Test func errorAnswersSlowAnswersAndNoServerAreErrorsNotValues() async throws {
        try await Self.withPrometheus({ request in
            if request.query["query"] == "slow" {
                try? await Task.sleep(for: .seconds(3))
                return .full(code: 200, body: Self.fixture("scalar.json"), headers: [])
            }
            return .full(code: 400, body: Self.fixture("error_bad_query_400.json"), headers: [])
        }) { querier, address, _ in
            let endpoint = PrometheusEndpoint(address: address)
            guard case .failure(.badQuery(let message)) = await querier.query("sum(", at: endpoint, timeout: .seconds(5)) else {
                Issue.record("not a bad query"); return
            }
            #expect(message.contains("parse error"))
            #expect(await querier.query("slow", at: endpoint, timeout: .milliseconds(300)) == .failure(.clientTimeout(seconds: 0.3)))
            guard case .failure(.unreachable) = await querier.query("up", at: PrometheusEndpoint(address: "http://127.0.0.1:1"), timeout: .seconds(2)) else {
                Issue.record("not unreachable"); return
            }
        }
    }

    @Test func httpsIsTrustedThroughTheGivenCertificateAuthorityOnly() async throws {
        let (context, certificate) = try SelfSignedCertificate.serverContext()
        let server = try await LoopbackHTTPServer(tls: context) { _ in .full(code: 200, body: Self.fixture("scalar.json"), headers: []) }
        let endpoint = PrometheusEndpoint(address: "https://127.0.0.1:\(server.port)")
        let trusting = try PrometheusQuerier(certificateAuthority: certificate, connectTimeout: .seconds(2))
        let untrusting = try PrometheusQuerier(connectTimeout: .seconds(2))
        let trusted = await trusting.query("up", at: endpoint, timeout: .seconds(5))
        let refused = await untrusting.query("up", at: endpoint, timeout: .seconds(5))
        try await trusting.shutdown()
        try await untrusting.shutdown()
        try await server.stop()
        #expect(trusted.map(\.numbers) == .success([20.013112038922053]))
        guard case .failure(.unreachable(let message)) = refused else {
            Issue.record("an unknown certificate was accepted: \(refused)"); return
        }
        #expect(message.lowercased().contains("certificate") || message.contains("handshake"), "\(message)")
    }

    @Test func anAddressItDoesNotAdmitIsNeverCalled() async throws {
        try await Self.withPrometheus({ _ in .full(code: 200, body: Self.fixture("scalar.json"), headers: []) }) { _, address, seen in
            let querier = try PrometheusQuerier(admits: { $0 == "http://prometheus.example:9090" })
            let refused = await querier.query("up", at: PrometheusEndpoint(address: address), timeout: .seconds(2))
            try await querier.shutdown()
            #expect(refused == .failure(.notAllowed(address)))
            #expect(seen.requests.withLock { $0.isEmpty })
        }
    }
}
