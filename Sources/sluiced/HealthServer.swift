import NIOCore
import NIOHTTP1
import NIOPosix

/// `/healthz` (the process answers), `/readyz` (caches synced and leading, or standing by as a
/// replica that does not lead), and `/metrics` (Prometheus's text format), over HTTP/1.1.
final class HealthServer: Sendable {
    struct Answer: Sendable {
        var status: HTTPResponseStatus
        var contentType: String
        var body: String
    }

    let channel: Channel
    let group: MultiThreadedEventLoopGroup

    init(host: String, port: Int, answer: @escaping @Sendable (String) async -> Answer) async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        self.group = group
        channel = try await ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.pipeline.configureHTTPServerPipeline().flatMap {
                    channel.pipeline.addHandler(Handler(answer: answer))
                }
            }
            .bind(host: host, port: port).get()
    }

    var port: Int { channel.localAddress?.port ?? 0 }

    func stop() async {
        try? await channel.close()
        try? await group.shutdownGracefully()
    }

    final class Handler: ChannelInboundHandler, @unchecked Sendable {
        typealias InboundIn = HTTPServerRequestPart
        typealias OutboundOut = HTTPServerResponsePart
        let answer: @Sendable (String) async -> Answer
        var path = ""

        init(answer: @escaping @Sendable (String) async -> Answer) { self.answer = answer }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            switch unwrapInboundIn(data) {
            case .head(let head):
                path = String(head.uri.split(separator: "?").first ?? "")
            case .body:
                break
            case .end:
                let path = self.path
                let eventLoop = context.eventLoop
                let loopBound = NIOLoopBound((self, context), eventLoop: eventLoop)
                let answer = self.answer
                Task {
                    let reply = await answer(path)
                    eventLoop.execute {
                        let (handler, context) = loopBound.value
                        var headers = HTTPHeaders()
                        headers.add(name: "Content-Type", value: reply.contentType)
                        headers.add(name: "Content-Length", value: String(reply.body.utf8.count))
                        context.write(handler.wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: reply.status, headers: headers))),
                                      promise: nil)
                        context.write(handler.wrapOutboundOut(.body(.byteBuffer(ByteBuffer(string: reply.body)))), promise: nil)
                        context.writeAndFlush(handler.wrapOutboundOut(.end(nil)), promise: nil)
                    }
                }
            }
        }
    }
}
