import Foundation
import Yams

/// A kubeconfig file as written (`apiVersion: v1`, `kind: Config`): the fields Sluice uses.
struct KubeconfigFile: Decodable {
    var clusters: [Named<Cluster>]?
    var users: [Named<User>]?
    var contexts: [Named<Context>]?
    var currentContext: String?

    enum CodingKeys: String, CodingKey {
        case clusters, users, contexts
        case currentContext = "current-context"
    }

    struct Named<T: Decodable>: Decodable {
        var name: String
        var value: T

        enum CodingKeys: String, CodingKey { case name, cluster, user, context }

        init(from decoder: Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            name = try c.decode(String.self, forKey: .name)
            let key: CodingKeys = T.self == Cluster.self ? .cluster : T.self == User.self ? .user : .context
            value = try c.decode(T.self, forKey: key)
        }
    }

    struct Cluster: Decodable {
        var server: String
        var certificateAuthority: String?
        var certificateAuthorityData: String?
        var insecureSkipTLSVerify: Bool?
        var tlsServerName: String?
        var proxyURL: String?

        enum CodingKeys: String, CodingKey {
            case proxyURL = "proxy-url"
            case server
            case certificateAuthority = "certificate-authority"
            case certificateAuthorityData = "certificate-authority-data"
            case insecureSkipTLSVerify = "insecure-skip-tls-verify"
            case tlsServerName = "tls-server-name"
        }
    }

    struct User: Decodable {
        var token: String?
        var tokenFile: String?
        var clientCertificate: String?
        var clientCertificateData: String?
        var clientKey: String?
        var clientKeyData: String?
        var username: String?
        var password: String?
        var exec: ExecConfig?
        /// The old in-tree auth providers (gcp, azure, oidc), which client-go no longer runs.
        var authProvider: AuthProvider?

        struct AuthProvider: Decodable {
            var name: String?
        }

        enum CodingKeys: String, CodingKey {
            case token, tokenFile, username, password, exec
            case authProvider = "auth-provider"
            case clientCertificate = "client-certificate"
            case clientCertificateData = "client-certificate-data"
            case clientKey = "client-key"
            case clientKeyData = "client-key-data"
        }
    }

    struct Context: Decodable {
        var cluster: String
        var user: String?
        var namespace: String?
    }
}

/// An exec credential plugin, as EKS (`aws eks get-token`), GKE (`gke-gcloud-auth-plugin`)
/// and AKS (`kubelogin`) configure them.
public struct ExecConfig: Decodable, Sendable, Hashable {
    public var apiVersion: String?
    public var command: String
    public var args: [String]?
    public var env: [EnvVar]?
    public var provideClusterInfo: Bool?

    public struct EnvVar: Decodable, Sendable, Hashable {
        public var name: String
        public var value: String

        public init(name: String, value: String) {
            self.name = name
            self.value = value
        }
    }

    public init(command: String, args: [String]? = nil, env: [EnvVar]? = nil, apiVersion: String? = nil) {
        self.command = command
        self.args = args
        self.env = env
        self.apiVersion = apiVersion
    }
}
