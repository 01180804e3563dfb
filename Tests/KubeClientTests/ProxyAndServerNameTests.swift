import Foundation
import KubeClient
import KubeTestServer
import Logging
import SluiceModel
import Testing

/// `tls-server-name`, `proxy-url`, and `HTTPS_PROXY`/`HTTP_PROXY`/`NO_PROXY` as client-go honours them.
@Suite struct ProxyAndServerNameTests {
    /// Whether a GET of the default namespace gets through.
    static func reaches(_ config: KubeConfig, environment: [String: String] = [:]) async throws -> Bool {
        let client = try KubernetesClient(config: config, logger: Logger(label: "test"), requestTimeout: .seconds(5), environment: environment)
        defer { Task { try? await client.shutdown() } }
        do {
            let _: JSONValue = try await client.get(.namespaces, name: "default")
            try await client.shutdown()
            return true
        } catch {
            try await client.shutdown()
            return false
        }
    }

    @Test func theServerCertificateIsCheckedAgainstTlsServerName() async throws {
        // Reached at 127.0.0.1, with a certificate that names only api.cluster.example.
        let server = try await KubeTestServer(certificateNames: ["api.cluster.example"])
        let config = KubeConfig(server: server.url, certificateAuthority: server.certificateAuthority)
        #expect(try await !Self.reaches(config), "the certificate does not name 127.0.0.1")
        var named = config
        named.tlsServerName = "api.cluster.example"
        #expect(try await Self.reaches(named), "checked against tls-server-name instead")
        named.tlsServerName = "api.elsewhere.example"
        #expect(try await !Self.reaches(named), "a name the certificate does not carry is refused")
        try await server.stop()
    }

    @Test func proxiesFromTheKubeconfigAndTheEnvironment() async throws {
        let server = try await KubeTestServer()
        let direct = KubeConfig(server: server.url)
        // Nothing listens on port 1: a request sent through that proxy fails.
        let deadProxy = "http://127.0.0.1:1"
        #expect(try await Self.reaches(direct))
        #expect(try await !Self.reaches(direct, environment: ["HTTP_PROXY": deadProxy]), "HTTP_PROXY is used for an http server")
        #expect(try await Self.reaches(direct, environment: ["HTTPS_PROXY": deadProxy]), "HTTPS_PROXY is not, for an http server")
        #expect(try await Self.reaches(direct, environment: ["http_proxy": deadProxy, "NO_PROXY": "localhost,127.0.0.0/8"]), "NO_PROXY by CIDR")
        var viaKubeconfig = direct
        viaKubeconfig.proxyURL = deadProxy
        #expect(try await !Self.reaches(viaKubeconfig, environment: ["NO_PROXY": "*"]), "proxy-url wins over the environment")
        try await server.stop()
    }

    @Test func choosingAProxy() throws {
        let env = ["HTTPS_PROXY": "proxy.corp:3128", "NO_PROXY": ".internal, 10.0.0.0/8 ,api.other:6443"]
        #expect(try ProxySettings.choose(server: "https://k8s.example:6443", proxyURL: nil, environment: env)?.host == "proxy.corp")
        #expect(try ProxySettings.choose(server: "https://k8s.example:6443", proxyURL: nil, environment: env)?.port == 3128)
        #expect(try ProxySettings.choose(server: "https://api.cluster.internal", proxyURL: nil, environment: env) == nil, "domain suffix")
        #expect(try ProxySettings.choose(server: "https://internal", proxyURL: nil, environment: env) == nil, "the domain itself")
        #expect(try ProxySettings.choose(server: "https://10.2.3.4:6443", proxyURL: nil, environment: env) == nil, "CIDR")
        #expect(try ProxySettings.choose(server: "https://api.other:6443", proxyURL: nil, environment: env) == nil, "host:port")
        #expect(try ProxySettings.choose(server: "https://notinternal.example", proxyURL: nil, environment: env) != nil, "not a suffix match")
        #expect(try ProxySettings.choose(server: "http://k8s.example", proxyURL: nil, environment: env) == nil, "no HTTP_PROXY")
        let socks = try ProxySettings.choose(server: "https://k", proxyURL: "socks5://user:pw@jump:1081", environment: env)
        #expect(socks?.scheme == "socks5" && socks?.port == 1081 && socks?.username == "user")
        #expect(throws: KubeClientError.self) { try ProxySettings.choose(server: "https://k", proxyURL: "ftp://x", environment: [:]) }
    }

    @Test func proxyURLIsReadFromTheKubeconfig() throws {
        let config = try KubeConfig.parse(KubeConfigTests.config(user: "    token: t",
                                                                 cluster: "    server: https://k:6443\n    proxy-url: socks5://jump:1080\n    tls-server-name: api.k"))
        #expect(config.proxyURL == "socks5://jump:1080")
        #expect(config.tlsServerName == "api.k")
    }
}
