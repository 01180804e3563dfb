import Foundation
import KubeClient
import SluiceModel

/// Reads single keys of Kubernetes Secrets: the credentials and Secret-valued args of analysis
/// metrics. Values are handed to the measurement and never recorded.
public protocol SecretReader: Sendable {
    /// The key's value, decoded; nil when the Secret or the key does not exist.
    func value(namespace: String, _ ref: SecretKeyRef) async throws -> String?
}

/// Secrets read through the Kubernetes API, in the Rollout's namespace.
public struct KubernetesSecretReader: SecretReader {
    let client: KubernetesClient

    public init(client: KubernetesClient) { self.client = client }

    struct Secret: Decodable, Sendable {
        var data: [String: String]?
    }

    public func value(namespace: String, _ ref: SecretKeyRef) async throws -> String? {
        let secret: Secret
        do {
            secret = try await client.get(.secrets, namespace: namespace, name: ref.name)
        } catch KubeClientError.notFound {
            return nil
        }
        guard let encoded = secret.data?[ref.key], let data = Data(base64Encoded: encoded) else { return nil }
        return String(decoding: data, as: UTF8.self)
    }
}
