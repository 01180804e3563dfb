import SluiceCore
import SluiceModel

/// `sluice plan`: the timeline a Rollout's release follows when every gate passes at once —
/// each step, the traffic in force, when each analysis measures — and what a bad version
/// could cost: the longest time it can serve users before a gate fails it.
///
/// Times are seconds from the release's start. Canary readiness, the mesh's propagation and
/// the Deployment's own rollout at promotion take extra time and are not counted; an
/// indefinite pause is counted as an immediate promote command.
public struct Timeline: Codable, Sendable, Hashable {
    public var rollout: String
    public var strategy: String
    public var steps: [Step]
    public var background: Gate?
    /// The shortest time from the release's start to promotion.
    public var shortestToPromotion: Double
    /// Steps that wait for a promote command.
    public var waitsForPromotion: [Int]
    public var exposure: Exposure

    public struct Step: Codable, Sendable, Hashable {
        public var index: Int
        public var action: String
        public var startsAt: Double
        public var endsAt: Double
        public var canaryWeight: Int
        public var mirrorPercentage: Int
        public var headerRoutes: [String]
        public var gate: Gate?
    }

    public struct Gate: Codable, Sendable, Hashable {
        public var name: String
        public var metrics: [MetricPlan]
        /// Background analysis: the step it starts at.
        public var fromStep: Int?
        /// Templates not found in the given files: their metrics are not in the timeline.
        public var missingTemplates: [String]?
    }

    public struct MetricPlan: Codable, Sendable, Hashable {
        public var template: String
        public var metric: String
        public var interval: Double
        public var window: Double
        /// 0: until the release ends.
        public var count: Int
        public var failureLimit: Int
        public var dryRun: Bool
        /// When each measurement is taken (up to promotion, for background analysis).
        public var measuredAt: [Double]
    }

    /// The worst case for a version that turns bad while the canary serves users (weight > 0)
    /// and fails every gating measurement from then on.
    public struct Exposure: Codable, Sendable, Hashable {
        /// The longest time from turning bad to the rollback decision (failureLimit + 1 failed
        /// measurements of one metric); nil when no gating analysis measures a canary with traffic.
        public var seconds: Double?
        public var from: Double?
        public var until: Double?
        /// The canary's largest and average share of requests over that time, in percent.
        public var maxShare: Int?
        public var averageShare: Double?
        public var caughtBy: String?
        /// A version bad from the start: how long it serves users before rollback, and at what share.
        public var fromStartSeconds: Double?
        public var fromStartAverageShare: Double?
        public var fromStartCaughtBy: String?
        public var fromStartCaughtAt: Double?
        /// After the last gating measurement, the canary serves users this long before promotion
        /// with nothing measuring it.
        public var unguardedBeforePromotion: Double
    }
}

extension Timeline {
    /// The timeline of a Rollout, its templates looked up in `templates`.
    public init(rollout: Rollout, templates: TemplateCatalog) {
        var walk = Walk(templates: templates, blueGreen: rollout.spec.strategy.blueGreen != nil)
        let background = rollout.spec.strategy.canary?.analysis
        for (i, step) in executedSteps(of: rollout.spec).enumerated() {
            if background != nil, i == background?.startingStep ?? 0 { walk.backgroundStart = walk.t }
            walk.run(step, index: i)
        }
        self.init(rollout: "\(rollout.metadata.namespace ?? "default")/\(rollout.metadata.name ?? "")",
                  strategy: rollout.spec.strategy.blueGreen != nil ? "blueGreen" : "canary",
                  steps: walk.steps, background: background.flatMap { walk.backgroundGate($0) },
                  shortestToPromotion: walk.t, waitsForPromotion: walk.waits, exposure: Exposure(unguardedBeforePromotion: 0))
        exposure = computeExposure()
    }

    /// The steps run one after another, the traffic they set and the time they take.
    struct Walk {
        let templates: TemplateCatalog
        let blueGreen: Bool
        var t = 0.0
        var weight = 0
        var mirror = 0
        var headers: [String] = []
        /// When the traffic changed: a measurement waits for `window` after each.
        var changes: [Double] = [0]
        var steps: [Step] = []
        var waits: [Int] = []
        var backgroundStart: Double?

