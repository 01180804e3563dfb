import NIOCore
import NIOHTTP2

/// On an HTTP/2 connection, as client-go configures Go's transport (`ReadIdleTimeout` 30 s,
/// `PingTimeout` 15 s): when nothing has been read for `readIdle`, a PING goes out, and if its
/// ACK has not come back within `pingTimeout` the connection is closed — so a stuck connection
/// fails the requests on it and the next ones open a new connection, instead of every request
/// that shares it waiting out its own deadline.
final class HTTP2Keepalive: ChannelDuplexHandler, @unchecked Sendable {
    typealias InboundIn = HTTP2Frame
    typealias InboundOut = HTTP2Frame
    typealias OutboundIn = HTTP2Frame
    typealias OutboundOut = HTTP2Frame

    let readIdle: TimeAmount
    let pingTimeout: TimeAmount
    var lastRead: NIODeadline = .now()
    var pingSent: NIODeadline?
    var timer: RepeatedTask?

    init(readIdle: TimeAmount, pingTimeout: TimeAmount) {
        self.readIdle = readIdle
        self.pingTimeout = pingTimeout
    }

    func handlerAdded(context: ChannelHandlerContext) {
        lastRead = .now()
        let step = TimeAmount.nanoseconds(max(min(readIdle.nanoseconds, pingTimeout.nanoseconds) / 4, 10_000_000))
        let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        timer = context.eventLoop.scheduleRepeatedTask(initialDelay: step, delay: step) { _ in
            let (handler, context) = loopBound.value
            handler.check(context: context)
        }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        timer?.cancel()
        timer = nil
    }

    func check(context: ChannelHandlerContext) {
        let now = NIODeadline.now()
        if let sent = pingSent {
            if now - sent >= pingTimeout {
                timer?.cancel()
                context.close(promise: nil)
            }
            return
        }
        guard now - lastRead >= readIdle else { return }
        pingSent = now
        var data = HTTP2PingData()
        data.integer = UInt64(now.uptimeNanoseconds)
        context.writeAndFlush(wrapOutboundOut(HTTP2Frame(streamID: .rootStream, payload: .ping(data, ack: false))), promise: nil)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        lastRead = .now()
        if case .ping(_, ack: true) = unwrapInboundIn(data).payload { pingSent = nil }
        context.fireChannelRead(data)
    }
}
