/// One release of a revision: what it was, how it ended and every change along the way.
public struct ReleaseRecord: Codable, Sendable, Hashable {
    public var revision: String
    public var images: [String]
    public var startedAt: KubeTime
    public var finishedAt: KubeTime?
    /// Absent while the release is in progress.
    public var outcome: ReleaseOutcome?
    public var reason: String?
    public var timeline: [TimelineEntry]
    /// Gating measurements past the 20 the timeline keeps, counted by verdict.
    public var omittedMeasurements: MeasurementTally?

    public static let maxTimelineMeasurements = 20
    /// The CRD's `maxItems` for a timeline: a real API server refuses a longer one.
    public static let maxTimelineEntries = 512

    /// Appends to the timeline; a full timeline first drops its oldest entry after the first
    /// that is not a measurement (measurements are bounded on their own), so a long fight with a
    /// GitOps tool over the weights cannot grow status past what the API server accepts.
    public mutating func append(_ entry: TimelineEntry) {
        if timeline.count >= Self.maxTimelineEntries,
           let oldest = timeline.indices.dropFirst().first(where: { timeline[$0].type != .measurement }) {
            timeline.remove(at: oldest)
        }
        timeline.append(entry)
    }

    public init(revision: String, images: [String], startedAt: KubeTime, timeline: [TimelineEntry] = []) {
        self.revision = revision
        self.images = images
        self.startedAt = startedAt
        self.timeline = timeline
    }
}

public enum ReleaseOutcome: String, SpecEnum {
    case promoted = "Promoted"
    case rolledBack = "RolledBack"
    case aborted = "Aborted"
    case superseded = "Superseded"
    case reverted = "Reverted"
}

public struct TimelineEntry: Codable, Sendable, Hashable {
    public var at: KubeTime
    public var type: TimelineEntryType
    public var weights: Weights?
    public var mirrorPercentage: Int?
    public var headerRoute: String?
    public var phase: RolloutPhase?
    public var analysis: String?
    public var metric: String?
    public var measurement: Measurement?
    public var message: String?

    public init(at: KubeTime, type: TimelineEntryType) {
        self.at = at
        self.type = type
    }
}

public enum TimelineEntryType: String, SpecEnum {
    case weights = "Weights"
    case mirror = "Mirror"
    case headerRoute = "HeaderRoute"
    case measurement = "Measurement"
    case phase = "Phase"
}

public struct MeasurementTally: Codable, Sendable, Hashable {
    public var successful: Int
    public var failed: Int
    public var inconclusive: Int
    public var errors: Int

    public init(successful: Int = 0, failed: Int = 0, inconclusive: Int = 0, errors: Int = 0) {
        self.successful = successful
        self.failed = failed
        self.inconclusive = inconclusive
        self.errors = errors
    }
}
