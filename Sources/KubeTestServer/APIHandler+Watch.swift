import Foundation
import SluiceModel

extension APIHandler {
    /// A watch: without a resourceVersion (or "0"), a synthetic ADDED for each existing object
    /// first; from a resourceVersion, every change after it, or one ERROR event carrying a 410
    /// Status when it is too old; BOOKMARKs only when asked; ends after `timeoutSeconds`.
    func watch(_ request: Request, _ route: Route, _ selector: Selector) async throws(APIError) -> Response {
        let info = route.info
        let bookmarks = request.query["allowWatchBookmarks"] == "true"
        let timeout = Double(request.query["timeoutSeconds"] ?? "") ?? 1800
        let (id, live) = await store.subscribe()
        var initial: [String] = []
        let since: Int
        if let version = request.query["resourceVersion"], version != "0", let number = Int(version) {
            guard let replay = await store.changes(after: number, resource: info) else {
                await store.unsubscribe(id)
                let status = APIError(410, "Expired", "too old resource version: \(version) (\(await store.currentRevision))").status
                return .stream(AsyncStream { c in
                    c.yield(line("ERROR", status))
                    c.finish()
                })
            }
            initial = replay.filter { matches($0, route, selector) }.map { line($0.type, APIStore.converted($0.object, to: info)) }
            since = replay.last?.revision ?? number
        } else {
            let (items, revision) = await store.list(info, namespace: route.namespace, selector: selector)
            initial = items.map { line("ADDED", $0) }
            since = Int(revision) ?? 0
        }
        let store = self.store
        let faults = self.faults
        let cutAt = faults.generation
        let interval = bookmarkInterval
        return .stream(AsyncStream { continuation in
            for l in initial { continuation.yield(l) }
            let deadline = Date().addingTimeInterval(timeout)
            let task = Task {
                await withTaskGroup(of: Void.self) { group in
                    group.addTask {
                        for await change in live where change.revision > since && matches(change, route, selector) {
                            continuation.yield(line(change.type, APIStore.converted(change.object, to: info)))
                        }
                    }
                    group.addTask {
                        var lastBookmark = Date()
                        while Date() < deadline, faults.generation == cutAt, !Task.isCancelled {
                            try? await Task.sleep(for: .milliseconds(50))
                            if bookmarks, Date().timeIntervalSince(lastBookmark) >= interval {
                                lastBookmark = Date()
                                let revision = await store.currentRevision
                                continuation.yield(line("BOOKMARK", ["kind": .string(info.kind), "apiVersion": .string(info.apiVersion),
                                                                    "metadata": ["resourceVersion": .string(String(revision))]]))
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

    func matches(_ change: APIStore.Change, _ route: Route, _ selector: Selector) -> Bool {
        (route.namespace == nil || change.namespace == route.namespace) && selector.matches(change.object)
    }
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
