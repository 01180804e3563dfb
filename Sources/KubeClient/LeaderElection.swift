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

/// The decisions of leader election, from a Lease and the time: pure, so every case is a test.
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

    /// What to write to hold or take the lease, or to wait.
    public func decide(_ current: Lease?, name: String, namespace: String, now: Date) -> Decision {
        let stamp = RFC3339.format(now, microseconds: true)
        guard var lease = current else {
            return .write(Lease(name: name, namespace: namespace, spec: .init(holderIdentity: identity, leaseDurationSeconds: Int(leaseDuration),
                                                                               acquireTime: stamp, renewTime: stamp, leaseTransitions: 0)))
        }
        let holder = lease.spec.holderIdentity ?? ""
        let renewed = lease.spec.renewTime.flatMap(RFC3339.parse) ?? .distantPast
        let duration = Double(lease.spec.leaseDurationSeconds ?? Int(leaseDuration))
        let expired = now.timeIntervalSince(renewed) >= duration
        if holder == identity {
            lease.spec.renewTime = stamp
            return .write(lease)
        }
        guard holder.isEmpty || expired else { return .wait }
        lease.spec.holderIdentity = identity
        lease.spec.acquireTime = stamp
        lease.spec.renewTime = stamp
        lease.spec.leaseDurationSeconds = Int(leaseDuration)
        lease.spec.leaseTransitions = (lease.spec.leaseTransitions ?? 0) + 1
        return .write(lease)
    }

    /// Whether a leader whose last successful renewal was at `lastRenewal` may still act.
    public func stillLeads(lastRenewal: Date, now: Date) -> Bool {
        now.timeIntervalSince(lastRenewal) < renewDeadline
    }
}

/// Runs leader election: tries to take or renew the Lease every `retryPeriod`; leads only
/// while its last renewal is within the renew deadline, and calls `onStop` the moment it is not.
/// The Lease's resourceVersion at the last renewal is the fence for the leader's writes.
public actor LeaderElector {
    let rules: LeaseRules
    let store: LeaseStore
    let name: String
    let namespace: String
    let retryPeriod: Double
    let logger: Logger
    public private(set) var isLeader = false
    public private(set) var fence: String?
    var lastRenewal: Date = .distantPast

    public init(rules: LeaseRules, store: LeaseStore, name: String, namespace: String, retryPeriod: Double = 2, logger: Logger) {
        self.rules = rules
        self.store = store
        self.name = name
        self.namespace = namespace
        self.retryPeriod = retryPeriod
        self.logger = logger
    }

    /// One round: read, decide, write. Returns whether this elector leads afterwards.
    @discardableResult
    public func attempt(now: Date = Date()) async -> Bool {
        do {
            let current = try await store.get()
            switch rules.decide(current, name: name, namespace: namespace, now: now) {
            case .wait:
                isLeader = false
            case .write(let lease):
                let written = current == nil ? try await store.create(lease) : try await store.update(lease)
                isLeader = true
                fence = written.metadata.resourceVersion
                lastRenewal = now
            }
        } catch {
            logger.info("lease not renewed", metadata: ["lease": "\(namespace)/\(name)", "error": "\(error)"])
            if isLeader, !rules.stillLeads(lastRenewal: lastRenewal, now: now) { isLeader = false }
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
            // A leader checks its deadline between rounds too, so it stops in time even if a write hangs.
            try? await Task.sleep(for: .seconds(retryPeriod))
            if isLeader, !rules.stillLeads(lastRenewal: lastRenewal, now: Date()) {
                isLeader = false
            }
        }
        if was { await onChange(false) }
        if isLeader { await release() }
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
