import Foundation
import KubeClient
import KubeTestServer
import Logging
import SluiceModel
import Synchronization
import Testing

/// Client certificates from real PEM files and from an exec plugin, against a TLS server that
/// requires one; an exec plugin that hangs, is asked for by many at once, or wants the cluster.
@Suite struct CredentialTests {
    typealias Directory = KubeConfigTests.Directory

    static func executable(_ dir: Directory, _ name: String) throws -> String {
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: dir.file(name))
        return dir.file(name)
    }

    @Test func clientCertificatesFromFilesAndFromAnExecPluginAgainstAServerThatRequiresOne() async throws {
        let (authority, certificate, key) = try SelfSignedCertificate.clientCertificate(commonName: "sluice", organizations: ["system:masters"])
        let server = try await KubeTestServer(clientCertificateAuthority: authority)
        let serverCA = try #require(server.certificateAuthority)
        func json(_ pem: Data) -> String {
            String(decoding: try! JSONEncoder().encode(String(decoding: pem, as: UTF8.self)), as: UTF8.self)
        }
        let dir = try Directory([
            "client.pem": String(decoding: certificate, as: UTF8.self), "client.key": String(decoding: key, as: UTF8.self),
            "server-ca.pem": String(decoding: serverCA, as: UTF8.self),
            "plugin.sh": """
                #!/bin/sh
                cat <<'JSON'
                {"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"clientCertificateData":\(json(certificate)),"clientKeyData":\(json(key))}}
                JSON
                """,
        ])
        let plugin = try Self.executable(dir, "plugin.sh")
        func kubeconfig(_ user: String) -> String {
            KubeConfigTests.config(user: user, cluster: "    server: \(server.url)\n    certificate-authority: \(dir.file("server-ca.pem"))")
        }
        let clients = [
            ("files", try KubeConfig.parse(kubeconfig("    client-certificate: \(dir.file("client.pem"))\n    client-key: \(dir.file("client.key"))"),
                                           directory: dir.path)),
            ("exec", try KubeConfig.parse(kubeconfig("    exec: {apiVersion: client.authentication.k8s.io/v1, command: \(plugin)}"), directory: dir.path)),
            ("none", KubeConfig(server: server.url, certificateAuthority: serverCA)),
        ].map { ($0.0, try! KubernetesClient(config: $0.1, logger: Logger(label: "test"), requestTimeout: .seconds(5))) }
        for (name, client) in clients {
            do {
                let _: JSONValue = try await client.get(.namespaces, name: "default")
                #expect(name != "none", "a client without a certificate got in")
            } catch {
                #expect(name == "none", "\(name): \(error)")
                if case .transport = error {} else { Issue.record("no certificate: a failed handshake, not \(error)") }
            }
            try await client.shutdown()
        }
        try await server.stop()
    }

    @Test func aHungPluginTimesOutWithoutBlockingOthers() async throws {
        let dir = try Directory(["hang.sh": "#!/bin/sh\nsleep 30\n"])
        let plugin = ExecCredentialPlugin(ExecConfig(command: try Self.executable(dir, "hang.sh")), server: "https://k", timeout: .seconds(1))
        let started = ContinuousClock.now
        let run = Task { try await plugin.credential() }
        try await Task.sleep(for: .milliseconds(200))
        // The actor is free while the plugin runs.
        let free = ContinuousClock.now
        await plugin.invalidate()
        #expect(ContinuousClock.now - free < .milliseconds(500), "the plugin does not hold the actor")
        await #expect(throws: KubeClientError.credentials("exec plugin \(dir.file("hang.sh")) did not answer within 1.0 seconds; it was stopped")) {
            try await run.value
        }
        #expect(ContinuousClock.now - started < .seconds(5), "stopped at its timeout: \(ContinuousClock.now - started)")
    }

    @Test func concurrentCallersShareOneRun() async throws {
        let dir = try Directory(["plugin.sh": """
            #!/bin/sh
            echo run >> "$(dirname "$0")/runs"
            sleep 0.5
            echo '{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"shared"}}'
            """])
        let plugin = ExecCredentialPlugin(ExecConfig(command: try Self.executable(dir, "plugin.sh")), server: "https://k")
        let tokens = try await withThrowingTaskGroup(of: String?.self) { group in
            for _ in 0..<5 { group.addTask { try await plugin.credential().token } }
            return try await group.reduce(into: [String?]()) { $0.append($1) }
        }
        #expect(tokens == Array(repeating: "shared", count: 5))
        let runs = try String(contentsOfFile: dir.file("runs"), encoding: .utf8).split(separator: "\n").count
        #expect(runs == 1, "one run for five callers")
    }

    @Test func provideClusterInfoSendsTheCluster() async throws {
        let dir = try Directory(["plugin.sh": """
            #!/bin/sh
            printf '%s' "$KUBERNETES_EXEC_INFO" > "$(dirname "$0")/info"
            echo '{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"t"}}'
            """])
        var config = ExecConfig(command: try Self.executable(dir, "plugin.sh"))
        config.provideClusterInfo = true
        let ca = Data("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n".utf8)
        _ = try await ExecCredentialPlugin(config, server: "https://k.example:6443", certificateAuthority: ca).credential()
        let info = try JSONDecoder().decode(JSONValue.self, from: Data(contentsOf: URL(fileURLWithPath: dir.file("info"))))
        #expect(info["kind"] == "ExecCredential")
        #expect(info["spec"]?["interactive"] == false)
        #expect(info["spec"]?["cluster"]?["server"] == "https://k.example:6443")
        #expect(info["spec"]?["cluster"]?["certificate-authority-data"]?.string == ca.base64EncodedString())
    }
}
