import SluiceCore
import SluiceModel
import SluiceTestKit
import Testing

@Suite struct RolloutValidationTests {
    static let templates = TemplateCatalog([
        AnalysisTemplate.fixture(),
        AnalysisTemplate.fixture(name: "until-end", metrics: [.successRate(count: 0)]),
        AnalysisTemplate.fixture(name: "smoke", args: nil).with {
            $0.spec.metrics[0].provider.prometheus?.query = "sum(up)"
        },
    ])
    static let validator = SpecValidator(templates: templates)

    struct Case: CustomTestStringConvertible, Sendable {
        var name: String
        var rollout: Rollout
        var path: String
        var message: String
        var testDescription: String { name }
    }

    static let cases: [Case] = [
        Case(name: "weight above 100", rollout: .fixture().steps([CanaryStep(setWeight: 20), CanaryStep(pause: PauseStep()),
                                                                 CanaryStep(), CanaryStep(setWeight: 140)]),
             path: "spec.strategy.canary.steps[3].setWeight", message: "140 is outside 0...100"),
        Case(name: "history limit above the CRD's maximum", rollout: .fixture().with { $0.spec.revisionHistoryLimit = 101 },
             path: "spec.revisionHistoryLimit", message: "101 is outside 0...100"),
        Case(name: "negative weight", rollout: .fixture().steps([CanaryStep(setWeight: -5)]),
             path: "spec.strategy.canary.steps[0].setWeight", message: "-5 is outside 0...100"),
        Case(name: "step with no type (an unknown step type decodes to one)",
             rollout: .fixture().steps([CanaryStep(setWeight: 10), CanaryStep()]),
             path: "spec.strategy.canary.steps[1]",
             message: "the step has no type; set exactly one of setWeight, pause, analysis, setMirror, setHeaderRoute"),
        Case(name: "step with two types", rollout: .fixture().steps([CanaryStep(setWeight: 10, pause: PauseStep())]),
             path: "spec.strategy.canary.steps[0]",
             message: "the step sets setWeight and pause; a step does one thing, so split it into 2 steps"),
        Case(name: "bad pause duration", rollout: .fixture().steps([CanaryStep(pause: PauseStep(duration: "2 minutes"))]),
             path: "spec.strategy.canary.steps[0].pause.duration",
             message: "'2 minutes' is not a duration; write it like 30s, 2m or 1h30m"),
        Case(name: "zero pause", rollout: .fixture().steps([CanaryStep(pause: PauseStep(duration: "0s"))]),
             path: "spec.strategy.canary.steps[0].pause.duration", message: "must be longer than 0s"),
        Case(name: "both host and subset mode", rollout: .fixture().with {
            $0.spec.trafficRouting.istio?.destinationRule = DestinationRuleRef(name: "checkout", stableSubsetName: "s", canarySubsetName: "c")
        }, path: "spec.trafficRouting.istio",
             message: "sets both stableService/canaryService (host mode) and destinationRule (subset mode); keep one"),
        Case(name: "neither host nor subset mode", rollout: .fixture().with {
            $0.spec.trafficRouting.istio?.stableService = nil
            $0.spec.trafficRouting.istio?.canaryService = nil
        }, path: "spec.trafficRouting.istio",
             message: "sets neither stableService and canaryService (host mode) nor destinationRule (subset mode); set one"),
        Case(name: "host mode missing the canary service", rollout: .fixture().with { $0.spec.trafficRouting.istio?.canaryService = nil },
             path: "spec.trafficRouting.istio.canaryService",
             message: "required field is missing; host mode needs both canaryService and stableService"),
        Case(name: "same service twice", rollout: .fixture().with { $0.spec.trafficRouting.istio?.canaryService = "checkout-stable" },
             path: "spec.trafficRouting.istio.canaryService",
             message: "is the same Service as stableService; the canary needs its own Service"),
        Case(name: "same subset twice", rollout: .fixture().subsetMode().with {
            $0.spec.trafficRouting.istio?.destinationRule?.canarySubsetName = "stable"
        }, path: "spec.trafficRouting.istio.destinationRule.canarySubsetName",
             message: "is the same subset as stableSubsetName; the canary needs its own subset"),
        Case(name: "no virtual services", rollout: .fixture().with { $0.spec.trafficRouting.istio?.virtualServices = [] },
             path: "spec.trafficRouting.istio.virtualServices",
             message: "is empty; name at least one VirtualService whose routes Sluice sets"),
        Case(name: "duplicate header route names", rollout: .fixture().steps([
            CanaryStep(setHeaderRoute: HeaderRouteStep(name: "insiders", match: [HeaderRouteMatch(headers: ["x-canary": StringMatch(exact: "1")])])),
            CanaryStep(setWeight: 10),
            CanaryStep(setHeaderRoute: HeaderRouteStep(name: "insiders", match: [HeaderRouteMatch(headers: ["x-beta": StringMatch(exact: "1")])])),
        ]), path: "spec.strategy.canary.steps[2].setHeaderRoute.name",
             message: "header route 'insiders' is already set by steps[0]; give each header route its own name"),
        Case(name: "header match with two forms", rollout: .fixture().steps([
            CanaryStep(setHeaderRoute: HeaderRouteStep(name: "insiders", match: [HeaderRouteMatch(headers: ["x-canary": StringMatch(exact: "1", regex: ".*")])])),
        ]), path: "spec.strategy.canary.steps[0].setHeaderRoute.match[0].headers.x-canary",
             message: "set exactly one of exact, prefix or regex"),
        Case(name: "empty mirror methods", rollout: .fixture().steps([CanaryStep(setMirror: MirrorStep(percentage: 10, methods: []))]),
             path: "spec.strategy.canary.steps[0].setMirror.methods",
             message: "is empty, so nothing would be mirrored; leave methods out to mirror every method, or list them, e.g. [GET]"),
        Case(name: "lowercase mirror method", rollout: .fixture().steps([CanaryStep(setMirror: MirrorStep(percentage: 10, methods: ["get"]))]),
             path: "spec.strategy.canary.steps[0].setMirror.methods[0]", message: "'get' is not an HTTP method; write it GET"),
        Case(name: "mirror percentage out of range", rollout: .fixture().blueGreen(BlueGreenStrategy(previewMirror: MirrorStep(percentage: 101))),
             path: "spec.strategy.blueGreen.previewMirror.percentage", message: "101 is outside 0...100"),
        Case(name: "count 0 in a step analysis", rollout: .fixture().steps([
            CanaryStep(analysis: AnalysisStep(templates: [TemplateRef(name: "until-end")], args: [AnalysisArg(name: "service", value: "x")])),
        ]), path: "spec.strategy.canary.steps[0].analysis.templates[0]",
             message: "metric 'success-rate' of template 'until-end' has count: 0 (measure until the release ends), so this gate would never pass; use the template in background analysis or give the metric a count"),
        Case(name: "count 0 in a pre-promotion analysis", rollout: .fixture().blueGreen(BlueGreenStrategy(
            prePromotionAnalysis: AnalysisStep(templates: [TemplateRef(name: "until-end")], args: [AnalysisArg(name: "service", value: "x")]))),
             path: "spec.strategy.blueGreen.prePromotionAnalysis.templates[0]",
             message: "metric 'success-rate' of template 'until-end' has count: 0 (measure until the release ends), so this gate would never pass; use the template in background analysis or give the metric a count"),
        Case(name: "template missing a required arg", rollout: .fixture().steps([
            CanaryStep(analysis: AnalysisStep(templates: [TemplateRef(name: "success-rate")])),
        ]), path: "spec.strategy.canary.steps[0].analysis.args",
             message: "template 'success-rate' needs arg 'service'; add {name: service, value: ...}"),
        Case(name: "arg the template does not declare", rollout: .fixture().steps([
            CanaryStep(analysis: AnalysisStep(templates: [TemplateRef(name: "smoke")], args: [AnalysisArg(name: "servce", value: "x")])),
        ]), path: "spec.strategy.canary.steps[0].analysis.args[0].name",
             message: "arg 'servce' is not declared by template smoke; remove it or fix its name"),
        Case(name: "arg without a value", rollout: .fixture().steps([
            CanaryStep(analysis: AnalysisStep(templates: [TemplateRef(name: "success-rate")], args: [AnalysisArg(name: "service")])),
        ]), path: "spec.strategy.canary.steps[0].analysis.args[0]", message: "has no value; set value or valueFrom.secretKeyRef"),
        Case(name: "template not found", rollout: .fixture().steps([
            CanaryStep(analysis: AnalysisStep(templates: [TemplateRef(name: "latency", clusterScope: true)])),
        ]), path: "spec.strategy.canary.steps[0].analysis.templates[0].name",
             message: "template 'latency' is not found; create the ClusterAnalysisTemplate, or fix the name"),
        Case(name: "background analysis past the last step", rollout: .fixture().backgroundAnalysis(BackgroundAnalysis(
            templates: [TemplateRef(name: "smoke")], startingStep: 4)),
             path: "spec.strategy.canary.analysis.startingStep", message: "4 is not a step index; the steps are 0...3"),
        Case(name: "both strategies", rollout: .fixture().with { $0.spec.strategy.blueGreen = BlueGreenStrategy() },
             path: "spec.strategy", message: "sets both canary and blueGreen; keep one"),
        Case(name: "empty steps", rollout: .fixture().steps([]),
             path: "spec.strategy.canary.steps",
             message: "is empty; add steps (setWeight, pause, analysis, ...) or use stepWeight, maxWeight and interval"),
        Case(name: "steps and shorthand", rollout: .fixture().with { $0.spec.strategy.canary?.stepWeight = 10 },
             path: "spec.strategy.canary", message: "sets both steps and the stepWeight/maxWeight/interval shorthand; keep one"),
        Case(name: "two canary sizes", rollout: .fixture().with { $0.spec.canaryReplicas = CanaryReplicas(count: 2, percent: 50) },
             path: "spec.canaryReplicas", message: "sets count and percent; set exactly one of proportional: true, count or percent"),
        Case(name: "not a Deployment", rollout: .fixture().with { $0.spec.workloadRef.kind = "StatefulSet" },
             path: "spec.workloadRef", message: "apps/v1 StatefulSet is not supported; Sluice rolls out an apps/v1 Deployment"),
        Case(name: "zero progress deadline", rollout: .fixture().with { $0.spec.progressDeadlineSeconds = 0 },
             path: "spec.progressDeadlineSeconds", message: "0 is less than 1"),
        Case(name: "no traffic router", rollout: .fixture().with { $0.spec.trafficRouting.istio = nil },
             path: "spec.trafficRouting.istio", message: "required field is missing; Istio is the traffic router Sluice drives"),
    ]

