import SluiceModel

extension SpecValidator {
    /// A step analysis or a blue-green gate: it must end, so no metric may have `count: 0`.
    func checkAnalysis(_ analysis: AnalysisStep, _ path: FieldPath, gate: Bool, _ list: inout ProblemList) {
        checkAnalysisTemplates(analysis.templates, analysis.args, path, gate: gate, &list)
    }

    func checkAnalysisTemplates(_ refs: [TemplateRef], _ args: [AnalysisArg]?, _ path: FieldPath, gate: Bool,
                                _ list: inout ProblemList) {
        if refs.isEmpty { list.add(path / "templates", "is empty; name at least one analysis template") }
        for (i, ref) in refs.enumerated() where refs.firstIndex(of: ref) != i {
            list.add(path / "templates" / i, "template '\(ref.name)' is listed twice")
        }
        checkArgs(args ?? [], path / "args", requireValue: true, &list)
        guard let catalog = templates else { return }
        var declared: Set<String> = []
        for (i, ref) in refs.enumerated() {
            let at = path / "templates" / i
            guard let template = catalog.template(ref) else {
                let kind = ref.clusterScope == true ? "ClusterAnalysisTemplate" : "AnalysisTemplate in the Rollout's namespace"
                list.add(at / "name", "template '\(ref.name)' is not found; create the \(kind), or fix the name")
                continue
            }
            for arg in template.spec.args ?? [] {
                declared.insert(arg.name)
                let given = args?.contains { $0.name == arg.name } ?? false
                if arg.value == nil, arg.valueFrom == nil, !given {
                    list.add(path / "args", "template '\(ref.name)' needs arg '\(arg.name)'; add {name: \(arg.name), value: ...}")
                }
            }
            if gate {
                for metric in template.spec.metrics where metric.count == 0 {
                    list.add(at, "metric '\(metric.name)' of template '\(ref.name)' has count: 0 (measure until the release ends), so this gate would never pass; use the template in background analysis or give the metric a count")
                }
            }
        }
        let names = refs.map(\.name).joined(separator: ", ")
        for (i, arg) in (args ?? []).enumerated() where !declared.contains(arg.name) && refs.allSatisfy({ catalog.template($0) != nil }) {
            list.add(path / "args" / i / "name", "arg '\(arg.name)' is not declared by template \(names); remove it or fix its name")
        }
    }

    /// Args given by a Rollout need a value; a template's declarations may leave it out (required).
    /// Headers are checked the same way (`noun: "header"`), always with a value.
    func checkArgs(_ args: [AnalysisArg], _ path: FieldPath, requireValue: Bool, noun: String = "arg", _ list: inout ProblemList) {
        for (i, arg) in args.enumerated() {
            let at = path / i
            if arg.name.isEmpty { list.add(at / "name", "must not be empty") }
            if args.firstIndex(where: { $0.name.lowercased() == arg.name.lowercased() }) != i {
                list.add(at / "name", "\(noun) '\(arg.name)' is given twice")
            }
            switch (arg.value, arg.valueFrom) {
            case (.some, .some):
                list.add(at, "sets both value and valueFrom; keep one")
            case (nil, nil) where requireValue:
                list.add(at, "has no value; set value or valueFrom.secretKeyRef")
            case (nil, .some(let from)):
                checkSecretRef(from, at / "valueFrom", &list)
            default:
                break
            }
        }
    }

    func checkSecretRef(_ from: ArgValueFrom, _ path: FieldPath, _ list: inout ProblemList) {
        guard let ref = from.secretKeyRef else {
            list.add(path, "set secretKeyRef: {name, key}")
            return
        }
        if !SpecValidator.isObjectName(ref.name) { list.add(path / "secretKeyRef" / "name", "'\(ref.name)' is not a Secret name") }
        if ref.key.isEmpty { list.add(path / "secretKeyRef" / "key", "must not be empty") }
    }
}
