import Foundation
import PrometheusClient
import SluiceCore
import SluiceModel

/// Takes the measurements the engine asks for (`Action.runMeasurement`): reads the Secrets the
/// metric names, renders its query, checks the address against the controller's allowlist,
/// asks Prometheus at the given time, and returns the result, redacted, for the next
/// observation. Never throws and never blocks a reconcile: every failure is a measurement with
/// an error outcome, which the engine counts against `consecutiveErrorLimit`.
public struct MeasurementRunner: Sendable {
    let querier: PrometheusQuerier
    let allowlist: PrometheusAllowlist
    let secrets: SecretReader

    /// Build `querier` with `admits: allowlist.admits` so that nothing else can call another address either.
    public init(querier: PrometheusQuerier, allowlist: PrometheusAllowlist, secrets: SecretReader) {
        self.querier = querier
        self.allowlist = allowlist
        self.secrets = secrets
    }

    /// The measurement a `runMeasurement(analysis:metric:)` action asks for, or nil when the
    /// Rollout's status no longer holds that run (nothing to measure).
    public func measure(rollout: Rollout, analysis: String, metric: String, at time: Date) async -> MeasurementResult? {
        guard let target = MeasurementTarget(rollout: rollout, analysis: analysis, metric: metric) else { return nil }
        return await measure(target, at: time)
    }

    public func measure(_ target: MeasurementTarget, at time: Date) async -> MeasurementResult {
        let measuredAt = KubeTime(secondsSince1970: time.timeIntervalSince1970)
        var values: [SecretKeyRef: String] = [:]
        for ref in target.secretsNeeded {
            // A Secret that cannot be read leaves its value out; the request names what is missing.
            if let value = try? await secrets.value(namespace: target.namespace, ref) { values[ref] = value }
        }
        let request: MeasurementRequest
        switch target.request(secrets: values, allowlist: allowlist) {
        case .success(let r): request = r
        case .failure(let error): return error.result(at: measuredAt)
        }
        let endpoint = PrometheusEndpoint(
            address: request.address, bearerToken: request.bearerToken,
            basicAuth: request.basicAuth.map { .init(username: $0.username, password: $0.password) }, headers: request.headers)
        let answer = await querier.query(request.query, at: endpoint, timeout: .milliseconds(Int64(request.timeoutSeconds * 1000)), time: time)
        return request.result(MeasurementRunner.outcome(answer), at: measuredAt)
    }

    /// What a gate can judge: a scalar is a number, an instant vector its samples (none: no data).
    /// Anything else is an error, never a value.
    public static func outcome(_ answer: Result<QueryResult, PrometheusError>) -> MeasurementResult.Outcome {
        switch answer {
        case .failure(let error):
            return .error(error.description)
        case .success(.scalar(let value, _)):
            return .value(.number(value))
        case .success(.vector(let samples)):
            return .value(.samples(samples.map(\.value)))
        case .success(.matrix):
            return .error("the query returns a range vector; a gate judges an instant vector or a scalar (wrap the range in rate(), avg_over_time() or the like)")
        case .success(.string):
            return .error("the query returns a string; a gate judges an instant vector or a scalar")
        }
    }
}
