import Foundation
import SluiceCLI
import SluiceCore
import SluiceTestKit
import Testing

/// One test per lint check: the good manifest (`examples/canary.yaml`) passes, the same with
/// one mistake fails with the message, at the line, with exit code 1.
@Suite struct LintTests {
    struct Case: Sendable, CustomTestStringConvertible {
        var name: String
        /// The good manifest the case edits, in `examples/`.
        var example = "canary.yaml"
        var edits: [(String, String)] = []
        var appended: String = ""
        /// The finding's line is the first line containing `line`, searched from the first line containing `after`.
        var after: String? = nil
        var line: String
        var path: String
        var message: String
        var testDescription: String { name }
    }

    static func goodText(_ example: String = "canary.yaml") -> String {
        (try? RepositoryFiles.text("examples/\(example)")) ?? ""
    }

    static let secondVirtualService = """
    ---
    apiVersion: networking.istio.io/v1
    kind: VirtualService
    metadata: {name: checkout-legacy, namespace: shop}
    spec:
      hosts: [checkout]
      http:
        - route: [{destination: {host: checkout-stable}}]
    """

    static let secondRollout = """
    ---
    apiVersion: sluice.dev/v1alpha1
    kind: Rollout
    metadata: {name: checkout-again, namespace: shop}
    spec:
      workloadRef: {apiVersion: apps/v1, kind: Deployment, name: checkout}
      trafficRouting:
        istio:
          virtualServices: [{name: checkout, routes: [primary]}]
          stableService: checkout-stable
          canaryService: checkout-canary
      strategy:
        canary:
          steps: [{setWeight: 50}]
    """

