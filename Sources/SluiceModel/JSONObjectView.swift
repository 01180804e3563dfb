/// A typed view over a JSON object that keeps every field, modelled or not. Istio's objects
/// belong to their users: a write of one must not drop what Sluice does not know.
public protocol JSONObjectView: Codable, Sendable, Hashable {
    var json: [String: JSONValue] { get set }
    init(json: [String: JSONValue])
}

extension JSONObjectView {
    public init(from decoder: Decoder) throws {
        self.init(json: try [String: JSONValue](from: decoder))
    }

    public func encode(to encoder: Encoder) throws {
        try json.encode(to: encoder)
    }

    public func string(_ key: String) -> String? { json[key]?.string }

    public mutating func setString(_ key: String, _ value: String?) {
        json[key] = value.map(JSONValue.string)
    }

    public func strings(_ key: String) -> [String] { json[key]?.array?.compactMap(\.string) ?? [] }

    /// The elements of an array of objects, each as a view.
    public func views<V: JSONObjectView>(_ key: String) -> [V] {
        json[key]?.array?.compactMap { $0.object.map(V.init(json:)) } ?? []
    }

    public mutating func setViews<V: JSONObjectView>(_ key: String, _ values: [V]) {
        json[key] = .array(values.map { .object($0.json) })
    }

    public func view<V: JSONObjectView>(_ key: String) -> V? { json[key]?.object.map(V.init(json:)) }

    public mutating func setView<V: JSONObjectView>(_ key: String, _ value: V?) {
        json[key] = value.map { .object($0.json) }
    }
}
