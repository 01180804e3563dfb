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

/// A `runMeasurement` action resolved against the Rollout it came from.
public struct MeasurementTarget: Sendable, Hashable {
    public var analysis: String
    public var revision: String
    public var metric: MetricRunStatus
    public var namespace: String
    public var rollout: String
    /// The stable workload: the Deployment (Istio labels its pods' metrics with its name).
    public var stable: String
    /// The canary workload: the ReplicaSet `<deployment>-<hash>`, nil before it exists.
    public var canary: String?

    public init(analysis: String, revision: String, metric: MetricRunStatus, namespace: String, rollout: String,
                stable: String, canary: String?) {
        self.analysis = analysis
        self.revision = revision
        self.metric = metric
        self.namespace = namespace
        self.rollout = rollout
        self.stable = stable
        self.canary = canary
    }

    /// The run and metric a `runMeasurement(analysis:metric:)` action names, for the Rollout's
    /// canary revision; nil when the status holds no such run (it ended, or a newer revision replaced it).
    public init?(rollout: Rollout, analysis: String, metric: String) {
        guard let status = rollout.status,
              let run = status.analysis?.first(where: { $0.name == analysis && $0.revision == status.canaryRevision }),
              let m = run.metrics.first(where: { $0.name == metric })
        else { return nil }
        self.init(analysis: analysis, revision: run.revision, metric: m, namespace: rollout.metadata.namespace ?? "",
                  rollout: rollout.metadata.name ?? "", stable: rollout.spec.workloadRef.name, canary: status.canaryReplicaSet)
    }

    /// Every Secret key the measurement needs: Secret-valued args, the bearer token, the basic-auth
    /// password and Secret-valued headers.
    public var secretsNeeded: [SecretKeyRef] {
        let prometheus = metric.definition.provider.prometheus
        let refs = (metric.args ?? []).compactMap { $0.value == nil ? $0.valueFrom?.secretKeyRef : nil }
            + [prometheus?.bearerToken?.secretKeyRef, prometheus?.basicAuth?.password.secretKeyRef].compactMap { $0 }
            + (prometheus?.headers ?? []).compactMap { $0.value == nil ? $0.valueFrom?.secretKeyRef : nil }
        var seen = Set<SecretKeyRef>()
        return refs.filter { seen.insert($0).inserted }
    }

    /// The request, given the Secrets' values (keyed as `secretsNeeded` names them) and the
    /// addresses the controller allows.
    public func request(secrets: [SecretKeyRef: String], allowlist: PrometheusAllowlist) -> Result<MeasurementRequest, MeasurementSetupError> {
        let definition = metric.definition
        var recorded = definition.provider.prometheus?.query ?? ""
        func failure(_ message: String) -> Result<MeasurementRequest, MeasurementSetupError> {
            .failure(MeasurementSetupError(analysis: analysis, metric: metric.name, revision: revision,
                                           message: message, recordedQuery: recorded))
        }
        guard let prometheus = definition.provider.prometheus else { return failure("the metric has no Prometheus provider") }
        var redactions: [String: String] = [:]
        func value(_ from: ArgValueFrom?, what: String) -> Result<String, MeasurementSetupError> {
            guard let ref = from?.secretKeyRef else {
                return .failure(MeasurementSetupError(analysis: analysis, metric: metric.name, revision: revision,
                                                      message: "\(what) has no value", recordedQuery: recorded))
            }
            guard let secret = secrets[ref] else {
                return .failure(MeasurementSetupError(
                    analysis: analysis, metric: metric.name, revision: revision,
                    message: "\(what): key '\(ref.key)' of Secret \(namespace)/\(ref.name) could not be read", recordedQuery: recorded))
            }
            redactions[secret] = MeasurementRequest.marker(ref)
            return .success(secret)
        }

        let template: QueryTemplate
        do { template = try QueryTemplate(prometheus.query) } catch { return failure("query: \(error)") }
        var args: [String: (value: String, marker: String?)] = [:]
        for arg in metric.args ?? [] {
            if let plain = arg.value {
                args[arg.name] = (plain, nil)
            } else {
                switch value(arg.valueFrom, what: "arg '\(arg.name)'") {
                case .success(let secret): args[arg.name] = (secret, arg.valueFrom?.secretKeyRef.map(MeasurementRequest.marker))
                case .failure(let error): return .failure(error)
                }
            }
        }
        let interval = definition.interval ?? AnalysisMetric.defaultInterval
        let window = definition.window ?? interval
        func variable(_ v: QueryTemplate.Variable, redacted: Bool) -> String? {
            switch v {
            case .arg(let name): args[name].map { redacted ? $0.marker ?? $0.value : $0.value }
            case .namespace: namespace
            case .rollout: rollout
            case .interval: MeasurementTarget.promDuration(interval)
            case .window: MeasurementTarget.promDuration(window)
            case .stable: stable
            case .canary: canary
            }
        }
        recorded = template.render { variable($0, redacted: true) ?? "{{\($0)}}" } ?? recorded
        let missing = template.variables.filter { variable($0, redacted: false) == nil }
        if let first = missing.first {
            return failure(first == .canary ? "{{canary}} has no value: the canary ReplicaSet does not exist yet"
                                            : "{{\(first)}} has no value; give the arg in the Rollout's analysis args")
        }
        let query = template.render { variable($0, redacted: false) } ?? ""

        if let refusal = allowlist.refusal(of: prometheus.address) { return failure(refusal) }
        guard let address = prometheus.address ?? allowlist.defaultAddress else { return failure("no Prometheus address") }

        var bearer: String?
        if let token = prometheus.bearerToken {
            switch value(token, what: "bearerToken") {
            case .success(let t): bearer = t
            case .failure(let error): return .failure(error)
            }
        }
        var basic: MeasurementRequest.BasicAuth?
        if let auth = prometheus.basicAuth {
            switch value(auth.password, what: "basicAuth.password") {
            case .success(let p): basic = .init(username: auth.username, password: p)
            case .failure(let error): return .failure(error)
            }
        }
        var headers: [String: String] = [:]
        for header in prometheus.headers ?? [] {
            if let plain = header.value {
                headers[header.name] = plain
                continue
            }
            switch value(header.valueFrom, what: "header '\(header.name)'") {
            case .success(let v): headers[header.name] = v
            case .failure(let error): return .failure(error)
            }
        }
        let timeout = (prometheus.timeout ?? PrometheusProvider.defaultTimeout).seconds ?? 10
        return .success(MeasurementRequest(
            analysis: analysis, metric: metric.name, revision: revision, definition: definition, address: address,
            timeoutSeconds: timeout, query: query, recordedQuery: recorded, bearerToken: bearer, basicAuth: basic,
            headers: headers, redactions: redactions))
    }

    /// A duration as PromQL writes it, in whole units: `90s`, `2m`, `1h`, `1500ms`.
    static func promDuration(_ duration: DurationString) -> String {
        guard let seconds = duration.seconds else { return duration.text }
        let ms = Int((seconds * 1000).rounded())
        if ms % 3_600_000 == 0 { return "\(ms / 3_600_000)h" }
        if ms % 60000 == 0 { return "\(ms / 60000)m" }
        if ms % 1000 == 0 { return "\(ms / 1000)s" }
        return "\(ms)ms"
    }
}

extension MeasurementResult {
    /// The measurement as the engine records it: value, verdict by the metric's rules, and why.
    public func judged(by metric: AnalysisMetric) -> Measurement {
        AnalysisVerdict.judge(self, metric: metric)
    }
}
