import Foundation
import SluiceCLI
import SluiceTestKit
import Testing

@Suite struct PlanTests {
    static func example(_ name: String) -> String { RepositoryFiles.root.appendingPathComponent("examples/\(name)").path }

    static func timeline(_ name: String) throws -> Timeline {
        let out = Plan.execute(files: [example(name)], output: .json)
        #expect(out.exitCode == 0)
        return try #require(try JSONDecoder().decode([Timeline].self, from: Data(out.stdout.utf8)).first)
    }

    /// Worked by hand from examples/canary.yaml. The step gate (two metrics, 4 × 30 s, window 2m)
    /// starts after the 2m pause at 5%: measurements at 2m, 2m30s, 3m, 3m30s. The header route and
    /// 25% land at 3m30s; the 5m pause ends at 8m30s with 50%; the indefinite pause is promoted at
    /// once: promotion at 8m30s. Background (every 1m, window 2m, failureLimit 1) measures at 2m,
    /// 3m, then waits for the window after the 3m30s change: 5m30s, 6m30s, 7m30s (8m30s is a new
    /// change). Worst case: bad just after 3m30s; its second failed background measurement is at
    /// 6m30s: 3m at 25%. Bad from the start: the step gate's first measurement at 2m, after 2m at
    /// 5%. Nothing measures from 7m30s to 8m30s.
    @Test func canaryExposureWorkedByHand() throws {
        let t = try Self.timeline("canary.yaml")
        #expect(t.rollout == "shop/checkout")
        #expect(t.steps.map(\.canaryWeight) == [5, 5, 5, 5, 25, 25, 50, 50])
        #expect(t.steps[2].gate?.metrics.map(\.measuredAt) == [[120, 150, 180, 210], [120, 150, 180, 210]])
        #expect(t.steps[3].headerRoutes == ["insiders"])
        #expect(t.background?.metrics.first?.measuredAt == [120, 180, 330, 390, 450])
        #expect(t.shortestToPromotion == 510)
        #expect(t.waitsForPromotion == [7])
        #expect(t.exposure.seconds == 180)
        #expect(t.exposure.from == 210)
        #expect(t.exposure.until == 390)
        #expect(t.exposure.maxShare == 25)
        #expect(t.exposure.averageShare == 25)
        #expect(t.exposure.caughtBy == "background success-rate")
        #expect(t.exposure.fromStartSeconds == 120)
        #expect(t.exposure.fromStartAverageShare == 5)
        #expect(t.exposure.unguardedBeforePromotion == 60)

        let text = Plan.execute(files: [Self.example("canary.yaml")], output: .text).stdout
        #expect(text.contains("  2     +2m       5%      -       -              analysis checkout-success-rate, checkout-latency-p99\n"))
        #expect(text.contains("checkout-success-rate/success-rate: 4× every 30s, window 2m; measures at +2m, +2m30s, +3m, +3m30s\n"))
        #expect(text.contains("gate passes at +3m30s at the earliest\n"))
        #expect(text.contains("shortest time to full promotion: 8m30s (if the promote command comes at once at step 7), then the Deployment's own rollout\n"))
        #expect(text.contains("worst-case exposure: 3m at up to 25% of requests (25% on average): a version that turns bad at +3m30s is failed by background success-rate at +6m30s\n"))
        #expect(text.contains("bad from the start: failed by step-2 success-rate at +2m, after serving users for 2m at 5% of requests on average\n"))
        #expect(text.contains("unguarded: the last 1m before promotion, no gate measures the canary\n"))
    }

    /// Blue-green: the preview is only mirrored, so a version bad from the start is failed by the
    /// pre-promotion analysis before any user sees it; after the cut-over at 4m it serves 100%
    /// until the post-promotion analysis measures at 6m.
    @Test func blueGreen() throws {
        let t = try Self.timeline("blue-green.yaml")
        #expect(t.strategy == "blueGreen")
        #expect(t.steps.map(\.canaryWeight) == [0, 0, 0, 0, 100, 100])
        #expect(t.steps.map(\.mirrorPercentage) == [20, 20, 20, 0, 0, 0])
        #expect(t.shortestToPromotion == 480)
        #expect(t.exposure.seconds == 120)
        #expect(t.exposure.maxShare == 100)
        #expect(t.exposure.fromStartSeconds == 0)
        let text = Plan.execute(files: [Self.example("blue-green.yaml")], output: .text).stdout
        #expect(text.contains("bad from the start: failed by pre-promotion success-rate at +2m, before it serves users\n"))
        #expect(text.contains("worst-case exposure: 2m at up to 100% of requests (100% on average): a version that turns bad at +4m is failed by post-promotion success-rate at +6m\n"))
    }

    /// Mirror first, then 10% and 50%: nothing measures during the last 10 minutes at 50%.
    @Test func mirrorThenCanary() throws {
        let t = try Self.timeline("mirror-then-canary.yaml")
        #expect(t.shortestToPromotion == 1260)
        #expect(t.exposure.seconds == 300)
        #expect(t.exposure.maxShare == 10)
        #expect(t.exposure.unguardedBeforePromotion == 600)
        let text = Plan.execute(files: [Self.example("mirror-then-canary.yaml")], output: .text).stdout
        #expect(text.contains("unguarded: the last 10m before promotion, no gate measures the canary\n"))
        #expect(text.contains("  0     +0s       0%      25%     -              setMirror 25% of GET\n"))
    }

    @Test func noRolloutOrUnreadableInput() throws {
        #expect(Plan.execute(files: ["/nonexistent.yaml"], output: .text).exitCode == 2)
        let templates = RepositoryFiles.root.appendingPathComponent("analysis-templates").path
        #expect(Plan.execute(files: [templates], output: .text) == CommandOutput(stdout: "no Rollout in the given files\n", exitCode: 1))
    }

    @Test func templatesMissingFromTheFilesAreNamed() throws {
        let text = try String(contentsOfFile: Self.example("canary.yaml"), encoding: .utf8)
        let file = try Scratch.file(text.replacingOccurrences(of: "{name: checkout-latency-p99}]", with: "{name: checkout-latency-p95}]"))
        let out = Plan.execute(files: [file], output: .text).stdout
        #expect(out.contains("          checkout-latency-p95: not found in the given files (add them with -f); its metrics are left out\n"))
    }
}
