/// The watcher's state machine: list, then watch from the list's resourceVersion; on a
/// stream's end or timeout, watch again from the last version seen; when told that version is
/// too old (HTTP 410, or an ERROR event carrying a 410 Status), list again; on other errors,
/// back off with jitter and try the same again. It never stops on its own.
public struct WatchMachine: Sendable, Hashable {
    public enum State: Sendable, Hashable {
        /// Nothing known: the next step lists.
        case empty
        /// Watching from this resourceVersion.
        case watching(resourceVersion: String)
        /// Waiting before retrying `then`, after `attempt` failures in a row.
        case backingOff(attempt: Int, then: Retry)
    }

    public enum Retry: Sendable, Hashable {
        case list
        case watch(resourceVersion: String)
    }

    /// What happened since the last step.
    public enum Input: Sendable, Hashable {
        case start
        case listed(resourceVersion: String)
        case listFailed
        /// An ADDED, MODIFIED, DELETED or BOOKMARK event with its object's resourceVersion.
        case event(resourceVersion: String)
        /// The server closed the stream, or `timeoutSeconds` passed: not an error.
        case streamEnded
        /// The stream ended within a second with no event: a proxy or a server shutting down.
        /// Re-opening at once would spin, so it counts as a failure.
        case streamEndedEarly
        /// The server asked to wait (429 with Retry-After) this many seconds.
        case throttled(seconds: Double)
        /// HTTP 410, or an ERROR event whose Status is 410 Gone / Expired.
        case tooOld
        case watchFailed
        case backoffElapsed
    }

    /// What to do next.
    public enum Command: Sendable, Hashable {
        case list
        case watch(resourceVersion: String)
        case wait(seconds: Double)
        case none
    }

    public private(set) var state: State = .empty
    public var baseDelay: Double = 0.5
    public var maxDelay: Double = 30
    /// A number in 0..<1 for each backoff: the jitter.
    var jitter: @Sendable () -> Double

    public init(jitter: @escaping @Sendable () -> Double = { Double.random(in: 0..<1) }) {
        self.jitter = jitter
    }

    public static func == (a: WatchMachine, b: WatchMachine) -> Bool { a.state == b.state }
    public func hash(into h: inout Hasher) { h.combine(state) }

    public mutating func step(_ input: Input) -> Command {
        switch (state, input) {
        case (_, .start), (_, .tooOld):
            state = .empty
            return .list
        case (_, .listed(let rv)), (_, .event(let rv)):
            state = .watching(resourceVersion: rv)
            return input == .listed(resourceVersion: rv) ? .watch(resourceVersion: rv) : .none
        case (.watching(let rv), .streamEnded):
            return .watch(resourceVersion: rv)
        case (.empty, .streamEnded):
            return .list
        case (.watching(let rv), .watchFailed), (.watching(let rv), .streamEndedEarly):
            return backOff(attempt: 1, then: .watch(resourceVersion: rv))
        case (.backingOff(let attempt, let then), .streamEndedEarly):
            return backOff(attempt: attempt + 1, then: then)
        case (.empty, .streamEndedEarly):
            return backOff(attempt: 1, then: .list)
        case (.watching(let rv), .throttled(let seconds)):
            state = .backingOff(attempt: 1, then: .watch(resourceVersion: rv))
            return .wait(seconds: max(seconds, baseDelay))
        case (.backingOff(let attempt, let then), .throttled(let seconds)):
            state = .backingOff(attempt: attempt + 1, then: then)
            return .wait(seconds: max(seconds, baseDelay))
        case (.empty, .throttled(let seconds)):
            state = .backingOff(attempt: 1, then: .list)
            return .wait(seconds: max(seconds, baseDelay))
        case (.empty, .listFailed), (.empty, .watchFailed):
            return backOff(attempt: 1, then: .list)
        case (.backingOff(let attempt, let then), .listFailed), (.backingOff(let attempt, let then), .watchFailed):
            return backOff(attempt: attempt + 1, then: then)
        case (.backingOff(_, let then), .backoffElapsed):
            switch then {
            case .list: return .list
            case .watch(let rv): return .watch(resourceVersion: rv)
            }
        case (.watching(let rv), .listFailed):
            return backOff(attempt: 1, then: .watch(resourceVersion: rv))
        case (.backingOff(_, .watch(let rv)), .streamEnded):
            state = .watching(resourceVersion: rv)
            return .watch(resourceVersion: rv)
        case (.backingOff(_, .list), .streamEnded):
            state = .empty
            return .list
        case (.empty, .backoffElapsed), (.watching, .backoffElapsed):
            return .none
        }
    }

    /// Exponential backoff with equal jitter: a delay in [d/2, d) for d = base * 2^(attempt-1),
    /// capped — never shorter than half the step, so a crowd of watchers spreads out but none spins.
    mutating func backOff(attempt: Int, then: Retry) -> Command {
        state = .backingOff(attempt: attempt, then: then)
        let ceiling = min(maxDelay, baseDelay * Double(1 << min(attempt - 1, 20)))
        return .wait(seconds: ceiling / 2 + jitter() * ceiling / 2)
    }
}