    @Test(arguments: cases)
    func reportsTheProblemAtItsField(c: Case) {
        let problems = RolloutValidationTests.validator.problems(in: c.rollout)
        #expect(problems.contains(SpecProblem(c.path, c.message)), "got \(problems)")
    }

    @Test func validRolloutsHaveNoProblems() {
        let analysis = AnalysisStep(templates: [TemplateRef(name: "success-rate")], args: [AnalysisArg(name: "service", value: "checkout-canary")])
        for rollout in [Rollout.fixture(), .fixture().subsetMode(),
                        .fixture().blueGreen(BlueGreenStrategy(previewMirror: MirrorStep(percentage: 20, methods: ["GET"]),
                                                               prePromotionAnalysis: analysis, autoPromotion: false,
                                                               postPromotionAnalysis: analysis)),
                        .fixture().steps([CanaryStep(setWeight: 5), CanaryStep(analysis: analysis)])
                            .backgroundAnalysis(BackgroundAnalysis(templates: [TemplateRef(name: "until-end")],
                                                                   args: analysis.args, startingStep: 1))] {
            #expect(RolloutValidationTests.validator.problems(in: rollout) == [])
        }
    }

    @Test func reportsEveryProblemAtOnce() {
        let rollout = Rollout.fixture().steps([CanaryStep(setWeight: 140), CanaryStep(pause: PauseStep(duration: "soon"))]).with {
            $0.spec.trafficRouting.istio?.canaryService = nil
        }
        let paths = RolloutValidationTests.validator.problems(in: rollout).map(\.path)
        #expect(paths == ["spec.trafficRouting.istio.canaryService", "spec.strategy.canary.steps[0].setWeight",
                          "spec.strategy.canary.steps[1].pause.duration"])
    }

    @Test func withoutACatalogTemplateReferencesAreNotChecked() {
        let rollout = Rollout.fixture().steps([CanaryStep(analysis: AnalysisStep(templates: [TemplateRef(name: "elsewhere")]))])
        #expect(SpecValidator().problems(in: rollout) == [])
    }

    @Test func shorthandExpandsToSteps() {
        var canary = CanaryStrategy()
        canary.stepWeight = 20
        canary.maxWeight = 50
        canary.interval = "1m"
        #expect(canary.resolvedSteps.map(\.setWeight) == [20, nil, 40, nil, 50, nil])
        #expect(canary.resolvedSteps[1].pause?.duration == "1m")
        let rollout = Rollout.fixture().with { $0.spec.strategy = Strategy(canary: canary) }
        #expect(RolloutValidationTests.validator.problems(in: rollout) == [])
        canary.maxWeight = 10
        #expect(SpecValidator().problems(in: Rollout.fixture().with { $0.spec.strategy = Strategy(canary: canary) })
            == [SpecProblem("spec.strategy.canary.maxWeight", "10 is less than stepWeight 20")])
    }
}
