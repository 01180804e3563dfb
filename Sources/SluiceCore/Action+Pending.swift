import SluiceModel

extension Action {
    /// The action as `status.pending` records it.
    public var pending: PendingAction {
        switch self {
        case .addFinalizer: return PendingAction(type: .addFinalizer)
        case .removeFinalizer: return PendingAction(type: .removeFinalizer)
        case .setDeploymentPaused(let paused):
            return PendingAction(type: paused ? .pauseDeployment : .unpauseDeployment)
        case .restoreDeploymentTemplate:
            return PendingAction(type: .restoreDeploymentTemplate)
        case .createCanary(let rs):
            var a = PendingAction(type: .createCanary)
            a.name = rs.metadata.name
            a.replicas = rs.spec.replicas
            a.revision = rs.metadata.labels?[Labels.revision]
            return a
        case .scaleCanary(let name, let replicas):
            var a = PendingAction(type: .scaleCanary)
            a.name = name
            a.replicas = replicas
            return a
        case .deleteCanary(let name):
            var a = PendingAction(type: .deleteCanary)
            a.name = name
            return a
        case .scaleReplicaSet(let name, let replicas):
            var a = PendingAction(type: .scaleReplicaSet)
            a.name = name
            a.replicas = replicas
            return a
        case .setSelector(let target, let key, let value):
            var a = PendingAction(type: value == nil ? .removeSelector : .setSelector)
            switch target {
            case .service(let name): a.name = name
            case .subset(let rule, let subset):
                a.name = rule
                a.subset = subset
            }
            a.selectorKey = key
            a.selectorValue = value
            return a
        case .writeVirtualService(let vs):
            var a = PendingAction(type: .writeVirtualService)
            a.name = vs.metadata.name
            a.namespace = vs.metadata.namespace
            return a
        case .runMeasurement(let analysis, let metric):
            var a = PendingAction(type: .runMeasurement)
            a.analysis = analysis
            a.metric = metric
            return a
        case .recordEvent(let event):
            var a = PendingAction(type: .recordEvent)
            a.eventType = event.type.rawValue
            a.reason = event.reason.rawValue
            a.message = event.message
            return a
        }
    }

    /// The Events and measurements a pending list asks for; other actions are derived again
    /// from status, not read back.
    init?(pending: PendingAction) {
        switch pending.type {
        case .recordEvent:
            guard let type = pending.eventType.flatMap(EventType.init(rawValue:)),
                  let reason = pending.reason.flatMap(EventReason.init(rawValue:)) else { return nil }
            self = .recordEvent(Event(type, reason, pending.message ?? ""))
        case .runMeasurement:
            guard let analysis = pending.analysis, let metric = pending.metric else { return nil }
            self = .runMeasurement(analysis: analysis, metric: metric)
        default:
            return nil
        }
    }
}
