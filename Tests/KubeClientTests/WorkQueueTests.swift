import KubeClient
import Testing

@Suite struct WorkQueueTests {
    @Test func dedupesKeys() async {
        let q = WorkQueue<String, ContinuousClock>(clock: ContinuousClock())
        await q.add("a")
        await q.add("b")
        await q.add("a")
        #expect(await q.count == 2)
        #expect(await q.next() == "a")
        #expect(await q.next() == "b")
    }

    @Test func neverHandsOneKeyToTwoWorkers() async {
        let q = WorkQueue<String, ContinuousClock>(clock: ContinuousClock())
        await q.add("a")
        #expect(await q.next() == "a")
        await q.add("a")  // changed while being worked on
        #expect(await q.count == 0, "held back until done")
        await q.add("b")
        #expect(await q.next() == "b")
        await q.done("a")
        #expect(await q.next() == "a")
    }

    @Test func priorityLaneJumpsTheQueue() async {
        let q = WorkQueue<String, ContinuousClock>(clock: ContinuousClock())
        for key in ["a", "b", "c"] { await q.add(key) }
        await q.add("abort-me", priority: true)
        await q.add("c", priority: true)
        #expect(await q.next() == "abort-me")
        #expect(await q.next() == "c")
        #expect(await q.next() == "a")
    }

    /// An abort for a Rollout being reconciled is the next thing any worker takes once that
    /// reconcile ends — ahead of keys queued before it.
    @Test func anUrgentAddWhileProcessingKeepsItsPriority() async {
        let q = WorkQueue<String, ContinuousClock>(clock: ContinuousClock())
        await q.add("checkout")
        #expect(await q.next() == "checkout")
        await q.add("payments")
        await q.add("search")
        await q.add("checkout", priority: true)
        await q.done("checkout")
        #expect(await q.next() == "checkout", "the urgent re-add jumps the queue")
        #expect(await q.next() == "payments")
    }

    /// A key has one timer, at the earliest deadline asked for; shutdown cancels it.
    @Test func timersMergePerKeyAndStopOnShutdown() async {
        let q = WorkQueue<String, ContinuousClock>(clock: ContinuousClock())
        await q.add("checkout", after: .seconds(60))
        await q.add("checkout", after: .milliseconds(50))
        await q.add("checkout", after: .seconds(30))
        #expect(await q.pendingTimers == 1)
        let start = ContinuousClock.now
        #expect(await q.next() == "checkout")
        #expect(ContinuousClock.now - start < .seconds(5), "the earliest deadline holds")
        await q.done("checkout")
        await q.add("payments", after: .seconds(60))
        await q.shutDown()
        #expect(await q.pendingTimers == 0)
    }

    @Test func backoffDoublesPerKeyUntilForgotten() async {
        let q = WorkQueue<String, ContinuousClock>(clock: ContinuousClock(), baseBackoff: .milliseconds(5), maxBackoff: .milliseconds(40))
        var delays: [Duration] = []
        for _ in 0..<6 { delays.append(await q.addAfterFailure("a")) }
        #expect(delays == [.milliseconds(5), .milliseconds(10), .milliseconds(20), .milliseconds(40), .milliseconds(40), .milliseconds(40)])
        #expect(await q.addAfterFailure("b") == .milliseconds(5), "per key")
        await q.forget("a")
        #expect(await q.failureCount("a") == 0)
        #expect(await q.next() != nil, "a delayed add arrives")
    }

    @Test func waitersWakeOnAddAndOnShutdown() async {
        let q = WorkQueue<String, ContinuousClock>(clock: ContinuousClock())
        async let first = q.next()
        await Task.yield()
        await q.add("x")
        #expect(await first == "x")
        async let second = q.next()
        await Task.yield()
        await q.shutDown()
        #expect(await second == nil)
    }
}

@Suite struct TokenBucketTests {
    @Test func burstThenRate() async throws {
        let clock = ManualClock()
        let bucket = TokenBucket(qps: 10, burst: 3, clock: clock)
        #expect(await bucket.available == 3)
        for _ in 0..<3 { try await bucket.acquire() }
        #expect(await bucket.available == 0)
        // Past the burst a request waits for the rate: 100 ms a token at 10 per second.
        let waiting = Task { try await bucket.acquire() }
        await clock.waitForSleepers(1)
        clock.advance(by: .milliseconds(60))
        #expect(clock.sleeping == 1, "not yet")
        clock.advance(by: .milliseconds(40))
        try await waiting.value
        #expect(clock.sleeping == 0)
        clock.advance(by: .seconds(10))
        #expect(await bucket.available == 3, "refills up to the burst, no more")
    }
}