        mutating func run(_ step: CanaryStep, index: Int) {
            let start = t
            var gate: Gate?
            var action = ""
            if let w = step.setWeight {
                action = "setWeight \(w)"
                if w != weight { changes.append(t) }
                weight = w
            } else if let m = step.setMirror {
                action = m.percentage > 0 ? "setMirror \(m.percentage)%" + (m.methods.map { " of \($0.joined(separator: ", "))" } ?? "") : "stop mirroring"
                if m.percentage != mirror { changes.append(t) }
                mirror = m.percentage
            } else if let h = step.setHeaderRoute {
                action = "setHeaderRoute \(h.name)"
                if !headers.contains(h.name) { headers.append(h.name); changes.append(t) }
            } else if let p = step.pause {
                action = p.duration?.seconds.map { "pause \(Timeline.format($0))" } ?? "pause until a promote command"
                if let d = p.duration?.seconds { t += d } else { waits.append(index) }
            } else if let a = step.analysis {
                gate = stepGate(a, index: index)
                action = "analysis " + a.templates.map(\.name).joined(separator: ", ")
                t = gate?.metrics.filter { !$0.dryRun }.compactMap(\.measuredAt.last).max() ?? t
            }
            steps.append(Step(index: index, action: action, startsAt: start, endsAt: t, canaryWeight: weight,
                              mirrorPercentage: mirror, headerRoutes: headers, gate: gate))
        }

        /// A step's analysis: each metric's `count` measurements from now.
        func stepGate(_ analysis: AnalysisStep, index: Int) -> Gate {
            let metrics = Timeline.metrics(analysis.templates, templates: templates).map { m -> MetricPlan in
                var m = m
                for _ in 0..<max(m.count, 1) {
                    m.measuredAt.append(Timeline.due(after: m.measuredAt.last, start: t, window: m.window, interval: m.interval, changes: changes))
                }
                return m
            }
            let name = !blueGreen ? "step-\(index)" : (weight == 100 ? "post-promotion" : "pre-promotion")
            return Gate(name: name, metrics: metrics, missingTemplates: Timeline.missing(analysis.templates, templates))
        }

        /// Background analysis: from its starting step until promotion (or `count` measurements).
        func backgroundGate(_ analysis: BackgroundAnalysis) -> Gate? {
            guard let start = backgroundStart else { return nil }
            let metrics = Timeline.metrics(analysis.templates, templates: templates).map { m -> MetricPlan in
                var m = m
                while m.count == 0 || m.measuredAt.count < m.count {
                    let next = Timeline.due(after: m.measuredAt.last, start: start, window: m.window, interval: m.interval, changes: changes)
                    if next > t { break }
                    m.measuredAt.append(next)
                }
                return m
            }
            return Gate(name: "background", metrics: metrics, fromStep: analysis.startingStep ?? 0,
                        missingTemplates: Timeline.missing(analysis.templates, templates))
        }
    }

    /// When a measurement is due: `interval` after the last one (or at the run's start), and
    /// never before the traffic in force has held for `window` — the engine's rule.
    static func due(after last: Double?, start: Double, window: Double, interval: Double, changes: [Double]) -> Double {
        let next = last.map { $0 + interval } ?? start
        var candidate = next
        while true {
            let held = changes.filter { $0 <= candidate }.max() ?? 0
            let wanted = max(next, held + window)
            if wanted == candidate { return candidate }
            candidate = wanted
        }
    }

    static func missing(_ refs: [TemplateRef], _ templates: TemplateCatalog) -> [String]? {
        let names = refs.filter { templates.template($0) == nil }.map(\.name)
        return names.isEmpty ? nil : names
    }

    static func metrics(_ refs: [TemplateRef], templates: TemplateCatalog) -> [MetricPlan] {
        refs.flatMap { ref -> [MetricPlan] in
            guard let template = templates.template(ref) else { return [] }
            return template.spec.metrics.map { m in
                let interval = (m.interval ?? AnalysisMetric.defaultInterval).seconds ?? 60
                return MetricPlan(template: ref.name, metric: m.name, interval: interval, window: m.window?.seconds ?? interval,
                                  count: m.count ?? AnalysisMetric.defaultCount, failureLimit: m.failureLimit ?? 0,
                                  dryRun: m.dryRun ?? false, measuredAt: [])
            }
        }
    }

