import Foundation
import KubeTestServer

// Runs the test API server alone, so kubectl (or a person) can use it:
//   swift run sluice-test-apiserver --port 8080 --token secret   (a token implies TLS, self-signed)
// It prints the path of a kubeconfig that points at it, and serves until interrupted.
var port = 0
var token: String?
var tls = false
var kubeconfig = FileManager.default.temporaryDirectory.appendingPathComponent("sluice-test-apiserver.kubeconfig").path
var arguments = CommandLine.arguments.dropFirst().makeIterator()
while let argument = arguments.next() {
    switch argument {
    case "--port": port = Int(arguments.next() ?? "") ?? 0
    case "--token": token = arguments.next()
    case "--tls": tls = true
    case "--kubeconfig": kubeconfig = arguments.next() ?? kubeconfig
    case "--help", "-h":
        print("usage: sluice-test-apiserver [--port N] [--token T] [--tls] [--kubeconfig PATH]  (--token implies --tls: kubectl sends tokens only over TLS)")
        exit(0)
    default:
        FileHandle.standardError.write(Data("unknown argument \(argument); see --help\n".utf8))
        exit(2)
    }
}
let server = try await KubeTestServer(port: port, token: token, tls: tls || token != nil)
let path = try server.writeKubeconfig(to: kubeconfig)
FileHandle.standardOutput.write(Data("serving on \(server.url)\nkubeconfig: \(path)\n".utf8))
while true { try await Task.sleep(for: .seconds(3600)) }
