import Synchronization

/// Faults a test injects: fail the next N requests matching a verb and path with a code
/// (429 with Retry-After, for one), add latency, cut open watch streams.
public final class Faults: Sendable {
    public struct Rule: Sendable {
        public var verb: String?
        public var pathContains: String
        public var code: Int
        public var remaining: Int
        public var retryAfter: Int?
        /// For a hang (`code` 0): how long the request waits before it is answered as usual.
        public var delayMilliseconds = 0
    }

    let rules = Mutex<[Rule]>([])
    let latencyMilliseconds = Mutex(0)
    let cutGeneration = Mutex(0)
    let watchDelayMilliseconds = Mutex(0)
    let freezeGeneration = Mutex(0)

    public init() {}

    /// The next `count` requests with this verb (any, if nil) whose path contains `path` fail with `code`.
    public func fail(_ verb: String? = nil, path: String, code: Int, count: Int = 1, retryAfter: Int? = nil) {
        rules.withLock { $0.append(Rule(verb: verb, pathContains: path, code: code, remaining: count, retryAfter: retryAfter)) }
    }

    /// The next `count` requests with this verb whose path contains `path` wait `milliseconds`
    /// before they are served as usual: a renewal that hangs, a slow apiserver for one resource.
    public func hang(_ verb: String? = nil, path: String, milliseconds: Int, count: Int = 1) {
        rules.withLock { $0.append(Rule(verb: verb, pathContains: path, code: 0, remaining: count, retryAfter: nil, delayMilliseconds: milliseconds)) }
    }

    public func setLatency(milliseconds: Int) { latencyMilliseconds.withLock { $0 = milliseconds } }

    /// Each watch takes this long to deliver each change: a slow watcher, whose stream lags
    /// behind the store (bookmarks must lag with it).
    public func setWatchDelay(milliseconds: Int) { watchDelayMilliseconds.withLock { $0 = milliseconds } }

    /// Every watch stream open now goes silent for good — no events, no bookmarks — with its
    /// connection kept open: a half-open connection, or a proxy that stopped forwarding. Watches
    /// opened later are not affected.
    public func freezeWatches() { freezeGeneration.withLock { $0 += 1 } }

    /// Ends every watch stream open now.
    public func cutWatches() { cutGeneration.withLock { $0 += 1 } }

    var latency: Int { latencyMilliseconds.withLock { $0 } }
    var generation: Int { cutGeneration.withLock { $0 } }
    var watchDelay: Int { watchDelayMilliseconds.withLock { $0 } }
    var frozen: Int { freezeGeneration.withLock { $0 } }

    func take(verb: String, path: String) -> Rule? {
        rules.withLock { rules in
            guard let i = rules.firstIndex(where: { ($0.verb == nil || $0.verb == verb) && path.contains($0.pathContains) && $0.remaining > 0 }) else {
                return nil
            }
            rules[i].remaining -= 1
            let rule = rules[i]
            if rules[i].remaining == 0 { rules.remove(at: i) }
            return rule
        }
    }
}
