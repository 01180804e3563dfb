import SluiceModel

extension Planner {
    /// The run of this name for the canary revision, started (templates frozen into status) if new.
    mutating func ensureRun(_ runName: String, templates refs: [TemplateRef], args: [AnalysisArg], stepIndex: Int?)
        -> AnalysisRunStatus
    {
        let revision = status.canaryRevision ?? ""
        if let run = status.analysis?.first(where: { $0.name == runName && $0.revision == revision }) {
            return run
        }
        var metrics: [MetricRunStatus] = []
        for ref in refs {
            guard let template = observation.templates.template(ref) else { continue }
            let resolved = (template.spec.args ?? []).map { declared in
                args.first { $0.name == declared.name } ?? declared
            }
            for metric in template.spec.metrics {
                let taken = metrics.contains { $0.name == metric.name }
                var run = MetricRunStatus(name: taken ? "\(ref.name)/\(metric.name)" : metric.name,
                                          template: ref.name, definition: metric)
                run.args = resolved.isEmpty ? nil : resolved
                metrics.append(run)
            }
        }
        var run = AnalysisRunStatus(name: runName, revision: revision, phase: .running, startedAt: now, metrics: metrics)
        run.stepIndex = stepIndex
        run.phase = AnalysisVerdict.runPhase(metrics)
        status.analysis = (status.analysis ?? []).filter { $0.name != runName || $0.revision != revision } + [run]
        return run
    }

    /// Asks for each metric's next measurement when it is due: every `interval`, and never
    /// before the current weights have held for its `window`.
    mutating func scheduleMeasurements(_ runName: String) {
        guard let r = status.analysis?.firstIndex(where: { $0.name == runName && $0.revision == status.canaryRevision }) else { return }
        let run = status.analysis![r]
        let weightsSince = status.weightsSince?.secondsSince1970 ?? run.startedAt.secondsSince1970
        for (m, metric) in run.metrics.enumerated() where metric.phase == .running {
            if run.phase != .running { break }
            let interval = (metric.definition.interval ?? AnalysisMetric.defaultInterval).seconds ?? 60
            let window = metric.definition.window?.seconds ?? interval
            let timeout = (metric.definition.provider.prometheus?.timeout ?? PrometheusProvider.defaultTimeout).seconds ?? 10
            if let asked = metric.requestedAt {
                let lost = asked.secondsSince1970 + timeout + 30 - now.secondsSince1970
                if lost > 0 { after(lost); continue }
            }
            let next = metric.measurements?.last.map { $0.measuredAt.secondsSince1970 + interval } ?? run.startedAt.secondsSince1970
            let due = max(next, weightsSince + window)
            if due > now.secondsSince1970 {
                after(due - now.secondsSince1970)
                continue
            }
            status.analysis![r].metrics[m].requestedAt = now
            actions.append(.runMeasurement(analysis: runName, metric: metric.name))
            after(timeout + 30)
        }
    }

    /// Folds arrived measurements into their runs: counts, verdicts, and the release timeline.
    mutating func foldMeasurements() {
        for result in observation.measurements {
            guard let r = status.analysis?.firstIndex(where: { $0.name == result.analysis && $0.revision == result.revision }),
                  let m = status.analysis![r].metrics.firstIndex(where: { $0.name == result.metric }),
                  status.analysis![r].metrics[m].requestedAt != nil,
                  // A run that ended (stopped with its release, or decided) takes nothing more:
                  // a late measurement neither revives it nor announces its verdict again.
                  status.analysis![r].phase == .running
            else { continue }
            var metric = status.analysis![r].metrics[m]
            let measurement = AnalysisVerdict.judge(result, metric: metric.definition)
            AnalysisVerdict.record(measurement, in: &metric)
            status.analysis![r].metrics[m] = metric
            status.analysis![r].phase = AnalysisVerdict.runPhase(status.analysis![r].metrics)
            if status.analysis![r].phase != .running {
                let run = status.analysis![r]
                status.analysis![r].finishedAt = now
                status.analysis![r].message = AnalysisVerdict.summary(run)
                switch run.phase {
                case .successful:
                    actions.append(.recordEvent(Event(.normal, .analysisPassed, "analysis \(run.name) passed: \(AnalysisVerdict.summary(run))")))
                case .inconclusive:
                    actions.append(.recordEvent(Event(.warning, .analysisInconclusive, "analysis \(run.name) inconclusive: \(AnalysisVerdict.summary(run))")))
                default:
                    break
                }
            }
            if metric.definition.dryRun != true {
                recordMeasurement(measurement, analysis: result.analysis, metric: result.metric)
            }
        }
    }

