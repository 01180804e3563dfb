import SluiceModel

/// One measurement worked out from a Rollout's status: the query with every variable filled
/// in, a copy with Secret values redacted for the record, where to send it and how to
/// authenticate. Pure: the Secrets' values are passed in by the shell that read them.
public struct MeasurementRequest: Sendable, Hashable {
    public var analysis: String
    public var metric: String
    public var revision: String
    /// The metric as frozen when its run started.
    public var definition: AnalysisMetric
    public var address: String
    public var timeoutSeconds: Double
    /// The query to send, Secret values included.
    public var query: String
    /// The query as recorded in status, history, Events and logs: Secret values redacted.
    public var recordedQuery: String
    public var bearerToken: String?
    public var basicAuth: BasicAuth?
    public var headers: [String: String]
    /// Secret values and what stands for them in anything recorded.
    var redactions: [String: String]

    public struct BasicAuth: Sendable, Hashable {
        public var username: String
        public var password: String

        public init(username: String, password: String) {
            self.username = username
            self.password = password
        }
    }

    /// The text with every Secret value of this request replaced by its marker. A server's
    /// error message may echo the query; whatever is recorded passes through here.
    public func redact(_ text: String) -> String {
        // One pass, longest value first at each position, so a marker is never itself rewritten.
        let values = redactions.keys.filter { !$0.isEmpty }.sorted { $0.count > $1.count }
        guard !values.isEmpty else { return text }
        var out = ""
        var rest = Substring(text)
        while !rest.isEmpty {
            if let value = values.first(where: { rest.hasPrefix($0) }) {
                out += redactions[value]!
                rest = rest.dropFirst(value.count)
            } else {
                out.append(rest.removeFirst())
            }
        }
        return out
    }

    /// The measurement this request ended in, redacted, for the engine's next observation.
    public func result(_ outcome: MeasurementResult.Outcome, at time: KubeTime) -> MeasurementResult {
        var outcome = outcome
        if case .error(let message) = outcome { outcome = .error(redact(message)) }
        return MeasurementResult(analysis: analysis, metric: metric, revision: revision, measuredAt: time,
                                 outcome: outcome, query: recordedQuery)
    }

    /// What stands in the record for a Secret's value.
    public static func marker(_ ref: SecretKeyRef) -> String { "<secret:\(ref.name)/\(ref.key)>" }
}

/// Why a measurement could not be asked for. It counts as a query error: never a success,
/// and more than `consecutiveErrorLimit` in a row fail the metric.
public struct MeasurementSetupError: Error, Sendable, Hashable, CustomStringConvertible {
    public var analysis: String
    public var metric: String
    public var revision: String
    public var message: String
    /// The query as far as it could be rendered, redacted.
    public var recordedQuery: String

    public var description: String { message }

    public func result(at time: KubeTime) -> MeasurementResult {
        MeasurementResult(analysis: analysis, metric: metric, revision: revision, measuredAt: time,
                          outcome: .error(message), query: recordedQuery)
    }
}

extension MeasurementResult {
    /// The measurement as the engine records it: value, verdict by the metric's rules, and why.
    public func judged(by metric: AnalysisMetric) -> Measurement {
        AnalysisVerdict.judge(self, metric: metric)
    }
}
