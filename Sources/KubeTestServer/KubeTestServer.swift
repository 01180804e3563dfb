import Foundation
import NIOSSL
import SluiceModel

/// A Kubernetes-API-compatible server on 127.0.0.1, for tests and the sandbox. It keeps objects
/// in memory, registers the CustomResourceDefinitions applied to it, prunes custom resources to
/// their schemas, splits the status subresource, and serves list and watch as the real server
/// does. It runs no controllers and no garbage collector: ownerReferences are kept, never acted on.
public final class KubeTestServer: Sendable {
    public let store: APIStore
    public let faults = Faults()
    let http: LoopbackHTTPServer
    /// The simulated controllers' loop (set once, at start).
    nonisolated(unsafe) var controllers: Task<Void, Never>?
    public let token: String?
    /// PEM of the self-signed certificate when serving TLS: the certificate authority to trust.
    public let certificateAuthority: Data?

    public var port: Int { http.port }
    /// Requests answered so far, by protocol (`HTTP/1.1`, `HTTP/2.0`).
    public var requestsByVersion: [String: Int] { http.requestsByVersion }
    public var url: String { "\(certificateAuthority == nil ? "http" : "https")://127.0.0.1:\(port)" }

    /// Starts on `port` (0: a free one). With a `token`, every request must carry it as a bearer
    /// token. With `tls`, it serves HTTPS with a self-signed certificate for 127.0.0.1 (kubectl
    /// sends bearer tokens only over TLS).
    /// With `users` (bearer token → user and groups), requests are authorized by the RBAC
    /// objects stored in the server, as kube-apiserver's RBAC authorizer does; `token` is an
    /// administrator's (`system:masters`). With neither, every request is allowed.
    /// With `clientCertificateAuthority` (PEM), it serves TLS and every client must present a
    /// certificate that authority signed, or the handshake fails. With `certificateNames`, it
    /// serves TLS with a certificate for those DNS names only (not for 127.0.0.1).
    public init(port: Int = 0, token: String? = nil, tls: Bool = false, replayWindow: Int = 1000,
                bookmarkInterval: Double = 10, users: [String: User] = [:], clientCertificateAuthority: Data? = nil,
                certificateNames: [String]? = nil) async throws {
        let sslContext: NIOSSLContext?
        if tls || clientCertificateAuthority != nil || certificateNames != nil {
            let (context, certificate) = try SelfSignedCertificate.serverContext(clientCA: clientCertificateAuthority, names: certificateNames)
            certificateAuthority = certificate
            sslContext = context
        } else {
            certificateAuthority = nil
            sslContext = nil
        }
        let store = APIStore(replayWindow: replayWindow)
        self.store = store
        self.token = token
        let portBox = PortBox()
        var handler = APIHandler(store: store, faults: faults, token: token, port: { portBox.port }, bookmarkInterval: bookmarkInterval)
        handler.users = users
        let api = handler
        http = try await LoopbackHTTPServer(port: port, tls: sslContext) { request in
            switch await api.handle(request) {
            case .json(let code, let value, let headers):
                return .full(code: code, body: (try? JSONEncoder.sorted.encode(value)) ?? Data(), headers: headers)
            case .stream(let lines):
                return .stream(lines)
            }
        }
        portBox.port = http.port
        // The simulated controllers run on the server's own clock.
        controllers = Task { [store] in
            while !Task.isCancelled {
                await store.runControllers()
                try? await Task.sleep(for: .seconds(await store.controllerStep))
            }
        }
    }

    /// Creates a namespace, as `kubectl create namespace` would (a test's first step: objects
    /// can only be created in a namespace that exists).
    public func createNamespace(_ name: String) async throws {
        guard let info = await store.resource(apiVersion: "v1", plural: "namespaces") else { return }
        _ = try await store.create(info, namespace: nil, ["apiVersion": "v1", "kind": "Namespace", "metadata": ["name": .string(name)]])
    }

    /// Every client connection open now stops being read, while staying open (see `LoopbackHTTPServer.stallConnections`).
    public func stallConnections() { http.stallConnections() }

    public func stop() async throws {
        controllers?.cancel()
        faults.cutWatches()
        try await http.stop()
    }

    /// Writes a kubeconfig that points kubectl (or any client) at this server; returns its path.
    public func writeKubeconfig(to path: String) throws -> String {
        let user = token.map { "    token: \($0)" } ?? "    username: admin\n    password: admin"
        let text = """
            apiVersion: v1
            kind: Config
            current-context: sluice-test
            clusters:
            - name: sluice-test
              cluster:
                server: \(url)\(certificateAuthority.map { "\n    certificate-authority-data: \($0.base64EncodedString())" } ?? "")
            users:
            - name: sluice-test
              user:
            \(user)
            contexts:
            - name: sluice-test
              context: {cluster: sluice-test, user: sluice-test, namespace: default}
            """
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    final class PortBox: @unchecked Sendable {
        var port = 0
    }
}
