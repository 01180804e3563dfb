import SluiceModel

extension SpecValidator {
    func checkCanary(_ canary: CanaryStrategy, _ path: FieldPath, _ list: inout ProblemList) {
        let shorthand = canary.stepWeight != nil || canary.maxWeight != nil || canary.interval != nil
        if let steps = canary.steps {
            if shorthand {
                list.add(path, "sets both steps and the stepWeight/maxWeight/interval shorthand; keep one")
            }
            if steps.isEmpty {
                list.add(path / "steps", "is empty; add steps (setWeight, pause, analysis, ...) or use stepWeight, maxWeight and interval")
            }
            checkSteps(steps, path / "steps", &list)
        } else if shorthand {
            checkShorthand(canary, path, &list)
        } else {
            list.add(path / "steps", "required field is missing; add steps or use stepWeight, maxWeight and interval")
        }
        if let analysis = canary.analysis {
            let at = path / "analysis"
            checkAnalysisTemplates(analysis.templates, analysis.args, at, gate: false, &list)
            let stepCount = canary.resolvedSteps.count
            if let start = analysis.startingStep, !(0..<max(stepCount, 1)).contains(start) {
                list.add(at / "startingStep", "\(start) is not a step index; the steps are 0...\(max(stepCount - 1, 0))")
            }
        }
    }

    private func checkShorthand(_ canary: CanaryStrategy, _ path: FieldPath, _ list: inout ProblemList) {
        for (field, value) in [("stepWeight", canary.stepWeight), ("maxWeight", canary.maxWeight)] {
            if value == nil { list.add(path / field, "required field is missing; the shorthand needs stepWeight, maxWeight and interval") }
            list.range(value, 1...100, path / field)
        }
        if canary.interval == nil {
            list.add(path / "interval", "required field is missing; the shorthand needs stepWeight, maxWeight and interval")
        }
        list.duration(canary.interval, path / "interval")
        if let step = canary.stepWeight, let maxWeight = canary.maxWeight, step > maxWeight {
            list.add(path / "maxWeight", "\(maxWeight) is less than stepWeight \(step)")
        }
    }

    private func checkSteps(_ steps: [CanaryStep], _ path: FieldPath, _ list: inout ProblemList) {
        var headerRoutes: [String: Int] = [:]
        for (i, step) in steps.enumerated() {
            let at = path / i
            let set = zip(CanaryStep.typeNames, [step.setWeight != nil, step.pause != nil, step.analysis != nil,
                                                 step.setMirror != nil, step.setHeaderRoute != nil])
                .filter(\.1).map(\.0)
            if set.isEmpty {
                list.add(at, "the step has no type; set exactly one of \(CanaryStep.typeNames.joined(separator: ", "))")
            } else if set.count > 1 {
                list.add(at, "the step sets \(set.joined(separator: " and ")); a step does one thing, so split it into \(set.count) steps")
            }
            list.range(step.setWeight, 0...100, at / "setWeight")
            if let pause = step.pause { list.duration(pause.duration, at / "pause" / "duration") }
            if let analysis = step.analysis { checkAnalysis(analysis, at / "analysis", gate: true, &list) }
            if let mirror = step.setMirror { checkMirror(mirror, at / "setMirror", &list) }
            if let route = step.setHeaderRoute {
                checkHeaderRoute(route, at / "setHeaderRoute", &list)
                if let first = headerRoutes[route.name] {
                    list.add(at / "setHeaderRoute" / "name", "header route '\(route.name)' is already set by steps[\(first)]; give each header route its own name")
                } else {
                    headerRoutes[route.name] = i
                }
            }
        }
    }

    static let httpMethods: Set<String> = ["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "CONNECT", "TRACE"]

    func checkMirror(_ mirror: MirrorStep, _ path: FieldPath, _ list: inout ProblemList) {
        list.range(mirror.percentage, 0...100, path / "percentage")
        guard let methods = mirror.methods else { return }
        if methods.isEmpty {
            list.add(path / "methods", "is empty, so nothing would be mirrored; leave methods out to mirror every method, or list them, e.g. [GET]")
        }
        for (i, method) in methods.enumerated() where !SpecValidator.httpMethods.contains(method) {
            let hint = SpecValidator.httpMethods.contains(method.uppercased()) ? "; write it \(method.uppercased())" : ""
            list.add(path / "methods" / i, "'\(method)' is not an HTTP method\(hint)")
        }
    }

    private func checkHeaderRoute(_ route: HeaderRouteStep, _ path: FieldPath, _ list: inout ProblemList) {
        list.dnsLabel(route.name, path / "name")
        if route.match.isEmpty {
            list.add(path / "match", "is empty; add a header to match, e.g. [{headers: {x-canary: {exact: \"1\"}}}]")
        }
        for (i, match) in route.match.enumerated() {
            let at = path / "match" / i / "headers"
            if match.headers.isEmpty { list.add(at, "is empty; name at least one header") }
            for name in match.headers.keys.sorted() {
                let m = match.headers[name]!
                let forms = [m.exact, m.prefix, m.regex].compactMap { $0 }.count
                if forms != 1 { list.add(at / name, "set exactly one of exact, prefix or regex") }
                if name.isEmpty || name != name.lowercased() {
                    list.add(at / name, "header names must be lowercase in Istio matches; write '\(name.lowercased())'")
                }
            }
        }
    }
}

extension CanaryStrategy {
    /// The steps the engine runs: `steps`, or the stepWeight/maxWeight/interval shorthand
    /// expanded to `setWeight w, pause interval` from stepWeight up to maxWeight.
    public var resolvedSteps: [CanaryStep] {
        if let steps { return steps }
        guard let step = stepWeight, let maxWeight, let interval, step > 0, step <= maxWeight else { return [] }
        var weights = Array(stride(from: step, through: maxWeight, by: step))
        if weights.last != maxWeight { weights.append(maxWeight) }
        return weights.flatMap { [CanaryStep(setWeight: $0), CanaryStep(pause: PauseStep(duration: interval))] }
    }
}
