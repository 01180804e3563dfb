import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization

/// An HTTP/1.1 server on 127.0.0.1 and a free port whose answers a test scripts. Every request
/// is recorded. Answers can stream (a watch), and the test stops the server when done.
final class ScriptedServer: Sendable {
    struct Request: Sendable {
        var method: String
        var path: String
        var query: [String: String]
        var headers: [(String, String)]
        var body: Data
        func header(_ name: String) -> String? { headers.first { $0.0.lowercased() == name.lowercased() }?.1 }
        var json: [String: Any]? { try? JSONSerialization.jsonObject(with: body) as? [String: Any] }
    }

    enum Reply: Sendable {
        case json(Int, String, headers: [(String, String)] = [])
        /// A 200 answer whose body is written line by line, as a watch is; it ends when the stream does.
        case stream(AsyncStream<String>)
    }

    typealias Script = @Sendable (Request) async -> Reply

    let group: MultiThreadedEventLoopGroup
    let channel: Channel
    let recorded = Mutex<[Request]>([])
    var port: Int { channel.localAddress!.port! }
    var url: String { "http://127.0.0.1:\(port)" }
    var requests: [Request] { recorded.withLock { $0 } }

    init(_ script: @escaping Script) async throws {
        group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let box = Box()
        channel = try await ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.pipeline.configureHTTPServerPipeline().flatMap {
                    channel.pipeline.addHandler(Handler(script: script, record: { request in box.server?.recorded.withLock { $0.append(request) } }))
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        box.server = self
    }

    func stop() async throws {
        try await channel.close()
        try await group.shutdownGracefully()
    }

    final class Box: @unchecked Sendable {
        weak var server: ScriptedServer?
    }

    final class Handler: ChannelInboundHandler, @unchecked Sendable {
        typealias InboundIn = HTTPServerRequestPart
        typealias OutboundOut = HTTPServerResponsePart
        let script: Script
        let record: @Sendable (Request) -> Void
        var head: HTTPRequestHead?
        var body = Data()

        init(script: @escaping Script, record: @escaping @Sendable (Request) -> Void) {
            self.script = script
            self.record = record
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
                let request = Request(method: head.method.rawValue, path: components?.path ?? head.uri, query: query,
                                      headers: head.headers.map { ($0.name, $0.value) }, body: body)
                record(request)
                let loop = context.eventLoop
                let bound = NIOLoopBound(context, eventLoop: loop)
                let script = self.script
                Task {
                    let reply = await script(request)
                    switch reply {
                    case .json(let code, let text, let headers):
                        loop.execute { Handler.write(bound.value, code: code, text: text, headers: headers) }
                    case .stream(let lines):
                        loop.execute { Handler.writeHead(bound.value, code: 200) }
                        for await line in lines {
                            loop.execute {
                                let context = bound.value
                                context.writeAndFlush(NIOAny(HTTPServerResponsePart.body(.byteBuffer(ByteBuffer(string: line + "\n")))), promise: nil)
                            }
                        }
                        loop.execute { bound.value.writeAndFlush(NIOAny(HTTPServerResponsePart.end(nil)), promise: nil) }
                    }
                }
            }
        }

        static func writeHead(_ context: ChannelHandlerContext, code: Int, length: Int? = nil, headers extra: [(String, String)] = []) {
            var headers = HTTPHeaders([("Content-Type", "application/json")] + extra)
            if let length { headers.add(name: "Content-Length", value: String(length)) }
            let head = HTTPResponseHead(version: .http1_1, status: HTTPResponseStatus(statusCode: code), headers: headers)
            context.writeAndFlush(NIOAny(HTTPServerResponsePart.head(head)), promise: nil)
        }

        static func write(_ context: ChannelHandlerContext, code: Int, text: String, headers: [(String, String)]) {
            let bytes = ByteBuffer(string: text)
            writeHead(context, code: code, length: bytes.readableBytes, headers: headers)
            context.write(NIOAny(HTTPServerResponsePart.body(.byteBuffer(bytes))), promise: nil)
            context.writeAndFlush(NIOAny(HTTPServerResponsePart.end(nil)), promise: nil)
        }
    }
}
