import Foundation
import KubeTestServer
import SluiceTestKit
import KubeClient
import Logging
import SluiceModel
import Testing

/// Drives the real kubectl against the server, checking each command by its output.
@Suite struct KubectlTests {
    static var kubectl: String? {
        ["/usr/bin/kubectl", "/usr/local/bin/kubectl"].first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    struct Run {
        var status: Int32
        var output: String
    }

    /// Runs kubectl on a Dispatch thread: its blocking waits must not hold the cooperative
    /// threads the in-process server answers on.
    static func run(_ args: [String], kubeconfig: String, stdin: String? = nil,
                    until: (@Sendable (String) -> Bool)? = nil) async throws -> Run {
        try await withCheckedThrowingContinuation { continuation in
            DispatchQueue.global().async {
                continuation.resume(with: Result { try runBlocking(args, kubeconfig: kubeconfig, stdin: stdin, until: until) })
            }
        }
    }

    static func runBlocking(_ args: [String], kubeconfig: String, stdin: String?, until: (@Sendable (String) -> Bool)?) throws -> Run {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: kubectl!)
        process.arguments = args
        process.environment = ["KUBECONFIG": kubeconfig, "HOME": NSTemporaryDirectory(), "PATH": "/usr/bin:/bin"]
        process.currentDirectoryURL = RepositoryFiles.root
        let out = Pipe()
        process.standardOutput = out
        process.standardError = out
        let input = Pipe()
        process.standardInput = input
        try process.run()
        if let stdin { input.fileHandleForWriting.write(Data(stdin.utf8)) }
        try input.fileHandleForWriting.close()
        if let until {
            // A watch: read until the expected line arrives, then stop kubectl.
            var text = ""
            while process.isRunning {
                let chunk = out.fileHandleForReading.availableData
                if chunk.isEmpty { break }
                text += String(decoding: chunk, as: UTF8.self)
                if until(text) { process.terminate(); break }
            }
            process.waitUntilExit()
            return Run(status: 0, output: text)
        }
        let data = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Run(status: process.terminationStatus, output: String(decoding: data, as: UTF8.self))
    }

    /// kubectl bound to one test server's kubeconfig: `k("get", "ns")`.
    struct Kubectl: Sendable {
        let kubeconfig: String
        func callAsFunction(_ args: String..., stdin: String? = nil) async throws -> Run {
            try await KubectlTests.run(args, kubeconfig: kubeconfig, stdin: stdin)
        }
    }

