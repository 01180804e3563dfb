import SluiceModel

/// The defaults kube-apiserver fills into the built-in kinds Sluice reads and writes
/// (k8s.io/kubernetes `pkg/apis/core/v1/defaults.go`, `pkg/apis/apps/v1/defaults.go`), so an
/// object read back from the test server looks as it would from a real cluster.
enum BuiltinDefaults {
    static func apply(_ object: inout JSONValue, _ info: ResourceInfo) {
        switch (info.group, info.plural) {
        case ("apps", "deployments"):
            var spec = object["spec"] ?? [:]
            if spec["replicas"] == nil { spec["replicas"] = 1 }
            var strategy = spec["strategy"] ?? [:]
            if strategy["type"] == nil { strategy["type"] = "RollingUpdate" }
            if strategy["type"] == "RollingUpdate" {
                var rolling = strategy["rollingUpdate"] ?? [:]
                if rolling["maxUnavailable"] == nil { rolling["maxUnavailable"] = "25%" }
                if rolling["maxSurge"] == nil { rolling["maxSurge"] = "25%" }
                strategy["rollingUpdate"] = rolling
            }
            spec["strategy"] = strategy
            if spec["revisionHistoryLimit"] == nil { spec["revisionHistoryLimit"] = 10 }
            if spec["progressDeadlineSeconds"] == nil { spec["progressDeadlineSeconds"] = 600 }
            defaultPodTemplate(&spec)
            object["spec"] = spec
        case ("apps", "replicasets"):
            var spec = object["spec"] ?? [:]
            if spec["replicas"] == nil { spec["replicas"] = 1 }
            defaultPodTemplate(&spec)
            object["spec"] = spec
        case ("", "services"):
            object["spec"] = service(object["spec"] ?? [:])
        case ("", "secrets"):
            if object["type"] == nil { object["type"] = "Opaque" }
        case ("", "namespaces"):
            if let name = object["metadata"]?["name"]?.string {
                var labels = object["metadata"]?["labels"] ?? [:]
                labels["kubernetes.io/metadata.name"] = .string(name)
                object["metadata"]?["labels"] = labels
            }
        default:
            break
        }
    }

    private static func defaultPodTemplate(_ spec: inout JSONValue) {
        guard var pod = spec["template"]?["spec"], pod.object != nil else { return }
        if pod["dnsPolicy"] == nil { pod["dnsPolicy"] = "ClusterFirst" }
        if pod["restartPolicy"] == nil { pod["restartPolicy"] = "Always" }
        if pod["securityContext"] == nil { pod["securityContext"] = [:] }
        if pod["terminationGracePeriodSeconds"] == nil { pod["terminationGracePeriodSeconds"] = 30 }
        if pod["schedulerName"] == nil { pod["schedulerName"] = "default-scheduler" }
        for list in ["containers", "initContainers"] {
            if let containers = pod[list]?.array { pod[list] = .array(containers.map(container)) }
        }
        spec["template"]?["spec"] = pod
    }

    private static func container(_ input: JSONValue) -> JSONValue {
        var c = input
        if c["imagePullPolicy"] == nil { c["imagePullPolicy"] = .string(imageTag(c["image"]?.string ?? "") == "latest" ? "Always" : "IfNotPresent") }
        if c["terminationMessagePath"] == nil { c["terminationMessagePath"] = "/dev/termination-log" }
        if c["terminationMessagePolicy"] == nil { c["terminationMessagePolicy"] = "File" }
        // A struct, not a pointer, in the Go types: always written, if only as {}.
        if c["resources"] == nil { c["resources"] = [:] }
        if let ports = c["ports"]?.array {
            c["ports"] = .array(ports.map { port in
                var p = port
                if p["protocol"] == nil { p["protocol"] = "TCP" }
                return p
            })
        }
        return c
    }

    /// The tag of an image reference as the kubelet's parser reads it: `latest` when there is
    /// neither tag nor digest, none when there is a digest only.
    static func imageTag(_ image: String) -> String? {
        let withoutDigest = image.split(separator: "@", maxSplits: 1).first.map(String.init) ?? image
        let lastComponent = withoutDigest.split(separator: "/").last.map(String.init) ?? withoutDigest
        if let colon = lastComponent.lastIndex(of: ":") { return String(lastComponent[lastComponent.index(after: colon)...]) }
        return image.contains("@") ? nil : "latest"
    }

    private static func service(_ input: JSONValue) -> JSONValue {
        var spec = input
        if spec["sessionAffinity"] == nil { spec["sessionAffinity"] = "None" }
        if spec["type"] == nil { spec["type"] = "ClusterIP" }
        if let ports = spec["ports"]?.array {
            spec["ports"] = .array(ports.map { port in
                var p = port
                if p["protocol"] == nil { p["protocol"] = "TCP" }
                if p["targetPort"] == nil || p["targetPort"] == 0 || p["targetPort"] == "" { p["targetPort"] = p["port"] ?? 0 }
                return p
            })
        }
        if spec["internalTrafficPolicy"] == nil, ["ClusterIP", "NodePort", "LoadBalancer"].contains(spec["type"]?.string ?? "") {
            spec["internalTrafficPolicy"] = "Cluster"
        }
        return spec
    }
}
