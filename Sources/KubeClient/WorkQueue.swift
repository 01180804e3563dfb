/// The controller's work queue: a key queued twice is queued once; a key is never handed to
/// two workers at once (one re-added while being worked on runs again after `done`); keys can
/// be added after a delay (timers) or with per-key exponential backoff (failures); and a
/// priority lane jumps the queue (aborts).
public actor WorkQueue<Key: Hashable & Sendable, C: Clock> where C.Duration == Duration {
    var queue: [Key] = []
    var priority: [Key] = []
    var dirty: Set<Key> = []
    var processing: Set<Key> = []
    var timers: [Key: (deadline: C.Instant, task: Task<Void, Never>)] = [:]
    /// Keys asked for urgently while being worked on: they go to the priority lane when done.
    var urgentWhenDone: Set<Key> = []
    var failures: [Key: Int] = [:]
    var waiters: [CheckedContinuation<Key?, Never>] = []
    var shuttingDown = false
    let clock: C
    let baseBackoff: Duration
    let maxBackoff: Duration

    public init(clock: C, baseBackoff: Duration = .milliseconds(5), maxBackoff: Duration = .seconds(300)) {
        self.clock = clock
        self.baseBackoff = baseBackoff
        self.maxBackoff = maxBackoff
    }

    /// Queues a key; with `priority`, ahead of every ordinary key.
    public func add(_ key: Key, priority urgent: Bool = false) {
        guard !shuttingDown else { return }
        if urgent, dirty.contains(key), let i = queue.firstIndex(of: key) {
            queue.remove(at: i)
            priority.append(key)
            return
        }
        if urgent, processing.contains(key) { urgentWhenDone.insert(key) }
        guard !dirty.contains(key) else { return }
        dirty.insert(key)
        if processing.contains(key) { return }
        if urgent { priority.append(key) } else { queue.append(key) }
        wake()
    }

    /// Queues a key after a delay. A key has one pending timer, at the earliest deadline asked
    /// for; timers are cancelled on shutdown.
    public func add(_ key: Key, after delay: Duration) {
        guard delay > .zero else { return add(key) }
        guard !shuttingDown else { return }
        let deadline = clock.now.advanced(by: delay)
        if let pending = timers[key], pending.deadline <= deadline { return }
        timers[key]?.task.cancel()
        let task = Task { [clock] in
            do { try await clock.sleep(until: deadline, tolerance: nil) } catch { return }
            self.fire(key, deadline: deadline)
        }
        timers[key] = (deadline, task)
    }

    func fire(_ key: Key, deadline: C.Instant) {
        guard timers[key]?.deadline == deadline else { return }
        timers[key] = nil
        add(key)
    }

    /// Keys with a timer pending.
    public var pendingTimers: Int { timers.count }

    /// Queues a key after its backoff, which doubles with each failure until `forget`.
    public func addAfterFailure(_ key: Key) -> Duration {
        let count = failures[key, default: 0]
        failures[key] = count + 1
        let delay = min(maxBackoff, baseBackoff * (1 << min(count, 30)))
        add(key, after: delay)
        return delay
    }

    /// Clears a key's failures.
    public func forget(_ key: Key) { failures[key] = nil }

    public func failureCount(_ key: Key) -> Int { failures[key, default: 0] }

    /// The next key to work on; nil once shut down.
    public func next() async -> Key? {
        if let key = take() { return key }
        if shuttingDown { return nil }
        return await withCheckedContinuation { waiters.append($0) }
    }

    /// The worker finished `key`; if it was added meanwhile, it is queued again.
    public func done(_ key: Key) {
        processing.remove(key)
        let urgent = urgentWhenDone.remove(key) != nil
        if dirty.contains(key) {
            // An abort that came in meanwhile is the next thing any worker takes.
            if urgent { priority.append(key) } else { queue.append(key) }
            wake()
        }
    }

    public func shutDown() {
        shuttingDown = true
        for timer in timers.values { timer.task.cancel() }
        timers = [:]
        for waiter in waiters { waiter.resume(returning: nil) }
        waiters = []
    }

    public var count: Int { queue.count + priority.count }

    func take() -> Key? {
        let key: Key
        if !priority.isEmpty { key = priority.removeFirst() } else if !queue.isEmpty { key = queue.removeFirst() } else { return nil }
        dirty.remove(key)
        processing.insert(key)
        return key
    }

    func wake() {
        while !waiters.isEmpty, let key = take() {
            waiters.removeFirst().resume(returning: key)
        }
    }
}
