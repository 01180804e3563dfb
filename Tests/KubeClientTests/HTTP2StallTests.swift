import Foundation
import KubeClient
import KubeTestServer
import Logging
import SluiceModel
import Synchronization
import Testing

/// Over HTTP/2 every request shares one connection: one that gets stuck must not stall them all
/// until each one's deadline. The client PINGs an idle connection and closes it when the ACK
/// does not come, so the next requests open a new one.
@Suite struct HTTP2StallTests {
    @Test func aStuckConnectionIsReplacedLongBeforeTheRequestDeadline() async throws {
        let server = try await KubeTestServer(tls: true)
        let client = try KubernetesClient(config: KubeConfig(server: server.url, certificateAuthority: server.certificateAuthority),
                                          logger: Logger(label: "test"), requestTimeout: .seconds(20),
                                          http2ReadIdle: .milliseconds(300), http2PingTimeout: .milliseconds(300))
        do {
            // Many requests and watches share the connection.
            let watches = try await (0..<20).asyncMap { _ in
                let stream: AsyncThrowingStream<WatchLine<JSONValue>, Error> = try await client.watch(.configMaps, namespace: "default", resourceVersion: nil)
                return stream
            }
            for _ in 0..<20 { let _: JSONValue = try await client.get(.namespaces, name: "default") }
            #expect((server.requestsByVersion["HTTP/2.0"] ?? 0) >= 40, "over HTTP/2: \(server.requestsByVersion)")
            _ = watches
            server.stallConnections()
            let stalled = ContinuousClock.now
            // The request caught on the stuck connection fails when the PING goes unanswered...
            do {
                let _: JSONValue = try await client.get(.namespaces, name: "default")
            } catch {}
            #expect(ContinuousClock.now - stalled < .seconds(3), "not after its 20 s deadline: \(ContinuousClock.now - stalled)")
            // ...and the next ones go over a new connection.
            let _: JSONValue = try await client.get(.namespaces, name: "default")
            #expect(ContinuousClock.now - stalled < .seconds(4), "served again: \(ContinuousClock.now - stalled)")
        } catch {
            Issue.record("\(error)")
        }
        try await client.shutdown()
        try await server.stop()
    }
}

extension Sequence {
    func asyncMap<T>(_ transform: (Element) async throws -> T) async rethrows -> [T] {
        var out: [T] = []
        for element in self { out.append(try await transform(element)) }
        return out
    }
}
