import Foundation
import KubeClient
import MetricsTestKit
import Synchronization
import Testing

func event(_ type: String, _ object: String) -> String { #"{"type":"\#(type)","object":\#(object)}"# }

@Suite struct WatchTests {
    /// An informer over the scripted server's ConfigMaps in `shop`, returned once it has seen a change to `key`.
    static func startInformer(_ client: KubernetesClient, until key: String, metrics: TestMetrics = TestMetrics()) async -> Informer<Thing> {
        let informer = Informer(watcher: Watcher<Thing>(client: client, type: .configMaps, namespace: "shop", logger: CapturedLogs().logger,
                                                        metrics: metrics))
        let (keys, sink) = AsyncStream<String>.makeStream()
        await informer.onChange { changed in sink.yield(changed) }
        await informer.start()
        for await changed in keys where changed == key { break }
        return informer
    }

    @Test func decodesEveryEventType() async throws {
        try await withServer({ request in
            #expect(request.query["watch"] == "1")
            #expect(request.query["resourceVersion"] == "10")
            #expect(request.query["allowWatchBookmarks"] == "true")
            #expect(request.query["timeoutSeconds"] == "30")
            return .stream(AsyncStream { c in
                c.yield(event("ADDED", thing("a", rv: "11")))
                c.yield(event("MODIFIED", thing("a", rv: "12", data: ["k": "v"])))
                c.yield(event("BOOKMARK", #"{"kind":"ConfigMap","apiVersion":"v1","metadata":{"resourceVersion":"15"}}"#))
                c.yield(event("DELETED", thing("a", rv: "16")))
                c.yield(event("ERROR", #"{"kind":"Status","apiVersion":"v1","status":"Failure","message":"too old resource version: 10 (16)","reason":"Expired","code":410}"#))
                c.finish()
            })
        }) { client, _ in
            let stream: AsyncThrowingStream<WatchLine<Thing>, Error> = try await client.watch(.configMaps, namespace: "shop", resourceVersion: "10", timeoutSeconds: 30)
            var seen: [String] = []
            for try await line in stream {
                switch line.event {
                case .added(let t): seen.append("added \(t.metadata.name) \(line.meta.resourceVersion ?? "")")
                case .modified(let t): seen.append("modified \(t.data ?? [:])")
                case .bookmark(let rv): seen.append("bookmark \(rv)")
                case .deleted(let t): seen.append("deleted \(t.metadata.name) \(line.meta.key)")
                case .error(let status): seen.append("error \(status.code ?? 0) \(status.reason ?? "")")
                case .undecodable(let reason): seen.append("undecodable \(reason)")
                }
            }
            #expect(seen == ["added a 11", "modified [\"k\": \"v\"]", "bookmark 15", "deleted a shop/a", "error 410 Expired"])
        }
    }

    /// The server ends a stream, answers 410, then sends a 410 ERROR event: the informer resumes
    /// from the last version, then relists twice, and ends up with the server's objects.
    @Test func informerRecoversFromStreamEndAnd410BothWays() async throws {
        let watches = Mutex(0)
        let lists = Mutex(0)
        try await withServer({ request in
            if request.query["watch"] == nil {
                let n = lists.withLock { $0 += 1; return $0 }
                let items = n == 1 ? [thing("a", rv: "10")] : [thing("a", rv: "11"), thing("b", rv: "20")]
                return .json(200, #"{"kind":"ConfigMapList","metadata":{"resourceVersion":"\#(n == 1 ? "10" : "20")"},"items":[\#(items.joined(separator: ","))]}"#)
            }
            let n = watches.withLock { $0 += 1; return $0 }
            switch n {
            case 1: return .stream(AsyncStream { c in c.yield(event("MODIFIED", thing("a", rv: "11"))); c.finish() })
            case 2: return .json(410, #"{"kind":"Status","code":410,"reason":"Expired","message":"too old"}"#)
            case 3: return .stream(AsyncStream { c in c.yield(event("ERROR", #"{"kind":"Status","code":410,"reason":"Expired","message":"too old"}"#)); c.finish() })
            default: return .stream(AsyncStream { c in c.yield(event("ADDED", thing("c", rv: "21"))) })  // held open
            }
        }) { client, server in
            let informer = await WatchTests.startInformer(client, until: "shop/c")
            #expect(await informer.get("shop/b") != nil)
            #expect(await informer.get("shop/c")?.metadata.resourceVersion == "21")
            #expect(await informer.synced)
            await informer.stop()
            let sequence = server.requests.map { $0.query["watch"] == nil ? "list" : "watch \($0.query["resourceVersion"] ?? "")" }
            #expect(Array(sequence.prefix(7)) == ["list", "watch 10", "watch 11", "list", "watch 20", "list", "watch 20"])
        }
    }

    /// A relist that no longer has an object (deleted while the watch was down) tells the
    /// delete handlers, with the last object known; waiting for a sync that never comes ends.
    @Test func aRelistThatDropsAKeyHandsOverTheLastObject() async throws {
        let lists = Mutex(0)
        try await withServer({ request in
            if request.query["watch"] == nil {
                let n = lists.withLock { $0 += 1; return $0 }
                let items = n == 1 ? [thing("a", rv: "10"), thing("b", rv: "11")] : [thing("a", rv: "12")]
                return .json(200, #"{"kind":"ConfigMapList","metadata":{"resourceVersion":"\#(n == 1 ? "11" : "12")"},"items":[\#(items.joined(separator: ","))]}"#)
            }
            return lists.withLock { $0 } == 1
                ? .json(410, #"{"kind":"Status","code":410,"reason":"Expired","message":"too old"}"#)
                : .stream(AsyncStream { _ in })  // held open
        }) { client, _ in
            let informer = Informer(watcher: Watcher<Thing>(client: client, type: .configMaps, namespace: "shop", logger: CapturedLogs().logger))
            let (gone, sink) = AsyncStream<(String, String?)>.makeStream()
            await informer.onDelete { key, last in sink.yield((key, last.metadata.resourceVersion)) }
            await informer.start()
            #expect(await informer.waitForSync(timeout: .seconds(10)))
            for await (key, version) in gone {
                #expect(key == "shop/b" && version == "11", "the key the relist dropped, with its last object")
                break
            }
            #expect(await informer.get("shop/b") == nil)
            await informer.stop()
        }
        let stuck = try await ScriptedServer { _ in .json(500, #"{"kind":"Status","code":500}"#) }
        let client = try KubernetesClient(config: KubeConfig(server: stuck.url, credentials: .token("s3cret")), logger: CapturedLogs().logger)
        let never = Informer(watcher: Watcher<Thing>(client: client, type: .configMaps, namespace: "shop", logger: CapturedLogs().logger))
        await never.start()
        #expect(await never.waitForSync(timeout: .milliseconds(300)) == false, "a deadline, not a hang")
        await never.stop()
        try await client.shutdown()
        try await stuck.stop()
    }

    /// An object that does not decode is skipped and reported, in a list and in a watch; the
    /// rest is known and the watch moves past it.
    @Test func anUndecodableObjectIsSkippedNotFatal() async throws {
        try await withServer({ request in
            if request.query["watch"] == nil {
                return .json(200, #"{"kind":"ConfigMapList","metadata":{"resourceVersion":"5"},"items":[\#(thing("a", rv: "4")),{"metadata":{"name":"bad","namespace":"shop","resourceVersion":"3"},"kind":7}]}"#)
            }
            if request.query["resourceVersion"] == "5" {
                return .stream(AsyncStream { c in
                    c.yield(event("ADDED", #"{"metadata":{"name":"worse","namespace":"shop","resourceVersion":"6"},"kind":[]}"#))
                    c.yield(event("ADDED", thing("c", rv: "7")))
                    c.finish()
                })
            }
            return .stream(AsyncStream { _ in })  // held open
        }) { client, server in
            let metrics = TestMetrics()
            let informer = await WatchTests.startInformer(client, until: "shop/c", metrics: metrics)
            #expect(await informer.get("shop/a") != nil, "the list's good object is known")
            #expect(await Set(informer.skipped.keys) == ["shop/bad", "shop/worse"])
            let skipped = try metrics.expectCounter("kube_client_objects_skipped_total", [("resource", "configmaps")])
            #expect(skipped.totalValue == 2, "counted, not only logged")
            // The stream ended after c: the next watch starts from c's version, past the bad event.
            for _ in 0..<100 where !server.requests.contains(where: { $0.query["resourceVersion"] == "7" }) {
                try await Task.sleep(for: .milliseconds(20))
            }
            #expect(server.requests.contains { $0.query["watch"] != nil && $0.query["resourceVersion"] == "7" }, "the watch moved past the bad event")
            await informer.stop()
        }
    }

    /// A proxy that ends every watch at once does not make the watcher spin.
    @Test func aWatchThatEndsAtOnceDoesNotSpin() async throws {
        try await withServer({ request in
            if request.query["watch"] == nil {
                return .json(200, #"{"kind":"ConfigMapList","metadata":{"resourceVersion":"5"},"items":[]}"#)
            }
            return .stream(AsyncStream { $0.finish() })
        }) { client, server in
            let events = Watcher<Thing>(client: client, type: .configMaps, namespace: "shop", logger: CapturedLogs().logger).events()
            let reading = Task { for await _ in events {} }
            try await Task.sleep(for: .milliseconds(1200))
            reading.cancel()
            let watches = server.requests.filter { $0.query["watch"] != nil }.count
            #expect(watches >= 1 && watches <= 4, "backed off, not re-opened at once: \(watches) watches in 1.2 s")
        }
    }

    @Test func openWatchesDoNotStarveRequests() async throws {
        try await withServer({ request in
            if request.query["watch"] != nil { return .stream(AsyncStream { _ in }) }  // never ends
            return .json(200, thing("a", rv: "1"))
        }) { client, _ in
            var streams: [AsyncThrowingStream<WatchLine<Thing>, Error>] = []
            for _ in 0..<KubernetesClient.maxWatches {
                streams.append(try await client.watch(.configMaps, namespace: "shop", resourceVersion: "1"))
            }
            let a: Thing = try await client.get(.configMaps, namespace: "shop", name: "a")
            #expect(a.metadata.name == "a")
            #expect(streams.count == KubernetesClient.maxWatches)
        }
    }

    /// A watch that goes silent with its connection open (no event, no bookmark) is taken as
    /// broken after one and a half bookmark intervals and re-opened from the last version; one
    /// that keeps bringing bookmarks is left alone.
    @Test func aSilentWatchIsReopenedAfterTheIdleLimit() async throws {
        let watches = Mutex(0)
        try await withServer({ request in
            if request.query["watch"] == nil {
                return .json(200, #"{"kind":"ConfigMapList","metadata":{"resourceVersion":"5"},"items":[]}"#)
            }
            let n = watches.withLock { $0 += 1; return $0 }
            if n == 1 {
                // One event, then silence on an open connection.
                return .stream(AsyncStream { c in c.yield(event("ADDED", thing("a", rv: "6"))) })
            }
            // Bookmarks every 200 ms: alive.
            return .stream(AsyncStream { c in
                let task = Task {
                    while !Task.isCancelled {
                        c.yield(event("BOOKMARK", #"{"kind":"ConfigMap","apiVersion":"v1","metadata":{"resourceVersion":"6"}}"#))
                        try? await Task.sleep(for: .milliseconds(200))
                    }
                }
                c.onTermination = { _ in task.cancel() }
            })
        }) { client, server in
            let logs = CapturedLogs()
            let informer = Informer(watcher: Watcher<Thing>(client: client, type: .configMaps, namespace: "shop", logger: logs.logger,
                                                            bookmarkInterval: .milliseconds(400)))
            await informer.start()
            let opened = ContinuousClock.now
            for _ in 0..<200 where watches.withLock({ $0 }) < 2 { try await Task.sleep(for: .milliseconds(20)) }
            let took = ContinuousClock.now - opened
            #expect(watches.withLock { $0 } == 2, "the silent watch was re-opened")
            #expect(took >= .milliseconds(500) && took < .seconds(3), "after the idle limit (600 ms), not before: \(took)")
            #expect(server.requests.last { $0.query["watch"] != nil }?.query["resourceVersion"] == "6", "from the last version seen")
            #expect(logs.lines.withLock { $0 }.contains { $0.contains("nothing received") }, "\(logs.lines.withLock { $0 })")
            // The second watch brings bookmarks: it stays open.
            try await Task.sleep(for: .seconds(2))
            #expect(watches.withLock { $0 } == 2, "a watch that brings bookmarks is not re-opened")
            #expect(await informer.get("shop/a") != nil)
            await informer.stop()
        }
    }
}
