import Foundation
import KubeClient
import KubeTestServer
import Logging
import SluiceModel
import SluiceTestKit
import Testing

/// What a watch and a paged list promise, over HTTP: each watch gets its own resource's
/// changes only, selectors see objects come and go, bookmarks never run ahead, and the pages of
/// a list are one snapshot.
@Suite struct WatchIsolationTests {
    static let rollouts = ResourceType(group: "sluice.dev", version: "v1alpha1", plural: "rollouts", namespaced: true)

    static func events(_ stream: AsyncThrowingStream<WatchLine<JSONValue>, Error>) async throws -> [(String, JSONValue)] {
        var out: [(String, JSONValue)] = []
        for try await line in stream {
            switch line.event {
            case .added(let o): out.append(("ADDED", o))
            case .modified(let o): out.append(("MODIFIED", o))
            case .deleted(let o): out.append(("DELETED", o))
            case .bookmark(let version): out.append(("BOOKMARK", ["metadata": ["resourceVersion": .string(version)]]))
            case .error(let s): out.append(("ERROR", ["code": .number(Double(s.code ?? 0))]))
            case .undecodable(let reason): out.append(("UNDECODABLE", .string(reason)))
            }
        }
        return out
    }

    /// Bug 1: a Rollout watch saw a ConfigMap applied in its namespace, relabelled as a Rollout.
    @Test(arguments: Target.all)
    func aWatchGetsOnlyItsOwnResource(target: Target) async throws {
        try await target.run { client, ns in
            let start: ObjectList<JSONValue> = try await client.list(Self.rollouts, namespace: ns)
            let stream: AsyncThrowingStream<WatchLine<JSONValue>, Error> = try await client.watch(
                Self.rollouts, namespace: ns, resourceVersion: start.metadata.resourceVersion, timeoutSeconds: 30, allowBookmarks: false)
            let _: JSONValue = try await client.create(.configMaps, namespace: ns, ["apiVersion": "v1", "kind": "ConfigMap", "metadata": ["name": "noise"]])
            var rollout = SemanticsTests.rollout
            rollout["metadata"] = ["name": "checkout"]
            let _: JSONValue = try await client.create(Self.rollouts, namespace: ns, rollout)
            // The ConfigMap came first: had it been sent, it would be the first event.
            var seen: [(String, JSONValue)] = []
            for try await line in stream {
                switch line.event {
                case .added(let o): seen.append(("ADDED", o))
                case .modified(let o): seen.append(("MODIFIED", o))
                default: break
                }
                if !seen.isEmpty { break }
            }
            #expect(seen.map(\.0) == ["ADDED"])
            #expect(seen.first?.1["kind"]?.string == "Rollout")
            #expect(seen.first?.1["metadata"]?["name"]?.string == "checkout")
        }
    }

