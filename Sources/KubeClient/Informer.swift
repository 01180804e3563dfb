import Logging

/// An in-memory cache of one resource type, fed by a watcher: reads come from here, not the
/// API server. `onChange` hears the key of every object added, changed or deleted; `onDelete`
/// hears a deleted key with the last object known for it — also for a key a relist no longer
/// has (its delete happened while the watch was down).
public actor Informer<T: Decodable & Sendable> {
    public private(set) var objects: [String: T] = [:]
    /// True once the first list arrived.
    public private(set) var synced = false
    /// Objects that did not decode and were left out, by key, with why (the watch goes on).
    public private(set) var skipped: [String: String] = [:]
    let watcher: Watcher<T>
    var task: Task<Void, Never>?
    var handlers: [@Sendable (String) async -> Void] = []
    var deleteHandlers: [@Sendable (String, T) async -> Void] = []
    var syncWaiters: [CheckedContinuation<Void, Never>] = []

    public init(watcher: Watcher<T>) { self.watcher = watcher }

    public func onChange(_ handler: @escaping @Sendable (String) async -> Void) { handlers.append(handler) }

    public func onDelete(_ handler: @escaping @Sendable (String, T) async -> Void) { deleteHandlers.append(handler) }

    public func start() {
        guard task == nil else { return }
        let events = watcher.events()
        task = Task { [weak self] in
            for await event in events { await self?.apply(event) }
        }
    }

    public func stop() {
        task?.cancel()
        task = nil
    }

    public func get(_ key: String) -> T? { objects[key] }

    /// Waits for the first list.
    public func waitForSync() async {
        if synced { return }
        await withCheckedContinuation { syncWaiters.append($0) }
    }

    /// Waits for the first list at most `timeout`; true when it arrived.
    public func waitForSync(timeout: Duration) async -> Bool {
        if synced { return true }
        let deadline = ContinuousClock.now.advanced(by: timeout)
        while !synced, ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(20))
            if Task.isCancelled { break }
        }
        return synced
    }

    func apply(_ event: WatcherEvent<T>) async {
        var changed: [String] = []
        var deleted: [(String, T)] = []
        switch event {
        case .listed(let items):
            let fresh = Dictionary(items.map { ($0.key, $0.object) }, uniquingKeysWith: { _, last in last })
            changed = Array(Set(objects.keys).union(fresh.keys)).sorted()
            deleted = objects.filter { fresh[$0.key] == nil }.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
            objects = fresh
            synced = true
            for waiter in syncWaiters { waiter.resume() }
            syncWaiters = []
        case .applied(let key, let object):
            objects[key] = object
            changed = [key]
        case .skipped(let key, let reason):
            skipped[key] = reason
            return
        case .deleted(let key, let last):
            deleted = [(key, objects[key] ?? last)]
            objects[key] = nil
            changed = [key]
        }
        for key in changed {
            for handler in handlers { await handler(key) }
        }
        for (key, object) in deleted {
            for handler in deleteHandlers { await handler(key, object) }
        }
    }
}
