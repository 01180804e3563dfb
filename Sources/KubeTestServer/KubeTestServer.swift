import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import SluiceModel

/// A Kubernetes-API-compatible server on 127.0.0.1, for tests and the sandbox. It keeps objects
/// in memory, registers the CustomResourceDefinitions applied to it, prunes custom resources to
/// their schemas, splits the status subresource, and serves list and watch as the real server
/// does. It runs no controllers and no garbage collector: ownerReferences are kept, never acted on.
public final class KubeTestServer: Sendable {
    public let store: APIStore
    public let faults = Faults()
    let group: MultiThreadedEventLoopGroup
    let channel: Channel
    public let token: String?

    /// PEM of the self-signed certificate when serving TLS: the certificate authority to trust.
    public let certificateAuthority: Data?

    public var port: Int { channel.localAddress?.port ?? 0 }
    public var url: String { "\(certificateAuthority == nil ? "http" : "https")://127.0.0.1:\(port)" }

    /// Starts on `port` (0: a free one). With a `token`, every request must carry it as a bearer
    /// token. With `tls`, it serves HTTPS with a self-signed certificate for 127.0.0.1 (kubectl
    /// sends bearer tokens only over TLS).
    public init(port: Int = 0, token: String? = nil, tls: Bool = false, replayWindow: Int = 1000,
                bookmarkInterval: Double = 10) async throws {
        let sslContext: NIOSSLContext?
        if tls {
            let (certificate, key) = try SelfSignedCertificate.make()
            certificateAuthority = certificate
            sslContext = try NIOSSLContext(configuration: .makeServerConfiguration(
                certificateChain: try NIOSSLCertificate.fromPEMBytes(Array(certificate)).map { .certificate($0) },
                privateKey: .privateKey(try NIOSSLPrivateKey(bytes: Array(key), format: .pem))))
        } else {
            certificateAuthority = nil
            sslContext = nil
        }
        let store = APIStore(replayWindow: replayWindow)
        self.store = store
        self.token = token
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        self.group = group
        let portBox = PortBox()
        let handler = APIHandler(store: store, faults: faults, token: token, port: { portBox.port }, bookmarkInterval: bookmarkInterval)
        channel = try await ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                let tlsReady: EventLoopFuture<Void> = sslContext.map { context in
                    channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: context)) }
                } ?? channel.eventLoop.makeSucceededVoidFuture()
                return tlsReady.flatMap {
                    channel.pipeline.configureHTTPServerPipeline().flatMap { channel.pipeline.addHandler(HTTPHandler(api: handler)) }
                }
            }
            .bind(host: "127.0.0.1", port: port).get()
        portBox.port = channel.localAddress?.port ?? 0
    }

    public func stop() async throws {
        faults.cutWatches()
        try await channel.close()
        try await group.shutdownGracefully()
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

    final class HTTPHandler: ChannelInboundHandler, @unchecked Sendable {
        typealias InboundIn = HTTPServerRequestPart
        typealias OutboundOut = HTTPServerResponsePart
        let api: APIHandler
        var head: HTTPRequestHead?
        var body = Data()

        init(api: APIHandler) { self.api = api }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            switch unwrapInboundIn(data) {
            case .head(let h):
                head = h
                body = Data()
            case .body(var buffer):
                body += buffer.readBytes(length: buffer.readableBytes) ?? []
            case .end:
                guard let head else { return }
                let components = URLComponents(string: head.uri)
                var query: [String: String] = [:]
                for item in components?.queryItems ?? [] { query[item.name] = item.value ?? "" }
                var headers: [String: String] = [:]
                for (name, value) in head.headers { headers[name.lowercased()] = value }
                let request = APIHandler.Request(method: head.method.rawValue, path: components?.path ?? head.uri, query: query,
                                                 headers: headers, body: body)
                let loop = context.eventLoop
                let bound = NIOLoopBound(context, eventLoop: loop)
                let api = self.api
                let keepAlive = head.isKeepAlive
                Task {
                    switch await api.handle(request) {
                    case .json(let code, let value, let extra):
                        let data = (try? JSONEncoder.sorted.encode(value)) ?? Data()
                        loop.execute { HTTPHandler.write(bound.value, code: code, body: data, headers: extra, keepAlive: keepAlive) }
                    case .stream(let lines):
                        loop.execute { HTTPHandler.writeStreamHead(bound.value) }
                        for await line in lines {
                            loop.execute {
                                bound.value.writeAndFlush(NIOAny(HTTPServerResponsePart.body(.byteBuffer(ByteBuffer(string: line + "\n")))), promise: nil)
                            }
                        }
                        loop.execute { bound.value.writeAndFlush(NIOAny(HTTPServerResponsePart.end(nil)), promise: nil) }
                    }
                }
            }
        }

        static func writeStreamHead(_ context: ChannelHandlerContext) {
            let headers = HTTPHeaders([("Content-Type", "application/json"), ("Transfer-Encoding", "chunked")])
            context.writeAndFlush(NIOAny(HTTPServerResponsePart.head(HTTPResponseHead(version: .http1_1, status: .ok, headers: headers))),
                                  promise: nil)
        }

        static func write(_ context: ChannelHandlerContext, code: Int, body: Data, headers extra: [(String, String)], keepAlive: Bool) {
            var headers = HTTPHeaders([("Content-Type", "application/json"), ("Content-Length", String(body.count))] + extra)
            if !keepAlive { headers.add(name: "Connection", value: "close") }
            let head = HTTPResponseHead(version: .http1_1, status: HTTPResponseStatus(statusCode: code), headers: headers)
            context.write(NIOAny(HTTPServerResponsePart.head(head)), promise: nil)
            context.write(NIOAny(HTTPServerResponsePart.body(.byteBuffer(ByteBuffer(bytes: body)))), promise: nil)
            context.writeAndFlush(NIOAny(HTTPServerResponsePart.end(nil)), promise: nil)
        }
    }
}
