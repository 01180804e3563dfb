import Foundation
import KubeClient
import KubeTestServer
import Logging
import SluiceModel
import SluiceTestKit
import Testing

/// The simulated Deployment and ReplicaSet controllers held to the real ones, as recorded in
/// ../shared/fixtures/kubernetes/deployment-controller: asynchronous status, the rolling update
/// step by step, proportional scaling while paused, conditions, revisions and history.
@Suite struct DeploymentSimulatorTests {
    static func deployment(image: String, replicas: Int = 4, surge: JSONValue = "25%", unavailable: JSONValue = "25%",
                           pods: String? = nil, deadline: Int = 15) -> JSONValue {
        var template: JSONValue = ["metadata": ["labels": ["app": "web"]], "spec": ["containers": [["name": "app", "image": .string(image)]]]]
        if let pods { template["metadata"]?["annotations"] = [APIStore.simulateAnnotation: .string(pods)] }
        return ["apiVersion": "apps/v1", "kind": "Deployment", "metadata": ["name": "web"],
                "spec": ["replicas": .number(Double(replicas)), "progressDeadlineSeconds": .number(Double(deadline)),
                         "selector": ["matchLabels": ["app": "web"]],
                         "strategy": ["type": "RollingUpdate", "rollingUpdate": ["maxSurge": surge, "maxUnavailable": unavailable]],
                         "template": template]]
    }

    static func withServer(_ body: (KubernetesClient, KubeTestServer) async throws -> Void) async throws {
        try await SemanticsTests.withServer { client, server in
            await server.store.setControllerStep(0.05)
            try await body(client, server)
        }
    }

    /// Waits (up to 20 s) for the Deployment to satisfy `condition`.
    static func until(_ client: KubernetesClient, _ condition: (JSONValue) -> Bool) async throws -> JSONValue {
        for _ in 0..<400 {
            let d: JSONValue = try await client.get(.deployments, namespace: "shop", name: "web")
            if condition(d) { return d }
            try await Task.sleep(for: .milliseconds(50))
        }
        Issue.record("the Deployment never got there")
        return try await client.get(.deployments, namespace: "shop", name: "web")
    }

    static func condition(_ d: JSONValue, _ type: String) -> JSONValue? {
        (d["status"]?["conditions"]?.array ?? []).first { $0["type"]?.string == type }
    }

    static func isPaused(_ d: JSONValue) -> Bool { condition(d, "Progressing")?["reason"] == "DeploymentPaused" }

    static func complete(_ d: JSONValue) -> Bool {
        d["status"]?["observedGeneration"] == d["metadata"]?["generation"]
            && (d["status"]?["conditions"]?.array ?? []).contains { $0["type"] == "Progressing" && $0["reason"] == "NewReplicaSetAvailable" }
            && d["status"]?["updatedReplicas"] == d["spec"]?["replicas"] && d["status"]?["availableReplicas"] == d["spec"]?["replicas"]
            && d["status"]?["replicas"] == d["spec"]?["replicas"]
    }

    /// The sizes of the first two ReplicaSets each time one of them changed: how their steps interleave.
    static func pairs(_ events: [(name: String, size: Int)]) -> [[Int]] {
        var sizes: [String: Int] = [:]
        var order: [String] = []
        var out: [[Int]] = []
        for (name, size) in events {
            if sizes[name] == nil { order.append(name) }
            sizes[name] = size
            let pair = order.prefix(2).map { sizes[$0] ?? 0 }
            if order.count >= 2, out.last != pair { out.append(pair) }
        }
        return out
    }

    static func recordedPairs(_ file: String) throws -> [[Int]] {
        let events = try JSONDecoder().decode([JSONValue].self, from: Data(contentsOf: RepositoryFiles.sharedFixtures
            .appendingPathComponent("kubernetes/deployment-controller/\(file).json")))
        return pairs(events.compactMap { e in
            guard e["kind"] == "ReplicaSet", let name = e["name"]?.string, let size = e["spec.replicas"]?.number else { return nil }
            return (name, Int(size))
        })
    }

    /// What a fixture recorded: each ReplicaSet's sizes in order, and the Progressing reasons.
    static func recorded(_ file: String) throws -> (sizes: [[Int]], reasons: [String]) {
        let events = try JSONDecoder().decode([JSONValue].self, from: Data(contentsOf: RepositoryFiles.sharedFixtures
            .appendingPathComponent("kubernetes/deployment-controller/\(file).json")))
        var sizes: [String: [Int]] = [:]
        var order: [String] = []
        var reasons: [String] = []
        for e in events {
            if e["kind"] == "ReplicaSet", let name = e["name"]?.string, let size = e["spec.replicas"]?.number {
                if sizes[name] == nil { order.append(name) }
                if sizes[name]?.last != Int(size) { sizes[name, default: []].append(Int(size)) }
            }
            if e["kind"] == "Deployment", let reason = (e["conditions"]?.array ?? []).first(where: { $0.array?.first == "Progressing" })?.array?[2].string,
               reasons.last != reason {
                reasons.append(reason)
            }
        }
        return (order.map { sizes[$0]! }, reasons)
    }

