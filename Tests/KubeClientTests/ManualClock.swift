import Synchronization

/// A clock that moves only when the test advances it; sleepers wake as their deadlines pass.
final class ManualClock: Clock, Sendable {
    struct Instant: InstantProtocol {
        var offset: Duration
        func advanced(by duration: Duration) -> Instant { Instant(offset: offset + duration) }
        func duration(to other: Instant) -> Duration { other.offset - offset }
        static func < (a: Instant, b: Instant) -> Bool { a.offset < b.offset }
    }

    let state = Mutex<(now: Instant, sleepers: [(Instant, CheckedContinuation<Void, Never>)])>((Instant(offset: .zero), []))
    var now: Instant { state.withLock { $0.now } }
    var minimumResolution: Duration { .nanoseconds(1) }
    var sleeping: Int { state.withLock { $0.sleepers.count } }

    func sleep(until deadline: Instant, tolerance: Duration?) async throws {
        await withCheckedContinuation { continuation in
            let ready = state.withLock { s -> Bool in
                if deadline <= s.now { return true }
                s.sleepers.append((deadline, continuation))
                return false
            }
            if ready { continuation.resume() }
        }
    }

    func advance(by duration: Duration) {
        let due = state.withLock { s -> [CheckedContinuation<Void, Never>] in
            s.now = s.now.advanced(by: duration)
            let due = s.sleepers.filter { $0.0 <= s.now }.map(\.1)
            s.sleepers.removeAll { $0.0 <= s.now }
            return due
        }
        for continuation in due { continuation.resume() }
    }

    /// Waits until `count` tasks sleep on this clock.
    func waitForSleepers(_ count: Int) async {
        while sleeping < count { await Task.yield() }
    }
}
