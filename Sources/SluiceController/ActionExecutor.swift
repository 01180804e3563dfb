import Foundation
import KubeClient
import Logging
import SluiceCore
import SluiceModel

/// Carries out a plan's actions against the API server, each so that running it twice is
/// harmless and none overwrites what it did not see: finalizers ensured present or absent,
/// a canary created only if no foreign object has its name, deleted with a UID precondition,
/// VirtualServices and DestinationRules written at the resourceVersion the plan observed.
/// A conflict is an error: the caller re-reads and re-plans.
public struct ActionExecutor: Sendable {
    let client: KubernetesClient
    let events: EventRecorder
    let measurements: MeasurementRunner?
    let logger: Logger

    public init(client: KubernetesClient, events: EventRecorder, measurements: MeasurementRunner?, logger: Logger) {
        self.client = client
        self.events = events
        self.measurements = measurements
        self.logger = logger
    }

    public enum Failure: Error, CustomStringConvertible {
        case action(String, KubeClientError)
        case foreignObject(String)

        public var description: String {
            switch self {
            case .action(let what, let error): "\(what): \(error)"
            case .foreignObject(let what): what
            }
        }

        /// The object moved under the plan: look again rather than retry blindly.
        public var isConflict: Bool {
            if case .action(_, .conflict) = self { return true }
            return false
        }
    }

    /// Runs `plan`'s actions in order, the leading VirtualService writes at once and all of them
    /// before anything after; stops at the first failure. Measurements taken are returned.
    public func execute(_ plan: Plan, rollout: Rollout, observation: Observation, now: Date = Date()) async throws(Failure)
        -> [MeasurementResult] {
        var actions = plan.actions[...]
        let leading = actions.prefix { if case .writeVirtualService = $0 { true } else { false } }
        if !leading.isEmpty {
            try await writeConcurrently(Array(leading), rollout: rollout)
            actions = actions.dropFirst(leading.count)
        }
        var results: [MeasurementResult] = []
        for action in actions {
            if let result = try await run(action, rollout: rollout, observation: observation, now: now) { results.append(result) }
        }
        return results
    }

    func writeConcurrently(_ writes: [Action], rollout: Rollout) async throws(Failure) {
        let outcome: Failure? = await withTaskGroup(of: Failure?.self) { group in
            for action in writes {
                group.addTask {
                    do {
                        _ = try await self.run(action, rollout: rollout, observation: Observation(), now: Date())
                        return nil
                    } catch let failure as Failure {
                        return failure
                    } catch {
                        return Failure.foreignObject("\(error)")
                    }
                }
            }
            var first: Failure?
            for await failure in group where first == nil { first = failure }
            return first
        }
        if let outcome { throw outcome }
    }

    func namespace(of rollout: Rollout) -> String { rollout.metadata.namespace ?? "default" }

