// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "Sluice",
    platforms: [.macOS(.v14)],
    products: [
        .library(name: "SluiceModel", targets: ["SluiceModel"]),
        .library(name: "SluiceCore", targets: ["SluiceCore"]),
        .library(name: "SluiceTestKit", targets: ["SluiceTestKit"]),
    ],
    dependencies: [
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
    ],
    targets: [
        // Codable + Sendable values: the Rollout API, the Kubernetes and Istio objects
        // Sluice reads and writes. No I/O.
        .target(name: "SluiceModel", dependencies: [.product(name: "Yams", package: "Yams")]),
        // Pure decisions: validation, the condition language, query templates. No I/O,
        // no clock, no logging.
        .target(name: "SluiceCore", dependencies: ["SluiceModel"]),
        // Fixtures and helpers for tests of Sluice and of code built on it.
        .target(name: "SluiceTestKit", dependencies: ["SluiceModel", "SluiceCore"]),
        .testTarget(name: "SluiceModelTests", dependencies: ["SluiceModel", "SluiceTestKit"]),
        .testTarget(name: "SluiceCoreTests", dependencies: ["SluiceCore", "SluiceModel", "SluiceTestKit"]),
        .testTarget(name: "SluiceEngineTests", dependencies: ["SluiceCore", "SluiceModel", "SluiceTestKit"]),
    ]
)
