/// A manifest document as the typed object Sluice knows it as.
public enum Manifest: Sendable, Hashable {
    case rollout(Rollout)
    case analysisTemplate(AnalysisTemplate)
    case deployment(Deployment)
    case service(Service)
    case virtualService(VirtualService)
    case destinationRule(DestinationRule)
    /// A kind Sluice does not read (a Gateway, a ConfigMap, ...).
    case other(apiVersion: String, kind: String)
}

extension ManifestDocument {
    /// The typed object (nil when it cannot be decoded) and the problems found decoding it.
    /// For Sluice's own kinds, unknown fields are problems too; the object is still returned,
    /// so that its other problems can be reported at the same time.
    public func manifest() -> (manifest: Manifest?, problems: [SpecProblem]) {
        guard let apiVersion, let kind else {
            return (nil, [SpecProblem("", "not a Kubernetes object: apiVersion and kind are required")])
        }
        let group = apiVersion.split(separator: "/").dropLast().first.map(String.init) ?? ""
        switch (group, kind) {
        case ("sluice.dev", Rollout.kind):
            return strict(Rollout.self, apiVersion: apiVersion, Manifest.rollout)
        case ("sluice.dev", AnalysisTemplate.namespacedKind), ("sluice.dev", AnalysisTemplate.clusterKind):
            return strict(AnalysisTemplate.self, apiVersion: apiVersion, Manifest.analysisTemplate)
        case ("apps", "Deployment"):
            return lenient(Deployment.self, Manifest.deployment)
        case ("", "Service"):
            return lenient(Service.self, Manifest.service)
        case ("networking.istio.io", VirtualService.kind):
            return lenient(VirtualService.self, Manifest.virtualService)
        case ("networking.istio.io", DestinationRule.kind):
            return lenient(DestinationRule.self, Manifest.destinationRule)
        default:
            return (.other(apiVersion: apiVersion, kind: kind), [])
        }
    }

    private func strict<T: Codable>(_ type: T.Type, apiVersion: String, _ wrap: (T) -> Manifest)
        -> (Manifest?, [SpecProblem])
    {
        guard apiVersion == Rollout.apiVersion else {
            return (nil, [SpecProblem("apiVersion", "'\(apiVersion)' is not served; use \(Rollout.apiVersion)")])
        }
        switch decode(T.self) {
        case .failure(let problem): return (nil, [problem])
        case .success(let value): return (wrap(value), unknownFields(of: value))
        }
    }

    private func lenient<T: Decodable>(_ type: T.Type, _ wrap: (T) -> Manifest) -> (Manifest?, [SpecProblem]) {
        switch decode(T.self) {
        case .failure(let problem): return (nil, [problem])
        case .success(let value): return (wrap(value), [])
        }
    }
}
