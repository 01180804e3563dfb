/// The client-side QPS/burst limiter: `burst` requests at once, then `qps` per second. An
/// abort's writes bypass it (they never call `acquire`).
public actor TokenBucket<C: Clock> where C.Duration == Duration {
    let qps: Double
    let burst: Double
    let clock: C
    var tokens: Double
    var last: C.Instant

    public init(qps: Double, burst: Int, clock: C) {
        self.qps = qps
        self.burst = Double(burst)
        self.clock = clock
        self.tokens = Double(burst)
        self.last = clock.now
    }

    /// Waits until a request may go.
    public func acquire() async throws {
        refill()
        tokens -= 1
        if tokens >= 0 { return }
        let wait = -tokens / qps
        try await clock.sleep(until: last.advanced(by: .seconds(wait)), tolerance: nil)
    }

    /// Requests that could go now without waiting.
    public var available: Int {
        refill()
        return max(0, Int(tokens))
    }

    func refill() {
        let now = clock.now
        let elapsed = last.duration(to: now)
        let seconds = elapsed.inSeconds
        tokens = min(burst, tokens + seconds * qps)
        last = now
    }
}