    static let cases: [Case] = [
        Case(name: "a weight outside 0-100", edits: [("- setWeight: 25", "- setWeight: 125")], line: "setWeight: 125",
             path: "spec.strategy.canary.steps[4].setWeight", message: "125 is outside 0...100"),
        Case(name: "an unknown field", edits: [("- pause: {duration: 5m}", "- pause: {duraton: 5m}")], line: "duraton",
             path: "spec.strategy.canary.steps[5].pause.duraton", message: "unknown field"),
        Case(name: "an unknown query variable", edits: [("[{{window}}])))", "[{{windw}}])))")], after: "name: checkout-latency-p99",
             line: "query: |", path: "spec.metrics[0].provider.prometheus.query", message: "unknown variable '{{windw}}'"),
        Case(name: "a query arg the template does not declare", edits: [("destination_service_name=\"{{args.service}}\"}[{{window}}])))", "destination_service_name=\"{{args.svc}}\"}[{{window}}])))")],
             after: "name: checkout-latency-p99", line: "query: |", path: "spec.metrics[0].provider.prometheus.query",
             message: "{{args.svc}} is not declared in spec.args"),
        Case(name: "the Deployment is missing", edits: [("kind: Deployment, name: checkout}", "kind: Deployment, name: checkout-api}")],
             line: "name: checkout-api}", path: "spec.workloadRef.name", message: "Deployment checkout-api is not found in namespace shop"),
        Case(name: "the VirtualService is missing", edits: [("        - name: checkout\n          routes: [primary]", "        - name: checkout-vs\n          routes: [primary]")],
             line: "- name: checkout-vs", path: "spec.trafficRouting.istio.virtualServices[0]", message: "VirtualService shop/checkout-vs is not found"),
        Case(name: "the route is missing", edits: [("routes: [primary]", "routes: [main]")], after: "kind: Rollout", line: "- name: checkout\n",
             path: "spec.trafficRouting.istio.virtualServices[0]", message: "has no http route named 'main'"),
        Case(name: "a route that does not split stable and canary",
             edits: [("- destination: {host: checkout-canary}\n          weight: 0", "- destination: {host: checkout-preview}\n          weight: 0")],
             after: "kind: Rollout", line: "- name: checkout\n", path: "spec.trafficRouting.istio.virtualServices[0]",
             message: "route 'primary' of VirtualService checkout must route to exactly checkout-stable and checkout-canary"),
        Case(name: "the canary Service is missing", edits: [("  name: checkout-canary\n  namespace: shop\nspec:\n  selector", "  name: checkout-preview\n  namespace: shop\nspec:\n  selector")],
             line: "canaryService: checkout-canary", path: "spec.trafficRouting.istio.canaryService", message: "Service checkout-canary is not found in namespace shop"),
        Case(name: "a Service that selects none of the Deployment's pods",
             edits: [("  name: checkout-canary\n  namespace: shop\nspec:\n  selector: {app: checkout}", "  name: checkout-canary\n  namespace: shop\nspec:\n  selector: {app: checkout-v2}")],
             line: "selector: {app: checkout-v2}", path: "spec.selector",
             message: "Service checkout-canary selects app=checkout-v2, which the pods of Deployment shop/checkout do not carry (they have app=checkout); it would send traffic to none of them"),
        Case(name: "the DestinationRule is missing", example: "blue-green.yaml",
             edits: [("kind: DestinationRule\nmetadata:\n  name: payments", "kind: DestinationRule\nmetadata:\n  name: payments-dr")],
             after: "destinationRule:", line: "name: payments", path: "spec.trafficRouting.istio.destinationRule.name",
             message: "DestinationRule payments is not found"),
        Case(name: "a subset is missing", example: "blue-green.yaml",
             edits: [("    - name: canary\n      labels: {app: payments}", "    - name: preview\n      labels: {app: payments}")],
             line: "canarySubsetName: canary", path: "spec.trafficRouting.istio.destinationRule.canarySubsetName",
             message: "DestinationRule payments has no subset 'canary'"),
        Case(name: "weights that do not sum to 100", edits: [("          weight: 100\n", "          weight: 90\n")], after: "kind: VirtualService",
             line: "route:", path: "spec.http[0].route", message: "the weights of route 'primary' sum to 90; Istio needs 100"),
        Case(name: "two VirtualServices claim one host", appended: secondVirtualService, after: "name: checkout-legacy", line: "hosts:",
             path: "spec.hosts[0]", message: "host 'checkout' on gateway mesh is also claimed by VirtualService shop/checkout"),
        Case(name: "a route managed by two Rollouts", appended: secondRollout, after: "name: checkout-again", line: "virtualServices:",
             path: "spec.trafficRouting.istio.virtualServices[0]", message: "route 'primary' of VirtualService shop/checkout is already managed by Rollout shop/checkout"),
        Case(name: "a VirtualService in another namespace that does not consent",
             edits: [("  name: checkout\n  namespace: shop\nspec:\n  hosts", "  name: checkout\n  namespace: mesh\nspec:\n  hosts"),
                     ("        - name: checkout\n          routes: [primary]", "        - name: checkout\n          namespace: mesh\n          routes: [primary]")],
             after: "kind: Rollout", line: "- name: checkout\n", path: "spec.trafficRouting.istio.virtualServices[0]",
             message: "VirtualService mesh/checkout does not consent; annotate it sluice.dev/allow-rollouts: \"shop/checkout\""),
        Case(name: "an analysis template that does not exist", edits: [("{name: checkout-latency-p99}]", "{name: checkout-latency-p95}]")],
             line: "templates: [{name: checkout-success-rate}, {name: checkout-latency-p95}]", path: "spec.strategy.canary.steps[2].analysis.templates[1].name",
             message: "template 'checkout-latency-p95' is not found; create the AnalysisTemplate in the Rollout's namespace, or fix the name"),
        Case(name: "a template that does not get its args",
             edits: [("            args: [{name: service, value: checkout-canary}]\n        - setHeaderRoute", "        - setHeaderRoute")],
             line: "- analysis:\n", path: "spec.strategy.canary.steps[2].analysis.args", message: "needs arg 'service'"),
        Case(name: "mirroring a route that already mirrors",
             edits: [("    - name: primary\n", "    - name: primary\n      mirror: {host: audit}\n"), ("        - setWeight: 50\n", "        - setMirror: {percentage: 10}\n        - setWeight: 50\n")],
             line: "mirror: {host: audit}", path: "spec.http[0].mirror", message: "route 'primary' already mirrors, and Rollout shop/checkout mirrors it too"),
        Case(name: "mirroring a route that uses mirrors",
             edits: [("    - name: primary\n", "    - name: primary\n      mirrors: [{destination: {host: audit}}]\n"), ("        - setWeight: 50\n", "        - setMirror: {percentage: 10}\n        - setWeight: 50\n")],
             after: "kind: Rollout", line: "- name: checkout\n", path: "spec.trafficRouting.istio.virtualServices[0]", message: "route 'primary' already uses mirrors"),
    ]

