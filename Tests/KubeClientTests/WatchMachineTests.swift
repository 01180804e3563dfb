import KubeClient
import Testing

@Suite struct WatchMachineTests {
    func machine() -> WatchMachine { WatchMachine(jitter: { 0.5 }) }

    @Test func listsThenWatchesFromTheListsVersion() {
        var m = machine()
        #expect(m.step(.start) == .list)
        #expect(m.step(.listed(resourceVersion: "100")) == .watch(resourceVersion: "100"))
        #expect(m.step(.event(resourceVersion: "105")) == WatchMachine.Command.none)
        #expect(m.state == .watching(resourceVersion: "105"))
    }

    @Test func streamEndAndTimeoutResumeFromTheLastVersionSeen() {
        var m = machine()
        _ = m.step(.start)
        _ = m.step(.listed(resourceVersion: "100"))
        _ = m.step(.event(resourceVersion: "120"))
        #expect(m.step(.streamEnded) == .watch(resourceVersion: "120"))
    }

    /// A stream that ends at once with nothing is a failure: backed off, longer each time, then
    /// watched again from the same version; a throttled watch waits as long as it was told.
    @Test func aStreamEndingAtOnceBacksOffAndRetryAfterIsHonoured() {
        var m = machine()
        _ = m.step(.start)
        _ = m.step(.listed(resourceVersion: "7"))
        #expect(m.step(.streamEndedEarly) == .wait(seconds: 0.375))
        #expect(m.step(.backoffElapsed) == .watch(resourceVersion: "7"))
        #expect(m.step(.streamEndedEarly) == .wait(seconds: 0.75), "the second time longer")
        #expect(m.step(.backoffElapsed) == .watch(resourceVersion: "7"))
        #expect(m.step(.throttled(seconds: 4)) == .wait(seconds: 4))
        #expect(m.step(.backoffElapsed) == .watch(resourceVersion: "7"))
        #expect(m.step(.event(resourceVersion: "8")) == WatchMachine.Command.none)
        #expect(m.step(.streamEnded) == .watch(resourceVersion: "8"), "a stream that did carry events is re-opened at once")
    }

    @Test func bookmarksMoveTheResumePoint() {
        var m = machine()
        _ = m.step(.start)
        _ = m.step(.listed(resourceVersion: "100"))
        _ = m.step(.event(resourceVersion: "900"))  // a BOOKMARK
        #expect(m.step(.streamEnded) == .watch(resourceVersion: "900"))
    }

    @Test func tooOldRelistsWhetherAs410OrAsAnErrorEvent() {
        var m = machine()
        _ = m.step(.start)
        _ = m.step(.listed(resourceVersion: "100"))
        #expect(m.step(.tooOld) == .list)
        #expect(m.state == .empty)
        #expect(m.step(.listed(resourceVersion: "500")) == .watch(resourceVersion: "500"))
    }

    @Test func errorsBackOffWithJitterAndRetryTheSameThing() {
        var m = machine()
        _ = m.step(.start)
        #expect(m.step(.listFailed) == .wait(seconds: 0.375))
        #expect(m.step(.backoffElapsed) == .list)
        #expect(m.step(.listFailed) == .wait(seconds: 0.75))
        #expect(m.step(.backoffElapsed) == .list)
        #expect(m.step(.listFailed) == .wait(seconds: 1.5))
        _ = m.step(.backoffElapsed)
        _ = m.step(.listed(resourceVersion: "7"))
        #expect(m.step(.watchFailed) == .wait(seconds: 0.375), "a success resets the backoff")
        #expect(m.step(.backoffElapsed) == .watch(resourceVersion: "7"))
        for _ in 0..<20 { _ = m.step(.watchFailed) }
        guard case .wait(let seconds) = m.step(.watchFailed) else { Issue.record("no wait"); return }
        #expect(seconds <= 30, "capped")
    }

    @Test func neverStops() {
        // Whatever happens, the machine always has a next command that is not silence, except
        // after an event (keep reading) or a backoff that is not due.
        var m = machine()
        var rng = SystemRandomNumberGenerator()
        let inputs: [WatchMachine.Input] = [.start, .listed(resourceVersion: "1"), .listFailed, .event(resourceVersion: "2"),
                                            .streamEnded, .tooOld, .watchFailed, .backoffElapsed]
        for _ in 0..<10_000 {
            let input = inputs.randomElement(using: &rng)!
            let command = m.step(input)
            switch input {
            case .streamEnded, .tooOld, .watchFailed, .listFailed, .start, .listed:
                #expect(command != .none, "\(input) left the watcher idle in \(m.state)")
            default:
                break
            }
        }
    }
}