    /// Runs `body` with a fresh test server and kubectl pointed at it; without kubectl it says
    /// why and skips, except in CI, where it fails.
    static func withServer(_ body: (KubeTestServer, Kubectl) async throws -> Void) async throws {
        guard kubectl != nil else {
            #expect(ProcessInfo.processInfo.environment["CI"] != "true", "kubectl must be installed in CI")
            print("skipped: kubectl is not installed")
            return
        }
        let server = try await KubeTestServer()
        let kubeconfig = try server.writeKubeconfig(to: NSTemporaryDirectory() + "kubectl-test-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(atPath: kubeconfig) }
        do { try await body(server, Kubectl(kubeconfig: kubeconfig)) } catch {
            try await server.stop()
            throw error
        }
        try await server.stop()
    }

    @Test func kubectlAppliesGetsPatchesWatchesAndDeletes() async throws {
        try await Self.withServer { server, k in

            var r = try await k("apply", "-f", "crds/")
            #expect(r.status == 0, "\(r.output)")
            #expect(r.output.contains("customresourcedefinition.apiextensions.k8s.io/rollouts.sluice.dev created"))
            r = try await k("apply", "-f", RepositoryFiles.sharedFixtures.appendingPathComponent("istio/crds.yaml").path)
            #expect(r.output.contains("virtualservices.networking.istio.io created"), "\(r.output)")
            r = try await k("apply", "-f", "-", stdin: "apiVersion: v1\nkind: Namespace\nmetadata: {name: shop}\n")
            #expect(r.output.contains("namespace/shop created"), "\(r.output)")
            r = try await k("apply", "-f", "examples/canary.yaml")
            #expect(r.status == 0, "\(r.output)")
            #expect(r.output.contains("rollout.sluice.dev/checkout created"))
            #expect(r.output.contains("virtualservice.networking.istio.io/checkout created"))
            r = try await k("get", "sro", "-n", "shop")
            #expect(r.output.contains("checkout"), "\(r.output)")
            r = try await k("get", "rollout", "checkout", "-n", "shop", "-o", "yaml")
            #expect(r.output.contains("kind: Rollout") && r.output.contains("stableService: checkout-stable"), "\(r.output)")
            r = try await k("annotate", "sro", "checkout", "-n", "shop", "sluice.dev/abort=stop")
            #expect(r.output.contains("rollout.sluice.dev/checkout annotated"), "\(r.output)")
            r = try await k("patch", "sro", "checkout", "-n", "shop", "--type", "merge", "-p", #"{"spec":{"paused":true,"notInSchema":1}}"#)
            #expect(r.output.contains("patched"), "\(r.output)")
            r = try await k("patch", "sro", "checkout", "-n", "shop", "--type", "json", "-p", #"[{"op":"add","path":"/spec/scaleDownDelaySeconds","value":45}]"#)
            #expect(r.output.contains("patched"), "\(r.output)")
            r = try await k("patch", "sro", "checkout", "-n", "shop", "--subresource=status", "--type", "merge", "-p", #"{"status":{"phase":"Healthy"}}"#)
            #expect(r.output.contains("patched"), "\(r.output)")
            r = try await k("get", "sro", "-n", "shop")
            let header = r.output.split(separator: "\n").first.map { $0.split(separator: " ").map(String.init) } ?? []
            #expect(header == ["NAME", "PHASE", "WEIGHT", "STEP", "REVISION", "CANARY", "AGE"], "printer columns: \(r.output)")
            #expect(r.output.contains("Healthy"))
            r = try await k("get", "sro", "checkout", "-n", "shop", "-o", "jsonpath={.spec.paused} {.spec.scaleDownDelaySeconds} {.status.phase} {.metadata.annotations.sluice\\.dev/abort} [{.spec.notInSchema}]")
            #expect(r.output == "true 45 Healthy stop []", "a field unknown to the schema is gone: \(r.output)")

            // get -w sees a change made while it watches.
            let watchTask = Task { try await Self.run(["get", "sro", "-n", "shop", "-w", "-o", "jsonpath={.spec.paused}{\"\\n\"}"], kubeconfig: k.kubeconfig,
                                                until: { $0.contains("false") }) }
            try await Task.sleep(for: .milliseconds(500))
            r = try await k("patch", "sro", "checkout", "-n", "shop", "--type", "merge", "-p", #"{"spec":{"paused":false}}"#)
            let watched = try await watchTask.value
            #expect(watched.output.contains("true") && watched.output.contains("false"), "\(watched.output)")

            r = try await k("delete", "sro", "checkout", "-n", "shop")
            #expect(r.output.contains("rollout.sluice.dev \"checkout\" deleted"), "\(r.output)")
            r = try await k("get", "sro", "-n", "shop")
            #expect(r.output.contains("No resources found"), "\(r.output)")
        }
    }
}

@Suite struct TLSAndTokenTests {
    /// Over TLS the server offers HTTP/2 by ALPN, as kube-apiserver does: our client and kubectl
    /// both take it, for requests and for watches.
    @Test func http2ForOurClientAndKubectl() async throws {
        let server = try await KubeTestServer(token: "s3cret", tls: true)
        let kubeconfig = try server.writeKubeconfig(to: NSTemporaryDirectory() + "h2-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(atPath: kubeconfig) }
        let client = try KubernetesClient(config: try KubeConfig.fromFiles([kubeconfig]), logger: Logger(label: "t"))
        try await SemanticsTests.closing(client, server) {
            let _: JSONValue = try await client.create(.configMaps, namespace: "default", ["apiVersion": "v1", "kind": "ConfigMap", "metadata": ["name": "a"]])
            let stream: AsyncThrowingStream<WatchLine<JSONValue>, Error> = try await client.watch(
                .configMaps, namespace: "default", resourceVersion: nil, timeoutSeconds: 1, allowBookmarks: false)
            var added = 0
            for try await line in stream { if case .added = line.event { added += 1 } }
            #expect(added == 1, "a watch streams over HTTP/2")
            let viaClient = server.requestsByVersion["HTTP/2.0"] ?? 0
            #expect(viaClient >= 2, "\(server.requestsByVersion)")
            let r = try await KubectlTests.run(["get", "configmaps", "-n", "default"], kubeconfig: kubeconfig)
            #expect(r.status == 0, "\(r.output)")
            #expect((server.requestsByVersion["HTTP/2.0"] ?? 0) > viaClient, "kubectl too: \(server.requestsByVersion)")
        }
    }

    @Test func tokenOverTLSForKubectlAndOurClient() async throws {
        let server = try await KubeTestServer(token: "s3cret", tls: true)
        #expect(server.url.hasPrefix("https://"))
        let kubeconfig = try server.writeKubeconfig(to: NSTemporaryDirectory() + "tls-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(atPath: kubeconfig) }
        // Our client reads the kubeconfig: the CA from certificate-authority-data, the token.
        let client = try KubernetesClient(config: try KubeConfig.fromFiles([kubeconfig]), logger: Logger(label: "t"))
        let list: ObjectList<JSONValue> = try await client.list(.namespaces)
        #expect(list.items.compactMap { $0["metadata"]?["name"]?.string } == ["default", "kube-node-lease", "kube-public", "kube-system"],
                "the namespaces every cluster starts with")
        try await client.shutdown()
        let wrong = try KubernetesClient(config: KubeConfig(server: server.url, certificateAuthority: server.certificateAuthority,
                                                            credentials: .token("wrong")), logger: Logger(label: "t"))
        #expect(await SemanticsTests.label { let _: ObjectList<JSONValue> = try await wrong.list(.namespaces) } == "unauthorized")
        try await wrong.shutdown()
        let untrusted = try KubernetesClient(config: KubeConfig(server: server.url, credentials: .token("s3cret")), logger: Logger(label: "t"),
                                             connectTimeout: .milliseconds(500))
        #expect(await SemanticsTests.label { let _: ObjectList<JSONValue> = try await untrusted.list(.namespaces) } == "transport",
                "a certificate the client does not trust is refused")
        try await untrusted.shutdown()
        if KubectlTests.kubectl != nil {
            let r = try await KubectlTests.run(["apply", "-f", "crds/rollouts.sluice.dev.yaml"], kubeconfig: kubeconfig)
            #expect(r.output.contains("rollouts.sluice.dev created"), "\(r.output)")
        }
        try await server.stop()
    }
}

extension KubectlTests {
    @Test func kubectlExplainsEveryFieldAndShowsTheRealRefusalOfACRDOverBudget() async throws {
        try await Self.withServer { _, k in

            // The header-match map without its bound, as the first release shipped it.
            var unbounded = try CELCostTests.rolloutCRD()
            CELCostTests.edit(&unbounded, ["spec", "strategy", "canary", "steps", "[]", "setHeaderRoute", "match", "[]", "headers"]) {
                $0["maxProperties"] = nil
            }
            var r = try await k("apply", "-f", "-", stdin: String(decoding: try JSONEncoder().encode(unbounded), as: UTF8.self))
            #expect(r.status != 0)
            #expect(r.output.contains("The CustomResourceDefinition \"rollouts.sluice.dev\" is invalid: \(CELCostTests.headersRulePath): "
                + "Forbidden: estimated rule cost exceeds budget by factor of 7.1x"), "\(r.output)")

            r = try await k("apply", "-f", "crds/")
            #expect(r.status == 0, "\(r.output)")
            r = try await k("explain", "rollouts.spec.strategy")
            #expect(r.output.contains("canary (traffic moved in steps)"), "\(r.output)")
            #expect(!r.output.contains("<empty>"), "\(r.output)")
            r = try await k("explain", "analysistemplates.spec.metrics.failureLimit")
            #expect(r.status == 0 && r.output.contains("DESCRIPTION:") && !r.output.contains("<empty>"), "\(r.output)")
        }
    }
}
