import Foundation
import SluiceModel

/// The little of Kubernetes' protobuf encoding the server reads: the `k8s\0` envelope
/// (runtime.Unknown) and, inside it, a SelfSubjectAccessReview — what `kubectl auth can-i`
/// sends. Any other protobuf body is refused as the real server refuses a type it cannot read.
enum Protobuf {
    /// Fields of one message: number → values (varints as numbers, the rest as bytes).
    static func fields(_ bytes: [UInt8]) -> [Int: [[UInt8]]]? {
        var out: [Int: [[UInt8]]] = [:]
        var i = 0
        func varint() -> UInt64? {
            var value: UInt64 = 0
            var shift: UInt64 = 0
            while i < bytes.count {
                let b = bytes[i]
                i += 1
                value |= UInt64(b & 0x7f) << shift
                if b & 0x80 == 0 { return value }
                shift += 7
                if shift > 63 { return nil }
            }
            return nil
        }
        while i < bytes.count {
            guard let key = varint() else { return nil }
            let number = Int(key >> 3)
            switch key & 7 {
            case 0:
                guard let v = varint() else { return nil }
                out[number, default: []].append(Array(String(v).utf8))
            case 2:
                guard let length = varint(), i + Int(length) <= bytes.count else { return nil }
                out[number, default: []].append(Array(bytes[i..<i + Int(length)]))
                i += Int(length)
            case 1: i += 8
            case 5: i += 4
            default: return nil
            }
        }
        return out
    }

    static func string(_ f: [Int: [[UInt8]]], _ n: Int) -> String? { f[n]?.first.map { String(decoding: $0, as: UTF8.self) } }

    /// The envelope's kind and the object as JSON, for the kinds the server can read.
    static func decode(_ data: Data) -> (kind: String, object: JSONValue?)? {
        let bytes = Array(data)
        guard bytes.count > 4, bytes[0..<4] == [0x6b, 0x38, 0x73, 0x00], let unknown = fields(Array(bytes[4...])) else { return nil }
        let typeMeta = unknown[1]?.first.flatMap(fields) ?? [:]
        let kind = string(typeMeta, 2) ?? ""
        let apiVersion = string(typeMeta, 1) ?? ""
        guard kind == "SelfSubjectAccessReview", let raw = unknown[2]?.first, let review = fields(raw) else { return (kind, nil) }
        let spec = review[2]?.first.flatMap(fields) ?? [:]
        var specJSON: [String: JSONValue] = [:]
        if let r = spec[1]?.first.flatMap(fields) {
            let names = [1: "namespace", 2: "verb", 3: "group", 4: "version", 5: "resource", 6: "subresource", 7: "name"]
            specJSON["resourceAttributes"] = .object(Dictionary(uniqueKeysWithValues: names.compactMap { n, name in string(r, n).map { (name, .string($0)) } }))
        }
        if let n = spec[2]?.first.flatMap(fields) {
            specJSON["nonResourceAttributes"] = .object(Dictionary(uniqueKeysWithValues: [(1, "path"), (2, "verb")].compactMap { i, name in
                string(n, i).map { (name, JSONValue.string($0)) } }))
        }
        return (kind, ["apiVersion": .string(apiVersion), "kind": .string(kind), "spec": .object(specJSON)])
    }
}
