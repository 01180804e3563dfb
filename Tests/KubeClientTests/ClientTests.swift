import Foundation
import KubeClient
import Logging
import Synchronization
import Testing

/// Log lines captured for assertions.
final class CapturedLogs: Sendable {
    let lines = Mutex<[String]>([])
    var logger: Logger {
        Logger(label: "test") { _ in Handler(sink: self) }
    }
    struct Handler: LogHandler {
        let sink: CapturedLogs
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .trace
        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }
        func log(event: LogEvent) {
            let text = "\(event.level) \(event.message) \(event.metadata.map { "\($0)" } ?? "")"
            sink.lines.withLock { $0.append(text) }
        }
    }
}

struct Thing: Codable, Sendable, Equatable {
    struct Meta: Codable, Sendable, Equatable {
        var name: String
        var namespace: String?
        var resourceVersion: String?
    }
    var apiVersion = "v1"
    var kind = "ConfigMap"
    var metadata: Meta
    var data: [String: String]?
}

func thing(_ name: String, rv: String, data: [String: String]? = nil) -> String {
    let d = data.map { ",\"data\":" + String(decoding: try! JSONEncoder().encode($0), as: UTF8.self) } ?? ""
    return #"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"\#(name)","namespace":"shop","resourceVersion":"\#(rv)"}\#(d)}"#
}

func withServer(_ script: @escaping ScriptedServer.Script, logs: CapturedLogs = CapturedLogs(), qps: Double = 1000, burst: Int = 1000,
                _ body: (KubernetesClient, ScriptedServer) async throws -> Void) async throws {
    let server = try await ScriptedServer(script)
    let client = try KubernetesClient(config: KubeConfig(server: server.url, credentials: .token("s3cret")), logger: logs.logger,
                                      qps: qps, burst: burst)
    do {
        try await body(client, server)
    } catch {
        try await client.shutdown()
        try await server.stop()
        throw error
    }
    try await client.shutdown()
    try await server.stop()
}

