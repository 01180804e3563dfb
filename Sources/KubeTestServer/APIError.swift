import SluiceModel

/// An error answer, written as a Kubernetes `Status` like the real server's.
public struct APIError: Error, Sendable {
    public var code: Int
    public var reason: String
    public var message: String
    public var details: JSONValue?
    public var retryAfter: Int?
    /// The Status's own metadata (a fresh `continue` token with a 410 for a compacted one).
    public var metadata: JSONValue = [:]

    public init(_ code: Int, _ reason: String, _ message: String, details: JSONValue? = nil, retryAfter: Int? = nil) {
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details
        self.retryAfter = retryAfter
    }

    public var status: JSONValue {
        var s: JSONValue = ["kind": "Status", "apiVersion": "v1", "metadata": metadata, "status": "Failure",
                            "message": .string(message), "reason": .string(reason), "code": .number(Double(code))]
        if let details { s["details"] = details }
        return s
    }

    static func notFound(_ info: ResourceInfo, _ name: String) -> APIError {
        APIError(404, "NotFound", "\(info.plural)\(info.group.isEmpty ? "" : "." + info.group) \"\(name)\" not found",
                 details: ["name": .string(name), "group": .string(info.group), "kind": .string(info.plural)])
    }

    static func conflict(_ info: ResourceInfo, _ name: String) -> APIError {
        APIError(409, "Conflict", "Operation cannot be fulfilled on \(info.plural)\(info.group.isEmpty ? "" : "." + info.group) \"\(name)\": the object has been modified; please apply your changes to the latest version and try again",
                 details: ["name": .string(name), "group": .string(info.group), "kind": .string(info.plural)])
    }
}
