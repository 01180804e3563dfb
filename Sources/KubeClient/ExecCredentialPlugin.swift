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
    var cached: Credential?
    /// Refresh this long before the plugin's expiry, so a request never carries a token that
    /// expires on the way.
    let skew: TimeInterval

    public init(_ config: ExecConfig, server: String, skew: TimeInterval = 30) {
        self.config = config
        self.server = server
        self.skew = skew
    }

    /// The cached credential while it is valid; otherwise the plugin's new one.
    public func credential(now: Date = Date()) throws(KubeClientError) -> Credential {
        if let cached, cached.expiresAt.map({ $0.timeIntervalSince(now) > skew }) ?? true { return cached }
        let fresh = try run()
        cached = fresh
        return fresh
    }

    /// Forgets the cached credential (after a 401).
    public func invalidate() { cached = nil }

    func run() throws(KubeClientError) -> Credential {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: config.command.contains("/") ? config.command : "/usr/bin/env")
        process.arguments = (config.command.contains("/") ? [] : [config.command]) + (config.args ?? [])
        var environment = ProcessInfo.processInfo.environment
        for variable in config.env ?? [] { environment[variable.name] = variable.value }
        let apiVersion = config.apiVersion ?? "client.authentication.k8s.io/v1"
        environment["KUBERNETES_EXEC_INFO"] = #"{"apiVersion":"\#(apiVersion)","kind":"ExecCredential","spec":{"interactive":false}}"#
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
        let output = stdout.fileHandleForReading.readDataToEndOfFile()
        let errors = stderr.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            let message = String(decoding: errors, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            throw .credentials("exec plugin \(config.command) exited with \(process.terminationStatus): \(message)")
        }
        return try ExecCredentialPlugin.decode(output, plugin: config.command)
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
