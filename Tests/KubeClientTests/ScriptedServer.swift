import Foundation
import KubeTestServer
import Synchronization

/// A server on 127.0.0.1 and a free port whose answers a test scripts, on the test API
/// server's HTTP layer. Every request is recorded; answers can stream (a watch).
final class ScriptedServer: Sendable {
    struct Request: Sendable {
        var method: String
        var path: String
        var query: [String: String]
        var headers: [String: String]
        var body: Data
        func header(_ name: String) -> String? { headers[name.lowercased()] }
        var json: [String: Any]? { try? JSONSerialization.jsonObject(with: body) as? [String: Any] }
    }

    enum Reply: Sendable {
        case json(Int, String, headers: [(String, String)] = [])
        /// A 200 answer whose body is written line by line, as a watch is; it ends when the stream does.
        case stream(AsyncStream<String>)
    }

    typealias Script = @Sendable (Request) async -> Reply

    let http: LoopbackHTTPServer
    let recorded: Recorder

    final class Recorder: Sendable {
        let requests = Mutex<[Request]>([])
    }

    var port: Int { http.port }
    var url: String { "http://127.0.0.1:\(port)" }
    var requests: [Request] { recorded.requests.withLock { $0 } }

    init(_ script: @escaping Script) async throws {
        let recorder = Recorder()
        recorded = recorder
        http = try await LoopbackHTTPServer { incoming in
            let request = Request(method: incoming.method, path: incoming.path, query: incoming.query, headers: incoming.headers, body: incoming.body)
            recorder.requests.withLock { $0.append(request) }
            switch await script(request) {
            case .json(let code, let text, let headers): return .full(code: code, body: Data(text.utf8), headers: headers)
            case .stream(let lines): return .stream(lines)
            }
        }
    }

    func stop() async throws { try await http.stop() }
}
