import ArgumentParser
import Foundation
import KubeClient
import Logging
import Metrics
import Prometheus
import PrometheusClient
import SluiceController
import SluiceCore
import SluiceModel

/// sluiced: watches Rollouts and carries each release from a new template to promotion or
/// rollback.
@main
struct Sluiced: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sluiced",
        abstract: "The Sluice reconcile daemon: watches Rollouts and runs their releases.")

    @Option(help: "A kubeconfig file (default: KUBECONFIG, then ~/.kube/config, then the pod's service account).")
    var kubeconfig: String?

    @Option(help: "The kubeconfig context to use (default: its current context).")
    var context: String?

    @Option(help: "Watch only this namespace (default: all).")
    var namespace: String?

    @Option(help: "Rollouts reconciled at once.")
    var workers = 4

    @Option(help: "The Prometheus that analyses query when their template names none.")
    var prometheusAddress: String?

    @Option(help: "Another Prometheus address templates may name (repeatable).")
    var allowPrometheus: [String] = []

    @Option(help: "A PEM file of the CA that Prometheus's certificate is checked against.")
    var prometheusCA: String?

    @Option(help: "Client-side requests per second to the API server.")
    var qps: Double = 50

    @Option(help: "Client-side request burst to the API server.")
    var burst = 100

    @Option(help: "trace, debug, info, notice, warning, error or critical.")
    var logLevel = "info"

    @Flag(inversion: .prefixedNo, help: "Act only while holding the Lease, so that several replicas can run.")
    var leaderElect = true

    @Option(help: "The leader-election Lease's name.")
    var leaseName = "sluiced"

    @Option(help: "The Lease's namespace (default: POD_NAMESPACE, else sluice-system).")
    var leaseNamespace: String?

    @Option(help: "Seconds a Lease lasts without renewal before another replica may take it.")
    var leaseDuration: Double = 15

    @Option(help: "Seconds a leader may go without renewing before it stops acting.")
    var renewDeadline: Double = 10

    @Option(help: "Seconds between attempts to take or renew the Lease.")
    var retryPeriod: Double = 2

    @Option(help: "This replica's name in the Lease (default: the host name and a random suffix).")
    var identity: String?

    @Option(help: "Where /healthz, /readyz and /metrics are served (host:port; empty: nowhere).")
    var healthAddress = "0.0.0.0:8080"

    func validate() throws {
        guard workers > 0 else { throw ValidationError("--workers must be at least 1") }
        guard leaseDuration > renewDeadline, renewDeadline > retryPeriod, retryPeriod > 0 else {
            throw ValidationError("--lease-duration must exceed --renew-deadline, which must exceed --retry-period (> 0)")
        }
        guard Logger.Level(rawValue: logLevel) != nil else {
            throw ValidationError("--log-level \(logLevel) is not one of trace, debug, info, notice, warning, error, critical")
        }
    }

    func run() async throws {
        let registry = PrometheusCollectorRegistry()
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))
        var logger = Logger(label: "sluiced")
        logger.logLevel = Logger.Level(rawValue: logLevel) ?? .info
        let config: KubeConfig
        do {
            if let kubeconfig {
                config = try KubeConfig.fromFiles([kubeconfig], context: context)
            } else if ProcessInfo.processInfo.environment["KUBERNETES_SERVICE_HOST"] != nil, context == nil {
                config = try KubeConfig.inCluster()
            } else {
                config = try KubeConfig.load(context: context)
            }
        } catch {
            throw ValidationError("no Kubernetes configuration: \(error)")
        }
        let name = identity ?? "\(ProcessInfo.processInfo.hostName)-\(UInt32.random(in: 0...UInt32.max))"
        let client = try KubernetesClient(config: config, logger: logger, qps: qps, burst: burst, userAgent: "sluiced/\(name)")
        // Reachable at all, before anything starts: a clear error, not a hang.
        do {
            let _: ObjectList<Rollout> = try await client.list(.rollouts, namespace: namespace, limit: 1)
        } catch {
            try? await client.shutdown()
            throw ValidationError("the API server at \(config.server) cannot be reached: \(error)")
        }
        let allowlist = PrometheusAllowlist(defaultAddress: prometheusAddress, allowed: allowPrometheus)
        let ca = try prometheusCA.map { path -> Data in
            guard let data = FileManager.default.contents(atPath: path) else { throw ValidationError("--prometheus-ca \(path) cannot be read") }
            return data
        }
        let querier = try PrometheusQuerier(certificateAuthority: ca, admits: allowlist.admits)
        let runner = MeasurementRunner(querier: querier, allowlist: allowlist, secrets: KubernetesSecretReader(client: client))
        let settings = Reconciler.Settings(namespace: namespace, workers: workers, engine: EngineConfig(prometheus: allowlist))
        let leadership = Leadership(client: client, settings: settings, measurements: runner, logger: logger)
        logger.info("sluiced running", metadata: ["server": "\(config.server)", "namespace": "\(namespace ?? "all")", "workers": "\(workers)",
                                                 "identity": "\(name)", "leaderElection": "\(leaderElect)"])
        let running: Task<Void, Never>
        if leaderElect {
            let leaseNS = leaseNamespace ?? ProcessInfo.processInfo.environment["POD_NAMESPACE"] ?? "sluice-system"
            let elector = LeaderElector(rules: LeaseRules(identity: name, leaseDuration: leaseDuration, renewDeadline: renewDeadline),
                                        store: KubernetesLeaseStore(client: client, name: leaseName, namespace: leaseNS),
                                        name: leaseName, namespace: leaseNS, retryPeriod: retryPeriod, logger: logger)
            running = Task { await elector.run { leads in await leadership.set(leads) } }
        } else {
            running = Task { await leadership.set(true) }
        }
        var health: HealthServer?
        if !healthAddress.isEmpty {
            let parts = healthAddress.split(separator: ":", omittingEmptySubsequences: false)
            guard parts.count == 2, let port = Int(parts[1]) else {
                throw ValidationError("--health-address \(healthAddress) is not host:port")
            }
            health = try await HealthServer(host: String(parts[0]), port: port) { path in
                switch path {
                case "/healthz": return .init(status: .ok, contentType: "text/plain", body: "ok\n")
                case "/readyz":
                    let state = await leadership.state
                    return .init(status: state.ready ? .ok : .serviceUnavailable, contentType: "text/plain", body: state.description + "\n")
                case "/metrics": return .init(status: .ok, contentType: "text/plain; version=0.0.4", body: registry.emitToString())
                default: return .init(status: .notFound, contentType: "text/plain", body: "not found\n")
                }
            }
            logger.notice("serving /healthz, /readyz and /metrics", metadata: ["address": "\(parts[0]):\(health?.port ?? port)"])
        }
        await Sluiced.waitForTermination()
        logger.info("stopping")
        await health?.stop()
        running.cancel()
        await running.value
        await leadership.set(false)
        try? await querier.shutdown()
        try? await client.shutdown()
    }

    /// Returns on SIGTERM or SIGINT.
    static func waitForTermination() async {
        await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
            let resumed = Resumed()
            for signalNumber in [SIGTERM, SIGINT] {
                signal(signalNumber, SIG_IGN)
                let source = DispatchSource.makeSignalSource(signal: signalNumber, queue: .main)
                source.setEventHandler { if resumed.once() { done.resume() } }
                source.resume()
                Sources.keep.append(source)
            }
        }
    }

    final class Resumed: @unchecked Sendable {
        let lock = NSLock()
        var done = false
        func once() -> Bool { lock.withLock { defer { done = true }; return !done } }
    }

    enum Sources { nonisolated(unsafe) static var keep: [DispatchSourceSignal] = [] }
}

