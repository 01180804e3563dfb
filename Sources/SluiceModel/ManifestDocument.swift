import Foundation

/// One document of a YAML or JSON manifest file, as JSON, with the line of every field so
/// that problems can be reported as `file:line: path: message`.
public struct ManifestDocument: Sendable {
    /// The document's position in its file, from 0.
    public var index: Int
    /// The line the document starts on, from 1.
    public var line: Int
    public var json: JSONValue
    /// Field path (`spec.strategy.canary.steps[2]`) to the line it is written on, from 1.
    public var lines: [String: Int]

    public var apiVersion: String? { json["apiVersion"]?.string }
    public var kind: String? { json["kind"]?.string }
    public var name: String? { json["metadata"]?["name"]?.string }
    public var namespace: String? { json["metadata"]?["namespace"]?.string }

    /// The line of a field, or of the closest parent written in the file.
    public func line(of path: String) -> Int {
        var p = Substring(path)
        while !p.isEmpty {
            if let l = lines[String(p)] { return l }
            guard let cut = p.lastIndex(where: { $0 == "." || $0 == "[" }) else { break }
            p = p[..<cut]
        }
        return line
    }

    /// Decodes the document as `T`, turning a decoding failure into a problem at its field.
    public func decode<T: Decodable>(_ type: T.Type) -> Result<T, SpecProblem> {
        do {
            let data = try JSONEncoder().encode(json)
            return .success(try JSONDecoder().decode(T.self, from: data))
        } catch let error as DecodingError {
            return .failure(ManifestDocument.problem(from: error))
        } catch {
            return .failure(SpecProblem("", "\(error)"))
        }
    }

    /// Fields in the document that `T` does not have: a typo there would otherwise be dropped
    /// silently (the API server prunes them). Found by encoding the decoded value again.
    public func unknownFields<T: Encodable>(of value: T) -> [SpecProblem] {
        guard let encoded = try? JSONValue(encoding: value) else { return [] }
        var problems: [SpecProblem] = []
        ManifestDocument.collectUnknown(json, known: encoded, path: FieldPath(), into: &problems)
        return problems
    }

    private static func collectUnknown(_ given: JSONValue, known: JSONValue, path: FieldPath,
                                       into problems: inout [SpecProblem]) {
        switch (given, known) {
        case (.object(let g), .object(let k)):
            for key in g.keys.sorted() {
                guard let gv = g[key], gv != .null else { continue }
                if let kv = k[key] {
                    collectUnknown(gv, known: kv, path: path / key, into: &problems)
                } else {
                    problems.append(SpecProblem((path / key).description, "unknown field; check its spelling and indentation against the API reference"))
                }
            }
        case (.array(let g), .array(let k)) where g.count == k.count:
            for (i, pair) in zip(g, k).enumerated() {
                collectUnknown(pair.0, known: pair.1, path: path / i, into: &problems)
            }
        default:
            break
        }
    }

    static func problem(from error: DecodingError) -> SpecProblem {
        switch error {
        case .keyNotFound(let key, let ctx):
            let path = FieldPath(codingPath: ctx.codingPath) / key.stringValue
            return SpecProblem(path.description, "required field is missing")
        case .typeMismatch(let type, let ctx):
            return SpecProblem(FieldPath(codingPath: ctx.codingPath).description,
                               "expected \(describe(type))")
        case .valueNotFound(let type, let ctx):
            return SpecProblem(FieldPath(codingPath: ctx.codingPath).description,
                               "expected \(describe(type)), found null")
        case .dataCorrupted(let ctx):
            return SpecProblem(FieldPath(codingPath: ctx.codingPath).description, ctx.debugDescription)
        @unknown default:
            return SpecProblem("", "\(error)")
        }
    }

    private static func describe(_ type: Any.Type) -> String {
        switch type {
        case is String.Type, is DurationString.Type: "a string"
        case is Int.Type: "an integer"
        case is Double.Type: "a number"
        case is Bool.Type: "true or false"
        case is [Any].Type: "a list"
        default: String(describing: type).hasPrefix("Array") ? "a list" : "an object"
        }
    }
}
