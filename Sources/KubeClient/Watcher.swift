import Logging
import Metrics

/// What a watcher reports: the whole set after a (re)list, or one change.
public enum WatcherEvent<T: Decodable & Sendable>: Sendable {
    /// The complete current set: replaces everything known before.
    case listed([(key: String, object: T)])
    case applied(key: String, object: T)
    case deleted(key: String, object: T)
    /// An object that does not decode as `T`, skipped (from a list or a watch), and why.
    case skipped(key: String, reason: String)
}

/// Lists, then watches, forever: the loop that runs `WatchMachine`'s commands. It stops only
/// when its task is cancelled.
public struct Watcher<T: Decodable & Sendable>: Sendable {
    let client: KubernetesClient
    let type: ResourceType
    let namespace: String?
    let selectors: Selectors
    let logger: Logger
    /// `timeoutSeconds` for each watch request; the server ends the stream then and the watcher
    /// resumes. Random between 5 and 10 minutes by default, as client-go's reflector picks it, so
    /// that many watchers do not all reconnect at once.
    let watchTimeout: Int
    /// How often the server sends a bookmark on a quiet watch (a real apiserver: about every
    /// minute). A stream silent for one and a half of these is taken as broken and re-opened.
    let bookmarkInterval: Duration
    /// `kube_client_objects_skipped_total{resource}` counts the objects that did not decode.
    let skippedCounter: Counter

    public init(client: KubernetesClient, type: ResourceType, namespace: String? = nil, selectors: Selectors = Selectors(),
                logger: Logger, watchTimeout: Int = Int.random(in: 300...600), bookmarkInterval: Duration = .seconds(60),
                metrics: MetricsFactory = MetricsSystem.factory) {
        skippedCounter = Counter(label: "kube_client_objects_skipped_total", dimensions: [("resource", type.description)], factory: metrics)
        self.client = client
        self.type = type
        self.namespace = namespace
        self.selectors = selectors
        self.logger = logger
        self.watchTimeout = watchTimeout
        self.bookmarkInterval = bookmarkInterval
    }

    /// No event and no bookmark for this long: the connection is broken, whatever TCP says.
    var idleLimit: Duration { bookmarkInterval * 3 / 2 }

    /// An item decoded once, as `T` (nil, with why, when it is not one) and as its identity.
    struct Keyed: Decodable, Sendable {
        var object: T?
        var failure: String?
        var meta: ObjectMetaSummary

        enum CodingKeys: String, CodingKey { case metadata }

        init(from decoder: Decoder) throws {
            do { object = try T(from: decoder) } catch { failure = "\(error)" }
            meta = (try? decoder.container(keyedBy: CodingKeys.self).decode(ObjectMetaSummary.self, forKey: .metadata)) ?? ObjectMetaSummary()
        }
    }

    public func events(machine: WatchMachine = WatchMachine()) -> AsyncStream<WatcherEvent<T>> {
        AsyncStream { continuation in
            let task = Task { await run(machine: machine, continuation) }
            continuation.onTermination = { _ in task.cancel() }
        }
    }

    func run(machine initial: WatchMachine, _ out: AsyncStream<WatcherEvent<T>>.Continuation) async {
        var machine = initial
        var command = machine.step(.start)
        while !Task.isCancelled {
            switch command {
            case .list:
                command = await list(&machine, out)
            case .watch(let version):
                command = await watch(from: version, &machine, out)
            case .wait(let seconds):
                try? await Task.sleep(for: .seconds(seconds))
                command = machine.step(.backoffElapsed)
            case .none:
                command = machine.step(.streamEnded)
            }
        }
        out.finish()
    }

    func list(_ machine: inout WatchMachine, _ out: AsyncStream<WatcherEvent<T>>.Continuation) async -> WatchMachine.Command {
        do {
            let (items, version): ([Keyed], String) = try await client.listAll(type, namespace: namespace, selectors: selectors)
            // One object that does not decode must not keep the rest from being known.
            for item in items where item.object == nil {
                logger.error("skipping an object that does not decode", metadata: ["resource": "\(type)", "key": "\(item.meta.key)",
                                                                                  "error": "\(item.failure ?? "")"])
                skippedCounter.increment()
                out.yield(.skipped(key: item.meta.key, reason: item.failure ?? ""))
            }
            out.yield(.listed(items.compactMap { item in item.object.map { (key: item.meta.key, object: $0) } }))
            return machine.step(.listed(resourceVersion: version))
        } catch {
            logger.warning("list failed; backing off", metadata: ["resource": "\(type)", "error": "\(error)"])
            return machine.step(.listFailed)
        }
    }

    func watch(from version: String, _ machine: inout WatchMachine, _ out: AsyncStream<WatcherEvent<T>>.Continuation) async
        -> WatchMachine.Command
    {
        let opened = ContinuousClock.now
        var events = 0
        do {
            let stream: AsyncThrowingStream<WatchLine<T>, Error> = try await client.watch(
                type, namespace: namespace, selectors: selectors, resourceVersion: version, timeoutSeconds: watchTimeout, idleLimit: idleLimit)
            for try await line in stream {
                events += 1
                switch line.event {
                case .added(let object), .modified(let object):
                    out.yield(.applied(key: line.meta.key, object: object))
                case .deleted(let object):
                    out.yield(.deleted(key: line.meta.key, object: object))
                case .bookmark:
                    break
                case .undecodable(let reason):
                    logger.error("skipping a watch event that does not decode", metadata: ["resource": "\(type)", "error": "\(reason)"])
                    skippedCounter.increment()
                    out.yield(.skipped(key: line.meta.key, reason: reason))
                case .error(let status):
                    if status.code == 410 || status.reason == "Expired" || status.reason == "Gone" {
                        logger.info("watch version too old; listing again", metadata: ["resource": "\(type)"])
                        return machine.step(.tooOld)
                    }
                    logger.warning("watch error event", metadata: ["resource": "\(type)", "status": "\(status.message ?? "")"])
                    return machine.step(.watchFailed)
                }
                if let version = line.meta.resourceVersion, !version.isEmpty { _ = machine.step(.event(resourceVersion: version)) }
            }
            if events == 0, ContinuousClock.now - opened < .seconds(1) {
                logger.warning("watch ended at once with no event; backing off", metadata: ["resource": "\(type)"])
                return machine.step(.streamEndedEarly)
            }
            return machine.step(.streamEnded)
        } catch KubeClientError.gone {
            return machine.step(.tooOld)
        } catch KubeClientError.throttled(_, let retryAfter) {
            logger.info("watch throttled", metadata: ["resource": "\(type)", "retryAfter": "\(retryAfter ?? 0)"])
            return machine.step(.throttled(seconds: retryAfter ?? 1))
        } catch {
            logger.warning("watch failed; backing off", metadata: ["resource": "\(type)", "error": "\(error)"])
            return machine.step(.watchFailed)
        }
    }
}
