import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import Synchronization

/// The identity and version of an object in a watch event.
public struct ObjectMetaSummary: Decodable, Sendable, Hashable {
    public var name: String?
    public var namespace: String?
    public var resourceVersion: String?

    public init(name: String? = nil, namespace: String? = nil, resourceVersion: String? = nil) {
        self.name = name
        self.namespace = namespace
        self.resourceVersion = resourceVersion
    }

    /// `namespace/name`, or `name` for cluster-scoped objects.
    public var key: String { namespace.map { "\($0)/\(name ?? "")" } ?? (name ?? "") }
}

/// A decoded watch line: the event and the identity of its object.
public struct WatchLine<T: Decodable & Sendable>: Sendable {
    public var event: WatchEvent<T>
    public var meta: ObjectMetaSummary
}

extension KubernetesClient {
    /// Opens a watch. A non-2xx answer throws (HTTP 410 as `.gone`); the stream then yields
    /// events until the server ends it (`timeoutSeconds`) or the connection breaks (an error).
    /// With `idleLimit`, a stream that brings nothing — no event, no bookmark — for that long
    /// ends with `.transport`: a half-open connection is noticed, not waited on for ever.
    public func watch<T: Decodable & Sendable>(_ type: ResourceType, namespace: String? = nil, selectors: Selectors = Selectors(),
                                               resourceVersion: String?, timeoutSeconds: Int? = nil, allowBookmarks: Bool = true,
                                               sendInitialEvents: Bool = false, idleLimit: Duration? = nil,
                                               as: T.Type = T.self) async throws(KubeClientError) -> AsyncThrowingStream<WatchLine<T>, Error> {
        var query = selectors.query + [("watch", "1")]
        if let resourceVersion { query.append(("resourceVersion", resourceVersion)) }
        // A watch-list: the current objects first, then a bookmark marking their end.
        if sendInitialEvents { query += [("sendInitialEvents", "true"), ("resourceVersionMatch", "NotOlderThan")] }
        if allowBookmarks { query.append(("allowWatchBookmarks", "true")) }
        if let timeoutSeconds { query.append(("timeoutSeconds", String(timeoutSeconds))) }
        let path = type.path(namespace: namespace)
        let request = try await request(.GET, path, query: query, body: nil, contentType: nil)
        let response: HTTPClientResponse
        do {
            response = try await watches.execute(request, timeout: .hours(24))
        } catch {
            throw .transport("watch \(path): \(error)")
        }
        logWarnings(response.headers, method: .GET, path: path)
        let code = Int(response.status.code)
        guard (200..<300).contains(code) else {
            var buffer = (try? await response.body.collect(upTo: 1 << 20)) ?? ByteBuffer()
            throw KubeClientError.from(code: code, body: Data(buffer.readBytes(length: buffer.readableBytes) ?? []),
                                       retryAfter: response.headers.first(name: "Retry-After"))
        }
        return AsyncThrowingStream { continuation in
            let lastData = Instant()
            let task = Task {
                var pending: [UInt8] = []
                do {
                    for try await chunk in response.body {
                        lastData.touch()
                        pending += chunk.readableBytesView
                        while let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
                            let line = Array(pending[..<newline])
                            pending.removeSubrange(...newline)
                            if line.allSatisfy({ $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\r") }) { continue }
                            continuation.yield(try KubernetesClient.decodeWatchLine(Data(line), as: T.self))
                        }
                    }
                    if !pending.isEmpty { continuation.yield(try KubernetesClient.decodeWatchLine(Data(pending), as: T.self)) }
                    continuation.finish()
                } catch {
                    continuation.finish(throwing: error)
                }
            }
            let watchdog = idleLimit.map { limit in
                Task {
                    while !Task.isCancelled {
                        try? await Task.sleep(for: min(limit / 4, .seconds(5)))
                        guard ContinuousClock.now - lastData.value > limit else { continue }
                        continuation.finish(throwing: KubeClientError.transport("watch \(path): nothing received for \(limit); the connection is taken as broken"))
                        task.cancel()
                        return
                    }
                }
            }
            continuation.onTermination = { _ in
                task.cancel()
                watchdog?.cancel()
            }
        }
    }

    static func decodeWatchLine<T: Decodable & Sendable>(_ line: Data, as: T.Type) throws -> WatchLine<T> {
        let decoder = JSONDecoder()
        let head: WatchHead
        do { head = try decoder.decode(WatchHead.self, from: line) } catch {
            throw KubeClientError.decoding("a watch line is not an event: \(String(decoding: line.prefix(200), as: UTF8.self))")
        }
        let meta = head.object.metadata ?? ObjectMetaSummary()
        switch head.type {
        case "ERROR":
            return WatchLine(event: .error(try decoder.decode(WatchBody<Status>.self, from: line).object), meta: meta)
        case "BOOKMARK":
            return WatchLine(event: .bookmark(resourceVersion: meta.resourceVersion ?? ""), meta: meta)
        case "ADDED", "MODIFIED", "DELETED":
            let object: T
            do { object = try decoder.decode(WatchBody<T>.self, from: line).object } catch {
                return WatchLine(event: .undecodable("\(head.type) \(meta.key) is not a \(T.self): \(error)"), meta: meta)
            }
            let event: WatchEvent<T> = head.type == "ADDED" ? .added(object) : head.type == "MODIFIED" ? .modified(object) : .deleted(object)
            return WatchLine(event: event, meta: meta)
        default:
            throw KubeClientError.decoding("unknown watch event type \(head.type)")
        }
    }
}

struct WatchHead: Decodable {
    var type: String
    var object: Meta
    struct Meta: Decodable { var metadata: ObjectMetaSummary? }
}

struct WatchBody<O: Decodable>: Decodable { var object: O }

/// A moment shared between a stream's reader and its watchdog.
final class Instant: Sendable {
    private let instant = Mutex(ContinuousClock.now)
    var value: ContinuousClock.Instant { instant.withLock { $0 } }
    func touch() { instant.withLock { $0 = .now } }
}
