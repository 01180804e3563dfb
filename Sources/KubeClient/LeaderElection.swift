import Foundation
import Logging

/// A `coordination.k8s.io/v1` Lease, the fields leader election uses.
public struct Lease: Codable, Sendable, Hashable {
    public var apiVersion = "coordination.k8s.io/v1"
    public var kind = "Lease"
    public var metadata: Metadata
    public var spec: Spec

    public struct Metadata: Codable, Sendable, Hashable {
        public var name: String
        public var namespace: String?
        public var resourceVersion: String?
    }

    public struct Spec: Codable, Sendable, Hashable {
        public var holderIdentity: String?
        public var leaseDurationSeconds: Int?
        public var acquireTime: String?
        public var renewTime: String?
        public var leaseTransitions: Int?

        public init(holderIdentity: String? = nil, leaseDurationSeconds: Int? = nil, acquireTime: String? = nil, renewTime: String? = nil,
                    leaseTransitions: Int? = nil) {
            self.holderIdentity = holderIdentity
            self.leaseDurationSeconds = leaseDurationSeconds
            self.acquireTime = acquireTime
            self.renewTime = renewTime
            self.leaseTransitions = leaseTransitions
        }
    }

    public init(name: String, namespace: String, spec: Spec, resourceVersion: String? = nil) {
        metadata = Metadata(name: name, namespace: namespace, resourceVersion: resourceVersion)
        self.spec = spec
    }
}

/// Reads and writes the Lease; `update` fails with a conflict when the resourceVersion moved.
public protocol LeaseStore: Sendable {
    func get() async throws -> Lease?
    func create(_ lease: Lease) async throws -> Lease
    func update(_ lease: Lease) async throws -> Lease
}

/// The decisions of leader election, from a Lease and how long it has gone unchanged: pure, so
/// every case is a test. As client-go judges it, a lease expires by this process's own clock —
/// the time since it last saw the record change — never by comparing the holder's `renewTime`
/// with the local wall clock, which clock skew would make lie.
public struct LeaseRules: Sendable, Hashable {
    public var identity: String
    public var leaseDuration: Double
    /// A leader that has not renewed for this long stops acting, well before others may take over.
    public var renewDeadline: Double

    public init(identity: String, leaseDuration: Double = 15, renewDeadline: Double = 10) {
        self.identity = identity
        self.leaseDuration = leaseDuration
        self.renewDeadline = renewDeadline
    }

    public enum Decision: Sendable, Hashable {
        /// Write this Lease (create or update at the read resourceVersion).
        case write(Lease)
        /// Someone else holds a live lease: wait.
        case wait
    }

    /// What to write to hold or take the lease, or to wait. `unchangedFor`: seconds, on this
    /// process's monotonic clock, since it first saw the lease as it is now. `now` only stamps.
    public func decide(_ current: Lease?, unchangedFor: Double, name: String, namespace: String, now: Date) -> Decision {
        let stamp = RFC3339.format(now, microseconds: true)
        guard var lease = current else {
            return .write(Lease(name: name, namespace: namespace, spec: .init(holderIdentity: identity, leaseDurationSeconds: Int(leaseDuration),
                                                                               acquireTime: stamp, renewTime: stamp, leaseTransitions: 0)))
        }
        let holder = lease.spec.holderIdentity ?? ""
        let duration = Double(lease.spec.leaseDurationSeconds ?? Int(leaseDuration))
        if holder == identity {
            lease.spec.renewTime = stamp
            return .write(lease)
        }
        guard holder.isEmpty || unchangedFor >= duration else { return .wait }
        lease.spec.holderIdentity = identity
        lease.spec.acquireTime = stamp
        lease.spec.renewTime = stamp
        lease.spec.leaseDurationSeconds = Int(leaseDuration)
        lease.spec.leaseTransitions = (lease.spec.leaseTransitions ?? 0) + 1
        return .write(lease)
    }

    /// Whether a leader whose last successful renewal was `sinceRenewal` seconds ago may still act.
    public func stillLeads(sinceRenewal: Double) -> Bool { sinceRenewal < renewDeadline }
}

