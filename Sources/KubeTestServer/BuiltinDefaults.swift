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
        for list in ["containers", "initContainers", "ephemeralContainers"] {
            if let containers = pod[list]?.array { pod[list] = .array(containers.map(container)) }
        }
        if let volumes = pod["volumes"]?.array { pod["volumes"] = .array(volumes.map(volume)) }
        spec["template"]?["spec"] = pod
    }

    /// `SetDefaults_Volume` and the sources' own: no source is an emptyDir; file modes 0644.
    private static func volume(_ input: JSONValue) -> JSONValue {
        var v = input
        let sources = (v.object ?? [:]).keys.filter { $0 != "name" }
        if sources.isEmpty { v["emptyDir"] = [:] }
        for source in ["secret", "configMap", "downwardAPI", "projected"] where v[source]?.object != nil && v[source]?["defaultMode"] == nil {
            v[source]?["defaultMode"] = 420
        }
        if let items = v["downwardAPI"]?["items"]?.array {
            v["downwardAPI"]?["items"] = .array(items.map { item in
                var i = item
                if i["fieldRef"]?.object != nil, i["fieldRef"]?["apiVersion"] == nil { i["fieldRef"]?["apiVersion"] = "v1" }
                return i
            })
        }
        if v["hostPath"]?.object != nil, v["hostPath"]?["type"] == nil { v["hostPath"]?["type"] = "" }
        return v
    }

    /// `SetDefaults_Probe` and `SetDefaults_HTTPGetAction`, for a probe or a lifecycle handler.
    private static func handler(_ input: JSONValue, probe: Bool) -> JSONValue {
        var h = input
        if probe {
            for (field, value) in [("timeoutSeconds", 1), ("periodSeconds", 10), ("successThreshold", 1), ("failureThreshold", 3)]
            where h[field] == nil {
                h[field] = .number(Double(value))
            }
            if h["grpc"]?.object != nil, h["grpc"]?["service"] == nil { h["grpc"]?["service"] = "" }
        }
        if h["httpGet"]?.object != nil {
            if h["httpGet"]?["path"] == nil { h["httpGet"]?["path"] = "/" }
            if h["httpGet"]?["scheme"] == nil { h["httpGet"]?["scheme"] = "HTTP" }
        }
        return h
    }

    private static func container(_ input: JSONValue) -> JSONValue {
        var c = input
        if c["imagePullPolicy"] == nil { c["imagePullPolicy"] = .string(imageTag(c["image"]?.string ?? "") == "latest" ? "Always" : "IfNotPresent") }
        if c["terminationMessagePath"] == nil { c["terminationMessagePath"] = "/dev/termination-log" }
        if c["terminationMessagePolicy"] == nil { c["terminationMessagePolicy"] = "File" }
        // A struct, not a pointer, in the Go types: always written, if only as {}.
        if c["resources"] == nil { c["resources"] = [:] }
        for name in ["livenessProbe", "readinessProbe", "startupProbe"] {
            if let probe = c[name], probe.object != nil { c[name] = handler(probe, probe: true) }
        }
        for name in ["postStart", "preStop"] {
            if let hook = c["lifecycle"]?[name], hook.object != nil { c["lifecycle"]?[name] = handler(hook, probe: false) }
        }
        if let env = c["env"]?.array {
            c["env"] = .array(env.map { variable in
                var e = variable
                if e["valueFrom"]?["fieldRef"]?.object != nil, e["valueFrom"]?["fieldRef"]?["apiVersion"] == nil {
                    e["valueFrom"]?["fieldRef"]?["apiVersion"] = "v1"
                }
                return e
            })
        }
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