@Suite struct ClientTests {
    @Test func crudSpeaksTheWireProtocol() async throws {
        try await withServer({ request in
            switch (request.method, request.path) {
            case ("GET", "/api/v1/namespaces/shop/configmaps/a"): return .json(200, thing("a", rv: "5", data: ["k": "v"]))
            case ("POST", "/api/v1/namespaces/shop/configmaps"): return .json(201, thing("b", rv: "6"))
            case ("PUT", "/api/v1/namespaces/shop/configmaps/b"):
                let rv = (request.json?["metadata"] as? [String: Any])?["resourceVersion"] as? String
                return rv == "6" ? .json(200, thing("b", rv: "7")) :
                    .json(409, #"{"kind":"Status","code":409,"reason":"Conflict","message":"the object has been modified"}"#)
            case ("DELETE", "/api/v1/namespaces/shop/configmaps/b"): return .json(200, #"{"kind":"Status","status":"Success"}"#)
            default: return .json(404, #"{"kind":"Status","code":404,"reason":"NotFound","message":"configmaps \"x\" not found"}"#)
            }
        }) { client, server in
            let a: Thing = try await client.get(.configMaps, namespace: "shop", name: "a")
            #expect(a.data == ["k": "v"])
            #expect(server.requests[0].header("Authorization") == "Bearer s3cret")
            #expect(server.requests[0].header("Accept") == "application/json")
            var b: Thing = try await client.create(.configMaps, namespace: "shop", Thing(metadata: .init(name: "b")))
            #expect(b.metadata.resourceVersion == "6")
            b = try await client.update(.configMaps, namespace: "shop", name: "b", b)
            #expect(b.metadata.resourceVersion == "7")
            var stale = b
            stale.metadata.resourceVersion = "1"
            await #expect(throws: KubeClientError.self) {
                let _: Thing = try await client.update(.configMaps, namespace: "shop", name: "b", stale)
            }
            do {
                let _: Thing = try await client.update(.configMaps, namespace: "shop", name: "b", stale)
                Issue.record("a stale update went through")
            } catch let error as KubeClientError {
                #expect(error.label == "conflict")
            }
            try await client.delete(.configMaps, namespace: "shop", name: "b", uid: "u-1", resourceVersion: "7", propagationPolicy: "Background")
            let delete = server.requests.last!
            #expect(delete.json?["propagationPolicy"] as? String == "Background")
            #expect((delete.json?["preconditions"] as? [String: String]) == ["uid": "u-1", "resourceVersion": "7"])
            do {
                let _: Thing = try await client.get(.configMaps, namespace: "shop", name: "x")
                Issue.record("no error")
            } catch let error as KubeClientError {
                #expect(error.label == "not_found")
                #expect(error.status?.message == "configmaps \"x\" not found")
            }
        }
    }

    @Test func listPagesThroughContinueTokensWithSelectors() async throws {
        try await withServer({ request in
            let page = request.query["continue"] ?? ""
            let next = page == "" ? "p2" : page == "p2" ? "p3" : ""
            let items = [thing("item-\(page.isEmpty ? "p1" : page)", rv: "1")].joined(separator: ",")
            return .json(200, #"{"kind":"ConfigMapList","metadata":{"resourceVersion":"42","continue":"\#(next)"},"items":[\#(items)]}"#)
        }) { client, server in
            let (items, version): ([Thing], String) = try await client.listAll(.configMaps, namespace: "shop",
                                                                             selectors: Selectors(labels: "app=checkout,tier in (web)", fields: "metadata.name!=x"),
                                                                             pageSize: 1)
            #expect(items.map(\.metadata.name) == ["item-p1", "item-p2", "item-p3"])
            #expect(version == "42")
            #expect(server.requests.count == 3)
            #expect(server.requests[0].query["labelSelector"] == "app=checkout,tier in (web)")
            #expect(server.requests[0].query["fieldSelector"] == "metadata.name!=x")
            #expect(server.requests[0].query["limit"] == "1")
            #expect(server.requests[1].query["continue"] == "p2")
        }
    }

    /// A sub-second request timeout is that long, not zero: an answer within it arrives, a later one fails.
    @Test func subSecondTimeoutsKeepTheirLength() async throws {
        let server = try await ScriptedServer { request in
            if request.path.hasSuffix("/slow") { try? await Task.sleep(for: .seconds(3)) }
            return .json(200, thing("a", rv: "1"))
        }
        let client = try KubernetesClient(config: KubeConfig(server: server.url, credentials: .token("s3cret")), logger: CapturedLogs().logger,
                                          requestTimeout: .milliseconds(900))
        var quick = false
        var slowFailed = false
        do {
            let _: Thing = try await client.get(.configMaps, namespace: "shop", name: "quick")
            quick = true
            let _: Thing = try await client.get(.configMaps, namespace: "shop", name: "slow")
        } catch {
            slowFailed = true
        }
        #expect(quick, "an immediate answer fits in a 900 ms timeout (which used to become zero)")
        #expect(slowFailed, "a 3 s answer does not")
        try await client.shutdown()
        try await server.stop()
    }

    /// Throttled or failing reads are retried, after Retry-After when the server gives one;
    /// writes that are not replaces are not.
    @Test func throttledAndFailedReadsAreRetried() async throws {
        let calls = Mutex(0)
        try await withServer({ request in
            let n = calls.withLock { $0 += 1; return $0 }
            if request.method == "POST" { return .json(503, #"{"kind":"Status","code":503,"reason":"ServiceUnavailable"}"#) }
            switch n {
            case 1: return .json(429, #"{"kind":"Status","code":429,"reason":"TooManyRequests"}"#, headers: [("Retry-After", "1")])
            case 2: return .json(500, #"{"kind":"Status","code":500,"reason":"InternalError"}"#)
            default: return .json(200, thing("a", rv: "1"))
            }
        }) { client, server in
            let start = ContinuousClock.now
            let _: Thing = try await client.get(.configMaps, namespace: "shop", name: "a")
            #expect(server.requests.count == 3)
            #expect(ContinuousClock.now - start >= .seconds(1), "Retry-After was honoured")
            do {
                let _: Thing = try await client.create(.configMaps, namespace: "shop", Thing(metadata: .init(name: "b")))
                Issue.record("the create went through")
            } catch let error as KubeClientError {
                #expect(error.label == "server_error")
            }
            #expect(server.requests.count == 4, "a create is not repeated")
        }
    }

    /// A request cancelled while it waits for the rate limiter is not sent.
    @Test func cancellationWhileRateLimitedIsNotSwallowed() async throws {
        try await withServer({ _ in .json(200, thing("a", rv: "1")) }, qps: 0.01, burst: 1) { client, server in
            let _: Thing = try await client.get(.configMaps, namespace: "shop", name: "a")
            let waiting = Task { () -> Bool in
                do {
                    let _: Thing = try await client.get(.configMaps, namespace: "shop", name: "a")
                    return true
                } catch {
                    return false
                }
            }
            try await Task.sleep(for: .milliseconds(200))
            waiting.cancel()
            #expect(await waiting.value == false, "the cancelled request fails")
            #expect(server.requests.count == 1, "and is never sent")
        }
    }

    @Test func patchesStatusAndApply() async throws {
        try await withServer({ request in .json(200, thing("a", rv: "9")) }) { client, server in
            let _: Thing = try await client.patch(.configMaps, namespace: "shop", name: "a", .merge(Data(#"{"data":{"k":null}}"#.utf8)))
            let _: Thing = try await client.patch(.configMaps, namespace: "shop", name: "a",
                                                  .json(Data(#"[{"op":"test","path":"/data/k","value":"v"}]"#.utf8)))
            let _: Thing = try await client.patch(.rollouts, namespace: "shop", name: "a", .merge(Data(#"{"status":{"phase":"Healthy"}}"#.utf8)),
                                                  subresource: "status")
            let _: Thing = try await client.patch(.configMaps, namespace: "shop", name: "a", .apply(Data("data: {k: v}".utf8), fieldManager: "sluice", force: true))
            let r = server.requests
            #expect(r.map { $0.header("Content-Type") } == ["application/merge-patch+json", "application/json-patch+json",
                                                          "application/merge-patch+json", "application/apply-patch+yaml"])
            #expect(r[2].path == "/apis/sluice.dev/v1alpha1/namespaces/shop/rollouts/a/status")
            #expect(r[3].query["fieldManager"] == "sluice")
            #expect(r[3].query["force"] == "true")
            #expect(r.allSatisfy { $0.method == "PATCH" })
        }
    }

    @Test func faultsBecomeTypedErrorsAndWarningsAreLogged() async throws {
        let logs = CapturedLogs()
        try await withServer({ request in
            switch request.path {
            case "/api/v1/namespaces/shop/configmaps/busy":
                return .json(429, #"{"kind":"Status","code":429,"reason":"TooManyRequests","message":"slow down"}"#, headers: [("Retry-After", "2")])
            case "/api/v1/namespaces/shop/configmaps/broken": return .json(500, "upstream failed")
            default: return .json(200, thing("a", rv: "1"), headers: [("Warning", #"299 - "unknown field \"spec.foo\"""#)])
            }
        }, logs: logs) { client, _ in
            do {
                let _: Thing = try await client.get(.configMaps, namespace: "shop", name: "busy")
                Issue.record("no error")
            } catch let error as KubeClientError {
                guard case .throttled(_, let after) = error else { Issue.record("\(error)"); return }
                #expect(after == 2)
            }
            do {
                let _: Thing = try await client.get(.configMaps, namespace: "shop", name: "broken")
                Issue.record("no error")
            } catch let error as KubeClientError {
                #expect(error.label == "server_error")
                #expect(error.status?.message == "upstream failed")
            }
            let _: Thing = try await client.get(.configMaps, namespace: "shop", name: "a")
            #expect(logs.lines.withLock { $0 }.contains { $0.contains("unknown field") && $0.hasPrefix("warning") })
        }
    }

    @Test func urgentWritesBypassTheRateLimiter() async throws {
        try await withServer({ _ in .json(200, thing("a", rv: "1")) }, qps: 0.001, burst: 1) { client, _ in
            let _: Thing = try await client.patch(.configMaps, namespace: "shop", name: "a", .merge(Data("{}".utf8)), urgent: true)
            let _: Thing = try await client.patch(.configMaps, namespace: "shop", name: "a", .merge(Data("{}".utf8)), urgent: true)
            // The one token is still there: urgent requests did not wait for or take it.
            let _: Thing = try await client.get(.configMaps, namespace: "shop", name: "a")
        }
    }

    @Test func transportFailureIsAnErrorNotAHang() async throws {
        let client = try KubernetesClient(config: KubeConfig(server: "http://127.0.0.1:1"), logger: CapturedLogs().logger,
                                          connectTimeout: .milliseconds(300))
        do {
            let _: Thing = try await client.get(.configMaps, namespace: "shop", name: "a")
            Issue.record("no error")
        } catch {
            #expect(error.label == "transport")
        }
        try await client.shutdown()
    }
}