    /// The canary's weight at time x (the last step started at or before x).
    func weight(at x: Double) -> Int {
        var w = 0
        for step in steps where step.startsAt <= x { w = step.canaryWeight }
        return w
    }

    /// The canary's average weight over [a, b].
    func averageWeight(_ a: Double, _ b: Double) -> Double {
        guard b > a else { return Double(weight(at: a)) }
        let cuts = ([a, b] + steps.map(\.startsAt).filter { $0 > a && $0 < b }).sorted()
        var total = 0.0
        for (x, y) in zip(cuts, cuts.dropFirst()) { total += Double(weight(at: x)) * (y - x) }
        return total / (b - a)
    }

    func computeExposure() -> Exposure {
        // Each gating metric's measurements, grouped by run (failures count within a run).
        let gates = steps.compactMap(\.gate) + [background].compactMap { $0 }
        let runs = gates.flatMap { gate in gate.metrics.filter { !$0.dryRun }.map { (gate.name, $0) } }
        func detection(after s: Double) -> (Double, String)? {
            runs.compactMap { name, m -> (Double, String)? in
                let later = m.measuredAt.filter { $0 > s }
                guard later.count > m.failureLimit else { return nil }
                return (later[m.failureLimit], "\(name) \(m.metric)")
            }.min { $0.0 < $1.0 }
        }
        let firstTraffic = steps.first { $0.canaryWeight > 0 }?.startsAt
        let measurementTimes = runs.flatMap(\.1.measuredAt)
        let candidates = ([firstTraffic].compactMap { $0 } + measurementTimes + steps.map(\.startsAt))
            .filter { $0 < shortestToPromotion && weight(at: $0) > 0 }
        var worst: (s: Double, until: Double, by: String)?
        for s in Set(candidates).sorted() {
            guard let (until, by) = detection(after: s) else { continue }
            let longer = worst.map { until - s > $0.until - $0.s
                || (until - s == $0.until - $0.s && averageWeight(s, until) > averageWeight($0.s, $0.until)) } ?? true
            if longer { worst = (s, until, by) }
        }
        // From the later of the first traffic and the last measurement before promotion.
        let lastMeasurement = measurementTimes.filter { $0 <= shortestToPromotion }.max()
        let unguarded = firstTraffic.map { first in max(0, shortestToPromotion - max(lastMeasurement ?? first, first)) } ?? 0
        var exposure = Exposure(unguardedBeforePromotion: unguarded)
        if let worst {
            exposure.seconds = worst.until - worst.s
            exposure.from = worst.s
            exposure.until = worst.until
            let cuts = [worst.s] + steps.map(\.startsAt).filter { $0 > worst.s && $0 < worst.until }
            exposure.maxShare = cuts.map { weight(at: $0) }.max()
            exposure.averageShare = Timeline.round(averageWeight(worst.s, worst.until))
            exposure.caughtBy = worst.by
        }
        // Bad from the start: every gating measurement fails, mirrored or not.
        if let firstTraffic, let (until, by) = detection(after: -1) {
            exposure.fromStartSeconds = max(0, until - firstTraffic)
            exposure.fromStartAverageShare = until > firstTraffic ? Timeline.round(averageWeight(firstTraffic, until)) : 0
            exposure.fromStartCaughtBy = by
            exposure.fromStartCaughtAt = until
        }
        return exposure
    }

    static func round(_ x: Double) -> Double { (x * 10).rounded() / 10 }

    /// `2m30s`, `45s`, `1h5m`.
    public static func format(_ seconds: Double) -> String {
        var s = Int(seconds.rounded())
        if s == 0 { return "0s" }
        var out = ""
        if s >= 3600 { out += "\(s / 3600)h"; s %= 3600 }
        if s >= 60 { out += "\(s / 60)m"; s %= 60 }
        if s > 0 { out += "\(s)s" }
        return out
    }
}