/// Runs leader election: tries to take or renew the Lease every `retryPeriod`; leads only
/// while its last renewal is within the renew deadline, and calls `onChange(false)` the moment
/// it is not. Every round — the read and the write — must finish within what is left of the
/// renew deadline, so a hung request cannot keep a leader past it. Times are this process's
/// monotonic clock. The Lease's resourceVersion at the last renewal is the fence for the
/// leader's writes.
public actor LeaderElector {
    let rules: LeaseRules
    let store: LeaseStore
    let name: String
    let namespace: String
    let retryPeriod: Double
    let logger: Logger
    public private(set) var isLeader = false
    public private(set) var fence: String?
    var lastRenewal: ContinuousClock.Instant?
    /// The lease as last read, and when (locally) it was first seen so.
    var observed: Lease.Spec?
    var observedAt: ContinuousClock.Instant?

    public init(rules: LeaseRules, store: LeaseStore, name: String, namespace: String, retryPeriod: Double = 2, logger: Logger) {
        self.rules = rules
        self.store = store
        self.name = name
        self.namespace = namespace
        self.retryPeriod = retryPeriod
        self.logger = logger
    }

    struct DeadlinePassed: Error {}

    /// `body`, or `DeadlinePassed` once `seconds` have gone by (the body is cancelled).
    static func within<T: Sendable>(_ seconds: Double, _ body: @escaping @Sendable () async throws -> T) async throws -> T {
        guard seconds > 0 else { throw DeadlinePassed() }
        return try await withThrowingTaskGroup(of: T.self) { group in
            group.addTask { try await body() }
            group.addTask {
                try await Task.sleep(for: .seconds(seconds))
                throw DeadlinePassed()
            }
            defer { group.cancelAll() }
            return try await group.next()!
        }
    }

    func seconds(_ from: ContinuousClock.Instant?, _ to: ContinuousClock.Instant) -> Double {
        guard let from else { return .infinity }
        return (to - from).inSeconds
    }

    /// One round: read, decide, write, within the renew deadline. Returns whether this elector
    /// leads afterwards. `at` is the local monotonic time (tests pass their own).
    @discardableResult
    public func attempt(at local: ContinuousClock.Instant = .now, wall: Date = Date()) async -> Bool {
        // A leader has what is left of its deadline; a candidate, a whole one.
        let budget = isLeader ? rules.renewDeadline - seconds(lastRenewal, local) : rules.renewDeadline
        let started = ContinuousClock.now
        do {
            let store = self.store
            let current = try await Self.within(budget) { try await store.get() }
            if current?.spec != observed || observedAt == nil {
                observed = current?.spec
                observedAt = local
            }
            switch rules.decide(current, unchangedFor: seconds(observedAt, local), name: name, namespace: namespace, now: wall) {
            case .wait:
                isLeader = false
            case .write(let lease):
                let left = budget - seconds(started, .now)
                let written = try await Self.within(left) { current == nil ? try await store.create(lease) : try await store.update(lease) }
                isLeader = true
                fence = written.metadata.resourceVersion
                lastRenewal = local
                observed = written.spec
                observedAt = local
            }
        } catch {
            let reason = error is DeadlinePassed ? "no answer within the renew deadline" : "\(error)"
            logger.info("lease not renewed", metadata: ["lease": "\(namespace)/\(name)", "error": "\(reason)"])
            let now = local + (ContinuousClock.now - started)
            if isLeader, !rules.stillLeads(sinceRenewal: seconds(lastRenewal, now)) { isLeader = false }
        }
        return isLeader
    }

    /// Runs rounds until cancelled; `onChange` hears every change of leadership.
    public func run(onChange: @Sendable (Bool) async -> Void) async {
        var was = false
        while !Task.isCancelled {
            let leads = await attempt()
            if leads != was {
                was = leads
                await onChange(leads)
            }
            try? await Task.sleep(for: .seconds(retryPeriod))
            // A leader checks its deadline between rounds too, and is told at once.
            if isLeader, !rules.stillLeads(sinceRenewal: seconds(lastRenewal, .now)) { isLeader = false }
            if was, !isLeader {
                was = false
                await onChange(false)
            }
        }
        if was {
            await onChange(false)
            // Not in this cancelled task: its requests would be cancelled before they are sent.
            await Task { await self.release() }.value
        }
    }

    /// Gives the lease up (graceful shutdown): the holder cleared, so a successor takes over at
    /// once instead of waiting out the lease. Only a lease this elector still holds is touched.
    public func release() async {
        isLeader = false
        do {
            guard var lease = try await store.get(), lease.spec.holderIdentity == rules.identity else { return }
            lease.spec.holderIdentity = nil
            lease.spec.leaseDurationSeconds = 1
            lease.spec.renewTime = RFC3339.format(Date(), microseconds: true)
            _ = try await store.update(lease)
            logger.info("lease released", metadata: ["lease": "\(namespace)/\(name)"])
        } catch {
            logger.info("lease not released", metadata: ["lease": "\(namespace)/\(name)", "error": "\(error)"])
        }
    }
}

/// The Lease through the API server.
public struct KubernetesLeaseStore: LeaseStore {
    let client: KubernetesClient
    let name: String
    let namespace: String

    public init(client: KubernetesClient, name: String, namespace: String) {
        self.client = client
        self.name = name
        self.namespace = namespace
    }

    /// Read on the urgent path too: a renewal never waits behind ordinary traffic.
    public func get() async throws -> Lease? {
        do { return try await client.get(.leases, namespace: namespace, name: name, urgent: true) } catch KubeClientError.notFound { return nil }
    }

    public func create(_ lease: Lease) async throws -> Lease { try await client.create(.leases, namespace: namespace, lease, urgent: true) }

    public func update(_ lease: Lease) async throws -> Lease {
        try await client.update(.leases, namespace: namespace, name: name, lease, urgent: true)
    }
}
