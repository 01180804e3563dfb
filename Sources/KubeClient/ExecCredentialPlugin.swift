import Foundation

/// Runs an exec credential plugin and caches what it returns until it expires.
public actor ExecCredentialPlugin {
    public struct Credential: Sendable, Hashable {
        public var token: String?
        public var clientCertificate: Data?
        public var clientKey: Data?
        public var expiresAt: Date?
    }

    let config: ExecConfig
    let server: String
    /// The cluster's CA (PEM), for `provideClusterInfo`.
    let certificateAuthority: Data?
    let insecureSkipTLSVerify: Bool
    var cached: Credential?
    /// The run under way: callers that come meanwhile wait for it instead of starting another.
    var running: Task<Credential, Error>?
    /// Refresh this long before the plugin's expiry, so a request never carries a token that
    /// expires on the way.
    let skew: TimeInterval
    /// A plugin that has not answered in this long is killed and the request fails.
    let timeout: Duration

    public init(_ config: ExecConfig, server: String, certificateAuthority: Data? = nil, insecureSkipTLSVerify: Bool = false,
                skew: TimeInterval = 30, timeout: Duration = .seconds(30)) {
        self.config = config
        self.server = server
        self.certificateAuthority = certificateAuthority
        self.insecureSkipTLSVerify = insecureSkipTLSVerify
        self.skew = skew
        self.timeout = timeout
    }

    /// The cached credential while it is valid; otherwise the plugin's new one. The plugin runs
    /// on a thread of its own, never on this actor, one run at a time.
    public func credential(now: Date = Date()) async throws(KubeClientError) -> Credential {
        if let cached, cached.expiresAt.map({ $0.timeIntervalSince(now) > skew }) ?? true { return cached }
        let run: Task<Credential, Error>
        if let running {
            run = running
        } else {
            let (config, info, timeout) = (config, execInfo, timeout)
            run = Task.detached { try await ExecCredentialPlugin.run(config, execInfo: info, timeout: timeout) }
            running = run
        }
        do {
            let fresh = try await run.value
            if running == run { running = nil }
            cached = fresh
            return fresh
        } catch {
            if running == run { running = nil }
            throw (error as? KubeClientError) ?? .credentials("exec plugin \(config.command): \(error)")
        }
    }

    /// Forgets the cached credential (after a 401).
    public func invalidate() { cached = nil }

    /// `KUBERNETES_EXEC_INFO`: never interactive; the cluster too when the kubeconfig asks
    /// (`provideClusterInfo`), as client-go sends it.
    var execInfo: String {
        let apiVersion = config.apiVersion ?? "client.authentication.k8s.io/v1"
        var spec: [String: Any] = ["interactive": false]
        if config.provideClusterInfo == true {
            var cluster: [String: Any] = ["server": server]
            if let certificateAuthority { cluster["certificate-authority-data"] = certificateAuthority.base64EncodedString() }
            if insecureSkipTLSVerify { cluster["insecure-skip-tls-verify"] = true }
            spec["cluster"] = cluster
        }
        let object: [String: Any] = ["apiVersion": apiVersion, "kind": "ExecCredential", "spec": spec]
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data()
        return String(decoding: data, as: UTF8.self)
    }

    /// Runs the plugin to its end on a thread of its own; past `timeout` it is terminated (then
    /// killed) and the run fails.
    static func run(_ config: ExecConfig, execInfo: String, timeout: Duration) async throws(KubeClientError) -> Credential {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: config.command.contains("/") ? config.command : "/usr/bin/env")
        process.arguments = (config.command.contains("/") ? [] : [config.command]) + (config.args ?? [])
        var environment = ProcessInfo.processInfo.environment
        for variable in config.env ?? [] { environment[variable.name] = variable.value }
        environment["KUBERNETES_EXEC_INFO"] = execInfo
        process.environment = environment
        let stdout = Pipe()
        let stderr = Pipe()
        process.standardOutput = stdout
        process.standardError = stderr
        process.standardInput = FileHandle.nullDevice
        do {
            try process.run()
        } catch {
            throw .credentials("exec plugin \(config.command) could not start: \(error)")
        }
        // Whichever comes first — the plugin's end, or its timeout — answers; a plugin's children
        // may keep its pipes open long after it was stopped, so the timeout does not wait for them.
        let answer = Once()
        let result: (Data, Data)? = await withCheckedContinuation { (done: CheckedContinuation<(Data, Data)?, Never>) in
            answer.set(done)
            DispatchQueue.global().asyncAfter(deadline: .now() + timeout.inSeconds) {
                guard answer.pending else { return }
                answer.resume(nil)
                process.terminate()
                DispatchQueue.global().asyncAfter(deadline: .now() + 2) { if process.isRunning { kill(process.processIdentifier, SIGKILL) } }
            }
            // Both pipes read at once (a plugin that fills one while the other is unread would block), off every actor.
            DispatchQueue.global().async {
                let group = DispatchGroup()
                let box = Outputs()
                DispatchQueue.global().async(group: group) { box.out = stdout.fileHandleForReading.readDataToEndOfFile() }
                DispatchQueue.global().async(group: group) { box.err = stderr.fileHandleForReading.readDataToEndOfFile() }
                group.wait()
                process.waitUntilExit()
                answer.resume((box.out, box.err))
            }
        }
        guard let (output, errors) = result else {
            throw .credentials("exec plugin \(config.command) did not answer within \(timeout); it was stopped")
        }
        guard process.terminationStatus == 0 else {
            let message = String(decoding: errors, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            throw .credentials("exec plugin \(config.command) exited with \(process.terminationStatus): \(message)")
        }
        return try ExecCredentialPlugin.decode(output, plugin: config.command)
    }

    /// What the two pipe readers bring back (each written by one reader, read after both ended).
    final class Outputs: @unchecked Sendable {
        var out = Data()
        var err = Data()
    }

    /// A continuation resumed once, by whichever answer comes first.
    final class Once: @unchecked Sendable {
        private let lock = NSLock()
        private var continuation: CheckedContinuation<(Data, Data)?, Never>?
        func set(_ c: CheckedContinuation<(Data, Data)?, Never>) { lock.withLock { continuation = c } }
        var pending: Bool { lock.withLock { continuation != nil } }
        func resume(_ value: (Data, Data)?) {
            let c = lock.withLock { () -> CheckedContinuation<(Data, Data)?, Never>? in
                defer { continuation = nil }
                return continuation
            }
            c?.resume(returning: value)
        }
    }

    /// Reads an `ExecCredential` object's status.
    static func decode(_ data: Data, plugin: String) throws(KubeClientError) -> Credential {
        struct ExecCredential: Decodable {
            struct Status: Decodable {
                var token: String?
                var expirationTimestamp: String?
                var clientCertificateData: String?
                var clientKeyData: String?
            }
            var kind: String?
            var status: Status?
        }
        guard let object = try? JSONDecoder().decode(ExecCredential.self, from: data), object.kind == "ExecCredential",
              let status = object.status else {
            throw .credentials("exec plugin \(plugin) did not print an ExecCredential")
        }
        let expires = status.expirationTimestamp.flatMap(RFC3339.parse)
        if status.token == nil, status.clientCertificateData == nil {
            throw .credentials("exec plugin \(plugin) returned neither a token nor a client certificate")
        }
        return Credential(token: status.token, clientCertificate: status.clientCertificateData.map { Data($0.utf8) },
                          clientKey: status.clientKeyData.map { Data($0.utf8) }, expiresAt: expires)
    }
}