    func runSummary(_ run: AnalysisRunStatus) -> String { AnalysisVerdict.summary(run) }

    /// Keeps status small however many gates a Rollout has: of the step runs that are over,
    /// only the newest `keptFinishedStepRuns` stay (their measurements are in the release's
    /// timeline too). Runs in flight, background and blue-green runs always stay.
    mutating func pruneFinishedRuns() {
        guard let runs = status.analysis else { return }
        let finished = runs.indices.filter { runs[$0].phase != .running && runs[$0].name.hasPrefix("step-") }
        guard finished.count > AnalysisVerdict.keptFinishedStepRuns else { return }
        let dropped = Set(finished.dropLast(AnalysisVerdict.keptFinishedStepRuns))
        status.analysis = runs.indices.filter { !dropped.contains($0) }.map { runs[$0] }
    }
}

/// Verdicts of measurements and runs, with the limits of DESIGN §3.
enum AnalysisVerdict {
    static let keptMeasurements = 10
    static let keptFinishedStepRuns = 3

    static func judge(_ result: MeasurementResult, metric: AnalysisMetric) -> Measurement {
        switch result.outcome {
        case .error(let message):
            return Measurement(measuredAt: result.measuredAt, value: nil, verdict: .error, query: result.query, message: message)
        case .value(let value):
            let verdict: MetricConditions.Verdict
            do {
                verdict = try MetricConditions(metric: metric).verdict(for: value)
            } catch {
                verdict = MetricConditions.Verdict(.error, "\(error)")
            }
            return Measurement(measuredAt: result.measuredAt, value: value.description, verdict: verdict.verdict,
                               query: result.query, message: verdict.message)
        }
    }

    static func record(_ measurement: Measurement, in metric: inout MetricRunStatus) {
        metric.requestedAt = nil
        switch measurement.verdict {
        case .successful: metric.successful += 1
        case .failed: metric.failed += 1
        case .inconclusive: metric.inconclusive += 1
        case .error: metric.errors += 1
        }
        metric.consecutiveErrors = measurement.verdict == .error ? metric.consecutiveErrors + 1 : 0
        metric.measurements = Array((sharingQuery(metric.measurements ?? [], with: measurement) + [measurement]).suffix(keptMeasurements))
        metric.phase = phase(of: metric)
    }

    /// Earlier measurements that ran the same query as `latest` leave it out: it is written
    /// once, on the newest, which keeps status small when queries are long.
    static func sharingQuery(_ earlier: [Measurement], with latest: Measurement) -> [Measurement] {
        earlier.map { m in
            var m = m
            if m.query == latest.query { m.query = nil }
            return m
        }
    }

    static func phase(of metric: MetricRunStatus) -> AnalysisPhase {
        let d = metric.definition
        if metric.failed > (d.failureLimit ?? 0) { return .failed }
        if metric.consecutiveErrors > (d.consecutiveErrorLimit ?? AnalysisMetric.defaultConsecutiveErrorLimit) { return .error }
        if metric.inconclusive > (d.inconclusiveLimit ?? 0) { return .inconclusive }
        let count = d.count ?? AnalysisMetric.defaultCount
        let taken = metric.successful + metric.failed + metric.inconclusive
        return count > 0 && taken >= count ? .successful : .running
    }

    /// Dry-run metrics never gate.
    static func runPhase(_ metrics: [MetricRunStatus]) -> AnalysisPhase {
        let gating = metrics.filter { $0.definition.dryRun != true }
        if gating.contains(where: { $0.phase == .failed || $0.phase == .error }) { return .failed }
        if gating.contains(where: { $0.phase == .inconclusive }) { return .inconclusive }
        return gating.allSatisfy { $0.phase == .successful } ? .successful : .running
    }

    static func summary(_ run: AnalysisRunStatus) -> String {
        run.metrics.map { m in
            let count = m.definition.count ?? AnalysisMetric.defaultCount
            let of = count > 0 ? "/\(count)" : ""
            var text = "\(m.name) \(m.successful)\(of) passed"
            if m.failed > 0 { text += ", \(m.failed) failed" }
            if m.inconclusive > 0 { text += ", \(m.inconclusive) inconclusive" }
            if m.errors > 0 { text += ", \(m.errors) errors" }
            if m.definition.dryRun == true { text += " (dry run)" }
            return text
        }.joined(separator: "; ")
    }
}
