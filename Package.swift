// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "Sluice",
    platforms: [.macOS(.v14)],
    products: [
        .library(name: "SluiceModel", targets: ["SluiceModel"]),
        .library(name: "SluiceCore", targets: ["SluiceCore"]),
        .library(name: "SluiceTestKit", targets: ["SluiceTestKit"]),
        .library(name: "KubeClient", targets: ["KubeClient"]),
        .library(name: "KubeTestServer", targets: ["KubeTestServer"]),
        .library(name: "PrometheusClient", targets: ["PrometheusClient"]),
        .library(name: "PrometheusTestKit", targets: ["PrometheusTestKit"]),
        .library(name: "SluiceController", targets: ["SluiceController"]),
        .executable(name: "sluice-test-apiserver", targets: ["sluice-test-apiserver"]),
        .executable(name: "sluice", targets: ["sluice"]),
        .executable(name: "kubectl-sluice", targets: ["kubectl-sluice"]),
        .executable(name: "sluiced", targets: ["sluiced"]),
    ],
    dependencies: [
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        // HTTP/1.1 and HTTP/2 with TLS, connection pools and streaming bodies: the Kubernetes client's
        // transport. SwiftNIO and swift-nio-ssl come with it; the test API server uses them directly.
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        // Counters and timers behind one API (the daemon exports them to Prometheus): what the
        // client skipped, retried or gave up on is counted, not only logged.
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        // sluiced's /metrics: swift-metrics' counters and timers in Prometheus's text format.
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
        // HTTP/2 for the test API server, as kube-apiserver speaks it (AsyncHTTPClient already uses it).
        .package(url: "https://github.com/apple/swift-nio-http2", from: "1.46.0"),
        // The sluice command line: subcommands, options, help and shell completion.
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
    ],
    targets: [
        // Codable + Sendable values: the Rollout API, the Kubernetes and Istio objects
        // Sluice reads and writes. No I/O.
        .target(name: "SluiceModel", dependencies: [.product(name: "Yams", package: "Yams")]),
        // Pure decisions: validation, the condition language, query templates. No I/O,
        // no clock, no logging.
        .target(name: "SluiceCore", dependencies: ["SluiceModel"]),
        // A Kubernetes REST client: kubeconfig and in-cluster credentials, typed requests,
        // watches that never silently stop, informers, a work queue, leader election. Knows
        // nothing of rollouts.
        .target(name: "KubeClient", dependencies: [
            .product(name: "AsyncHTTPClient", package: "async-http-client"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "Metrics", package: "swift-metrics"),
            .product(name: "NIOHTTP2", package: "swift-nio-http2"),
            .product(name: "NIOSSL", package: "swift-nio-ssl"),
            .product(name: "Yams", package: "Yams"),
        ]),
        // Prometheus's HTTP API: answers decoded into values or one error enum. Knows nothing of rollouts.
        .target(name: "PrometheusClient", dependencies: [
            .product(name: "AsyncHTTPClient", package: "async-http-client"),
            .product(name: "NIOSSL", package: "swift-nio-ssl"),
        ]),
        // The shell around the engine: it carries out the engine's actions against Kubernetes
        // and Prometheus.
        .target(name: "SluiceController", dependencies: [
            "SluiceCore", "SluiceModel", "KubeClient", "PrometheusClient", .product(name: "Logging", package: "swift-log"),
            .product(name: "Metrics", package: "swift-metrics"),
        ]),
        // The sluice command: lint and plan manifests offline (no cluster needed).
        .target(name: "SluiceCLI", dependencies: [
            "SluiceCore", "SluiceModel", .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        .executableTarget(name: "sluice", dependencies: ["SluiceCLI"]),
        // The reconcile daemon: informers, the work queue and the engine against a cluster.
        .executableTarget(name: "sluiced", dependencies: [
            "SluiceController", "SluiceCore", "SluiceModel", "KubeClient", "PrometheusClient",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "Metrics", package: "swift-metrics"),
            .product(name: "Prometheus", package: "swift-prometheus"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
        ]),
        // The same command as a kubectl plugin: `kubectl sluice lint ...`.
        .executableTarget(name: "kubectl-sluice", dependencies: ["SluiceCLI"]),
        // A real Prometheus for tests: starts Debian's binary on a free loopback port and writes
        // Istio's request metrics into it through the remote-write receiver.
        .target(name: "PrometheusTestKit", dependencies: [
            .product(name: "AsyncHTTPClient", package: "async-http-client"),
        ]),
        // A Kubernetes-API-compatible server for tests and the sandbox: storage, CRDs, pruning,
        // the status subresource, patches, list and watch. Never linked into sluiced or sluice.
        .target(name: "KubeTestServer", dependencies: [
            "SluiceModel",
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
            .product(name: "NIOSSL", package: "swift-nio-ssl"),
            .product(name: "NIOHTTP2", package: "swift-nio-http2"),
        ]),
        .executableTarget(name: "sluice-test-apiserver", dependencies: ["KubeTestServer"]),
        // Fixtures and helpers for tests of Sluice and of code built on it.
        .target(name: "SluiceTestKit", dependencies: ["SluiceModel", "SluiceCore"]),
        .testTarget(name: "SluiceModelTests", dependencies: ["SluiceModel", "SluiceTestKit"]),
        .testTarget(name: "SluiceCoreTests", dependencies: ["SluiceCore", "SluiceModel", "SluiceTestKit"]),
        .testTarget(name: "SluiceEngineTests", dependencies: ["SluiceCore", "SluiceModel", "SluiceTestKit"]),
        .testTarget(name: "KubeTestServerTests", dependencies: [
            "KubeTestServer", "KubeClient", "SluiceModel", "SluiceTestKit",
            .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "NIOSSL", package: "swift-nio-ssl"),
        ]),
        .testTarget(name: "KubeClientTests", dependencies: [
            "KubeClient", "KubeTestServer", "SluiceModel", .product(name: "MetricsTestKit", package: "swift-metrics"),
        ]),
        .testTarget(name: "PrometheusClientTests", dependencies: ["PrometheusClient", "PrometheusTestKit", "SluiceTestKit", "KubeTestServer"]),
        .testTarget(name: "SluiceControllerTests", dependencies: [
            "SluiceController", "SluiceCore", "SluiceModel", "SluiceTestKit", "KubeClient", "KubeTestServer", "PrometheusClient",
            .product(name: "Logging", package: "swift-log"),
        ]),
        .testTarget(name: "SluiceCLITests", dependencies: ["SluiceCLI", "SluiceCore", "SluiceModel", "SluiceTestKit"]),
        .testTarget(name: "AnalysisIntegrationTests", dependencies: [
            "SluiceController", "SluiceCore", "SluiceModel", "SluiceTestKit", "PrometheusClient", "PrometheusTestKit",
            "KubeClient", "KubeTestServer", .product(name: "AsyncHTTPClient", package: "async-http-client"),
            .product(name: "Logging", package: "swift-log"),
        ]),
    ]
)
