import Foundation

/// One problem, where it is written.
public struct Finding: Codable, Sendable, Hashable, Comparable {
    public var file: String
    /// From 1; 0 when the problem is the file itself.
    public var line: Int
    /// The field, in the `spec.a.b[2]` form; empty for the document or the file.
    public var path: String
    public var message: String

    public init(file: String, line: Int, path: String, message: String) {
        self.file = file
        self.line = line
        self.path = path
        self.message = message
    }

    /// A problem at `path` of a document, on the line that field is written on.
    init(_ source: ManifestSet.Source, _ path: String, _ message: String) {
        self.init(file: source.file, line: source.document.line(of: path), path: path, message: message)
    }

    public static func < (a: Finding, b: Finding) -> Bool {
        (a.file, a.line, a.path, a.message) < (b.file, b.line, b.path, b.message)
    }

    /// `file:line: path: message`.
    public var text: String {
        let location = line > 0 ? "\(file):\(line)" : file
        return path.isEmpty ? "\(location): \(message)" : "\(location): \(path): \(message)"
    }

    /// A GitHub Actions error annotation.
    public var annotation: String {
        func property(_ s: String) -> String {
            s.replacingOccurrences(of: "%", with: "%25").replacingOccurrences(of: "\r", with: "%0D")
                .replacingOccurrences(of: "\n", with: "%0A").replacingOccurrences(of: ":", with: "%3A")
                .replacingOccurrences(of: ",", with: "%2C")
        }
        func data(_ s: String) -> String {
            s.replacingOccurrences(of: "%", with: "%25").replacingOccurrences(of: "\r", with: "%0D").replacingOccurrences(of: "\n", with: "%0A")
        }
        let line = self.line > 0 ? ",line=\(self.line)" : ""
        return "::error file=\(property(file))\(line)::\(data(path.isEmpty ? message : "\(path): \(message)"))"
    }
}
