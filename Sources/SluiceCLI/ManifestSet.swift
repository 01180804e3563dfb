import Foundation
import SluiceModel

/// The manifests of the files and directories given with `-f`: every document with the file
/// and line it came from. Directories are read recursively (`.yaml`, `.yml`, `.json`).
public struct ManifestSet: Sendable {
    public struct Source: Sendable {
        public var file: String
        public var document: ManifestDocument
        public var manifest: Manifest?
        /// Problems found decoding the document (unknown fields, wrong types).
        public var problems: [SpecProblem]
    }

    public var sources: [Source] = []
    /// Input that could not be read or parsed: each a finding, and exit code 2.
    public var unreadable: [Finding] = []
    public var files: Int = 0

    /// `-` reads standard input (`kustomize build . | sluice lint -f -`).
    public init(paths: [String], standardInput: @autoclosure () -> Data = FileHandle.standardInput.readDataToEndOfFile()) {
        for path in paths {
            if path == "-" {
                files += 1
                parse(standardInput(), file: "-", named: true)
                continue
            }
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
                unreadable.append(Finding(file: path, line: 0, path: "", message: "no such file or directory"))
                continue
            }
            let files = isDirectory.boolValue ? ManifestSet.manifestFiles(under: path) : [path]
            if files.isEmpty {
                unreadable.append(Finding(file: path, line: 0, path: "", message: "no .yaml, .yml or .json files in this directory"))
            }
            for file in files { read(file, named: !isDirectory.boolValue) }
        }
    }

    static func manifestFiles(under directory: String) -> [String] {
        let base = URL(fileURLWithPath: directory)
        // Hidden files and directories (.git, .github) are not manifests.
        guard let walker = FileManager.default.enumerator(at: base, includingPropertiesForKeys: [.isRegularFileKey],
                                                          options: [.skipsHiddenFiles]) else { return [] }
        var out: [String] = []
        for case let url as URL in walker where ["yaml", "yml", "json"].contains(url.pathExtension.lowercased()) {
            let relative = url.path.hasPrefix(base.path + "/") ? String(url.path.dropFirst(base.path.count + 1)) : url.lastPathComponent
            out.append(directory.hasSuffix("/") ? directory + relative : directory + "/" + relative)
        }
        return out.sorted()
    }

    /// `named`: the file was given itself, not found in a directory. There a document that is
    /// no Kubernetes object at all (a Helm values file, say) is skipped instead of reported.
    mutating func read(_ file: String, named: Bool = true) {
        files += 1
        guard let data = FileManager.default.contents(atPath: file) else {
            unreadable.append(Finding(file: file, line: 0, path: "", message: "cannot be read"))
            return
        }
        parse(data, file: file, named: named)
    }

    mutating func parse(_ data: Data, file: String, named: Bool) {
        guard let text = String(data: data, encoding: .utf8) else {
            unreadable.append(Finding(file: file, line: 0, path: "", message: "cannot be read as UTF-8 text"))
            return
        }
        do {
            for document in try ManifestParser.parse(text) {
                if !named, document.apiVersion == nil, document.kind == nil { continue }
                let (manifest, problems) = document.manifest()
                sources.append(Source(file: file, document: document, manifest: manifest, problems: problems))
            }
        } catch {
            unreadable.append(Finding(file: file, line: error.line, path: "", message: "not valid YAML: \(error.message)"))
        }
    }

    /// Every object of one kind, with where it came from.
    func all<T>(_ pick: (Manifest) -> T?) -> [(Source, T)] {
        sources.compactMap { source in source.manifest.flatMap(pick).map { (source, $0) } }
    }

    var rollouts: [(Source, Rollout)] { all { if case .rollout(let r) = $0 { r } else { nil } } }
    var templates: [(Source, AnalysisTemplate)] { all { if case .analysisTemplate(let t) = $0 { t } else { nil } } }
    var deployments: [(Source, Deployment)] { all { if case .deployment(let d) = $0 { d } else { nil } } }
    var services: [(Source, Service)] { all { if case .service(let s) = $0 { s } else { nil } } }
    var destinationRules: [(Source, DestinationRule)] { all { if case .destinationRule(let r) = $0 { r } else { nil } } }
    var virtualServices: [(Source, VirtualService)] { all { if case .virtualService(let v) = $0 { v } else { nil } } }

    /// The object of this name in this namespace (an object without one is in `default`).
    static func named<T: NamedObject>(_ name: String?, in namespace: String, _ objects: [(Source, T)]) -> (Source, T)? {
        objects.first { $0.1.metadata.name == name && ($0.1.metadata.namespace ?? "default") == namespace }
    }
}

/// The kinds lint looks up by name and namespace.
protocol NamedObject {
    var metadata: ObjectMeta { get }
}

extension Deployment: NamedObject {}
extension Service: NamedObject {}
extension IstioObject: NamedObject {}
