import Foundation
import Yams

/// Where and how to reach one Kubernetes API server: the resolved context of a kubeconfig,
/// or the in-cluster service account.
public struct KubeConfig: Sendable, Hashable {
    public var server: String
    /// PEM of the certificate authority; nil uses the system's trust roots.
    public var certificateAuthority: Data?
    public var insecureSkipTLSVerify: Bool
    public var tlsServerName: String?
    /// The cluster's `proxy-url` (`http://`, `https://` or `socks5://`); nil: `HTTPS_PROXY`,
    /// `HTTP_PROXY` and `NO_PROXY` from the environment decide, as for client-go.
    public var proxyURL: String?
    public var credentials: Credentials
    /// The context's namespace, or the service account's.
    public var namespace: String
    public var contextName: String?

    public enum Credentials: Sendable, Hashable {
        case none
        case token(String)
        /// Re-read when it changes (projected service-account tokens rotate).
        case tokenFile(String)
        /// PEM certificate and key.
        case clientCertificate(certificate: Data, key: Data)
        case basic(username: String, password: String)
        case exec(ExecConfig)
    }

    public init(server: String, certificateAuthority: Data? = nil, insecureSkipTLSVerify: Bool = false,
                tlsServerName: String? = nil, proxyURL: String? = nil, credentials: Credentials = .none, namespace: String = "default",
                contextName: String? = nil) {
        self.proxyURL = proxyURL
        self.server = server
        self.certificateAuthority = certificateAuthority
        self.insecureSkipTLSVerify = insecureSkipTLSVerify
        self.tlsServerName = tlsServerName
        self.credentials = credentials
        self.namespace = namespace
        self.contextName = contextName
    }
}

extension KubeConfig {
    /// The configuration kubectl would use: `KUBECONFIG` (several files separated by `:`,
    /// merged), else `~/.kube/config`; `context` overrides the current context.
    public static func load(context: String? = nil, environment: [String: String] = ProcessInfo.processInfo.environment)
        throws(KubeConfigError) -> KubeConfig
    {
        let paths: [String]
        if let list = environment["KUBECONFIG"], !list.isEmpty {
            paths = list.split(separator: ":").map(String.init)
        } else {
            paths = [(environment["HOME"] ?? NSHomeDirectory()) + "/.kube/config"]
        }
        return try fromFiles(paths, context: context)
    }

    /// Merges kubeconfig files as kubectl does: for a cluster, user or context named in several
    /// files the first file wins, and so does the first `current-context`. Relative paths in a
    /// file are relative to that file.
    public static func fromFiles(_ paths: [String], context: String? = nil) throws(KubeConfigError) -> KubeConfig {
        var merged = Merged()
        var readAny = false
        for path in paths {
            guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { continue }
            readAny = true
            let file: KubeconfigFile
            do {
                file = try YAMLDecoder().decode(KubeconfigFile.self, from: text)
            } catch {
                throw .invalidFile(path: path, reason: "\(error)")
            }
            merged.add(file, directory: (path as NSString).deletingLastPathComponent)
        }
        guard readAny else { throw .noConfiguration(paths: paths) }
        return try merged.resolve(context: context)
    }

    /// Parses one kubeconfig text; relative paths are relative to `directory`.
    public static func parse(_ text: String, directory: String = ".", context: String? = nil) throws(KubeConfigError) -> KubeConfig {
        var merged = Merged()
        do {
            merged.add(try YAMLDecoder().decode(KubeconfigFile.self, from: text), directory: directory)
        } catch {
            throw .invalidFile(path: "<text>", reason: "\(error)")
        }
        return try merged.resolve(context: context)
    }

    struct Merged {
        var clusters: [String: (KubeconfigFile.Cluster, String)] = [:]
        var users: [String: (KubeconfigFile.User, String)] = [:]
        var contexts: [String: KubeconfigFile.Context] = [:]
        var currentContext: String?

        mutating func add(_ file: KubeconfigFile, directory: String) {
            for c in file.clusters ?? [] where clusters[c.name] == nil { clusters[c.name] = (c.value, directory) }
            for u in file.users ?? [] where users[u.name] == nil { users[u.name] = (u.value, directory) }
            for c in file.contexts ?? [] where contexts[c.name] == nil { contexts[c.name] = c.value }
            if currentContext == nil, let current = file.currentContext, !current.isEmpty { currentContext = current }
        }

        func resolve(context: String?) throws(KubeConfigError) -> KubeConfig {
            guard let name = context ?? currentContext else { throw .noCurrentContext }
            guard let ctx = contexts[name] else { throw .unknownContext(name) }
            guard let (cluster, clusterDir) = clusters[ctx.cluster] else { throw .unknownCluster(ctx.cluster, context: name) }
            var config = KubeConfig(server: cluster.server, insecureSkipTLSVerify: cluster.insecureSkipTLSVerify ?? false,
                                    tlsServerName: cluster.tlsServerName, proxyURL: cluster.proxyURL, namespace: ctx.namespace ?? "default",
                                    contextName: name)
            config.certificateAuthority = try KubeConfig.material(data: cluster.certificateAuthorityData,
                                                                  file: cluster.certificateAuthority, directory: clusterDir,
                                                                  field: "certificate-authority")
            if let userName = ctx.user {
                guard let (user, userDir) = users[userName] else { throw .unknownUser(userName, context: name) }
                config.credentials = try KubeConfig.credentials(user, directory: userDir)
            }
            return config
        }
    }