    static func write(_ text: String) throws -> String { try Scratch.file(text) }

    @Test(arguments: cases)
    func check(_ c: Case) throws {
        let good = Lint.execute(files: [try Self.write(Self.goodText(c.example))], output: .text, githubActions: false)
        #expect(good.exitCode == 0, "\(good.stdout)")
        var text = Self.goodText(c.example)
        for (old, new) in c.edits {
            #expect(text.contains(old), "the edit applies: \(old)")
            text = text.replacingOccurrences(of: old, with: new)
        }
        text += c.appended.isEmpty ? "" : "\n" + c.appended + "\n"
        let file = try Self.write(text)
        let lines = text.components(separatedBy: "\n")
        let start = c.after.flatMap { a in lines.firstIndex { $0.contains(a) } } ?? 0
        let needle = c.line.hasSuffix("\n") ? String(c.line.dropLast()) : c.line
        let index = try #require(lines[start...].firstIndex { c.line.hasSuffix("\n") ? $0.hasSuffix(needle) : $0.contains(needle) })
        let result = Lint.execute(files: [file], output: .text, githubActions: false)
        #expect(result.exitCode == 1)
        let prefix = "\(file):\(index + 1): \(c.path): "
        #expect(result.stdout.components(separatedBy: "\n").contains { $0.hasPrefix(prefix) && $0.contains(c.message) },
                "expected \(prefix)...\(c.message) in:\n\(result.stdout)")
    }

    @Test func theExamplesAndReadyTemplatesPass() {
        let examples = RepositoryFiles.root.appendingPathComponent("examples").path
        let result = Lint.execute(files: [examples], output: .text, githubActions: false)
        #expect(result.exitCode == 0, "\(result.stdout)")
        #expect(result.stdout == "3 files, 20 documents: no problems\n")
        let ready = Lint.execute(files: [RepositoryFiles.root.appendingPathComponent("analysis-templates").path], output: .text, githubActions: false)
        #expect(ready.exitCode == 0, "\(ready.stdout)")
    }

    @Test func unreadableInputIsExitCodeTwo() throws {
        let missing = Lint.execute(files: ["/nonexistent/rollout.yaml"], output: .text, githubActions: false)
        #expect(missing.exitCode == 2)
        #expect(missing.stdout == "/nonexistent/rollout.yaml: no such file or directory\n")
        let broken = try Self.write("apiVersion: v1\nkind: Service\nmetadata: {name: x\n")
        let result = Lint.execute(files: [broken], output: .text, githubActions: false)
        #expect(result.exitCode == 2)
        #expect(result.stdout.hasPrefix("\(broken):"))
        #expect(result.stdout.contains("not valid YAML"))
    }

    @Test func jsonAndGitHubAnnotations() throws {
        let file = try Self.write(Self.goodText().replacingOccurrences(of: "- setWeight: 25", with: "- setWeight: 125"))
        let json = Lint.execute(files: [file], output: .json, githubActions: false)
        #expect(json.exitCode == 1)
        struct Report: Decodable {
            var files: Int
            var documents: Int
            var findings: [Finding]
        }
        let report = try JSONDecoder().decode(Report.self, from: Data(json.stdout.utf8))
        #expect(report.files == 1)
        #expect(report.documents == 8)
        #expect(report.findings.map(\.path) == ["spec.strategy.canary.steps[4].setWeight"])
        let line = try #require(report.findings.first?.line)
        let github = Lint.execute(files: [file], output: .text, githubActions: true)
        #expect(github.stdout.hasPrefix("::error file=\(file),line=\(line)::spec.strategy.canary.steps[4].setWeight: 125 is outside"))
        #expect(Finding(file: "a,b:c.yaml", line: 3, path: "", message: "50% off\nnext").annotation == "::error file=a%2Cb%3Ac.yaml,line=3::50%25 off%0Anext")
    }

    @Test func prometheusAddressesAreCheckedWhenTheControllersAllowlistIsGiven() throws {
        let old = "        prometheus:\n          query: |\n            histogram_quantile"
        #expect(Self.goodText().contains(old))
        let text = Self.goodText().replacingOccurrences(
            of: old, with: "        prometheus:\n          address: http://evil.example:9090\n          query: |\n            histogram_quantile")
        let file = try Self.write(text)
        let line = try #require(text.components(separatedBy: "\n").firstIndex { $0.contains("evil.example") }) + 1
        #expect(Lint.execute(files: [file], output: .text, githubActions: false).exitCode == 0, "without the controller's flags, any address")
        let allowlist = PrometheusAllowlist(defaultAddress: "http://prometheus.istio-system:9090")
        let checked = Lint.execute(files: [file], output: .text, prometheus: allowlist, githubActions: false)
        #expect(checked.exitCode == 1)
        #expect(checked.stdout == "\(file):\(line): spec.metrics[0].provider.prometheus.address: 'http://evil.example:9090' is not allowed by the controller; add it to --allow-prometheus or use the default address\n")
        let allowed = PrometheusAllowlist(defaultAddress: "http://prometheus.istio-system:9090", allowed: ["http://evil.example:9090"])
        #expect(Lint.execute(files: [file], output: .text, prometheus: allowed, githubActions: false).exitCode == 0)
    }

    @Test func directoriesSkipHiddenFilesAndNonKubernetesYAML() throws {
        let dir = try Scratch.newDirectory()
        try FileManager.default.createDirectory(at: dir.appendingPathComponent(".github/workflows"), withIntermediateDirectories: true)
        try Data("on: push\njobs: {}\n".utf8).write(to: dir.appendingPathComponent(".github/workflows/ci.yaml"))
        try Data("replicaCount: 2\n".utf8).write(to: dir.appendingPathComponent("values.yaml"))
        try Data(Self.goodText().utf8).write(to: dir.appendingPathComponent("rollout.yaml"))
        let walked = Lint.execute(files: [dir.path], output: .text, githubActions: false)
        #expect(walked == CommandOutput(stdout: "2 files, 8 documents: no problems\n", exitCode: 0))
        let named = Lint.execute(files: [dir.appendingPathComponent("values.yaml").path], output: .text, githubActions: false)
        #expect(named.exitCode == 1, "a file given by name must hold Kubernetes objects")
        #expect(named.stdout.contains("not a Kubernetes object"))
    }

    @Test func aSubsetThatSelectsNoneOfTheDeploymentsPods() throws {
        let good = RepositoryFiles.root.appendingPathComponent("examples/blue-green.yaml")
        let text = try String(contentsOf: good, encoding: .utf8)
        #expect(Lint.execute(files: [good.path], output: .text, githubActions: false).exitCode == 0)
        let old = "    - name: canary\n      labels: {app: payments}"
        #expect(text.contains(old))
        let file = try Self.write(text.replacingOccurrences(of: old, with: "    - name: canary\n      labels: {app: payments, track: canary}"))
        let result = Lint.execute(files: [file], output: .text, githubActions: false)
        #expect(result.exitCode == 1)
        #expect(result.stdout == "\(file):49: spec.subsets[1].labels: subset canary selects track=canary, which the pods of Deployment shop/payments do not carry (they have app=payments); it would send traffic to none of them\n")
    }
}
