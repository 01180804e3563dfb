import Foundation
import Logging

/// Records Kubernetes Events (core/v1) about an object. A repeat of the same event (same
/// object, type, reason and message) raises the existing Event's `count` and
/// `lastTimestamp` instead of creating another object.
public actor EventRecorder {
    public struct InvolvedObject: Codable, Sendable, Hashable {
        public var apiVersion: String
        public var kind: String
        public var name: String
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
        var count: Int
    }

    let client: KubernetesClient
    let component: String
    let logger: Logger
    var recorded: [Key: Recorded] = [:]
    var sequence = 0

    public init(client: KubernetesClient, component: String = "sluice", logger: Logger) {
        self.client = client
        self.component = component
        self.logger = logger
    }

    /// Records an event; failures are logged, never thrown: an Event is not worth failing a reconcile for.
    public func record(_ object: InvolvedObject, type: String, reason: String, message: String, now: Date = Date()) async {
        let key = Key(object: object, type: type, reason: reason, message: message)
        let stamp = RFC3339.format(now)
        if let existing = recorded[key] {
            let count = existing.count + 1
            let patch = Data(#"{"count":\#(count),"lastTimestamp":"\#(stamp)"}"#.utf8)
            do {
                let _: ObjectMetaHolder = try await client.patch(.events, namespace: object.namespace, name: existing.name, .merge(patch))
                recorded[key]?.count = count
                return
            } catch KubeClientError.notFound {
                recorded[key] = nil  // expired by the API server: create a new one
            } catch {
                logger.warning("could not update event", metadata: ["reason": "\(reason)", "error": "\(error)"])
                return
            }
        }
        sequence += 1
        let name = "\(object.name).\(String(UInt64(now.timeIntervalSince1970 * 1e6), radix: 16))\(sequence)"
        let event = CoreEvent(metadata: .init(name: name, namespace: object.namespace), involvedObject: object, reason: reason,
                              message: message, type: type, count: 1, firstTimestamp: stamp, lastTimestamp: stamp,
                              source: .init(component: component), reportingComponent: component)
        do {
            let _: CoreEvent = try await client.create(.events, namespace: object.namespace, event)
            recorded[key] = Recorded(name: name, count: 1)
        } catch {
            logger.warning("could not record event", metadata: ["reason": "\(reason)", "error": "\(error)"])
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
