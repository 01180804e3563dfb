import SluiceCore
import SluiceModel

extension Linter {
    /// The Services (host mode) or DestinationRule subsets (subset mode) a Rollout narrows must
    /// select the Deployment's pods to begin with: Sluice only adds its revision key. A selector
    /// the pods do not match sends that side's traffic to no pod of the Rollout.
    static func selectorFindings(_ subjects: [Subject], _ set: ManifestSet) -> [Finding] {
        var findings: [Finding] = []
        for subject in subjects {
            let ns = subject.namespace
            guard let istio = subject.rollout.spec.trafficRouting.istio, let deployment = subject.observation.deployment else { continue }
            let pods = deployment.spec.template.metadata?.labels ?? [:]
            let owner = "Deployment \(ns)/\(deployment.metadata.name ?? "")"
            func check(_ selector: [String: String], _ source: ManifestSet.Source, _ path: String, _ what: String) {
                let own = selector.filter { !$0.key.hasPrefix("sluice.dev/") }
                let missing = own.filter { pods[$0.key] != $0.value }.sorted { $0.key < $1.key }
                guard !missing.isEmpty else { return }
                let wanted = missing.map { "\($0.key)=\($0.value)" }.joined(separator: ", ")
                let have = pods.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ", ")
                findings.append(Finding(source, path, "\(what) selects \(wanted), which the pods of \(owner) do not carry (they have \(have.isEmpty ? "no labels" : have)); it would send traffic to none of them"))
            }
            if let stable = istio.stableService, let canary = istio.canaryService {
                for name in [stable, canary] {
                    guard let (source, service) = ManifestSet.named(name, in: ns, set.services) else { continue }
                    check(service.spec.selector, source, "spec.selector", "Service \(name)")
                }
            } else if let ref = istio.destinationRule, let (source, rule) = ManifestSet.named(ref.name, in: ns, set.destinationRules) {
                for (i, subset) in rule.spec.subsets.enumerated() where [ref.stableSubsetName, ref.canarySubsetName].contains(subset.name ?? "") {
                    check(subset.labels, source, "spec.subsets[\(i)].labels", "subset \(subset.name ?? "")")
                }
            }
        }
        return findings
    }
}
