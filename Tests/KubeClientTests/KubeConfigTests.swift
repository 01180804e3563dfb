import Foundation
import KubeClient
import Testing

@Suite struct KubeConfigTests {
    /// A temporary directory with files, removed when the test ends.
    final class Directory {
        let path: String
        init(_ files: [String: String]) throws {
            path = NSTemporaryDirectory() + "kubeconfig-\(UUID().uuidString)"
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
            for (name, text) in files {
                let file = path + "/" + name
                try FileManager.default.createDirectory(atPath: (file as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
                try text.write(toFile: file, atomically: true, encoding: .utf8)
            }
        }
        deinit { try? FileManager.default.removeItem(atPath: path) }
        func file(_ name: String) -> String { path + "/" + name }
    }

    static let ca = Data("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n".utf8)

    static func config(user: String, cluster: String = "    server: https://10.0.0.1:6443\n    certificate-authority-data: \(ca.base64EncodedString())") -> String {
        """
        apiVersion: v1
        kind: Config
        current-context: dev
        clusters:
        - name: dev
          cluster:
        \(cluster)
        users:
        - name: dev
          user:
        \(user)
        contexts:
        - name: dev
          context: {cluster: dev, user: dev, namespace: shop}
        """
    }

    @Test func tokenAndInlineCertificateAuthority() throws {
        let config = try KubeConfig.parse(KubeConfigTests.config(user: "    token: abc123"))
        #expect(config.server == "https://10.0.0.1:6443")
        #expect(config.credentials == .token("abc123"))
        #expect(config.certificateAuthority == KubeConfigTests.ca)
        #expect(config.namespace == "shop")
        #expect(config.contextName == "dev")
    }

    @Test func tokenFileAndFilesRelativeToTheKubeconfig() throws {
        let dir = try Directory(["certs/ca.crt": "CA", "token": "t0k3n",
                                 "config": KubeConfigTests.config(user: "    tokenFile: token", cluster: "    server: https://k\n    certificate-authority: certs/ca.crt")])
        let config = try KubeConfig.fromFiles([dir.file("config")])
        #expect(config.credentials == .tokenFile(dir.file("token")))
        #expect(config.certificateAuthority == Data("CA".utf8))
    }

    /// As client-go: the token file (which rotates) wins over an inline token.
    @Test func aTokenFileWinsOverAToken() throws {
        let dir = try Directory(["token": "from-file", "config": KubeConfigTests.config(user: "    token: inline\n    tokenFile: token")])
        let config = try KubeConfig.fromFiles([dir.file("config")])
        #expect(config.credentials == .tokenFile(dir.file("token")))
    }

    /// A user with only an auth-provider is a clear error, not an anonymous client.
    @Test func anAuthProviderAloneIsAClearError() throws {
        do {
            _ = try KubeConfig.parse(KubeConfigTests.config(user: "    auth-provider: {name: gcp, config: {}}"))
            Issue.record("an auth-provider user was accepted")
        } catch {
            #expect("\(error)".contains("auth-provider 'gcp' is not supported"), "\(error)")
        }
    }

    @Test func clientCertificateAsDataAndAsFiles() throws {
        let cert = Data("CERT".utf8).base64EncodedString()
        let key = Data("KEY".utf8).base64EncodedString()
        let inline = try KubeConfig.parse(KubeConfigTests.config(user: "    client-certificate-data: \(cert)\n    client-key-data: \(key)"))
        #expect(inline.credentials == .clientCertificate(certificate: Data("CERT".utf8), key: Data("KEY".utf8)))
        let dir = try Directory(["c.pem": "C", "k.pem": "K",
                                 "config": KubeConfigTests.config(user: "    client-certificate: c.pem\n    client-key: k.pem")])
        #expect(try KubeConfig.fromFiles([dir.file("config")]).credentials == .clientCertificate(certificate: Data("C".utf8), key: Data("K".utf8)))
        #expect(throws: KubeConfigError.incomplete("client-certificate is set without client-key")) {
            try KubeConfig.parse(KubeConfigTests.config(user: "    client-certificate-data: \(cert)"))
        }
    }

    @Test func insecureSkipTLSVerifyAndBasicAuth() throws {
        let config = try KubeConfig.parse(KubeConfigTests.config(user: "    username: admin\n    password: secret",
                                                                 cluster: "    server: https://k\n    insecure-skip-tls-verify: true"))
        #expect(config.insecureSkipTLSVerify)
        #expect(config.certificateAuthority == nil)
        #expect(config.credentials == .basic(username: "admin", password: "secret"))
    }

