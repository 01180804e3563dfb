import SluiceModel

extension Rollout {
    /// A valid host-mode canary for Deployment `checkout`: 20%, wait 1m, 50%, wait for promotion.
    public static func fixture(name: String = "checkout", namespace: String = "shop") -> Rollout {
        Rollout(
            metadata: ObjectMeta(name: name, namespace: namespace),
            spec: RolloutSpec(
                workloadRef: WorkloadRef(name: "checkout"),
                trafficRouting: TrafficRouting(istio: IstioTrafficRouting(
                    virtualServices: [VirtualServiceRef(name: "checkout", routes: ["primary"])],
                    stableService: "checkout-stable", canaryService: "checkout-canary")),
                strategy: Strategy(canary: CanaryStrategy(steps: [
                    CanaryStep(setWeight: 20), CanaryStep(pause: PauseStep(duration: "1m")),
                    CanaryStep(setWeight: 50), CanaryStep(pause: PauseStep()),
                ]))))
    }

    /// A copy with `change` applied: the general builder the others are made of.
    public func with(_ change: (inout Rollout) -> Void) -> Rollout {
        var copy = self
        change(&copy)
        return copy
    }

    public func steps(_ steps: [CanaryStep]) -> Rollout {
        with { $0.spec.strategy = Strategy(canary: CanaryStrategy(steps: steps, analysis: $0.spec.strategy.canary?.analysis)) }
    }

    public func backgroundAnalysis(_ analysis: BackgroundAnalysis) -> Rollout {
        with { $0.spec.strategy.canary?.analysis = analysis }
    }

    public func blueGreen(_ strategy: BlueGreenStrategy = BlueGreenStrategy()) -> Rollout {
        with { $0.spec.strategy = Strategy(blueGreen: strategy) }
    }

    /// Subset mode through DestinationRule `checkout` with subsets `stable` and `canary`.
    public func subsetMode(rule: String = "checkout") -> Rollout {
        with {
            $0.spec.trafficRouting.istio?.stableService = nil
            $0.spec.trafficRouting.istio?.canaryService = nil
            $0.spec.trafficRouting.istio?.destinationRule = DestinationRuleRef(
                name: rule, stableSubsetName: "stable", canarySubsetName: "canary")
        }
    }

    public func paused(_ paused: Bool = true) -> Rollout { with { $0.spec.paused = paused } }
}

extension AnalysisTemplate {
    /// A valid template `success-rate` with arg `service` and one Prometheus metric.
    public static func fixture(kind: String = AnalysisTemplate.namespacedKind, name: String = "success-rate", namespace: String = "shop",
                               metrics: [AnalysisMetric]? = nil, args: [AnalysisArg]? = [AnalysisArg(name: "service")])
        -> AnalysisTemplate
    {
        AnalysisTemplate(
            kind: kind, metadata: ObjectMeta(name: name, namespace: kind == AnalysisTemplate.clusterKind ? nil : namespace),
            spec: AnalysisTemplateSpec(args: args, metrics: metrics ?? [.successRate()]))
    }

    public func with(_ change: (inout AnalysisTemplate) -> Void) -> AnalysisTemplate {
        var copy = self
        change(&copy)
        return copy
    }
}

extension AnalysisMetric {
    /// Request success rate of `{{args.service}}`, at least 99%.
    public static func successRate(name: String = "success-rate", count: Int? = 4) -> AnalysisMetric {
        var metric = AnalysisMetric(name: name, provider: MetricProvider(prometheus: PrometheusProvider(query: """
            sum(rate(istio_requests_total{reporter="destination",destination_service_name="{{args.service}}",response_code!~"5.*"}[{{window}}]))
            /
            sum(rate(istio_requests_total{reporter="destination",destination_service_name="{{args.service}}"}[{{window}}]))
            """)))
        metric.interval = "30s"
        metric.window = "2m"
        metric.count = count
        metric.successCondition = "result >= 0.99"
        return metric
    }

    public func with(_ change: (inout AnalysisMetric) -> Void) -> AnalysisMetric {
        var copy = self
        change(&copy)
        return copy
    }
}
