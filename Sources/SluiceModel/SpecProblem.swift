/// Something wrong with a manifest, at a field path such as
/// `spec.strategy.canary.steps[3].setWeight`, with what would fix it in the message.
public struct SpecProblem: Error, Sendable, Hashable, CustomStringConvertible, Codable {
    public var path: String
    public var message: String

    public init(_ path: String, _ message: String) {
        self.path = path
        self.message = message
    }

    public var description: String { path.isEmpty ? message : "\(path): \(message)" }
}

/// Builds field paths in the `a.b[2].c` form used by kubectl and in Sluice's messages.
public struct FieldPath: Sendable, Hashable, CustomStringConvertible {
    public private(set) var description: String

    public init(_ root: String = "") { description = root }

    public func child(_ key: String) -> FieldPath {
        FieldPath(description.isEmpty ? key : "\(description).\(key)")
    }

    public func index(_ i: Int) -> FieldPath { FieldPath("\(description)[\(i)]") }

    public static func / (path: FieldPath, key: String) -> FieldPath { path.child(key) }
    public static func / (path: FieldPath, i: Int) -> FieldPath { path.index(i) }

    /// The path of a Codable coding path.
    public init(codingPath: [CodingKey]) {
        var path = FieldPath()
        for key in codingPath {
            if let i = key.intValue { path = path.index(i) } else { path = path.child(key.stringValue) }
        }
        self = path
    }
}