    /// Bug 2: through a label selector, an object that stops matching is DELETED for the watcher
    /// and one that starts matching is ADDED.
    @Test(arguments: Target.all)
    func aSelectorSeesObjectsComeAndGo(target: Target) async throws {
        try await target.run { client, ns in
            let start: ObjectList<JSONValue> = try await client.list(.configMaps, namespace: ns)
            let stream: AsyncThrowingStream<WatchLine<JSONValue>, Error> = try await client.watch(
                .configMaps, namespace: ns, selectors: Selectors(labels: "team=a"), resourceVersion: start.metadata.resourceVersion,
                timeoutSeconds: 30, allowBookmarks: false)
            let _: JSONValue = try await client.create(.configMaps, namespace: ns,
                                                       ["apiVersion": "v1", "kind": "ConfigMap", "metadata": ["name": "m", "labels": ["team": "a"]]])
            let moved: JSONValue = try await client.patch(.configMaps, namespace: ns, name: "m", .merge(Data(#"{"metadata":{"labels":{"team":"b"}}}"#.utf8)))
            let _: JSONValue = try await client.patch(.configMaps, namespace: ns, name: "m", .merge(Data(#"{"data":{"k":"unseen"}}"#.utf8)))
            let _: JSONValue = try await client.patch(.configMaps, namespace: ns, name: "m", .merge(Data(#"{"metadata":{"labels":{"team":"a"}}}"#.utf8)))
            let _: JSONValue = try await client.patch(.configMaps, namespace: ns, name: "m", .merge(Data(#"{"data":{"k":"seen"}}"#.utf8)))
            try await client.delete(.configMaps, namespace: ns, name: "m")
            var seen: [(String, JSONValue)] = []
            for try await line in stream {
                switch line.event {
                case .added(let o): seen.append(("ADDED", o))
                case .modified(let o): seen.append(("MODIFIED", o))
                case .deleted(let o): seen.append(("DELETED", o))
                default: break
                }
                if seen.filter({ $0.0 == "DELETED" }).count == 2 { break }
            }
            #expect(seen.map(\.0) == ["ADDED", "DELETED", "ADDED", "MODIFIED", "DELETED"])
            // The DELETED for leaving the selector carries the object as it was, at the change's resourceVersion.
            #expect(seen[1].1["metadata"]?["labels"]?["team"]?.string == "a")
            #expect(seen[1].1["metadata"]?["resourceVersion"] == moved["metadata"]?["resourceVersion"])
        }
    }

    /// Bug 3: a slow watcher's bookmark never names a resourceVersion past an event it has not
    /// been sent yet (a client resuming from it would miss that event).
    @Test func bookmarksNeverRunAheadOfTheEventsSent() async throws {
        let server = try await KubeTestServer(bookmarkInterval: 0.05)
        try await server.createNamespace("shop")
        let client = try KubernetesClient(config: KubeConfig(server: server.url), logger: Logger(label: "test"))
        server.faults.setWatchDelay(milliseconds: 200)
        let start: ObjectList<JSONValue> = try await client.list(.configMaps, namespace: "shop")
        let stream: AsyncThrowingStream<WatchLine<JSONValue>, Error> = try await client.watch(
            .configMaps, namespace: "shop", resourceVersion: start.metadata.resourceVersion, timeoutSeconds: 60, allowBookmarks: true)
        // Read until every event and a few bookmarks are in (the stream lags about a second).
        let reading = Task {
            var out: [(String, JSONValue)] = []
            for try await line in stream {
                switch line.event {
                case .added(let o): out.append(("ADDED", o))
                case .bookmark(let version): out.append(("BOOKMARK", ["metadata": ["resourceVersion": .string(version)]]))
                default: break
                }
                if out.filter({ $0.0 == "ADDED" }).count == 6, out.filter({ $0.0 == "BOOKMARK" }).count >= 2 { break }
            }
            return out
        }
        for i in 0..<6 {
            let _: JSONValue = try await client.create(.configMaps, namespace: "shop",
                                                       ["apiVersion": "v1", "kind": "ConfigMap", "metadata": ["name": .string("c\(i)")]])
        }
        var bookmarked = 0
        var violations: [String] = []
        var bookmarks = 0
        let seen = try await reading.value
        #expect(seen.filter { $0.0 == "ADDED" }.count == 6)
        for (type, object) in seen {
            let version = Int(object["metadata"]?["resourceVersion"]?.string ?? "") ?? 0
            if type == "BOOKMARK" {
                bookmarks += 1
                bookmarked = max(bookmarked, version)
            } else if version <= bookmarked {
                violations.append("\(type) at \(version) after a bookmark at \(bookmarked)")
            }
        }
        #expect(bookmarks > 0)
        #expect(violations == [])
        try await client.shutdown()
        try await server.stop()
    }

    /// Bug 4: every page of a paged list is the list at the first page's resourceVersion, and
    /// says so; after the compaction a continue token is 410.
    @Test(arguments: Target.all)
    func thePagesOfAListAreOneSnapshot(target: Target) async throws {
        try await target.run { client, ns in
            for i in 0..<5 {
                let _: JSONValue = try await client.create(.configMaps, namespace: ns,
                                                           ["apiVersion": "v1", "kind": "ConfigMap", "metadata": ["name": .string("c\(i)")]])
            }
            let first: ObjectList<JSONValue> = try await client.list(.configMaps, namespace: ns, limit: 2)
            let snapshot = first.metadata.resourceVersion
            try await client.delete(.configMaps, namespace: ns, name: "c3")
            let _: JSONValue = try await client.create(.configMaps, namespace: ns, ["apiVersion": "v1", "kind": "ConfigMap", "metadata": ["name": "c2a"]])
            var names = first.items.compactMap { $0["metadata"]?["name"]?.string }
            var token = first.metadata.continue
            while let next = token {
                let page: ObjectList<JSONValue> = try await client.list(.configMaps, namespace: ns, limit: 2, continue: next)
                #expect(page.metadata.resourceVersion == snapshot, "every page reports the snapshot's resourceVersion")
                names += page.items.compactMap { $0["metadata"]?["name"]?.string }
                token = page.metadata.continue
            }
            #expect(names.filter { $0.hasPrefix("c") && $0.count == 2 } == ["c0", "c1", "c2", "c3", "c4"])
            #expect(!names.contains("c2a"))
            if target.isTestServer {
                let again: ObjectList<JSONValue> = try await client.list(.configMaps, namespace: ns, limit: 2)
                let _: JSONValue = try await client.create(.configMaps, namespace: ns, ["apiVersion": "v1", "kind": "ConfigMap", "metadata": ["name": "late"]])
                try await SemanticsTests.compactAll()
                let label = await SemanticsTests.label {
                    let _: ObjectList<JSONValue> = try await client.list(.configMaps, namespace: ns, limit: 2, continue: again.metadata.continue)
                }
                #expect(label == "gone")
            }
        }
    }

    /// A watch-list (`sendInitialEvents=true`, `resourceVersionMatch=NotOlderThan`): the current
    /// objects as ADDED, then the bookmark that ends them, then what changes.
    @Test(arguments: Target.all)
    func aWatchListSendsTheCurrentObjectsThenItsEndBookmark(target: Target) async throws {
        try await target.run { client, ns in
            for name in ["a", "b"] {
                let _: JSONValue = try await client.create(.configMaps, namespace: ns, ["apiVersion": "v1", "kind": "ConfigMap", "metadata": ["name": .string(name)]])
            }
            let stream: AsyncThrowingStream<WatchLine<JSONValue>, Error> = try await client.watch(
                .configMaps, namespace: ns, resourceVersion: "", timeoutSeconds: 30, allowBookmarks: true, sendInitialEvents: true)
            var seen: [String] = []
            var created = false
            for try await line in stream {
                switch line.event {
                case .added(let o):
                    // A real namespace also holds kube-root-ca.crt.
                    let name = o["metadata"]?["name"]?.string ?? ""
                    if ["a", "b", "c"].contains(name) { seen.append("ADDED \(name)") }
                case .bookmark:
                    if !seen.contains("BOOKMARK") { seen.append("BOOKMARK") }
                default: break
                }
                if seen.last == "BOOKMARK", !created {
                    created = true
                    let _: JSONValue = try await client.create(.configMaps, namespace: ns, ["apiVersion": "v1", "kind": "ConfigMap", "metadata": ["name": "c"]])
                }
                if seen.last == "ADDED c" { break }
            }
            #expect(Array(seen.prefix(3)).sorted() == ["ADDED a", "ADDED b", "BOOKMARK"] && seen[2] == "BOOKMARK" && seen.last == "ADDED c", "\(seen)")
        }
    }
}
