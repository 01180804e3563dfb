import Foundation
import KubeClient
import KubeTestServer
import Logging
import SluiceModel
import Synchronization
import Testing

@Suite struct FaultTests {
    static let cm: JSONValue = ["apiVersion": "v1", "kind": "ConfigMap", "metadata": ["name": "a"]]

    @Test func injectedFaultsLatencyCutsAndTheWriteLog() async throws {
        try await SemanticsTests.withServer { client, server in
            server.faults.fail("POST", path: "/configmaps", code: 429, count: 1, retryAfter: 3)
            server.faults.fail(nil, path: "/configmaps/a", code: 503, count: 2)
            do {
                let _: JSONValue = try await client.create(.configMaps, namespace: "shop", Self.cm)
                Issue.record("no fault")
            } catch let error as KubeClientError {
                guard case .throttled(_, let after) = error else { Issue.record("\(error)"); return }
                #expect(after == 3)
            }
            let _: JSONValue = try await client.create(.configMaps, namespace: "shop", Self.cm)
            // Two 503s to a GET are retried through; more than the client retries are an error.
            let got: JSONValue = try await client.get(.configMaps, namespace: "shop", name: "a")
            #expect(got["metadata"]?["name"] == "a")
            server.faults.fail(nil, path: "/configmaps/a", code: 503, count: 4)
            #expect(await SemanticsTests.label { let _: JSONValue = try await client.get(.configMaps, namespace: "shop", name: "a") } == "server_error",
                    "the first try and three retries all failed")
            // A cut watch ends at once.
            let stream: AsyncThrowingStream<WatchLine<JSONValue>, Error> = try await client.watch(.configMaps, namespace: "shop", resourceVersion: nil)
            server.faults.cutWatches()
            var count = 0
            for try await _ in stream { count += 1 }
            #expect(count == 1, "the synthetic ADDED, then the end")
            let writes = await server.store.writes.filter { $0.path.hasSuffix("/configmaps") }
            #expect(writes.count == 2, "both POSTs, the refused one included")
            #expect(writes.last?.verb == "POST")
            #expect(writes.last?.body.contains("\"name\":\"a\"") == true)
        }
    }

    /// A frozen watch (half-open: no events, no bookmarks, the connection open) is noticed by
    /// the informer's idle limit, re-opened from its last version, and the change it missed arrives.
    @Test func aFrozenWatchIsNoticedAndTheMissedChangeArrives() async throws {
        let server = try await KubeTestServer(bookmarkInterval: 0.2)
        try await server.createNamespace("shop")
        let client = try KubernetesClient(config: KubeConfig(server: server.url), logger: Logger(label: "test"))
        try await SemanticsTests.closing(client, server) {
            let informer = Informer(watcher: Watcher<JSONValue>(client: client, type: .configMaps, namespace: "shop", logger: Logger(label: "test"),
                                                                bookmarkInterval: .milliseconds(300)))
            await informer.start()
            #expect(await informer.waitForSync(timeout: .seconds(10)))
            let _: JSONValue = try await client.create(.configMaps, namespace: "shop", Self.cm)
            for _ in 0..<200 where await informer.get("shop/a") == nil { try await Task.sleep(for: .milliseconds(20)) }
            #expect(await informer.get("shop/a") != nil)
            server.faults.freezeWatches()
            let _: JSONValue = try await client.create(.configMaps, namespace: "shop", ["apiVersion": "v1", "kind": "ConfigMap", "metadata": ["name": "b"]])
            let frozen = ContinuousClock.now
            for _ in 0..<300 where await informer.get("shop/b") == nil { try await Task.sleep(for: .milliseconds(20)) }
            #expect(await informer.get("shop/b") != nil, "the change made while the watch was frozen arrives")
            #expect(ContinuousClock.now - frozen >= .milliseconds(400), "through a new watch, once the idle limit (450 ms) passed")
            await informer.stop()
        }
    }

    @Test func bookmarksOnlyWhenAsked() async throws {
        let server = try await KubeTestServer(bookmarkInterval: 0.1)
        try await server.createNamespace("shop")
        let client = try KubernetesClient(config: KubeConfig(server: server.url), logger: Logger(label: "test"))
        var bookmarks = [0, 0]
        for (i, ask) in [true, false].enumerated() {
            // Asked: the first bookmark ends the wait (up to 30 s); not asked: none in a second.
            let stream: AsyncThrowingStream<WatchLine<JSONValue>, Error> = try await client.watch(.configMaps, namespace: "shop", resourceVersion: nil,
                                                                                                  timeoutSeconds: ask ? 30 : 1, allowBookmarks: ask)
            for try await line in stream {
                if case .bookmark = line.event { bookmarks[i] += 1 }
                if bookmarks[i] > 0 { break }
            }
        }
        #expect(bookmarks[0] > 0)
        #expect(bookmarks[1] == 0)
        try await client.shutdown()
        try await server.stop()
    }

    @Test func fieldValidationStrictRefusesAndWarnWarns() async throws {
        let logs = LogSink()
        try await SemanticsTests.withServer { _, server in
            let client = try KubernetesClient(config: KubeConfig(server: server.url), logger: Logger(label: "t") { _ in Capture(logs: logs) })
            var body = SemanticsTests.rollout
            body["spec"]?["typo"] = 1
            let strict = await SemanticsTests.label {
                let _: JSONValue = try await client.send(.rollouts, namespace: "shop", body: body, query: [("fieldValidation", "Strict")])
            }
            #expect(strict == "bad_request")
            let _: JSONValue = try await client.create(.rollouts, namespace: "shop", body)
            #expect(logs.lines.withLock { $0 }.contains { $0.contains("unknown field \\\"spec.typo\\\"") || $0.contains("unknown field \"spec.typo\"") })
            try await client.shutdown()
        }
    }

    final class LogSink: Sendable {
        let lines = Mutex<[String]>([])
    }

    struct Capture: LogHandler {
        let logs: LogSink
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .trace
        subscript(metadataKey key: String) -> Logger.Metadata.Value? { get { metadata[key] } set { metadata[key] = newValue } }
        func log(event: LogEvent) {
            logs.lines.withLock { $0.append("\(event.message) \(event.metadata ?? [:])") }
        }
    }
}