    @Test func execPluginAsEKSConfiguresIt() throws {
        let config = try KubeConfig.parse(KubeConfigTests.config(user: """
                exec:
                  apiVersion: client.authentication.k8s.io/v1beta1
                  command: aws
                  args: [eks, get-token, --cluster-name, prod]
                  env: [{name: AWS_PROFILE, value: prod}]
            """))
        guard case .exec(let exec) = config.credentials else { Issue.record("not exec"); return }
        #expect(exec.command == "aws")
        #expect(exec.args == ["eks", "get-token", "--cluster-name", "prod"])
        #expect(exec.env?.first?.value == "prod")
    }

    @Test func mergedFilesFirstWinsAndContextOverride() throws {
        let a = """
            apiVersion: v1
            kind: Config
            current-context: a
            clusters: [{name: shared, cluster: {server: "https://first"}}]
            users: [{name: u, user: {token: first}}]
            contexts: [{name: a, context: {cluster: shared, user: u}}]
            """
        let b = """
            apiVersion: v1
            kind: Config
            current-context: b
            clusters: [{name: shared, cluster: {server: "https://second"}}, {name: other, cluster: {server: "https://other"}}]
            users: [{name: u, user: {token: second}}, {name: v, user: {token: v}}]
            contexts: [{name: b, context: {cluster: other, user: v, namespace: team}}]
            """
        let dir = try Directory(["a": a, "b": b])
        let merged = try KubeConfig.load(environment: ["KUBECONFIG": "\(dir.file("a")):\(dir.file("missing")):\(dir.file("b"))"])
        #expect(merged.contextName == "a")
        #expect(merged.server == "https://first")
        #expect(merged.credentials == .token("first"))
        #expect(merged.namespace == "default")
        let other = try KubeConfig.load(context: "b", environment: ["KUBECONFIG": "\(dir.file("a")):\(dir.file("b"))"])
        #expect(other.server == "https://other")
        #expect(other.credentials == .token("v"))
        #expect(other.namespace == "team")
        #expect(throws: KubeConfigError.unknownContext("c")) {
            try KubeConfig.load(context: "c", environment: ["KUBECONFIG": dir.file("a")])
        }
        #expect(throws: KubeConfigError.self) { try KubeConfig.load(environment: ["KUBECONFIG": dir.file("missing")]) }
    }

    @Test func inClusterServiceAccount() throws {
        let dir = try Directory(["token": "sa-token", "ca.crt": "CA", "namespace": "sluice-system\n"])
        let config = try KubeConfig.inCluster(environment: ["KUBERNETES_SERVICE_HOST": "10.96.0.1", "KUBERNETES_SERVICE_PORT": "443"],
                                              root: dir.path)
        #expect(config.server == "https://10.96.0.1:443")
        #expect(config.credentials == .tokenFile(dir.file("token")))
        #expect(config.namespace == "sluice-system")
        #expect(config.certificateAuthority == Data("CA".utf8))
        #expect(throws: KubeConfigError.notInCluster) { try KubeConfig.inCluster(environment: [:], root: dir.path) }
    }

    @Test func execPluginRunsAndIsCachedUntilExpiry() async throws {
        let dir = try Directory(["plugin.sh": """
            #!/bin/sh
            count=$(cat "$(dirname "$0")/count" 2>/dev/null || echo 0)
            count=$((count + 1))
            echo $count > "$(dirname "$0")/count"
            case "$KUBERNETES_EXEC_INFO" in *ExecCredential*) ;; *) echo "no exec info" >&2; exit 3;; esac
            echo '{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"token-'$count'","expirationTimestamp":"'$EXPIRES'"}}'
            """])
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: dir.file("plugin.sh"))
        let now = Date()
        let expires = ISO8601DateFormatter().string(from: now.addingTimeInterval(600))
        let plugin = ExecCredentialPlugin(ExecConfig(command: dir.file("plugin.sh"), env: [.init(name: "EXPIRES", value: expires)]),
                                          server: "https://k")
        #expect(try await plugin.credential(now: now).token == "token-1")
        #expect(try await plugin.credential(now: now.addingTimeInterval(300)).token == "token-1")
        // Within the skew of expiry, it runs again.
        #expect(try await plugin.credential(now: now.addingTimeInterval(590)).token == "token-2")
        await plugin.invalidate()
        #expect(try await plugin.credential(now: now).token == "token-3")
    }

    @Test func failingExecPluginSaysWhy() async throws {
        let dir = try Directory(["bad.sh": "#!/bin/sh\necho 'token expired, run aws sso login' >&2\nexit 1\n"])
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: dir.file("bad.sh"))
        let plugin = ExecCredentialPlugin(ExecConfig(command: dir.file("bad.sh")), server: "https://k")
        await #expect(throws: KubeClientError.credentials("exec plugin \(dir.file("bad.sh")) exited with 1: token expired, run aws sso login")) {
            try await plugin.credential()
        }
    }
}
