import SluiceModel

/// Finds every problem in a Rollout or an analysis template, each with its field path and
/// what would fix it. A spec with problems moves no traffic.
public struct SpecValidator: Sendable {
    /// The analysis templates a Rollout may reference. Nil: references are not checked (a
    /// manifest linted without its templates).
    public var templates: TemplateCatalog?
    /// The Prometheus addresses a template may name. Nil: addresses are not checked.
    public var prometheus: PrometheusAllowlist?

    public init(templates: TemplateCatalog? = nil, prometheus: PrometheusAllowlist? = nil) {
        self.templates = templates
        self.prometheus = prometheus
    }
}

/// The AnalysisTemplates of one namespace and the ClusterAnalysisTemplates.
public struct TemplateCatalog: Sendable, Hashable {
    public var namespaced: [String: AnalysisTemplate]
    public var cluster: [String: AnalysisTemplate]

    public init(namespaced: [String: AnalysisTemplate] = [:], cluster: [String: AnalysisTemplate] = [:]) {
        self.namespaced = namespaced
        self.cluster = cluster
    }

    /// A catalog of these templates, each filed by its kind and name.
    public init(_ templates: [AnalysisTemplate]) {
        self.init()
        for template in templates {
            guard let name = template.metadata.name else { continue }
            if template.isClusterScoped { cluster[name] = template } else { namespaced[name] = template }
        }
    }

    public func template(_ ref: TemplateRef) -> AnalysisTemplate? {
        ref.clusterScope == true ? cluster[ref.name] : namespaced[ref.name]
    }
}

/// Problems, collected in the order they are found.
struct ProblemList {
    var problems: [SpecProblem] = []

    mutating func add(_ path: FieldPath, _ message: String) {
        problems.append(SpecProblem(path.description, message))
    }

    /// Checks a duration field: present text must be a positive duration.
    mutating func duration(_ value: DurationString?, _ path: FieldPath, allowZero: Bool = false) {
        guard let value else { return }
        guard let seconds = value.seconds else {
            add(path, "'\(value.text)' is not a duration; write it like 30s, 2m or 1h30m")
            return
        }
        if seconds == 0, !allowZero { add(path, "must be longer than 0s") }
    }

    mutating func range(_ value: Int?, _ bounds: ClosedRange<Int>, _ path: FieldPath) {
        guard let value, !bounds.contains(value) else { return }
        add(path, "\(value) is outside \(bounds.lowerBound)...\(bounds.upperBound)")
    }

    mutating func atLeast(_ value: Int?, _ minimum: Int, _ path: FieldPath) {
        guard let value, value < minimum else { return }
        add(path, "\(value) is less than \(minimum)")
    }

    /// Checks a name used as part of a Kubernetes object or route name.
    mutating func dnsLabel(_ value: String, _ path: FieldPath) {
        if value.isEmpty {
            add(path, "must not be empty")
        } else if !SpecValidator.isDNSLabel(value) {
            add(path, "'\(value)' is not a valid name; use lowercase letters, digits and '-', starting and ending with a letter or digit, at most 63 characters")
        }
    }
}

extension SpecValidator {
    static func isDNSLabel(_ s: String) -> Bool {
        guard (1...63).contains(s.count), let first = s.first, let last = s.last else { return false }
        let allowed = s.allSatisfy { ($0.isASCII && ($0.isLowercase || $0.isNumber)) || $0 == "-" }
        return allowed && first != "-" && last != "-"
    }

    /// A DNS-1123 subdomain: the form of most Kubernetes object names.
    static func isObjectName(_ s: String) -> Bool {
        s.count <= 253 && s.split(separator: ".", omittingEmptySubsequences: false).allSatisfy { isDNSLabel(String($0)) }
    }
}