    func run(_ action: Action, rollout: Rollout, observation: Observation, now: Date) async throws(Failure) -> MeasurementResult? {
        let ns = namespace(of: rollout)
        let name = rollout.metadata.name ?? ""
        func attempt(_ what: String, _ body: () async throws -> Void) async throws(Failure) {
            do { try await body() } catch let error as KubeClientError { throw .action(what, error) } catch {
                throw .action(what, .decoding("\(error)"))
            }
        }
        switch action {
        case .addFinalizer, .removeFinalizer:
            let adding = action == .addFinalizer
            try await attempt("\(adding ? "add" : "remove") finalizer") {
                let current: Rollout = try await client.get(.rollouts, namespace: ns, name: name)
                var finalizers = current.metadata.finalizers ?? []
                guard finalizers.contains(Labels.finalizer) != adding else { return }
                finalizers = adding ? finalizers + [Labels.finalizer] : finalizers.filter { $0 != Labels.finalizer }
                // At the resourceVersion read: another writer's finalizer is never lost.
                let patch = JSONValue.object(["metadata": ["finalizers": .array(finalizers.map(JSONValue.string)),
                                                               "resourceVersion": .string(current.metadata.resourceVersion ?? "")]])
                let _: JSONValue = try await client.patch(.rollouts, namespace: ns, name: name, .merge(encode(patch)))
            }
        case .setDeploymentPaused(let paused):
            try await attempt("\(paused ? "pause" : "unpause") Deployment") {
                let _: JSONValue = try await client.patch(.deployments, namespace: ns, name: rollout.spec.workloadRef.name,
                                                          .merge(Data(#"{"spec":{"paused":\#(paused)}}"#.utf8)), urgent: paused)
            }
        case .restoreDeploymentTemplate(let template):
            try await attempt("restore the Deployment's template") {
                guard let seen = observation.deployment else { return }
                // Only over the template the plan saw: a JSON patch that tests it first.
                let ops: JSONValue = try .array([
                    ["op": "test", "path": "/metadata/resourceVersion", "value": .string(seen.metadata.resourceVersion ?? "")],
                    ["op": "replace", "path": "/spec/template", "value": JSONValue(encoding: template)],
                ])
                let _: JSONValue = try await client.patch(.deployments, namespace: ns, name: rollout.spec.workloadRef.name, .json(encode(ops)))
            }
        case .createCanary(let rs):
            try await createCanary(rs, rollout: rollout)
        case .scaleCanary(let rsName, let replicas), .scaleReplicaSet(let rsName, let replicas):
            try await attempt("scale ReplicaSet \(rsName) to \(replicas)") {
                let _: JSONValue = try await client.patch(.replicaSets, namespace: ns, name: rsName,
                                                          .merge(Data(#"{"spec":{"replicas":\#(replicas)}}"#.utf8)))
            }
        case .deleteCanary(let rsName):
            try await attempt("delete canary \(rsName)") {
                let uid = observation.replicaSets.first { $0.metadata.name == rsName }?.metadata.uid
                do {
                    try await client.delete(.replicaSets, namespace: ns, name: rsName, uid: uid, propagationPolicy: "Background")
                } catch KubeClientError.notFound {}
            }
        case .setSelector(let target, let key, let value):
            try await setSelector(target, key: key, value: value, namespace: ns)
        case .writeVirtualService(let vs):
            let vsNamespace = vs.metadata.namespace ?? ns
            try await attempt("write VirtualService \(vsNamespace)/\(vs.metadata.name ?? "")") {
                // At the resourceVersion observed: a conflict means someone wrote it since; re-plan.
                let _: VirtualService = try await client.update(.virtualServices, namespace: vsNamespace, name: vs.metadata.name ?? "", vs,
                                                                urgent: true)
            }
        case .runMeasurement(let analysis, let metric):
            return await measurements?.measure(rollout: rollout, analysis: analysis, metric: metric, at: now)
        case .recordEvent(let event):
            let object = EventRecorder.InvolvedObject(apiVersion: Rollout.apiVersion, kind: Rollout.kind, name: name, namespace: ns,
                                                      uid: rollout.metadata.uid)
            await events.record(object, type: event.type.rawValue, reason: event.reason.rawValue, message: event.message, now: now)
        }
        return nil
    }

    /// AlreadyExists is done only when the existing ReplicaSet is this Rollout's canary of that revision.
    func createCanary(_ rs: ReplicaSet, rollout: Rollout) async throws(Failure) {
        let ns = namespace(of: rollout)
        let rsName = rs.metadata.name ?? ""
        do {
            let _: ReplicaSet = try await client.create(.replicaSets, namespace: ns, rs)
        } catch .alreadyExists {
            let existing: ReplicaSet
            do { existing = try await client.get(.replicaSets, namespace: ns, name: rsName) } catch { throw .action("read canary \(rsName)", error) }
            let ours = existing.metadata.ownerReferences?.contains { $0.uid == rollout.metadata.uid } == true
                && existing.metadata.labels?[Labels.revision] == rs.metadata.labels?[Labels.revision]
            guard ours else {
                throw .foreignObject("ReplicaSet \(ns)/\(rsName) exists and is not this Rollout's canary; Sluice will not take it over")
            }
        } catch {
            throw .action("create canary \(rsName)", error)
        }
    }

    /// A Service selector by merge patch; a DestinationRule subset by read-modify-write at its resourceVersion.
    func setSelector(_ target: SelectorTarget, key: String, value: String?, namespace ns: String) async throws(Failure) {
        do {
            switch target {
            case .service(let service):
                let patch = JSONValue.object(["spec": ["selector": [key: value.map(JSONValue.string) ?? .null]]])
                let _: JSONValue = try await client.patch(.services, namespace: ns, name: service, .merge(encode(patch)))
            case .subset(let ruleName, let subset):
                var rule: DestinationRule = try await client.get(.destinationRules, namespace: ns, name: ruleName)
                guard let i = rule.spec.subsets.firstIndex(where: { $0.name == subset }) else { return }
                guard rule.spec.subsets[i].labels[key] != value else { return }
                rule.spec.subsets[i].labels[key] = value
                let _: DestinationRule = try await client.update(.destinationRules, namespace: ns, name: ruleName, rule)
            }
        } catch {
            throw .action("set selector \(key) on \(target)", error)
        }
    }

    func encode(_ value: JSONValue) throws(KubeClientError) -> Data {
        do { return try JSONEncoder().encode(value) } catch { throw .decoding("\(error)") }
    }
}
