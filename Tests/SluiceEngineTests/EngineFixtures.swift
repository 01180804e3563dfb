import SluiceCore
import SluiceModel
import SluiceTestKit

/// Shared pieces of the engine tests.
enum Engine {
    static let gate = AnalysisStep(templates: [TemplateRef(name: "success-rate")],
                                   args: [AnalysisArg(name: "service", value: "checkout-canary")])
    static let insiders = HeaderRouteStep(name: "insiders", match: [HeaderRouteMatch(headers: ["x-canary": StringMatch(exact: "1")])])

    /// A canary with every step type.
    static let everyStep: [CanaryStep] = [
        CanaryStep(setWeight: 10), CanaryStep(pause: PauseStep(duration: "1m")), CanaryStep(analysis: gate),
        CanaryStep(setMirror: MirrorStep(percentage: 20, methods: ["GET"])), CanaryStep(setHeaderRoute: insiders),
        CanaryStep(setMirror: MirrorStep(percentage: 0)), CanaryStep(setWeight: 50), CanaryStep(pause: PauseStep()),
    ]

    static func healthy(_ rollout: Rollout = .fixture(), replicas: Int = 4, templates: [AnalysisTemplate] = [.fixture()],
                        oracle: @escaping @Sendable (String, String, String, Int) -> MeasurementResult.Outcome = good) -> WorldSimulator {
        var world = WorldSimulator(rollout: rollout, replicas: replicas, templates: templates, oracle: oracle)
        world.settle()
        return world
    }

    static let good: @Sendable (String, String, String, Int) -> MeasurementResult.Outcome = { _, _, _, _ in .value(.number(0.999)) }
    static let bad: @Sendable (String, String, String, Int) -> MeasurementResult.Outcome = { _, _, _, _ in .value(.number(0.5)) }

    static func released(_ rollout: Rollout, oracle: @escaping @Sendable (String, String, String, Int) -> MeasurementResult.Outcome = good,
                         until: ((WorldSimulator) -> Bool)? = nil) -> WorldSimulator {
        var world = healthy(rollout, oracle: oracle)
        world.setImage("shop/checkout:2.0")
        world.settle(until: until)
        return world
    }
}

extension WorldSimulator {
    var status: RolloutStatus { rollout.status ?? RolloutStatus() }
    var canaries: [ReplicaSet] { replicaSets.filter { $0.metadata.labels?[Labels.role] == "canary" } }
    var routeNames: [String] { virtualServices[0].spec.http.compactMap(\.name) }
    func condition(_ type: String) -> Condition.Status? { status.conditions?.first { $0.type == type }?.status }
    func eventReasons() -> [EventReason] { events.map(\.reason) }
}
