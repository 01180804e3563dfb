import SluiceModel

extension Planner {
    /// Appends to the release in progress's timeline.
    mutating func timeline(_ type: TimelineEntryType, _ fill: (inout TimelineEntry) -> Void) {
        guard status.currentRelease != nil else { return }
        var entry = TimelineEntry(at: now, type: type)
        fill(&entry)
        status.currentRelease?.append(entry)
    }

    mutating func recordPhase(_ phase: RolloutPhase, _ message: String) {
        timeline(.phase) { $0.phase = phase; $0.message = message }
    }

    /// Gating measurements: the first 20 in the timeline, the rest counted by verdict.
    mutating func recordMeasurement(_ measurement: Measurement, analysis: String, metric: String) {
        guard var release = status.currentRelease else { return }
        let kept = release.timeline.filter { $0.type == .measurement }.count
        if kept < ReleaseRecord.maxTimelineMeasurements {
            for i in release.timeline.indices where release.timeline[i].analysis == analysis && release.timeline[i].metric == metric
                && release.timeline[i].measurement?.query == measurement.query {
                release.timeline[i].measurement?.query = nil
            }
            var entry = TimelineEntry(at: measurement.measuredAt, type: .measurement)
            entry.analysis = analysis
            entry.metric = metric
            entry.measurement = measurement
            release.append(entry)
        } else {
            var tally = release.omittedMeasurements ?? MeasurementTally()
            switch measurement.verdict {
            case .successful: tally.successful += 1
            case .failed: tally.failed += 1
            case .inconclusive: tally.inconclusive += 1
            case .error: tally.errors += 1
            }
            release.omittedMeasurements = tally
        }
        status.currentRelease = release
    }
}