    static func credentials(_ user: KubeconfigFile.User, directory: String) throws(KubeConfigError) -> Credentials {
        if let exec = user.exec {
            var exec = exec
            if exec.command.contains("/"), !exec.command.hasPrefix("/") { exec.command = absolute(exec.command, directory) }
            return .exec(exec)
        }
        // As client-go: a token file, re-read as it rotates, wins over an inline token.
        if let file = user.tokenFile, !file.isEmpty { return .tokenFile(absolute(file, directory)) }
        if let token = user.token, !token.isEmpty { return .token(token) }
        let cert = try material(data: user.clientCertificateData, file: user.clientCertificate, directory: directory, field: "client-certificate")
        let key = try material(data: user.clientKeyData, file: user.clientKey, directory: directory, field: "client-key")
        switch (cert, key) {
        case (.some(let cert), .some(let key)): return .clientCertificate(certificate: cert, key: key)
        case (.some, nil): throw .incomplete("client-certificate is set without client-key")
        case (nil, .some): throw .incomplete("client-key is set without client-certificate")
        case (nil, nil): break
        }
        if let username = user.username, let password = user.password { return .basic(username: username, password: password) }
        if let provider = user.authProvider {
            // Anonymous would only fail later and more obscurely.
            throw .incomplete("the user's auth-provider '\(provider.name ?? "")' is not supported (client-go removed the in-tree providers); "
                              + "use its exec plugin instead (gke-gcloud-auth-plugin, kubelogin, ...)")
        }
        return .none
    }

    /// Inline base64 data, or a file's contents.
    static func material(data: String?, file: String?, directory: String, field: String) throws(KubeConfigError) -> Data? {
        if let data {
            guard let decoded = Data(base64Encoded: data, options: .ignoreUnknownCharacters) else {
                throw .invalidData(field: "\(field)-data")
            }
            return decoded
        }
        guard let file else { return nil }
        let path = absolute(file, directory)
        guard let contents = FileManager.default.contents(atPath: path) else { throw .unreadableFile(field: field, path: path) }
        return contents
    }

    static func absolute(_ path: String, _ directory: String) -> String {
        path.hasPrefix("/") ? path : (directory as NSString).appendingPathComponent(path)
    }
}

extension KubeConfig {
    /// The service account a pod runs as: `KUBERNETES_SERVICE_HOST`/`_PORT`, and the token, CA
    /// and namespace files under `root` (by default `/var/run/secrets/kubernetes.io/serviceaccount`).
    /// The token is re-read when it rotates.
    public static func inCluster(environment: [String: String] = ProcessInfo.processInfo.environment,
                                 root: String = "/var/run/secrets/kubernetes.io/serviceaccount") throws(KubeConfigError) -> KubeConfig {
        guard let host = environment["KUBERNETES_SERVICE_HOST"], let port = environment["KUBERNETES_SERVICE_PORT"] else {
            throw .notInCluster
        }
        let server = host.contains(":") ? "https://[\(host)]:\(port)" : "https://\(host):\(port)"
        guard FileManager.default.fileExists(atPath: root + "/token") else { throw .unreadableFile(field: "token", path: root + "/token") }
        let namespace = (try? String(contentsOfFile: root + "/namespace", encoding: .utf8))?
            .trimmingCharacters(in: .whitespacesAndNewlines) ?? "default"
        return KubeConfig(server: server, certificateAuthority: FileManager.default.contents(atPath: root + "/ca.crt"),
                          credentials: .tokenFile(root + "/token"), namespace: namespace.isEmpty ? "default" : namespace)
    }
}

public enum KubeConfigError: Error, Sendable, Hashable, CustomStringConvertible {
    case noConfiguration(paths: [String])
    case invalidFile(path: String, reason: String)
    case noCurrentContext
    case unknownContext(String)
    case unknownCluster(String, context: String)
    case unknownUser(String, context: String)
    case invalidData(field: String)
    case unreadableFile(field: String, path: String)
    case incomplete(String)
    case notInCluster

    public var description: String {
        switch self {
        case .noConfiguration(let paths): "no kubeconfig found at \(paths.joined(separator: ", ")); set KUBECONFIG"
        case .invalidFile(let path, let reason): "\(path) is not a valid kubeconfig: \(reason)"
        case .noCurrentContext: "the kubeconfig has no current-context; pass a context"
        case .unknownContext(let name): "context '\(name)' is not in the kubeconfig"
        case .unknownCluster(let name, let context): "context '\(context)' names cluster '\(name)', which is not in the kubeconfig"
        case .unknownUser(let name, let context): "context '\(context)' names user '\(name)', which is not in the kubeconfig"
        case .invalidData(let field): "\(field) is not valid base64"
        case .unreadableFile(let field, let path): "\(field): cannot read \(path)"
        case .incomplete(let what): what
        case .notInCluster: "KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are not set: not running in a cluster"
        }
    }
}
