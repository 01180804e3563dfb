import Foundation
import KubeTestServer
import NIOCore
import NIOPosix
import NIOSSL
import Synchronization
import Testing

/// The HTTP/2 connection's own terms, read off the wire: after ALPN picks `h2`, the server's
/// first SETTINGS frame limits the streams one connection may carry at once.
@Suite struct HTTP2SettingsTests {
    /// Collects the raw bytes the server sends.
    final class Collector: ChannelInboundHandler, Sendable {
        typealias InboundIn = ByteBuffer
        let bytes = Mutex<[UInt8]>([])
        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            var buffer = unwrapInboundIn(data)
            let read = buffer.readBytes(length: buffer.readableBytes) ?? []
            bytes.withLock { $0 += read }
        }
    }

    /// The parameters of the first SETTINGS frame in `bytes`.
    static func settings(_ bytes: [UInt8]) -> [UInt16: UInt32]? {
        var i = 0
        while i + 9 <= bytes.count {
            let length = Int(bytes[i]) << 16 | Int(bytes[i + 1]) << 8 | Int(bytes[i + 2])
            let type = bytes[i + 3]
            let flags = bytes[i + 4]
            guard i + 9 + length <= bytes.count else { return nil }
            if type == 0x4, flags & 0x1 == 0 {
                var out: [UInt16: UInt32] = [:]
                var j = i + 9
                while j + 6 <= i + 9 + length {
                    let id = UInt16(bytes[j]) << 8 | UInt16(bytes[j + 1])
                    let value = UInt32(bytes[j + 2]) << 24 | UInt32(bytes[j + 3]) << 16 | UInt32(bytes[j + 4]) << 8 | UInt32(bytes[j + 5])
                    out[id] = value
                    j += 6
                }
                return out
            }
            i += 9 + length
        }
        return nil
    }

    @Test func theServerLimitsStreamsPerConnection() async throws {
        let server = try await KubeTestServer(tls: true)
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.certificateVerification = .none
        configuration.applicationProtocols = ["h2"]
        let context = try NIOSSLContext(configuration: configuration)
        let collector = Collector()
        do {
            let channel = try await ClientBootstrap(group: group).channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(try NIOSSLClientHandler(context: context, serverHostname: nil))
                    try channel.pipeline.syncOperations.addHandler(collector)
                }
            }.connect(host: "127.0.0.1", port: server.port).get()
            // The client preface and an empty SETTINGS frame.
            var hello = ByteBuffer(string: "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
            hello.writeBytes([0, 0, 0, 0x4, 0, 0, 0, 0, 0])
            try await channel.writeAndFlush(hello)
            var found: [UInt16: UInt32]?
            for _ in 0..<100 {
                found = Self.settings(collector.bytes.withLock { $0 })
                if found != nil { break }
                try await Task.sleep(for: .milliseconds(20))
            }
            #expect(found?[0x3] == UInt32(LoopbackHTTPServer.maxStreamsPerConnection), "SETTINGS_MAX_CONCURRENT_STREAMS: \(found ?? [:])")
            #expect(LoopbackHTTPServer.maxStreamsPerConnection == 100, "kube-apiserver's own when --http2-max-streams-per-connection is unset")
            try await channel.close()
        } catch {
            try await group.shutdownGracefully()
            try await server.stop()
            throw error
        }
        try await group.shutdownGracefully()
        try await server.stop()
    }
}
