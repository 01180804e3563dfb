import SluiceModel

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
        var recorded = metric.definition.provider.prometheus?.query ?? ""
        do throws(Refusal) {
            guard let prometheus = metric.definition.provider.prometheus else { throw Refusal("the metric has no Prometheus provider") }
            let template: QueryTemplate
            do { template = try QueryTemplate(prometheus.query) } catch { throw Refusal("query: \(error)") }
            var lookup = SecretLookup(secrets: secrets, namespace: namespace)
            let args = try resolvedArgs(&lookup)
            recorded = template.render { variable($0, args, redacted: true) ?? "{{\($0)}}" } ?? recorded
            if let missing = template.variables.first(where: { variable($0, args, redacted: false) == nil }) {
                throw Refusal(missing == .canary ? "{{canary}} has no value: the canary ReplicaSet does not exist yet"
                                                 : "{{\(missing)}} has no value; give the arg in the Rollout's analysis args")
            }
            if let refusal = allowlist.refusal(of: prometheus.address) { throw Refusal(refusal) }
            guard let address = prometheus.address ?? allowlist.defaultAddress else { throw Refusal("no Prometheus address") }
            var request = MeasurementRequest(
                analysis: analysis, metric: metric.name, revision: revision, definition: metric.definition, address: address,
                timeoutSeconds: (prometheus.timeout ?? PrometheusProvider.defaultTimeout).seconds ?? 10,
                query: template.render { variable($0, args, redacted: false) } ?? "", recordedQuery: recorded,
                bearerToken: nil, basicAuth: nil, headers: [:], redactions: [:])
            try authenticate(&request, prometheus, &lookup)
            request.redactions = lookup.redactions
            return .success(request)
        } catch {
            return .failure(MeasurementSetupError(analysis: analysis, metric: metric.name, revision: revision,
                                                  message: error.message, recordedQuery: recorded))
        }
    }

    struct Refusal: Error {
        var message: String
        init(_ message: String) { self.message = message }
    }

    /// Reads Secret values and remembers each one's marker for redaction.
    struct SecretLookup {
        let secrets: [SecretKeyRef: String]
        let namespace: String
        var redactions: [String: String] = [:]

        mutating func value(_ from: ArgValueFrom?, what: String) throws(Refusal) -> String {
            guard let ref = from?.secretKeyRef else { throw Refusal("\(what) has no value") }
            guard let secret = secrets[ref] else {
                throw Refusal("\(what): key '\(ref.key)' of Secret \(namespace)/\(ref.name) could not be read")
            }
            redactions[secret] = MeasurementRequest.marker(ref)
            return secret
        }
    }

    /// Each arg's value, and for a Secret-valued one the marker that stands for it in the record.
    func resolvedArgs(_ lookup: inout SecretLookup) throws(Refusal) -> [String: (value: String, marker: String?)] {
        var args: [String: (value: String, marker: String?)] = [:]
        for arg in metric.args ?? [] {
            if let plain = arg.value {
                args[arg.name] = (plain, nil)
            } else {
                args[arg.name] = (try lookup.value(arg.valueFrom, what: "arg '\(arg.name)'"),
                                  arg.valueFrom?.secretKeyRef.map(MeasurementRequest.marker))
            }
        }
        return args
    }

    func variable(_ v: QueryTemplate.Variable, _ args: [String: (value: String, marker: String?)], redacted: Bool) -> String? {
        let interval = metric.definition.interval ?? AnalysisMetric.defaultInterval
        switch v {
        case .arg(let name): return args[name].map { redacted ? $0.marker ?? $0.value : $0.value }
        case .namespace: return namespace
        case .rollout: return rollout
        case .interval: return MeasurementTarget.promDuration(interval)
        case .window: return MeasurementTarget.promDuration(metric.definition.window ?? interval)
        case .stable: return stable
        case .canary: return canary
        }
    }

    func authenticate(_ request: inout MeasurementRequest, _ prometheus: PrometheusProvider,
                      _ lookup: inout SecretLookup) throws(Refusal) {
        if let token = prometheus.bearerToken { request.bearerToken = try lookup.value(token, what: "bearerToken") }
        if let auth = prometheus.basicAuth {
            request.basicAuth = .init(username: auth.username, password: try lookup.value(auth.password, what: "basicAuth.password"))
        }
        for header in prometheus.headers ?? [] {
            if let plain = header.value {
                request.headers[header.name] = plain
            } else {
                request.headers[header.name] = try lookup.value(header.valueFrom, what: "header '\(header.name)'")
            }
        }
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
