import Foundation
import SluiceCore
import SluiceModel

/// `sluice lint`: each Rollout and template checked on its own (schema and semantics), then
/// against the Deployments, Services, DestinationRules and VirtualServices in the same files,
/// as a mesh reviewer would.
public enum Linter {
    /// A Rollout with where it came from and the objects around it, found once.
    struct Subject {
        var source: ManifestSet.Source
        var rollout: Rollout
        var observation: Observation
        var namespace: String { Linter.namespace(rollout.metadata) }
        var name: String { "\(namespace)/\(rollout.metadata.name ?? "")" }
    }

    public static func lint(_ set: ManifestSet, prometheus: PrometheusAllowlist? = nil) -> [Finding] {
        var findings: [Finding] = []
        for source in set.sources {
            findings += source.problems.map { Finding(source, $0.path, $0.message) }
        }
        let templates = set.templates
        let catalog = TemplateCatalog(templates.map(\.1))
        for (source, template) in templates {
            findings += SpecValidator(prometheus: prometheus).problems(in: template).map { Finding(source, $0.path, $0.message) }
        }
        let subjects = set.rollouts.map { Subject(source: $0.0, rollout: $0.1, observation: observation(for: $0.1, in: set, templates: catalog)) }
        for subject in subjects {
            let problems = SpecValidator(templates: catalog, prometheus: prometheus).problems(in: subject.rollout)
                + referenceProblems(subject.rollout, subject.observation)
            findings += problems.map { Finding(subject.source, $0.path, $0.message) }
        }
        findings += managedRouteFindings(subjects, set)
        findings += selectorFindings(subjects, set)
        findings += hostFindings(set)
        return findings.sorted()
    }

    static func namespace(_ meta: ObjectMeta) -> String { meta.namespace ?? "default" }

    /// The objects around a Rollout as the engine would observe them, from the files.
    static func observation(for rollout: Rollout, in set: ManifestSet, templates: TemplateCatalog) -> Observation {
        let ns = namespace(rollout.metadata)
        let rule = rollout.spec.trafficRouting.istio?.destinationRule?.name
        let virtualServices = set.virtualServices.map { _, vs in
            var vs = vs
            vs.metadata.namespace = namespace(vs.metadata)
            return vs
        }
        return Observation(deployment: ManifestSet.named(rollout.spec.workloadRef.name, in: ns, set.deployments)?.1,
                           virtualServices: virtualServices,
                           services: set.services.map(\.1).filter { namespace($0.metadata) == ns },
                           destinationRule: rule.flatMap { ManifestSet.named($0, in: ns, set.destinationRules)?.1 },
                           templates: templates)
    }

    /// Managed routes: weights that sum to 100, one Rollout per route, and no `mirror` of the
    /// route's own where the Rollout mirrors.
    static func managedRouteFindings(_ subjects: [Subject], _ set: ManifestSet) -> [Finding] {
        var findings: [Finding] = []
        var owners: [String: String] = [:]
        let virtualServices = set.virtualServices
        for subject in subjects {
            guard let istio = subject.rollout.spec.trafficRouting.istio,
                  let destinations = RouteDestinations(istio, namespace: subject.namespace,
                                                       host: subject.observation.destinationRule?.spec.host)
            else { continue }
            let mirrors = executedSteps(of: subject.rollout.spec).contains { ($0.setMirror?.percentage ?? 0) > 0 }
            for (i, ref) in istio.virtualServices.enumerated() {
                let vsNamespace = ref.namespace ?? subject.namespace
                guard let (vsSource, vs) = ManifestSet.named(ref.name, in: vsNamespace, virtualServices),
                      let managed = try? VirtualServiceTransform.managedRoutes(in: vs, named: ref.routes ?? [], destinations: destinations)
                else { continue }
                for index in managed {
                    let route = vs.spec.http[index]
                    let label = route.name.map { "route '\($0)'" } ?? "http[\(index)]"
                    let key = "\(vsNamespace)/\(ref.name)/\(index)"
                    if let owner = owners[key], owner != subject.name {
                        findings.append(Finding(subject.source, "spec.trafficRouting.istio.virtualServices[\(i)]",
                                                "\(label) of VirtualService \(vsNamespace)/\(ref.name) is already managed by Rollout \(owner); a route can have one Rollout"))
                    } else {
                        owners[key] = subject.name
                    }
                    let sum = route.route.reduce(0) { $0 + ($1.weight ?? (route.route.count == 1 ? 100 : 0)) }
                    if sum != 100 {
                        findings.append(Finding(vsSource, "spec.http[\(index)].route",
                                                "the weights of \(label) sum to \(sum); Istio needs 100 (e.g. stable 100, canary 0)"))
                    }
                    if mirrors, route.mirror != nil {
                        findings.append(Finding(vsSource, "spec.http[\(index)].mirror",
                                                "\(label) already mirrors, and Rollout \(subject.name) mirrors it too (setMirror or previewMirror); remove one"))
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
        for (source, vs) in set.virtualServices {
            let ns = namespace(vs.metadata)
            let me = "\(ns)/\(vs.metadata.name ?? "")"
            let gateways = vs.spec.gateways.isEmpty ? ["mesh"] : vs.spec.gateways
            for (h, host) in vs.spec.hosts.enumerated() {
                let fqdn = host.contains(".") || host.contains("*") ? host : "\(host).\(ns).svc.cluster.local"
                for gateway in gateways {
                    let gw = gateway == "mesh" || gateway.contains("/") ? gateway : "\(ns)/\(gateway)"
                    let key = "\(gw) \(fqdn)"
                    if let other = claimed[key], other != me {
                        findings.append(Finding(source, "spec.hosts[\(h)]",
                                                "host '\(host)' on gateway \(gateway) is also claimed by VirtualService \(other); Istio applies only one, so keep one VirtualService per host and gateway"))
                    } else {
                        claimed[key] = me
                    }
                }
            }
        }
        return findings
    }
}
