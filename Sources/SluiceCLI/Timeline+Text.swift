import SluiceCore

extension Timeline {
    /// The timeline as a table, then the promotion time and the exposure.
    public var text: String {
        func at(_ x: Double) -> String { "+" + Timeline.format(x) }
        var lines = ["Rollout \(rollout) (\(strategy), \(steps.count) steps)"]
        lines.append("  step  at        canary  mirror  header routes  action")
        for step in steps {
            let headers = step.headerRoutes.isEmpty ? "-" : step.headerRoutes.joined(separator: ",")
            func column(_ text: String, _ width: Int) -> String { text.padding(toLength: width, withPad: " ", startingAt: 0) }
            let cols = [column(String(step.index), 4), column(at(step.startsAt), 8), column("\(step.canaryWeight)%", 6),
                        column(step.mirrorPercentage > 0 ? "\(step.mirrorPercentage)%" : "-", 6), column(headers, 13), step.action]
            lines.append("  " + cols.joined(separator: "  "))
            if let gate = step.gate {
                lines += gate.metrics.map { "          " + Timeline.describe($0) }
                lines += Timeline.describeMissing(gate)
                lines.append("          gate passes at \(at(step.endsAt)) at the earliest")
            }
        }
        if let background {
            lines.append("  background analysis from step \(background.fromStep ?? 0) until promotion:")
            lines += background.metrics.map { "          " + Timeline.describe($0) }
            lines += Timeline.describeMissing(background)
        }
        var promotion = "  shortest time to full promotion: \(Timeline.format(shortestToPromotion))"
        if !waitsForPromotion.isEmpty {
            promotion += " (if the promote command comes at once at step\(waitsForPromotion.count > 1 ? "s" : "") "
                + waitsForPromotion.map(String.init).joined(separator: ", ") + ")"
        }
        lines.append(promotion + ", then the Deployment's own rollout")
        if let seconds = exposure.seconds, let from = exposure.from, let until = exposure.until {
            lines.append("  worst-case exposure: \(Timeline.format(seconds)) at up to \(exposure.maxShare ?? 0)% of requests "
                         + "(\(Timeline.share(exposure.averageShare)) on average): a version that turns bad at \(at(from)) "
                         + "is failed by \(exposure.caughtBy ?? "") at \(at(until))")
        } else {
            lines.append("  worst-case exposure: unbounded: no gating analysis measures the canary while it serves users")
        }
        if let start = exposure.fromStartSeconds, let by = exposure.fromStartCaughtBy, let when = exposure.fromStartCaughtAt {
            lines.append(start == 0
                ? "  bad from the start: failed by \(by) at \(at(when)), before it serves users"
                : "  bad from the start: failed by \(by) at \(at(when)), after serving users for \(Timeline.format(start)) at \(Timeline.share(exposure.fromStartAverageShare)) of requests on average")
        }
        if exposure.unguardedBeforePromotion > 0 {
            lines.append("  unguarded: the last \(Timeline.format(exposure.unguardedBeforePromotion)) before promotion, no gate measures the canary")
        }
        return lines.joined(separator: "\n") + "\n"
    }

    static func share(_ x: Double?) -> String {
        guard let x else { return "0%" }
        return x.rounded() == x ? "\(Int(x))%" : "\(x)%"
    }

    static func describeMissing(_ gate: Gate) -> [String] {
        (gate.missingTemplates ?? []).map { "          \($0): not found in the given files (add them with -f); its metrics are left out" }
    }

    static func describe(_ m: MetricPlan) -> String {
        let times = m.measuredAt.map { "+" + format($0) }
        let shown = times.count > 6 ? times.prefix(5).joined(separator: ", ") + ", ... (\(times.count))" : times.joined(separator: ", ")
        let count = m.count == 0 ? "until promotion" : "\(m.count)×"
        var text = "\(m.template)/\(m.metric): \(count) every \(format(m.interval)), window \(format(m.window)); measures at \(shown)"
        if m.failureLimit > 0 { text += "; fails after \(m.failureLimit + 1) failures" }
        if m.dryRun { text += " (dry run, never gates)" }
        return text
    }
}
