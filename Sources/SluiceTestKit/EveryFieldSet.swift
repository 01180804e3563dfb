import SluiceModel

/// Values with every optional field set and every list holding an element: encoded, they show
/// every field the model has, which the CRD schema must declare. `unsetFields(in:)` keeps these
/// honest when the model grows.
public enum EveryFieldSet {
    static let t0 = KubeTime(secondsSince1970: 1_764_237_600)

    public static var metric: AnalysisMetric {
        var m = AnalysisMetric(name: "success-rate", provider: MetricProvider(prometheus: PrometheusProvider(
            address: "http://prometheus.istio-system:9090", timeout: "10s", query: "up{job=\"{{args.service}}\"}")))
        m.interval = "30s"
        m.window = "2m"
        m.count = 4
        m.successCondition = "result >= 0.99"
        m.failureCondition = "result < 0.95"
        m.thresholdRange = ThresholdRange(min: 0.9, max: 1)
        m.failureLimit = 1
        m.inconclusiveLimit = 1
        m.consecutiveErrorLimit = 4
        m.noData = .inconclusive
        m.dryRun = false
        m.provider.prometheus?.bearerToken = ArgValueFrom(secretKeyRef: SecretKeyRef(name: "prom", key: "token"))
        m.provider.prometheus?.basicAuth = PrometheusBasicAuth(
            username: "sluice", password: ArgValueFrom(secretKeyRef: SecretKeyRef(name: "prom", key: "password")))
        m.provider.prometheus?.headers = [AnalysisArg(name: "X-Scope-OrgID", value: "shop",
                                                      valueFrom: ArgValueFrom(secretKeyRef: SecretKeyRef(name: "prom", key: "tenant")))]
        return m
    }

    static let args = [AnalysisArg(name: "service", value: "checkout-canary",
                                   valueFrom: ArgValueFrom(secretKeyRef: SecretKeyRef(name: "prom", key: "token")))]
    static let analysis = AnalysisStep(templates: [TemplateRef(name: "success-rate", clusterScope: false)], args: args)
    static let mirror = MirrorStep(percentage: 10, methods: ["GET"])

    public static var analysisTemplate: AnalysisTemplate {
        AnalysisTemplate(metadata: ObjectMeta(name: "success-rate", namespace: "shop"),
                         spec: AnalysisTemplateSpec(args: args, metrics: [metric]))
    }

    public static var rolloutSpec: RolloutSpec {
        var spec = RolloutSpec(
            workloadRef: WorkloadRef(name: "checkout"),
            trafficRouting: TrafficRouting(istio: IstioTrafficRouting(
                virtualServices: [VirtualServiceRef(name: "checkout", namespace: "shop", routes: ["primary"])],
                stableService: "checkout-stable", canaryService: "checkout-canary",
                destinationRule: DestinationRuleRef(name: "checkout", stableSubsetName: "stable", canarySubsetName: "canary"))),
            strategy: Strategy(
                canary: CanaryStrategy(
                    steps: [CanaryStep(setWeight: 5, pause: PauseStep(duration: "2m"), analysis: analysis, setMirror: mirror,
                                       setHeaderRoute: HeaderRouteStep(name: "insiders", match: [HeaderRouteMatch(headers: [
                                           "x-canary": StringMatch(exact: "1", prefix: "1", regex: "1")])]))],
                    analysis: BackgroundAnalysis(templates: analysis.templates, args: args, startingStep: 1)),
                blueGreen: BlueGreenStrategy(previewMirror: mirror, prePromotionAnalysis: analysis, autoPromotion: true,
                                             postPromotionAnalysis: analysis)))
        spec.canaryReplicas = CanaryReplicas(proportional: true, min: 1, count: 3, percent: 100)
        spec.progressDeadlineSeconds = 600
        spec.scaleDownDelaySeconds = 30
        spec.revisionHistoryLimit = 10
        spec.paused = false
        spec.strategy.canary?.stepWeight = 10
        spec.strategy.canary?.maxWeight = 50
        spec.strategy.canary?.interval = "1m"
        return spec
    }

    static var measurement: Measurement {
        Measurement(measuredAt: t0, value: "0.995", verdict: .successful, query: "up", message: "0.995 >= 0.99")
    }

