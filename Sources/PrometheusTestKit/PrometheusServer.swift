import AsyncHTTPClient
import Foundation
import NIOCore

/// A real Prometheus for tests: Debian's `prometheus` binary started on a free loopback port
/// with a generated configuration and its own data directory, its remote-write receiver on,
/// so samples written are queryable at once. Whoever starts one stops it.
public final class PrometheusServer: Sendable {
    public let address: String
    public let port: Int
    let process: Process
    let directory: URL
    let client: HTTPClient

    public struct Unavailable: Error, CustomStringConvertible {
        public var description: String
    }

    /// The binary: `$SLUICE_PROMETHEUS`, else `prometheus` on PATH, else Debian's `/usr/bin/prometheus`.
    public static var binary: String? {
        let environment = ProcessInfo.processInfo.environment
        if let path = environment["SLUICE_PROMETHEUS"], !path.isEmpty {
            return FileManager.default.isExecutableFile(atPath: path) ? path : nil
        }
        let path = (environment["PATH"] ?? "").split(separator: ":").map(String.init) + ["/usr/bin"]
        return path.map { $0 + "/prometheus" }.first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    /// Why tests that need Prometheus cannot run here, or nil when they can. In CI
    /// (`CI=true`) this is always nil: there a missing binary fails the tests, it never skips them.
    public static let skipReason: String? = {
        if ProcessInfo.processInfo.environment["CI"] == "true" { return nil }
        if binary == nil {
            let reason = "no prometheus binary (install Debian's package: apt-get install -y --no-install-recommends prometheus, or set SLUICE_PROMETHEUS)"
            print("skipping the real-Prometheus tests: \(reason)")
            return reason
        }
        return nil
    }()

    /// Starts Prometheus and returns once `/-/ready` answers 200 (within `readyTimeout`).
    public static func start(readyTimeout: Duration = .seconds(60)) async throws -> PrometheusServer {
        guard let binary else { throw Unavailable(description: "the prometheus binary is not installed; .ci/run installs it") }
        var lastError: Error?
        for _ in 0..<3 {
            let port = try freeLoopbackPort()
            do {
                return try await PrometheusServer(binary: binary, port: port, readyTimeout: readyTimeout)
            } catch {
                lastError = error // the port may have been taken between choosing and binding it
            }
        }
        throw lastError!
    }

    init(binary: String, port: Int, readyTimeout: Duration) async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("sluice-prometheus-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory.appendingPathComponent("data"), withIntermediateDirectories: true)
        let config = directory.appendingPathComponent("prometheus.yml")
        try Data("global:\n  scrape_interval: 15s\n  evaluation_interval: 15s\nscrape_configs: []\n".utf8).write(to: config)
        let log = directory.appendingPathComponent("prometheus.log")
        _ = FileManager.default.createFile(atPath: log.path, contents: nil)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = [
            "--config.file=\(config.path)",
            "--storage.tsdb.path=\(directory.appendingPathComponent("data").path)",
            "--web.listen-address=127.0.0.1:\(port)",
            "--web.enable-remote-write-receiver",
            "--storage.tsdb.retention.time=1d",
            "--log.level=warn",
        ]
        let handle = try FileHandle(forWritingTo: log)
        process.standardOutput = handle
        process.standardError = handle
        try process.run()
        self.process = process
        self.directory = directory
        self.port = port
        self.address = "http://127.0.0.1:\(port)"
        self.client = HTTPClient(eventLoopGroupProvider: .singleton)
        do {
            try await waitUntilReady(within: readyTimeout)
        } catch {
            await stop()
            throw error
        }
    }

    func waitUntilReady(within limit: Duration) async throws {
        let clock = ContinuousClock()
        let deadline = clock.now + limit
        while clock.now < deadline {
            guard process.isRunning else {
                throw Unavailable(description: "prometheus exited with status \(process.terminationStatus): \(logTail())")
            }
            if let response = try? await client.execute(HTTPClientRequest(url: address + "/-/ready"), timeout: .seconds(2)),
               response.status == .ok {
                return
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw Unavailable(description: "prometheus was not ready within \(limit): \(logTail())")
    }

    /// The end of Prometheus's log, for error messages.
    public func logTail() -> String {
        let text = (try? String(contentsOf: directory.appendingPathComponent("prometheus.log"), encoding: .utf8)) ?? ""
        return String(text.suffix(2000))
    }

    /// Writes the series through the remote-write receiver; they are queryable when this returns.
    public func write(_ series: [TimeSeries]) async throws {
        var request = HTTPClientRequest(url: address + "/api/v1/write")
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/x-protobuf")
        request.headers.add(name: "Content-Encoding", value: "snappy")
        request.headers.add(name: "X-Prometheus-Remote-Write-Version", value: "0.1.0")
        request.body = .bytes(ByteBuffer(bytes: RemoteWriteEncoding.body(series)))
        let response = try await client.execute(request, timeout: .seconds(30))
        if response.status.code >= 300 {
            var body = try await response.body.collect(upTo: 1 << 20)
            let text = body.readString(length: body.readableBytes) ?? ""
            throw Unavailable(description: "remote write answered \(response.status.code): \(text)")
        }
    }

    public var isRunning: Bool { process.isRunning }

    /// Stops Prometheus (SIGTERM, then SIGKILL after 10 s) and removes its data directory.
    public func stop() async {
        let process = self.process
        if process.isRunning { process.terminate() }
        await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
            // Waiting blocks a thread: keep it off the concurrency pool.
            DispatchQueue.global().async {
                let deadline = Date().addingTimeInterval(10)
                while process.isRunning, Date() < deadline { usleep(20_000) }
                if process.isRunning { kill(process.processIdentifier, SIGKILL) }
                process.waitUntilExit()
                done.resume()
            }
        }
        try? await client.shutdown()
        try? FileManager.default.removeItem(at: directory)
    }
}

/// A TCP port on 127.0.0.1 that nothing listens on right now.
func freeLoopbackPort() throws -> Int {
    #if os(Linux)
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    #else
    let fd = socket(AF_INET, SOCK_STREAM, 0)
    #endif
    guard fd >= 0 else { throw PrometheusServer.Unavailable(description: "socket() failed: errno \(errno)") }
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = 0
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer in
            bind(fd, pointer, length) == 0 && getsockname(fd, pointer, &length) == 0
        }
    }
    guard bound else { throw PrometheusServer.Unavailable(description: "cannot bind a loopback port: errno \(errno)") }
    return Int(UInt16(bigEndian: address.sin_port))
}
