import Foundation

/// A list answer: its items and the metadata that pages and resumes it.
public struct ObjectList<T: Decodable & Sendable>: Decodable, Sendable {
    public var metadata: ListMeta
    public var items: [T]

    public struct ListMeta: Decodable, Sendable, Hashable {
        public var resourceVersion: String?
        /// Set when more pages follow.
        public var `continue`: String?
    }
}

/// One watch event.
public enum WatchEvent<T: Decodable & Sendable>: Sendable {
    case added(T)
    case modified(T)
    case deleted(T)
    /// Only a resourceVersion to resume from.
    case bookmark(resourceVersion: String)
    /// The server's error inside the stream (a 410 Gone here means: list again).
    case error(Status)
    /// An event whose object does not decode as the type watched: skipped, with why. Its
    /// resourceVersion (in the line's meta) still moves the watch on.
    case undecodable(String)
}

/// A patch body and its content type.
public enum Patch: Sendable {
    /// RFC 7386 merge patch: `null` deletes a key, lists are replaced whole.
    case merge(Data)
    /// RFC 6902 JSON patch.
    case json(Data)
    /// Strategic merge patch (built-in kinds only).
    case strategicMerge(Data)
    /// Server-side apply, as the named field manager.
    case apply(Data, fieldManager: String, force: Bool)

    var contentType: String {
        switch self {
        case .merge: "application/merge-patch+json"
        case .json: "application/json-patch+json"
        case .strategicMerge: "application/strategic-merge-patch+json"
        case .apply: "application/apply-patch+yaml"
        }
    }

    var body: Data {
        switch self {
        case .merge(let d), .json(let d), .strategicMerge(let d), .apply(let d, _, _): d
        }
    }
}

/// Selects by labels and fields, as `labelSelector` and `fieldSelector` query parameters.
public struct Selectors: Sendable, Hashable {
    public var labels: String?
    public var fields: String?

    public init(labels: String? = nil, fields: String? = nil) {
        self.labels = labels
        self.fields = fields
    }

    var query: [(String, String)] {
        [labels.map { ("labelSelector", $0) }, fields.map { ("fieldSelector", $0) }].compactMap { $0 }
    }
}
