import Foundation
import NIOCore
import NIOHTTP1
import NIOHTTP2
import NIOPosix
import NIOSSL
import Synchronization

/// An HTTP/1.1 server on 127.0.0.1 that hands each request to an async handler. Answers are
/// whole bodies or line streams (a watch). The test API server and scripted test servers stand on it.
public final class LoopbackHTTPServer: Sendable {
    public struct Request: Sendable {
        public var method: String
        public var path: String
        public var query: [String: String]
        /// Header names lowercased.
        public var headers: [String: String]
        public var body: Data
        /// `HTTP/1.1` or `HTTP/2.0`.
        public var version: String = "HTTP/1.1"
    }

    public enum Response: Sendable {
        case full(code: Int, body: Data, headers: [(String, String)])
        /// A 200 answer written line by line; it ends when the stream does.
        case stream(AsyncStream<String>)
    }

    public typealias Handler = @Sendable (Request) async -> Response

    let group: MultiThreadedEventLoopGroup
    let channel: Channel
    let answering = Answering()
    let stats = Stats()
    let connections = Connections()

    /// The open connections, so a test can stall them.
    final class Connections: Sendable {
        let open = Mutex<[ObjectIdentifier: Channel]>([:])
        func add(_ channel: Channel) {
            open.withLock { $0[ObjectIdentifier(channel)] = channel }
            channel.closeFuture.whenComplete { [self] _ in _ = open.withLock { $0.removeValue(forKey: ObjectIdentifier(channel)) } }
        }
    }

    /// Every connection open now stops reading — requests, HTTP/2 PINGs, everything — while it
    /// stays open: a stuck peer or a black-holed route. New connections are served as usual.
    public func stallConnections() {
        for channel in connections.open.withLock({ Array($0.values) }) {
            channel.eventLoop.execute { _ = channel.setOption(ChannelOptions.autoRead, value: false) }
        }
    }

    /// Streams one HTTP/2 connection may carry at once.
    public static let maxStreamsPerConnection = 100

    /// Requests answered, by protocol version.
    public final class Stats: Sendable {
        let counts = Mutex<[String: Int]>([:])
        func count(_ version: String) { counts.withLock { $0[version, default: 0] += 1 } }
    }

    /// How many requests came over each protocol (`HTTP/1.1`, `HTTP/2.0`).
    public var requestsByVersion: [String: Int] { stats.counts.withLock { $0 } }

    public var port: Int { channel.localAddress?.port ?? 0 }

    public init(port: Int = 0, tls: NIOSSLContext? = nil, handler: @escaping Handler) async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        self.group = group
        let answering = self.answering
        let stats = self.stats
        let connections = self.connections
        channel = try await ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                connections.add(channel)
                let tlsReady: EventLoopFuture<Void> = tls.map { context in
                    channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: context)) }
                } ?? channel.eventLoop.makeSucceededVoidFuture()
                guard tls != nil else {
                    return channel.pipeline.configureHTTPServerPipeline().flatMap {
                        channel.pipeline.addHandler(ChannelHandler(handler: handler, answering: answering, stats: stats))
                    }
                }
                // Over TLS, HTTP/2 or HTTP/1.1 as ALPN settles it; HTTP/2 with a per-connection
                // stream limit (kube-apiserver's: 100 unless --http2-max-streams-per-connection says otherwise).
                return tlsReady.flatMap {
                    channel.configureHTTP2SecureUpgrade(h2ChannelConfigurator: { channel in
                        channel.configureHTTP2Pipeline(mode: .server, initialLocalSettings: [
                            HTTP2Setting(parameter: .maxConcurrentStreams, value: LoopbackHTTPServer.maxStreamsPerConnection),
                            HTTP2Setting(parameter: .maxHeaderListSize, value: 1 << 16),
                        ]) { stream in
                            stream.pipeline.addHandlers([HTTP2FramePayloadToHTTP1ServerCodec(),
                                                         ChannelHandler(handler: handler, answering: answering, stats: stats)])
                        }.map { _ in }
                    }, http1ChannelConfigurator: { channel in
                        channel.pipeline.configureHTTPServerPipeline().flatMap {
                            channel.pipeline.addHandler(ChannelHandler(handler: handler, answering: answering, stats: stats))
                        }
                    })
                }
            }
            .bind(host: "127.0.0.1", port: port).get()
    }

    /// Stops accepting, cancels the handlers still answering and waits for them (so none writes
    /// to an event loop that is gone), then shuts the event loop down.
    public func stop() async throws {
        try await channel.close()
        await answering.stop()
        try await group.shutdownGracefully()
    }

    /// The tasks answering requests, so that `stop` can end them first.
    final class Answering: Sendable {
        struct State {
            var stopped = false
            var next = 0
            var tasks: [Int: Task<Void, Never>] = [:]
        }
        let state = Mutex(State())

        /// Runs `body` in a task of its own, unless the server has stopped.
        func start(_ body: @escaping @Sendable () async -> Void) {
            state.withLock { state in
                guard !state.stopped else { return }
                let id = state.next
                state.next += 1
                state.tasks[id] = Task { [self] in
                    await body()
                    _ = self.state.withLock { $0.tasks.removeValue(forKey: id) }
                }
            }
        }

        func stop() async {
            let tasks = state.withLock { state in
                state.stopped = true
                return Array(state.tasks.values)
            }
            for task in tasks { task.cancel() }
            for task in tasks { await task.value }
        }
    }

    final class ChannelHandler: ChannelInboundHandler, @unchecked Sendable {
        typealias InboundIn = HTTPServerRequestPart
        typealias OutboundOut = HTTPServerResponsePart
        let handler: Handler
        let answering: Answering
        let stats: Stats
        var head: HTTPRequestHead?
        var body = Data()

        init(handler: @escaping Handler, answering: Answering, stats: Stats) {
            self.handler = handler
            self.answering = answering
            self.stats = stats
        }

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
                let version = "HTTP/\(head.version.major).\(head.version.minor)"
                stats.count(version)
                let request = Request(method: head.method.rawValue, path: components?.path ?? head.uri, query: query, headers: headers, body: body,
                                      version: version)
                let loop = context.eventLoop
                let bound = NIOLoopBound(context, eventLoop: loop)
                let handler = self.handler
                let keepAlive = head.isKeepAlive
                answering.start {
                    switch await handler(request) {
                    case .full(let code, let data, let extra):
                        loop.execute { ChannelHandler.write(bound.value, code: code, body: data, headers: extra, keepAlive: keepAlive) }
                    case .stream(let lines):
                        loop.execute { ChannelHandler.writeStreamHead(bound.value) }
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
