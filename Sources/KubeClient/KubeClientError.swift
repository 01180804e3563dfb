import Foundation

/// Everything a request to the API server can end in, decoded from its `Status` body.
public enum KubeClientError: Error, Sendable, Hashable, CustomStringConvertible {
    case notFound(Status)
    case alreadyExists(Status)
    /// A stale resourceVersion or a failed precondition: read again and retry.
    case conflict(Status)
    /// The resourceVersion is too old to watch from: list again.
    case gone(Status)
    case invalid(Status)
    case badRequest(Status)
    case unauthorized(Status)
    case forbidden(Status)
    case unsupportedMediaType(Status)
    /// HTTP 429; retry after this many seconds.
    case throttled(Status, retryAfter: Double?)
    case timeout(Status)
    case serverError(Status)
    /// The connection failed or the answer was not a Kubernetes answer.
    case transport(String)
    case credentials(String)
    case decoding(String)

    /// A short, stable label per case, for metrics.
    public var label: String {
        switch self {
        case .notFound: "not_found"
        case .alreadyExists: "already_exists"
        case .conflict: "conflict"
        case .gone: "gone"
        case .invalid: "invalid"
        case .badRequest: "bad_request"
        case .unauthorized: "unauthorized"
        case .forbidden: "forbidden"
        case .unsupportedMediaType: "unsupported_media_type"
        case .throttled: "throttled"
        case .timeout: "timeout"
        case .serverError: "server_error"
        case .transport: "transport"
        case .credentials: "credentials"
        case .decoding: "decoding"
        }
    }

    public var status: Status? {
        switch self {
        case .notFound(let s), .alreadyExists(let s), .conflict(let s), .gone(let s), .invalid(let s), .badRequest(let s),
             .unauthorized(let s), .forbidden(let s), .unsupportedMediaType(let s), .throttled(let s, _), .timeout(let s),
             .serverError(let s):
            s
        case .transport, .credentials, .decoding:
            nil
        }
    }

    public var description: String {
        if let status { return "\(label) (\(status.code ?? 0) \(status.reason ?? "")): \(status.message ?? "")" }
        switch self {
        case .transport(let m), .credentials(let m), .decoding(let m): return "\(label): \(m)"
        default: return label
        }
    }

    /// The error an HTTP answer carries, from its code and `Status` body.
    public static func from(code: Int, body: Data, retryAfter: String? = nil) -> KubeClientError {
        var status = (try? JSONDecoder().decode(Status.self, from: body))
            ?? Status(code: code, reason: nil, message: String(decoding: body.prefix(512), as: UTF8.self))
        if status.code == nil { status.code = code }
        switch (code, status.reason) {
        case (404, _): return .notFound(status)
        case (409, "AlreadyExists"): return .alreadyExists(status)
        case (409, _): return .conflict(status)
        case (410, _), (_, "Expired"), (_, "Gone"): return .gone(status)
        case (422, _), (_, "Invalid"): return .invalid(status)
        case (401, _): return .unauthorized(status)
        case (403, _): return .forbidden(status)
        case (415, _): return .unsupportedMediaType(status)
        case (429, _): return .throttled(status, retryAfter: retryAfter.flatMap(Double.init) ?? status.details?.retryAfterSeconds.map(Double.init))
        case (504, _), (_, "Timeout"): return .timeout(status)
        case (400, _): return .badRequest(status)
        default: return .serverError(status)
        }
    }
}

/// A Kubernetes `Status` object (`kind: Status`), as error answers and watch ERROR events carry.
public struct Status: Codable, Sendable, Hashable {
    public var code: Int?
    public var reason: String?
    public var message: String?
    public var status: String?
    public var details: Details?

    public struct Details: Codable, Sendable, Hashable {
        public var name: String?
        public var group: String?
        public var kind: String?
        public var causes: [Cause]?
        public var retryAfterSeconds: Int?
    }

    /// One reason an object is invalid, with the field it is about.
    public struct Cause: Codable, Sendable, Hashable {
        public var reason: String?
        public var message: String?
        public var field: String?
    }

    public init(code: Int?, reason: String?, message: String?) {
        self.code = code
        self.reason = reason
        self.message = message
    }
}