/// Runs a reconciler while this replica leads, and none while it does not: a fresh one (with
/// fresh caches, every Rollout's pending actions taken as not done) each time it takes over.
actor Leadership {
    let client: KubernetesClient
    let settings: Reconciler.Settings
    let measurements: MeasurementRunner
    let logger: Logger
    var current: Reconciler?
    var leading = false

    /// For /readyz: a leader is ready once its caches filled; a replica standing by is ready too.
    var state: (ready: Bool, description: String) {
        get async {
            guard leading, let current else { return (true, "standing by (not leading)") }
            return await current.synced ? (true, "leading; caches synced") : (false, "leading; caches filling")
        }
    }

    init(client: KubernetesClient, settings: Reconciler.Settings, measurements: MeasurementRunner, logger: Logger) {
        self.client = client
        self.settings = settings
        self.measurements = measurements
        self.logger = logger
    }

    func set(_ leading: Bool) async {
        self.leading = leading
        if leading, current == nil {
            logger.info("leading: reconciling")
            let reconciler = Reconciler(client: client, settings: settings, measurements: measurements, logger: logger)
            current = reconciler
            if !(await reconciler.start()) {
                logger.error("the caches did not fill within a minute: is the API server answering, and are Sluice's CRDs installed?")
            }
        } else if !leading, let reconciler = current {
            logger.info("not leading: standing by")
            current = nil
            await reconciler.stop()
        }
    }
}
