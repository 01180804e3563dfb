import Yams

/// Reads manifest text — YAML with several documents, or JSON — into documents.
public enum ManifestParser {
    public struct Failure: Error, Sendable, CustomStringConvertible {
        public var line: Int
        public var message: String
        public var description: String { "line \(line): \(message)" }
    }

    /// The non-empty documents of a file. YAML 1.1 scalars resolve as kubectl resolves them.
    public static func parse(_ text: String) throws(Failure) -> [ManifestDocument] {
        var documents: [ManifestDocument] = []
        do {
            // Iterating Parser directly: Yams' YamlSequence drops an error met mid-stream.
            let parser = try Parser(yaml: text)
            while let node = try parser.nextRoot() {
                var lines: [String: Int] = [:]
                let json = try convert(node, path: FieldPath(), lines: &lines)
                if json == .null { continue }
                documents.append(ManifestDocument(
                    index: documents.count, line: (node.mark?.line ?? 1), json: json, lines: lines))
            }
        } catch let failure as Failure {
            throw failure
        } catch let error as YamlError {
            throw Failure(line: line(of: error), message: "not valid YAML: \(error)")
        } catch {
            throw Failure(line: 1, message: "not valid YAML: \(error)")
        }
        return documents
    }

    private static func convert(_ node: Node, path: FieldPath, lines: inout [String: Int]) throws -> JSONValue {
        if let line = node.mark?.line { lines[path.description] = line }
        switch node {
        case .scalar(let scalar):
            return scalarValue(scalar, tag: Tag.Name(rawValue: node.tag.rawValue))
        case .sequence(let seq):
            return .array(try seq.enumerated().map { try convert($0.element, path: path / $0.offset, lines: &lines) })
        case .mapping(let map):
            var object: [String: JSONValue] = [:]
            for (key, value) in map {
                guard let name = key.scalar?.string else {
                    throw Failure(line: key.mark?.line ?? 0, message: "\(path): a key must be a plain string")
                }
                if object[name] != nil {
                    throw Failure(line: key.mark?.line ?? 0, message: "\(path / name): the key appears twice")
                }
                if let line = key.mark?.line { lines[(path / name).description] = line }
                object[name] = try convert(value, path: path / name, lines: &lines)
                if let line = key.mark?.line { lines[(path / name).description] = line }
            }
            return .object(object)
        case .alias:
            throw Failure(line: node.mark?.line ?? 0, message: "\(path): YAML aliases are not supported in manifests")
        }
    }

    private static func scalarValue(_ scalar: Node.Scalar, tag: Tag.Name) -> JSONValue {
        switch tag {
        case .null: return .null
        case .bool: return Bool.construct(from: scalar).map(JSONValue.bool) ?? .string(scalar.string)
        case .int: return Int.construct(from: scalar).map { .number(Double($0)) } ?? .string(scalar.string)
        case .float: return Double.construct(from: scalar).map(JSONValue.number) ?? .string(scalar.string)
        default: return .string(scalar.string)
        }
    }

    private static func line(of error: YamlError) -> Int {
        switch error {
        case .scanner(_, _, let mark, _), .parser(_, _, let mark, _), .composer(_, _, let mark, _):
            return mark.line
        default:
            return 1
        }
    }
}
