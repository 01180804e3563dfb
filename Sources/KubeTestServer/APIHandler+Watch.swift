import Foundation
import SluiceModel
import Synchronization

extension APIHandler {
    /// A watch: without a resourceVersion (or "0"), a synthetic ADDED for each existing object
    /// first; from a resourceVersion, every change after it, or one ERROR event carrying a 410
    /// Status when it is too old; BOOKMARKs only when asked, never ahead of an event this watcher
    /// has not been sent; ends after `timeoutSeconds`. Only this resource's changes are sent, and
    /// through a selector as the watch cache sends them: an object that starts matching is
    /// ADDED, one that stops matching is DELETED.
    func watch(_ request: Request, _ route: Route, _ selector: Selector) async throws(APIError) -> Response {
        let info = route.info
        let resource = "\(info.group)/\(info.plural)"
        let bookmarks = request.query["allowWatchBookmarks"] == "true"
        let timeout = Double(request.query["timeoutSeconds"] ?? "") ?? 1800
        let (id, live) = await store.subscribe()
        var initial: [String] = []
        let since: Int
        if request.query["sendInitialEvents"] == "true" {
            // A watch-list: the current objects as ADDED, then a bookmark that marks their end.
            guard request.query["resourceVersionMatch"] == "NotOlderThan", bookmarks else {
                await store.unsubscribe(id)
                throw APIError(422, "Invalid", "ListOptions.meta.k8s.io \"\" is invalid: sendInitialEvents: Forbidden: sendInitialEvents is forbidden for watch unless the resourceVersionMatch is set to NotOlderThan and allowWatchBookmarks is true",
                               details: ["group": "meta.k8s.io", "kind": "ListOptions"])
            }
            let (items, revision) = await store.list(info, namespace: route.namespace, selector: selector)
            initial = items.map { line("ADDED", $0) }
            initial.append(line("BOOKMARK", ["kind": .string(info.kind), "apiVersion": .string(info.apiVersion),
                                             "metadata": ["resourceVersion": .string(revision),
                                                          "annotations": ["k8s.io/initial-events-end": "true"]]]))
            since = Int(revision) ?? 0
        } else if let version = request.query["resourceVersion"], version != "0", let number = Int(version) {
            guard let replay = await store.changes(after: number, resource: info) else {
                await store.unsubscribe(id)
                let status = APIError(410, "Expired", "too old resource version: \(version) (\(await store.currentRevision))").status
                return .stream(AsyncStream { c in
                    c.yield(line("ERROR", status))
                    c.finish()
                })
            }
            initial = replay.compactMap { event($0, route, selector) }
            since = replay.last?.revision ?? number
        } else {
            let (items, revision) = await store.list(info, namespace: route.namespace, selector: selector)
            initial = items.map { line("ADDED", $0) }
            since = Int(revision) ?? 0
        }
        let store = self.store
        let faults = self.faults
        let cutAt = faults.generation
        let frozenAt = faults.frozen
        let interval = bookmarkInterval
        // The newest revision this watcher has dealt with (sent or filtered out): a bookmark never says more.
        let progress = Progress(since)
        return .stream(AsyncStream { continuation in
            for l in initial { continuation.yield(l) }
            let deadline = Date().addingTimeInterval(timeout)
            let task = Task {
                await withTaskGroup(of: Void.self) { group in
                    group.addTask {
                        for await change in live where change.revision > since {
                            while faults.frozen > frozenAt, !Task.isCancelled { try? await Task.sleep(for: .milliseconds(20)) }
                            let delay = faults.watchDelay
                            if delay > 0 { try? await Task.sleep(for: .milliseconds(delay)) }
                            if change.resource == resource, let l = event(change, route, selector) { continuation.yield(l) }
                            progress.set(change.revision)
                        }
                    }
                    group.addTask {
                        var lastBookmark = Date()
                        while Date() < deadline, faults.generation == cutAt, !Task.isCancelled {
                            try? await Task.sleep(for: .milliseconds(50))
                            if bookmarks, faults.frozen == frozenAt, Date().timeIntervalSince(lastBookmark) >= interval {
                                lastBookmark = Date()
                                continuation.yield(line("BOOKMARK", ["kind": .string(info.kind), "apiVersion": .string(info.apiVersion),
                                                                    "metadata": ["resourceVersion": .string(String(progress.value))]]))
                            }
                        }
                    }
                    await group.next()
                    group.cancelAll()
                }
                await store.unsubscribe(id)
                continuation.finish()
            }
            continuation.onTermination = { _ in
                task.cancel()
                Task { await store.unsubscribe(id) }
            }
        })
    }

    /// The event a change is to this watcher, as the watch cache converts it: ADDED when the
    /// object starts passing the filter, MODIFIED while it passes, DELETED (the previous object
    /// at the change's resourceVersion) when it stops; nil when it passes neither before nor after.
    func event(_ change: APIStore.Change, _ route: Route, _ selector: Selector) -> String? {
        guard route.namespace == nil || change.namespace == route.namespace else { return nil }
        let now = change.type != "DELETED" && selector.matches(change.object)
        let before = change.previous.map(selector.matches) ?? false
        switch (before, now) {
        case (true, true):
            return line("MODIFIED", APIStore.converted(change.object, to: route.info))
        case (false, true):
            return line("ADDED", APIStore.converted(change.object, to: route.info))
        case (true, false):
            var old = change.previous ?? change.object
            old["metadata"]?["resourceVersion"] = change.object["metadata"]?["resourceVersion"]
            return line("DELETED", APIStore.converted(old, to: route.info))
        case (false, false):
            return nil
        }
    }
}

/// A revision shared between a watch's two tasks.
final class Progress: Sendable {
    private let revision: Mutex<Int>
    init(_ revision: Int) { self.revision = Mutex(revision) }
    var value: Int { revision.withLock { $0 } }
    func set(_ value: Int) { revision.withLock { $0 = max($0, value) } }
}

func line(_ type: String, _ object: JSONValue) -> String {
    let data = (try? JSONEncoder.sorted.encode(JSONValue.object(["type": .string(type), "object": object]))) ?? Data()
    return String(decoding: data, as: UTF8.self)
}

extension JSONEncoder {
    static var sorted: JSONEncoder {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return e
    }
}
