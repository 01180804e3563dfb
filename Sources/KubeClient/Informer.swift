import Logging

/// An in-memory cache of one resource type, fed by a watcher: reads come from here, not the
/// API server. `onChange` hears the key of every object added, changed or deleted.
public actor Informer<T: Decodable & Sendable> {
    public private(set) var objects: [String: T] = [:]
    /// True once the first list arrived.
    public private(set) var synced = false
    let watcher: Watcher<T>
    var task: Task<Void, Never>?
    var handlers: [@Sendable (String) async -> Void] = []
    var syncWaiters: [CheckedContinuation<Void, Never>] = []

    public init(watcher: Watcher<T>) { self.watcher = watcher }

    public func onChange(_ handler: @escaping @Sendable (String) async -> Void) { handlers.append(handler) }

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

    func apply(_ event: WatcherEvent<T>) async {
        var changed: [String] = []
        switch event {
        case .listed(let items):
            let fresh = Dictionary(items.map { ($0.key, $0.object) }, uniquingKeysWith: { _, last in last })
            changed = Array(Set(objects.keys).union(fresh.keys)).sorted()
            objects = fresh
            synced = true
            for waiter in syncWaiters { waiter.resume() }
            syncWaiters = []
        case .applied(let key, let object):
            objects[key] = object
            changed = [key]
        case .deleted(let key, _):
            objects[key] = nil
            changed = [key]
        }
        for key in changed {
            for handler in handlers { await handler(key) }
        }
    }
}