    static var release: ReleaseRecord {
        var timeline = TimelineEntry(at: t0, type: .measurement)
        timeline.weights = Weights(canary: 20)
        timeline.mirrorPercentage = 10
        timeline.headerRoute = "insiders"
        timeline.phase = .progressing
        timeline.analysis = "step-2"
        timeline.metric = "success-rate"
        timeline.measurement = measurement
        timeline.message = "measured"
        var record = ReleaseRecord(revision: "7b9c1a2f0", images: ["shop/checkout:1.2"], startedAt: t0, timeline: [timeline])
        record.finishedAt = t0.adding(seconds: 600)
        record.outcome = .promoted
        record.reason = "every gate passed"
        record.omittedMeasurements = MeasurementTally(successful: 1, failed: 0, inconclusive: 0, errors: 0)
        return record
    }

    public static var rolloutStatus: RolloutStatus {
        var action = PendingAction(type: .writeVirtualService)
        action.name = "checkout"
        action.namespace = "shop"
        action.replicas = 1
        action.revision = "7b9c1a2f0"
        action.weights = Weights(canary: 20)
        action.mirrorPercentage = 10
        action.headerRoutes = ["insiders"]
        action.selectorKey = "sluice.dev/revision"
        action.selectorValue = "7b9c1a2f0"
        action.subset = "canary"
        action.analysis = "step-2"
        action.metric = "success-rate"
        action.eventType = "Normal"
        action.reason = "TrafficShifted"
        action.message = "canary weight 20"
        action.notBefore = t0
        var pending = PendingState(phase: .progressing, actions: [action], since: t0)
        pending.stepIndex = 2
        pending.weights = Weights(canary: 20)
        pending.mirrorPercentage = 10
        pending.headerRoutes = ["insiders"]
        pending.reason = "step 2"

        var metricRun = MetricRunStatus(name: "success-rate", template: "success-rate", definition: metric)
        metricRun.args = args
        metricRun.measurements = [measurement]
        metricRun.requestedAt = t0
        var run = AnalysisRunStatus(name: "step-2", revision: "7b9c1a2f0", phase: .running, startedAt: t0, metrics: [metricRun])
        run.stepIndex = 2
        run.finishedAt = t0
        run.message = "1/4 passed"

        var status = RolloutStatus()
        status.observedGeneration = 7
        status.phase = .progressing
        status.message = "step 3/7"
        status.stableRevision = "5d8f7c4b9"
        status.stableReplicaSet = "checkout-5d8f7c4b9"
        status.canaryRevision = "7b9c1a2f0"
        status.canaryReplicaSet = "checkout-7b9c1a2f0"
        status.currentStepIndex = 2
        status.trafficObservedAt = KubeTime(secondsSince1970: 1_764_237_700)
        status.waiting = WaitState(on: "the canary checkout-7b9c1a2f0 ready for 20%", since: KubeTime(secondsSince1970: 1_764_237_700))
        status.heldSince = KubeTime(secondsSince1970: 1_764_237_700)
        status.stepsDigest = "b7x2kq9d0f"
        status.templateRestoredFrom = "7b9c1a2f0"
        status.stepStartedAt = t0
        status.weights = Weights(canary: 20)
        status.weightsSince = t0
        status.mirrorPercentage = 10
        status.headerRoutes = ["insiders"]
        status.pending = pending
        let handled = HandledCommand(value: "step/1764237600", handledAt: t0)
        status.commands = HandledCommands(abort: handled, promote: handled, retry: handled)
        status.analysis = [run]
        status.conditions = [Condition(type: ConditionType.ready, status: .false, reason: "Progressing", message: "step 3/7",
                                       lastTransitionTime: t0, observedGeneration: 7)]
        status.currentRelease = release
        status.history = [release]
        return status
    }

    /// Paths of optional fields left nil and collections left empty anywhere in `value`.
    public static func unsetFields(in value: Any, path: String = "") -> [String] {
        let mirror = Mirror(reflecting: value)
        switch mirror.displayStyle {
        case .optional:
            guard let inner = mirror.children.first?.value else { return [path] }
            return unsetFields(in: inner, path: path)
        case .collection:
            if mirror.children.isEmpty { return [path] }
            return mirror.children.enumerated().flatMap { unsetFields(in: $0.element.value, path: "\(path)[\($0.offset)]") }
        case .dictionary:
            if mirror.children.isEmpty { return [path] }
            return mirror.children.flatMap { child -> [String] in
                let pair = Mirror(reflecting: child.value).children.map(\.value)
                return unsetFields(in: pair[1], path: "\(path)[\(pair[0])]")
            }
        case .struct:
            return mirror.children.flatMap { unsetFields(in: $0.value, path: "\(path).\($0.label ?? "?")") }
        default:
            return []
        }
    }
}
