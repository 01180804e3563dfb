import Foundation
import SluiceCore
import SluiceModel

/// `sluice lint`: each Rollout and template checked on its own (schema and semantics), then
/// against the Deployments, Services, DestinationRules and VirtualServices in the same files,
/// as a mesh reviewer would.
public enum Linter {
    public static func lint(_ set: ManifestSet, prometheus: PrometheusAllowlist? = nil) -> [Finding] {
        var findings: [Finding] = []
        func add(_ source: ManifestSet.Source, _ problem: SpecProblem, prefix: String = "") {
            findings.append(Finding(file: source.file, line: source.document.line(of: problem.path), path: problem.path,
                                    message: prefix + problem.message))
        }
        for source in set.sources {
            for problem in source.problems { add(source, problem) }
        }
        let templates = set.all { if case .analysisTemplate(let t) = $0 { t } else { nil } }
        let catalog = TemplateCatalog(templates.map(\.1))
        for (source, template) in templates {
            for problem in SpecValidator(prometheus: prometheus).problems(in: template) { add(source, problem) }
        }
        let rollouts = set.all { if case .rollout(let r) = $0 { r } else { nil } }
        for (source, rollout) in rollouts {
            for problem in SpecValidator(templates: catalog, prometheus: prometheus).problems(in: rollout) { add(source, problem) }
            for problem in referenceProblems(rollout, observation(for: rollout, in: set, templates: catalog)) { add(source, problem) }
        }
        findings += managedRouteFindings(rollouts, set)
        findings += selectorFindings(rollouts, set)
        findings += hostFindings(set)
        return findings.sorted()
    }

    static func namespace(_ meta: ObjectMeta) -> String { meta.namespace ?? "default" }

    /// The objects around a Rollout as the engine would observe them, from the files.
    static func observation(for rollout: Rollout, in set: ManifestSet, templates: TemplateCatalog) -> Observation {
        let ns = namespace(rollout.metadata)
        let istio = rollout.spec.trafficRouting.istio
        let deployment = set.all { if case .deployment(let d) = $0 { d } else { nil } }.map(\.1)
            .first { $0.metadata.name == rollout.spec.workloadRef.name && namespace($0.metadata) == ns }
        let services = set.all { if case .service(let s) = $0 { s } else { nil } }.map(\.1).filter { namespace($0.metadata) == ns }
        let rule = set.all { if case .destinationRule(let r) = $0 { r } else { nil } }.map(\.1)
            .first { $0.metadata.name == istio?.destinationRule?.name && namespace($0.metadata) == ns }
        let virtualServices = set.all { if case .virtualService(let v) = $0 { v } else { nil } }.map(\.1).map { vs in
            var vs = vs
            vs.metadata.namespace = namespace(vs.metadata)
            return vs
        }
        return Observation(deployment: deployment, virtualServices: virtualServices, services: services,
                           destinationRule: rule, templates: templates)
    }

    /// Managed routes: weights that sum to 100, one Rollout per route, and no `mirror` of the
    /// route's own where the Rollout mirrors.
    static func managedRouteFindings(_ rollouts: [(ManifestSet.Source, Rollout)], _ set: ManifestSet) -> [Finding] {
        var findings: [Finding] = []
        var owners: [String: String] = [:]
        let virtualServices = set.all { if case .virtualService(let v) = $0 { v } else { nil } }
        for (source, rollout) in rollouts {
            guard let istio = rollout.spec.trafficRouting.istio else { continue }
            let ns = namespace(rollout.metadata)
            let rule = observation(for: rollout, in: set, templates: TemplateCatalog()).destinationRule
            guard let destinations = RouteDestinations(istio, namespace: ns, host: rule?.spec.host) else { continue }
            let mirrors = executedSteps(of: rollout.spec).contains { ($0.setMirror?.percentage ?? 0) > 0 }
            let me = "\(ns)/\(rollout.metadata.name ?? "")"
            for (i, ref) in istio.virtualServices.enumerated() {
                let vsNamespace = ref.namespace ?? ns
                guard let (vsSource, vs) = virtualServices.first(where: { $0.1.metadata.name == ref.name && namespace($0.1.metadata) == vsNamespace }),
                      let managed = try? VirtualServiceTransform.managedRoutes(in: vs, named: ref.routes ?? [], destinations: destinations)
                else { continue }
                for index in managed {
                    let route = vs.spec.http[index]
                    let label = route.name.map { "route '\($0)'" } ?? "http[\(index)]"
                    let key = "\(vsNamespace)/\(ref.name)/\(index)"
                    if let owner = owners[key], owner != me {
                        let path = "spec.trafficRouting.istio.virtualServices[\(i)]"
                        findings.append(Finding(file: source.file, line: source.document.line(of: path), path: path,
                                                message: "\(label) of VirtualService \(vsNamespace)/\(ref.name) is already managed by Rollout \(owner); a route can have one Rollout"))
                    } else {
                        owners[key] = me
                    }
                    let sum = route.route.reduce(0) { $0 + ($1.weight ?? (route.route.count == 1 ? 100 : 0)) }
                    if sum != 100 {
                        let path = "spec.http[\(index)].route"
                        findings.append(Finding(file: vsSource.file, line: vsSource.document.line(of: path), path: path,
                                                message: "the weights of \(label) sum to \(sum); Istio needs 100 (e.g. stable 100, canary 0)"))
                    }
                    if mirrors, route.mirror != nil {
                        let path = "spec.http[\(index)].mirror"
                        findings.append(Finding(file: vsSource.file, line: vsSource.document.line(of: path), path: path,
                                                message: "\(label) already mirrors, and Rollout \(me) mirrors it too (setMirror or previewMirror); remove one"))
                    }
                }
            }
        }
        return findings
    }

    /// No two VirtualServices claim the same host on the same gateway.
    static func hostFindings(_ set: ManifestSet) -> [Finding] {
        var claimed: [String: String] = [:]
        var findings: [Finding] = []
        for (source, vs) in set.all({ if case .virtualService(let v) = $0 { v } else { nil } }) {
            let ns = namespace(vs.metadata)
            let me = "\(ns)/\(vs.metadata.name ?? "")"
            let gateways = vs.spec.gateways.isEmpty ? ["mesh"] : vs.spec.gateways
            for (h, host) in vs.spec.hosts.enumerated() {
                let fqdn = host.contains(".") || host.contains("*") ? host : "\(host).\(ns).svc.cluster.local"
                for gateway in gateways {
                    let gw = gateway == "mesh" || gateway.contains("/") ? gateway : "\(ns)/\(gateway)"
                    let key = "\(gw) \(fqdn)"
                    if let other = claimed[key], other != me {
                        let path = "spec.hosts[\(h)]"
                        findings.append(Finding(file: source.file, line: source.document.line(of: path), path: path,
                                                message: "host '\(host)' on gateway \(gateway) is also claimed by VirtualService \(other); Istio applies only one, so keep one VirtualService per host and gateway"))
                    } else {
                        claimed[key] = me
                    }
                }
            }
        }
        return findings
    }
}