    /// The Deployment statuses a recording holds, in order.
    static func recordedStatuses(_ file: String) throws -> [JSONValue] {
        try JSONDecoder().decode([JSONValue].self, from: Data(contentsOf: RepositoryFiles.sharedFixtures
            .appendingPathComponent("kubernetes/deployment-controller/\(file).json")))
            .filter { $0["kind"] == "Deployment" }.compactMap { $0["status"] }
    }

    @Test(arguments: [("rolling-25-25", JSONValue.string("25%"), JSONValue.string("25%")), ("rolling-surge1-unavail0", 1, 0)])
    func aRollingUpdateStepsAsTheRealControllerSteps(file: String, surge: JSONValue, unavailable: JSONValue) async throws {
        let expected: [[Int]] = try Self.recorded(file).sizes
        let expectedPairs = try Self.recordedPairs(file)
        let expectedReasons = Array(try Self.recorded(file).reasons.drop { $0 == "NewReplicaSetAvailable" })
        try await Self.withServer { client, _ in
            let _: JSONValue = try await client.create(.deployments, namespace: "shop", Self.deployment(image: "web:1", surge: surge, unavailable: unavailable))
            let rolled = try await Self.until(client, Self.complete)
            #expect(rolled["metadata"]?["annotations"]?["deployment.kubernetes.io/revision"] == "1")
            let start: ObjectList<JSONValue> = try await client.list(.replicaSets, namespace: "shop")
            let stream: AsyncThrowingStream<WatchLine<JSONValue>, Error> = try await client.watch(
                .replicaSets, namespace: "shop", resourceVersion: start.metadata.resourceVersion, timeoutSeconds: 30, allowBookmarks: false)
            let sizes = Task {
                var sizes: [String: [Int]] = [:]
                var order: [String] = []
                var events: [(name: String, size: Int)] = []
                for (name, rs) in start.items.map({ ($0["metadata"]!["name"]!.string!, $0) }) {
                    order.append(name)
                    sizes[name] = [Int(rs["spec"]?["replicas"]?.number ?? 0)]
                }
                for try await line in stream {
                    let rs: JSONValue
                    switch line.event {
                    case .added(let o), .modified(let o): rs = o
                    default: continue
                    }
                    let name = rs["metadata"]?["name"]?.string ?? ""
                    let size = Int(rs["spec"]?["replicas"]?.number ?? 0)
                    events.append((name, size))
                    if sizes[name] == nil { order.append(name) }
                    if sizes[name]?.last != size { sizes[name, default: []].append(size) }
                    if sizes.count == 2, sizes.values.contains(where: { $0.last == 0 }), sizes.values.contains(where: { $0.last == 4 }) { break }
                }
                return (order.map { sizes[$0] ?? [] }, Self.pairs(start.items.map { ($0["metadata"]!["name"]!.string!, Int($0["spec"]?["replicas"]?.number ?? 0)) } + events))
            }
            let deployments: AsyncThrowingStream<WatchLine<JSONValue>, Error> = try await client.watch(
                .deployments, namespace: "shop", resourceVersion: rolled["metadata"]!["resourceVersion"]!.string!, timeoutSeconds: 30, allowBookmarks: false)
            let reasons = Task {
                var reasons: [String] = []
                var statuses: [JSONValue] = []
                for try await line in deployments {
                    guard case .modified(let d) = line.event else { continue }
                    statuses.append(d["status"] ?? .null)
                    if let reason = Self.condition(d, "Progressing")?["reason"]?.string, reasons.last != reason, !(reasons.isEmpty && reason == "NewReplicaSetAvailable") {
                        reasons.append(reason)
                    }
                    if reasons.last == "NewReplicaSetAvailable" { break }
                }
                return (reasons, statuses)
            }
            // The write's answer carries no new status: the controller acts afterwards.
            let patched: JSONValue = try await client.patch(.deployments, namespace: "shop", name: "web",
                                                            .merge(Data(#"{"spec":{"template":{"spec":{"containers":[{"name":"app","image":"web:2"}]}}}}"#.utf8)))
            #expect(patched["status"]?["observedGeneration"] == rolled["metadata"]?["generation"], "observedGeneration lags generation")
            let (seen, seenPairs) = try await sizes.value
            #expect(seen == expected, "each ReplicaSet's sizes, in order")
            #expect(seenPairs == expectedPairs, "and how the two ReplicaSets' steps interleave")
            let (seenReasons, statuses) = try await reasons.value
            #expect(seenReasons == expectedReasons, "the Progressing reasons, in order")
            // Status as the real controller writes it: zeros left out, terminatingReplicas always
            // there, and unavailable counted as calculateStatus counts it — what the ReplicaSets are
            // sized for, surge included, less what is available — so that, as in the recording, it
            // exceeds the Deployment's replicas less the available ones while a surge is up.
            let counts = ["replicas", "updatedReplicas", "readyReplicas", "availableReplicas", "unavailableReplicas"]
            #expect(statuses.allSatisfy { $0["terminatingReplicas"] == 0 }, "\(statuses)")
            #expect(statuses.allSatisfy { st in counts.allSatisfy { st[$0] != 0 } }, "zero counts are omitted")
            func surgeCounted(_ st: JSONValue) -> Bool {
                Int(st["unavailableReplicas"]?.number ?? 0) > 4 - Int(st["availableReplicas"]?.number ?? 0)
            }
            #expect(try Self.recordedStatuses(file).contains(where: surgeCounted), "the recording counts the surge")
            #expect(statuses.contains(where: surgeCounted), "so does the simulator: \(statuses.map { st in counts.map { Int(st[$0]?.number ?? 0) } })")
            let done = try await Self.until(client, Self.complete)
            #expect(done["metadata"]?["annotations"]?["deployment.kubernetes.io/revision"] == "2")
            #expect(done["status"]?["conditions"]?.array?.contains { $0["type"] == "Available" && $0["status"] == "True" } == true)
            let sets: ObjectList<JSONValue> = try await client.list(.replicaSets, namespace: "shop")
            let hashes = sets.items.compactMap { $0["metadata"]?["labels"]?["pod-template-hash"]?.string }
            #expect(hashes.count == 2 && hashes.allSatisfy { $0.allSatisfy { "456789bcdf".contains($0) } }, "hashes written as the real controller writes them")
        }
    }

    /// The fixture `paused-midrollout-scale`: paused with 2 of 4 updated, then scaled 4 → 6:
    /// the 2 new replicas are spread over both ReplicaSets in proportion.
    @Test func aPausedDeploymentScalesInProportion() async throws {
        let expected: [Int] = try Self.recorded("paused-midrollout-scale").sizes.map { $0.last ?? -1 }
        try await Self.withServer { client, _ in
            let _: JSONValue = try await client.create(.deployments, namespace: "shop", Self.deployment(image: "web:1", surge: 1))
            _ = try await Self.until(client, Self.complete)
            // The new pods never become ready: the rollout stops at 3 old, 2 new, as recorded when it was paused.
            let _: JSONValue = try await client.patch(.deployments, namespace: "shop", name: "web", .merge(Data("""
                {"spec":{"template":{"metadata":{"annotations":{"\(APIStore.simulateAnnotation)":"never"}},"spec":{"containers":[{"name":"app","image":"web:2"}]}}}}
                """.utf8)))
            _ = try await Self.until(client) { $0["status"]?["updatedReplicas"] == 2 && $0["status"]?["replicas"] == 5 }
            let _: JSONValue = try await client.patch(.deployments, namespace: "shop", name: "web", .merge(Data(#"{"spec":{"paused":true}}"#.utf8)))
            let paused = try await Self.until(client, Self.isPaused)
            let progressing = Self.condition(paused, "Progressing")
            #expect(progressing?["status"] == "Unknown")
            let _: JSONValue = try await client.patch(.deployments, namespace: "shop", name: "web", .merge(Data(#"{"spec":{"replicas":6}}"#.utf8)))
            _ = try await Self.until(client) { $0["status"]?["replicas"] == 7 }
            let sets: ObjectList<JSONValue> = try await client.list(.replicaSets, namespace: "shop")
            let byRevision = sets.items.sorted { ($0["metadata"]?["annotations"]?["deployment.kubernetes.io/revision"]?.string ?? "")
                < ($1["metadata"]?["annotations"]?["deployment.kubernetes.io/revision"]?.string ?? "") }
            let got = byRevision.map { Int($0["spec"]?["replicas"]?.number ?? 0) }
            #expect(got == expected, "as recorded")
        }
    }

    @Test func aMissedProgressDeadlineIsReported() async throws {
        try await Self.withServer { client, _ in
            let _: JSONValue = try await client.create(.deployments, namespace: "shop", Self.deployment(image: "web:1", deadline: 1))
            _ = try await Self.until(client, Self.complete)
            let _: JSONValue = try await client.patch(.deployments, namespace: "shop", name: "web", .merge(Data("""
                {"spec":{"template":{"metadata":{"annotations":{"\(APIStore.simulateAnnotation)":"never"}}}}}
                """.utf8)))
            let stuck = try await Self.until(client) { d in
                (d["status"]?["conditions"]?.array ?? []).contains { $0["type"] == "Progressing" && $0["status"] == "False" }
            }
            let progressing = stuck["status"]?["conditions"]?.array?.first { $0["type"] == "Progressing" }
            #expect(progressing?["reason"] == "ProgressDeadlineExceeded")
        }
    }

    /// A ReplicaSet no Deployment owns (Sluice's canary) gets its status from the same
    /// controller, asynchronously; pods can crash after becoming ready.
    @Test func aStandaloneReplicaSetGetsStatusAndPodsCanCrash() async throws {
        try await Self.withServer { client, _ in
            let rs: JSONValue = ["apiVersion": "apps/v1", "kind": "ReplicaSet",
                                 "metadata": ["name": "canary", "labels": ["app": "canary"], "annotations": [APIStore.simulateAnnotation: "crash-after-1"]],
                                 "spec": ["replicas": 2, "selector": ["matchLabels": ["app": "canary"]],
                                          "template": ["metadata": ["labels": ["app": "canary"]], "spec": ["containers": [["name": "app", "image": "web:2"]]]]]]
            let created: JSONValue = try await client.create(.replicaSets, namespace: "shop", rs)
            #expect(created["status"] == nil || created["status"]?["readyReplicas"] == nil, "no status inside the write")
            var readySeen = false
            var crashed = false
            for _ in 0..<200 {
                let now: JSONValue = try await client.get(.replicaSets, namespace: "shop", name: "canary")
                if now["status"]?["readyReplicas"] == 2 { readySeen = true }
                if readySeen, now["status"]?["readyReplicas"] == nil, now["status"]?["replicas"] == 2 {
                    crashed = true
                    #expect(now["status"]?["observedGeneration"] == 1)
                    break
                }
                try await Task.sleep(for: .milliseconds(50))
            }
            #expect(readySeen && crashed)
        }
    }

    @Test func revisionHistoryLimitIsHonoured() async throws {
        try await Self.withServer { client, _ in
            var d = Self.deployment(image: "web:1")
            d["spec"]?["revisionHistoryLimit"] = 1
            let _: JSONValue = try await client.create(.deployments, namespace: "shop", d)
            _ = try await Self.until(client, Self.complete)
            for image in ["web:2", "web:3"] {
                let _: JSONValue = try await client.patch(.deployments, namespace: "shop", name: "web",
                                                          .merge(Data(#"{"spec":{"template":{"spec":{"containers":[{"name":"app","image":"\#(image)"}]}}}}"#.utf8)))
                _ = try await Self.until(client) { Self.complete($0) && $0["metadata"]?["annotations"]?["deployment.kubernetes.io/revision"] != nil }
            }
            _ = try await Self.until(client) { $0["metadata"]?["annotations"]?["deployment.kubernetes.io/revision"] == "3" && Self.complete($0) }
            try await Task.sleep(for: .milliseconds(300))
            let sets: ObjectList<JSONValue> = try await client.list(.replicaSets, namespace: "shop")
            #expect(sets.items.count == 2, "the new one and one old: \(sets.items.compactMap { $0["metadata"]?["name"]?.string })")
        }
    }

    /// A test can make a ReplicaSet's pods fail by hand, mid-test.
    @Test func podsCanBeBrokenByHand() async throws {
        try await Self.withServer { client, server in
            let _: JSONValue = try await client.create(.deployments, namespace: "shop", Self.deployment(image: "web:1"))
            _ = try await Self.until(client, Self.complete)
            let sets: ObjectList<JSONValue> = try await client.list(.replicaSets, namespace: "shop")
            let name = try #require(sets.items.first?["metadata"]?["name"]?.string)
            await server.store.setPodBehaviour("never", namespace: "shop", replicaSet: name)
            let broken = try await Self.until(client) { $0["status"]?["availableReplicas"] == nil }
            #expect(broken["status"]?["unavailableReplicas"] == 4)
            #expect(Self.condition(broken, "Available")?["status"] == "False")
            await server.store.setPodBehaviour(nil, namespace: "shop", replicaSet: name)
        }
    }
}
