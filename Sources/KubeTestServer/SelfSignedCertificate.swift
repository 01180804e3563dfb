import Foundation
import NIOSSL

/// A throwaway certificate for 127.0.0.1, made with the `openssl` command.
public enum SelfSignedCertificate {
    /// A TLS server context with a fresh certificate, and that certificate (PEM) for clients to trust.
    public static func serverContext() throws -> (context: NIOSSLContext, certificate: Data) {
        let (certificate, key) = try make()
        var configuration = TLSConfiguration.makeServerConfiguration(
            certificateChain: try NIOSSLCertificate.fromPEMBytes(Array(certificate)).map { .certificate($0) },
            privateKey: .privateKey(try NIOSSLPrivateKey(bytes: Array(key), format: .pem)))
        // HTTP/2 by ALPN, as kube-apiserver offers it, and HTTP/1.1.
        configuration.applicationProtocols = ["h2", "http/1.1"]
        let context = try NIOSSLContext(configuration: configuration)
        return (context, certificate)
    }

    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    /// PEM certificate and key, valid for a day.
    static func make() throws -> (certificate: Data, key: Data) {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("kubetestserver-tls-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                             "-keyout", dir.appendingPathComponent("key.pem").path, "-out", dir.appendingPathComponent("cert.pem").path,
                             "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"]
        process.standardOutput = FileHandle.nullDevice
        let errors = Pipe()
        process.standardError = errors
        do { try process.run() } catch { throw Failure(description: "TLS needs the openssl command: \(error)") }
        process.waitUntilExit()
        guard process.terminationStatus == 0,
              let certificate = FileManager.default.contents(atPath: dir.appendingPathComponent("cert.pem").path),
              let key = FileManager.default.contents(atPath: dir.appendingPathComponent("key.pem").path) else {
            throw Failure(description: "openssl could not make a certificate: \(String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self))")
        }
        return (certificate, key)
    }
}