extension KubernetesClient {
    /// A create with extra query parameters, for tests of the server's options.
    func send(_ type: ResourceType, namespace: String, body: JSONValue, query: [(String, String)]) async throws -> JSONValue {
        let data = try JSONEncoder().encode(body)
        return try JSONDecoder().decode(JSONValue.self, from: try await createRaw(type, namespace: namespace, body: data, query: query))
    }
}

@Suite struct ReplayWindowAndOptionsTests {
    @Test func aVersionOlderThanTheReplayWindowIsTooOld() async throws {
        let server = try await KubeTestServer(replayWindow: 2)
        try await server.createNamespace("shop")
        let client = try KubernetesClient(config: KubeConfig(server: server.url), logger: Logger(label: "t"))
        let first: JSONValue = try await client.create(.configMaps, namespace: "shop", FaultTests.cm)
        let start = first["metadata"]!["resourceVersion"]!.string!
        for i in 0..<3 {
            let _: JSONValue = try await client.patch(.configMaps, namespace: "shop", name: "a", .merge(Data(#"{"data":{"i":"\#(i)"}}"#.utf8)))
        }
        let old: AsyncThrowingStream<WatchLine<JSONValue>, Error> = try await client.watch(.configMaps, namespace: "shop", resourceVersion: start,
                                                                                           timeoutSeconds: 10, allowBookmarks: false)
        var codes: [Int] = []
        for try await line in old { if case .error(let s) = line.event { codes.append(s.code ?? 0) } }
        #expect(codes == [410], "four changes since, two kept")
        try await client.shutdown()
        try await server.stop()
    }

    @Test func fieldValidationIgnoreDropsSilentlyAndLatencyDelays() async throws {
        let logs = FaultTests.LogSink()
        try await SemanticsTests.withServer { _, server in
            let client = try KubernetesClient(config: KubeConfig(server: server.url), logger: Logger(label: "t") { _ in FaultTests.Capture(logs: logs) })
            var body = SemanticsTests.rollout
            body["spec"]?["typo"] = 1
            let created = try await client.send(.rollouts, namespace: "shop", body: body, query: [("fieldValidation", "Ignore")])
            #expect(created["spec"]?["typo"] == nil)
            #expect(logs.lines.withLock { $0 }.isEmpty, "no Warning header")
            server.faults.setLatency(milliseconds: 300)
            let start = ContinuousClock.now
            let _: JSONValue = try await client.get(.rollouts, namespace: "shop", name: "checkout")
            #expect(ContinuousClock.now - start >= .milliseconds(300), "load can only make it slower")
            try await client.shutdown()
        }
    }
}
