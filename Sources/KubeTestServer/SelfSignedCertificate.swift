import Foundation
import NIOSSL

/// A throwaway certificate for 127.0.0.1, made with the `openssl` command.
public enum SelfSignedCertificate {
    /// A TLS server context with a fresh certificate, and that certificate (PEM) for clients to trust.
    /// With `clientCA`, every client must present a certificate that CA signed.
    /// `names`: DNS names the certificate carries instead of 127.0.0.1 and localhost (a server
    /// reached by address whose certificate names only its DNS name, as `tls-server-name` is for).
    public static func serverContext(clientCA: Data? = nil, names: [String]? = nil) throws -> (context: NIOSSLContext, certificate: Data) {
        let (certificate, key) = try make(names: names)
        var configuration = TLSConfiguration.makeServerConfiguration(
            certificateChain: try NIOSSLCertificate.fromPEMBytes(Array(certificate)).map { .certificate($0) },
            privateKey: .privateKey(try NIOSSLPrivateKey(bytes: Array(key), format: .pem)))
        if let clientCA {
            configuration.trustRoots = .certificates(try NIOSSLCertificate.fromPEMBytes(Array(clientCA)))
            configuration.certificateVerification = .noHostnameVerification
        }
        // HTTP/2 by ALPN, as kube-apiserver offers it, and HTTP/1.1.
        configuration.applicationProtocols = ["h2", "http/1.1"]
        let context = try NIOSSLContext(configuration: configuration)
        return (context, certificate)
    }

    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    /// PEM certificate and key, valid for a day.
    static func make(names: [String]? = nil) throws -> (certificate: Data, key: Data) {
        let subject = "/CN=" + (names?.first ?? "127.0.0.1")
        let alternatives = names.map { $0.map { "DNS:\($0)" }.joined(separator: ",") } ?? "IP:127.0.0.1,DNS:localhost"
        return try openssl { dir in
            [["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", dir + "/key.pem",
              "-out", dir + "/cert.pem", "-days", "1", "-subj", subject, "-addext", "subjectAltName=" + alternatives]]
        } read: { dir in (try read(dir + "/cert.pem"), try read(dir + "/key.pem")) }
    }

    /// A certificate authority, and a client certificate and key it signed for `commonName` in
    /// the `organizations` (a user and its groups, as kube-apiserver reads them), all PEM.
    public static func clientCertificate(commonName: String, organizations: [String] = []) throws
        -> (authority: Data, certificate: Data, key: Data) {
        let subject = "/CN=\(commonName)" + organizations.map { "/O=\($0)" }.joined()
        return try openssl { dir in
            [["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", dir + "/ca.key",
              "-out", dir + "/ca.pem", "-days", "1", "-subj", "/CN=test-client-ca"],
             ["req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", dir + "/client.key",
              "-out", dir + "/client.csr", "-subj", subject],
             ["x509", "-req", "-in", dir + "/client.csr", "-CA", dir + "/ca.pem", "-CAkey", dir + "/ca.key", "-CAcreateserial",
              "-out", dir + "/client.pem", "-days", "1"]]
        } read: { dir in (try read(dir + "/ca.pem"), try read(dir + "/client.pem"), try read(dir + "/client.key")) }
    }

    static func read(_ path: String) throws -> Data {
        guard let data = FileManager.default.contents(atPath: path) else { throw Failure(description: "openssl wrote no \(path)") }
        return data
    }

    /// Runs `openssl` with each argument list in a scratch directory, then reads what it wrote.
    static func openssl<T>(_ commands: (String) -> [[String]], read: (String) throws -> T) throws -> T {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("kubetestserver-tls-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        for arguments in commands(dir.path) {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = ["openssl"] + arguments
            process.standardOutput = FileHandle.nullDevice
            let errors = Pipe()
            process.standardError = errors
            do { try process.run() } catch { throw Failure(description: "TLS needs the openssl command: \(error)") }
            let message = errors.fileHandleForReading.readDataToEndOfFile()
            process.waitUntilExit()
            guard process.terminationStatus == 0 else {
                throw Failure(description: "openssl \(arguments.first ?? "") failed: \(String(decoding: message, as: UTF8.self))")
            }
        }
        return try read(dir.path)
    }
}
