import Foundation
import KubeTestServer
import SluiceModel
import SluiceTestKit
import Testing

/// RBAC as kube-apiserver enforces it, driven with kubectl: Roles and ClusterRoles bound to
/// users and ServiceAccounts, subresources, resource names, the real denial messages,
/// `kubectl auth can-i` and `kubectl create token`.
@Suite struct RBACTests {
    /// kubectl as one user: the server's kubeconfig with that user's token.
    static func kubectl(_ server: KubeTestServer, token: String) throws -> KubectlTests.Kubectl {
        let path = try server.writeKubeconfig(to: NSTemporaryDirectory() + "rbac-\(UUID().uuidString)")
        let text = try String(contentsOfFile: path, encoding: .utf8).replacingOccurrences(of: "token: root", with: "token: \(token)")
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return KubectlTests.Kubectl(kubeconfig: path)
    }

    @Test func rolesBindingsAndServiceAccountsAreEnforced() async throws {
        guard KubectlTests.kubectl != nil else { Issue.record("kubectl is not installed"); return }
        let server = try await KubeTestServer(token: "root", tls: true, users: ["alice-token": User(name: "alice", groups: ["team-a"])])
        do {
            let admin = try Self.kubectl(server, token: "root")
            let alice = try Self.kubectl(server, token: "alice-token")
            var r = try await admin("apply", "-f", "-", stdin: """
                apiVersion: v1
                kind: Namespace
                metadata: {name: shop}
                ---
                apiVersion: rbac.authorization.k8s.io/v1
                kind: Role
                metadata: {name: reader, namespace: shop}
                rules:
                - {apiGroups: [""], resources: [configmaps], verbs: [get, list, watch]}
                - {apiGroups: [""], resources: [configmaps], resourceNames: [settings], verbs: [update, patch]}
                - {apiGroups: [apps], resources: [deployments/scale], verbs: [get, update, patch]}
                ---
                apiVersion: rbac.authorization.k8s.io/v1
                kind: RoleBinding
                metadata: {name: team-a-reads, namespace: shop}
                subjects: [{kind: Group, name: team-a, apiGroup: rbac.authorization.k8s.io}]
                roleRef: {kind: Role, name: reader, apiGroup: rbac.authorization.k8s.io}
                ---
                apiVersion: v1
                kind: ServiceAccount
                metadata: {name: sluice, namespace: shop}
                ---
                apiVersion: rbac.authorization.k8s.io/v1
                kind: ClusterRole
                metadata: {name: namespace-reader}
                rules:
                - {apiGroups: [""], resources: [namespaces], verbs: [get, list]}
                ---
                apiVersion: rbac.authorization.k8s.io/v1
                kind: ClusterRoleBinding
                metadata: {name: sluice-reads-namespaces}
                subjects: [{kind: ServiceAccount, name: sluice, namespace: shop}]
                roleRef: {kind: ClusterRole, name: namespace-reader, apiGroup: rbac.authorization.k8s.io}
                ---
                apiVersion: v1
                kind: ConfigMap
                metadata: {name: settings, namespace: shop}
                """)
            #expect(r.status == 0, "\(r.output)")
            // Alice, through her group: reads, and writes only the one named ConfigMap.
            r = try await alice("get", "configmap", "settings", "-n", "shop")
            #expect(r.status == 0, "\(r.output)")
            r = try await alice("label", "configmap", "settings", "-n", "shop", "tier=web")
            #expect(r.status == 0, "resourceNames allow it: \(r.output)")
            r = try await alice("create", "configmap", "other", "-n", "shop")
            #expect(r.status != 0)
            #expect(r.output.contains(#"configmaps is forbidden: User "alice" cannot create resource "configmaps" in API group "" in the namespace "shop""#), "\(r.output)")
            r = try await alice("get", "namespaces")
            #expect(r.output.contains(#"namespaces is forbidden: User "alice" cannot list resource "namespaces" in API group "" at the cluster scope"#), "\(r.output)")
            r = try await alice("get", "--raw", "/metrics")
            #expect(r.output.contains(#"User "alice" cannot get path "/metrics""#), "\(r.output)")
            // kubectl auth can-i asks with a SelfSubjectAccessReview.
            r = try await alice("auth", "can-i", "list", "configmaps", "-n", "shop")
            #expect(r.status == 0 && r.output.hasPrefix("yes"), "\(r.output)")
            r = try await alice("auth", "can-i", "delete", "configmaps", "-n", "shop")
            #expect(r.status != 0 && r.output.hasPrefix("no"), "\(r.output)")
            r = try await alice("auth", "can-i", "update", "deployments", "--subresource=scale", "-n", "shop")
            #expect(r.output.hasPrefix("yes"), "a subresource rule: \(r.output)")
            // A ServiceAccount token from TokenRequest, and its ClusterRoleBinding.
            r = try await admin("create", "token", "sluice", "-n", "shop")
            #expect(r.status == 0, "\(r.output)")
            let sa = try Self.kubectl(server, token: r.output.trimmingCharacters(in: .whitespacesAndNewlines))
            r = try await sa("get", "namespaces")
            #expect(r.status == 0 && r.output.contains("shop"), "\(r.output)")
            r = try await sa("get", "configmaps", "-n", "shop")
            #expect(r.output.contains(#"User "system:serviceaccount:shop:sluice" cannot list resource "configmaps""#), "\(r.output)")
        } catch {
            try await server.stop()
            throw error
        }
        try await server.stop()
    }
}
