import SluiceModel

extension SpecValidator {
    /// Every problem in an AnalysisTemplate or ClusterAnalysisTemplate.
    public func problems(in template: AnalysisTemplate) -> [SpecProblem] {
        var list = ProblemList()
        if let name = template.metadata.name {
            if !SpecValidator.isObjectName(name) { list.add(FieldPath("metadata.name"), "'\(name)' is not a valid name") }
        } else {
            list.add(FieldPath("metadata.name"), "required field is missing")
        }
        let spec = FieldPath("spec")
        let args = template.spec.args ?? []
        checkArgs(args, spec / "args", requireValue: false, &list)
        if template.spec.metrics.isEmpty {
            list.add(spec / "metrics", "is empty; add at least one metric")
        }
        for (i, metric) in template.spec.metrics.enumerated() {
            let at = spec / "metrics" / i
            list.dnsLabel(metric.name, at / "name")
            if template.spec.metrics.firstIndex(where: { $0.name == metric.name }) != i {
                list.add(at / "name", "metric '\(metric.name)' is defined twice")
            }
            checkMetric(metric, at, declaredArgs: Set(args.map(\.name)), &list)
        }
        return list.problems
    }

    private func checkMetric(_ metric: AnalysisMetric, _ path: FieldPath, declaredArgs: Set<String>,
                             _ list: inout ProblemList) {
        list.duration(metric.interval, path / "interval")
        list.duration(metric.window, path / "window")
        list.atLeast(metric.count, 0, path / "count")
        list.atLeast(metric.failureLimit, 0, path / "failureLimit")
        list.atLeast(metric.inconclusiveLimit, 0, path / "inconclusiveLimit")
        list.atLeast(metric.consecutiveErrorLimit, 0, path / "consecutiveErrorLimit")
        checkConditions(metric, path, &list)
        guard let prometheus = metric.provider.prometheus else {
            list.add(path / "provider" / "prometheus", "required field is missing; Prometheus is the metric provider")
            return
        }
        let at = path / "provider" / "prometheus"
        list.duration(prometheus.timeout, at / "timeout")
        checkAuthentication(prometheus, at, &list)
        if let refusal = self.prometheus?.refusal(of: prometheus.address) {
            list.add(at / "address", refusal)
        } else if let address = prometheus.address, PrometheusAddress(address) == nil {
            list.add(at / "address", "'\(address)' is not an http or https URL with a host")
        }
        if prometheus.query.allSatisfy(\.isWhitespace) {
            list.add(at / "query", "is empty; write the PromQL to measure")
            return
        }
        do {
            let query = try QueryTemplate(prometheus.query)
            for case .arg(let name) in query.variables where !declaredArgs.contains(name) {
                list.add(at / "query", "{{args.\(name)}} is not declared in spec.args; add {name: \(name)} there")
            }
        } catch {
            list.add(at / "query", "\(error)")
        }
    }

    private func checkAuthentication(_ prometheus: PrometheusProvider, _ at: FieldPath, _ list: inout ProblemList) {
        if prometheus.bearerToken != nil, prometheus.basicAuth != nil {
            list.add(at / "basicAuth", "is set beside bearerToken; Prometheus gets one Authorization header, keep one")
        }
        if let token = prometheus.bearerToken { checkSecretRef(token, at / "bearerToken", &list) }
        if let basic = prometheus.basicAuth {
            if basic.username.isEmpty { list.add(at / "basicAuth" / "username", "must not be empty") }
            checkSecretRef(basic.password, at / "basicAuth" / "password", &list)
        }
        let headers = prometheus.headers ?? []
        checkArgs(headers, at / "headers", requireValue: true, noun: "header", &list)
        for (i, header) in headers.enumerated() where !header.name.isEmpty {
            if !header.name.allSatisfy(SpecValidator.isHeaderNameCharacter) {
                list.add(at / "headers" / i / "name", "'\(header.name)' is not an HTTP header name (letters, digits and !#$%&'*+-.^_`|~)")
            } else if header.name.lowercased() == "authorization" {
                list.add(at / "headers" / i / "name", "set Authorization through bearerToken or basicAuth, whose secrets are never recorded")
            }
        }
    }

    static func isHeaderNameCharacter(_ c: Character) -> Bool {
        c.isASCII && (c.isLetter || c.isNumber || "!#$%&'*+-.^_`|~".contains(c))
    }

    private func checkConditions(_ metric: AnalysisMetric, _ path: FieldPath, _ list: inout ProblemList) {
        if metric.successCondition == nil, metric.failureCondition == nil, metric.thresholdRange == nil {
            list.add(path, "has no successCondition, failureCondition or thresholdRange, so no measurement could pass or fail; add one")
        }
        if metric.successCondition != nil, metric.thresholdRange != nil {
            list.add(path / "thresholdRange", "is a shorthand for a successCondition, and the metric has one; keep one")
        }
        if let range = metric.thresholdRange {
            if range.min == nil, range.max == nil { list.add(path / "thresholdRange", "set min, max or both") }
            if let lo = range.min, let hi = range.max, lo > hi {
                list.add(path / "thresholdRange", "min \(MetricValue.format(lo)) is greater than max \(MetricValue.format(hi))")
            }
        }
        for (field, text) in [("successCondition", metric.successCondition), ("failureCondition", metric.failureCondition)] {
            guard let text else { continue }
            do { _ = try ConditionExpression(text) } catch { list.add(path / field, "\(error)") }
        }
    }
}
