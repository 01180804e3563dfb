import Foundation
import Logging

/// Records Kubernetes Events (core/v1) about an object, as client-go's recorder does:
/// - a repeat of the same event (same object, type, reason and message) raises the existing
///   Event's `count` and `lastTimestamp` instead of creating another object; what is remembered
///   for that is bounded (least recently used forgotten first, 4096 by default);
/// - calls for the same event are carried out one after another, so two at once never create two;
/// - a spam filter per object (and component): a burst of 25 Events, then one per 5 minutes;
///   the rest are dropped (logged at debug);
/// - an Event about a cluster-scoped object (no namespace) goes to `default`.
public actor EventRecorder {
    public struct InvolvedObject: Codable, Sendable, Hashable {
        public var apiVersion: String
        public var kind: String
        public var name: String
        /// Empty for a cluster-scoped object.
        public var namespace: String
        public var uid: String?

        public init(apiVersion: String, kind: String, name: String, namespace: String, uid: String? = nil) {
            self.apiVersion = apiVersion
            self.kind = kind
            self.name = name
            self.namespace = namespace
            self.uid = uid
        }
    }

    struct Key: Hashable {
        var object: InvolvedObject
        var type: String
        var reason: String
        var message: String
    }

    struct Recorded {
        var name: String
        var namespace: String
        var count: Int
        var lastUsed: Int
    }

    /// A token bucket: `burst` Events at once, then one per `refill` seconds.
    struct Bucket {
        var tokens: Double
        var at: Date
    }

    let client: KubernetesClient
    let component: String
    let logger: Logger
    let maxRemembered: Int
    let burst: Double
    let refill: TimeInterval
    var recorded: [Key: Recorded] = [:]
    var buckets: [InvolvedObject: Bucket] = [:]
    var inflight: [Key: Task<Void, Never>] = [:]
    var sequence = 0
    var uses = 0
    /// Events dropped by the spam filter so far.
    public private(set) var dropped = 0

    public init(client: KubernetesClient, component: String = "sluice", logger: Logger, maxRemembered: Int = 4096,
                burst: Int = 25, refill: TimeInterval = 300) {
        self.client = client
        self.component = component
        self.logger = logger
        self.maxRemembered = maxRemembered
        self.burst = Double(burst)
        self.refill = refill
    }

    /// Records an event; failures are logged, never thrown: an Event is not worth failing a reconcile for.
    public func record(_ object: InvolvedObject, type: String, reason: String, message: String, now: Date = Date()) async {
        guard allow(object, now: now) else {
            dropped += 1
            logger.debug("event dropped by the spam filter", metadata: ["object": "\(object.kind)/\(object.name)", "reason": "\(reason)"])
            return
        }
        let key = Key(object: object, type: type, reason: reason, message: message)
        // One after another for the same event: the second sees what the first created.
        let previous = inflight[key]
        let task = Task { [previous] in
            await previous?.value
            await self.send(key, now: now)
        }
        inflight[key] = task
        await task.value
        if inflight[key] == task { inflight[key] = nil }
    }

    /// The spam filter's decision for one more Event about `object`.
    func allow(_ object: InvolvedObject, now: Date) -> Bool {
        var bucket = buckets[object] ?? Bucket(tokens: burst, at: now)
        bucket.tokens = min(burst, bucket.tokens + max(0, now.timeIntervalSince(bucket.at)) / refill)
        bucket.at = now
        let allowed = bucket.tokens >= 1
        if allowed { bucket.tokens -= 1 }
        buckets[object] = bucket
        if buckets.count > maxRemembered, let oldest = buckets.min(by: { $0.value.at < $1.value.at })?.key { buckets[oldest] = nil }
        return allowed
    }

    func send(_ key: Key, now: Date) async {
        let stamp = RFC3339.format(now)
        uses += 1
        if let existing = recorded[key] {
            let count = existing.count + 1
            let patch = Data(#"{"count":\#(count),"lastTimestamp":"\#(stamp)"}"#.utf8)
            do {
                let _: ObjectMetaHolder = try await client.patch(.events, namespace: existing.namespace, name: existing.name, .merge(patch))
                recorded[key]?.count = count
                recorded[key]?.lastUsed = uses
                return
            } catch KubeClientError.notFound {
                recorded[key] = nil  // expired by the API server: create a new one
            } catch {
                logger.warning("could not update event", metadata: ["reason": "\(key.reason)", "error": "\(error)"])
                return
            }
        }
        let object = key.object
        let namespace = object.namespace.isEmpty ? "default" : object.namespace
        sequence += 1
        let name = "\(object.name).\(String(UInt64(now.timeIntervalSince1970 * 1e6), radix: 16))\(sequence)"
        let event = CoreEvent(metadata: .init(name: name, namespace: namespace), involvedObject: object, reason: key.reason,
                              message: key.message, type: key.type, count: 1, firstTimestamp: stamp, lastTimestamp: stamp,
                              source: .init(component: component), reportingComponent: component)
        do {
            let _: CoreEvent = try await client.create(.events, namespace: namespace, event)
            recorded[key] = Recorded(name: name, namespace: namespace, count: 1, lastUsed: uses)
            if recorded.count > maxRemembered, let oldest = recorded.min(by: { $0.value.lastUsed < $1.value.lastUsed })?.key {
                recorded[oldest] = nil
            }
        } catch {
            logger.warning("could not record event", metadata: ["reason": "\(key.reason)", "error": "\(error)"])
        }
    }

    struct CoreEvent: Codable, Sendable {
        var apiVersion = "v1"
        var kind = "Event"
        var metadata: Meta
        var involvedObject: InvolvedObject
        var reason: String
        var message: String
        var type: String
        var count: Int
        var firstTimestamp: String
        var lastTimestamp: String
        var source: Source
        var reportingComponent: String

        struct Meta: Codable, Sendable { var name: String; var namespace: String }
        struct Source: Codable, Sendable { var component: String }
    }
}

/// Any object, read only for its metadata.
struct ObjectMetaHolder: Decodable, Sendable {
    var metadata: ObjectMetaSummary?
}
