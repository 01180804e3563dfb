import Foundation
import SluiceModel

// The Deployment controller's `pod-template-hash`, computed as Kubernetes 1.36 computes it.
//
// pkg/controller/controller_utils.go `ComputeHash(template, collisionCount)`: FNV-32a over
// `hashutil.DeepHashObject(hasher, *template)`; when collisionCount != nil, 8 more bytes (the
// uint32 little-endian, then four zeros); then `rand.SafeEncodeString(fmt.Sprint(Sum32()))`.
// pkg/util/hash/hash.go DeepHashObject writes `dump.ForHash(obj)` (k8s.io/utils/dump), which is
// go-spew (v1.1.2-0.20180830191138-d8f796af33cc, what Kubernetes vendors) with
// `ConfigState{Indent: " ", SortKeys: true, DisableMethods: true, SpewKeys: true,
// DisablePointerAddresses: true, DisableCapacities: true}.Sprintf("%#v", obj)`.
//
// What `%#v` prints (spew/format.go):
// - a value: `(` Type.String() `)` then the value, unless its type was already shown: slice
//   elements, map keys and map values, and the target of a pointer print no type (format.go
//   215-221, 277, 318-321, 192);
// - a pointer: `(*T)` then the target, or `(*T)<nil>` (formatPtr, 156-161, 185);
// - a struct: `{` `Name:`value for every field, exported or not, zero or not, in declaration
//   order, separated by one space `}` (328-349);
// - a slice: `[`elements separated by one space`]`, a nil slice `<nil>` (259-282);
// - a map: `map[`key`:`value ...`]`, keys sorted (string keys bytewise, common.go 295-331), a nil
//   map `<nil>` (298-326);
// - a string bare, unquoted (284-285); integers in decimal; bools `true`/`false`.
// The controller's Deployment comes from its informer, decoded from protobuf, so an empty list or
// map is nil (`<nil>`), a present pointer (`emptyDir: {}`) is not, and a resource.Quantity is
// what ParseQuantity makes of the text the API server stored (see Quantity below).
//
// Checked against a real kube-controller-manager 1.36 (the recorded Deployment controller
// fixtures, kubernetes/deployment-controller): Deployment `web`, template
// labels {app: web}, one container named `web` (not `app`), image `web:1` → ReplicaSet
// `web-6444769cf`, image `web:2` → `web-85d5b476dd`. The template hashed is the stored one, after
// defaulting: imagePullPolicy IfNotPresent, terminationMessagePath /dev/termination-log,
// terminationMessagePolicy File, restartPolicy Always, terminationGracePeriodSeconds 30,
// dnsPolicy ClusterFirst, securityContext {}, schedulerName default-scheduler (PodTemplateHashTests).
//
// Not exact (documented limits): a metav1.Time that is set (`creationTimestamp` other than null:
// Go decodes it into the controller's local time zone and prints the *time.Location; printed here
// as the zero time); managedFields' FieldsV1 bytes; a Quantity whose canonical text Go itself
// parses on its slow inf.Dec path (more than 18 digits, binary suffixes from about Pi up, or
// values that overflow int64); Go types missing from the table print as strings. Unknown JSON
// fields are ignored, as Go's decoder drops them.

enum PodTemplateHash {
    static func compute(_ template: JSONValue, collisionCount: Int? = nil) -> String {
        var hash: UInt32 = 2_166_136_261
        func write<Bytes: Sequence>(_ bytes: Bytes) where Bytes.Element == UInt8 {
            for byte in bytes { hash = (hash ^ UInt32(byte)) &* 16_777_619 }
        }
        write(spew(template).utf8)
        if let collisionCount {
            let count = UInt32(truncatingIfNeeded: Int32(truncatingIfNeeded: collisionCount))
            write([UInt8(truncatingIfNeeded: count), UInt8(truncatingIfNeeded: count >> 8),
                   UInt8(truncatingIfNeeded: count >> 16), UInt8(truncatingIfNeeded: count >> 24), 0, 0, 0, 0])
        }
        return safeEncode(String(hash))
    }

    /// The text Go hashes: spew's `%#v` of the v1.PodTemplateSpec.
    static func spew(_ template: JSONValue) -> String {
        var printer = Printer()
        printer.emit("v1.PodTemplateSpec", template, showType: true)
        return printer.out
    }

    /// The Go types the struct table uses that this printer does not know, which it would print
    /// as strings: empty while the table is complete (a test should check it).
    static var unresolvedTypes: Set<String> {
        let special: Set<String> = ["string", "bool", "int32", "int64", "uint8", "resource.Quantity",
                                    "intstr.IntOrString", "time.Time"]
        var unknown = Set<String>()
        for field in structs.values.joined() {
            var type = Substring(field.type)
            while type.hasPrefix("*") || type.hasPrefix("[]") { type = type.dropFirst(type.hasPrefix("*") ? 1 : 2) }
            let parts = type.hasPrefix("map[") ? type.dropFirst(4).split(separator: "]").map(String.init) : [String(type)]
            for part in parts {
                let known = structs[part] != nil || namedOther[part] != nil || namedStrings.contains(part) || special.contains(part)
                if !known { unknown.insert(part) }
            }
        }
        return unknown
    }

    /// rand.SafeEncodeString: each character c becomes alphanums[int(c) % len(alphanums)].
    static func safeEncode(_ s: String) -> String {
        let alphabet = Array("bcdfghjklmnpqrstvwxz2456789".unicodeScalars)
        var encoded = ""
        for c in s.unicodeScalars { encoded.unicodeScalars.append(alphabet[Int(c.value) % alphabet.count]) }
        return encoded
    }

    private struct Printer {
        var out = ""

        /// `milli`: the value is a ResourceList entry, which SetDefaults_ResourceList rounds up to milli.
        mutating func emit(_ type: String, _ json: JSONValue?, showType: Bool, milli: Bool = false) {
            var value = json
            if case .null? = json { value = nil }
            if showType { out += "(" + type + ")" }
            if type.hasPrefix("*") {
                guard let target = value else { out += "<nil>"; return }
                emit(String(type.dropFirst()), target, showType: false, milli: milli)
                return
            }
            if type.hasPrefix("[]") {
                guard let elements = value?.array, !elements.isEmpty else { out += "<nil>"; return }
                out += "["
                for (i, element) in elements.enumerated() {
                    if i > 0 { out += " " }
                    emit(String(type.dropFirst(2)), element, showType: false)
                }
                out += "]"
                return
            }
            if type.hasPrefix("map["), let close = type.firstIndex(of: "]") {
                let keyType = String(type[type.index(type.startIndex, offsetBy: 4)..<close])
                let valueType = String(type[type.index(after: close)...])
                emitMap(keyType, valueType, value, milli: milli)
                return
            }
            if let fields = PodTemplateHash.structs[type] {
                let object = value?.object ?? [:]
                out += "{"
                for (i, field) in fields.enumerated() {
                    if i > 0 { out += " " }
                    out += field.name + ":"
                    if let key = field.json {
                        emit(field.type, object[key], showType: true)
                    } else {
                        emit(field.type, value, showType: true) // embedded and inlined: the same JSON object
                    }
                }
                out += "}"
                return
            }
            if let underlying = PodTemplateHash.namedOther[type] {
                // A named map (v1.ResourceList) or number: printed as its underlying kind.
                if underlying.hasPrefix("map["), let close = underlying.firstIndex(of: "]") {
                    let keyType = String(underlying[underlying.index(underlying.startIndex, offsetBy: 4)..<close])
                    emitMap(keyType, String(underlying[underlying.index(after: close)...]), value,
                            milli: type == "v1.ResourceList")
                } else {
                    emit(underlying, value, showType: false)
                }
                return
            }
            switch type {
            case "bool":
                out += value?.bool == true ? "true" : "false"
            case "int", "int8", "int16", "int32", "int64", "uint", "uint8", "uint16", "uint32", "uint64":
                out += String(Self.integer(value))
            case "intstr.IntOrString":
                // UnmarshalJSON: a JSON string is Type 1 (String), a number Type 0 (Int).
                if let s = value?.string {
                    out += "{Type:(intstr.Type)1 IntVal:(int32)0 StrVal:(string)" + s + "}"
                } else {
                    out += "{Type:(intstr.Type)0 IntVal:(int32)\(Int32(truncatingIfNeeded: Self.integer(value))) StrVal:(string)}"
                }
            case "time.Time":
                // Only the zero time (`null`, what templates carry) is exact; see the limits above.
                out += "{wall:(uint64)0 ext:(int64)0 loc:(*time.Location)<nil>}"
            case "resource.Quantity":
                let q = Quantity.decoded(value, roundToMilli: milli) ?? Quantity(value: 0, scale: 0, cached: "", format: "")
                out += "{i:(resource.int64Amount){value:(int64)\(q.value) scale:(resource.Scale)\(q.scale)}"
                out += " d:(resource.infDecAmount){Dec:(*inf.Dec)<nil>} s:(string)\(q.cached) Format:(resource.Format)\(q.format)}"
            default:
                // string, and every named string type (PodTemplateHash.namedStrings), and anything unknown.
                out += value?.string ?? ""
            }
        }

        mutating func emitMap(_ keyType: String, _ valueType: String, _ value: JSONValue?, milli: Bool) {
            guard let object = value?.object, !object.isEmpty else { out += "<nil>"; return }
            out += "map["
            let keys = object.keys.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
            for (i, key) in keys.enumerated() {
                if i > 0 { out += " " }
                emit(keyType, .string(key), showType: false)
                out += ":"
                emit(valueType, object[key], showType: false, milli: milli)
            }
            out += "]"
        }

        static func integer(_ value: JSONValue?) -> Int64 {
            guard let n = value?.number, n.isFinite, abs(n) < 9.2e18 else { return 0 }
            return Int64(n.rounded(.towardZero))
        }
    }
}

extension PodTemplateHash {
    /// A resource.Quantity as the controller holds it: `{i: int64Amount{value, scale}, d: {nil},
    /// s, Format}`. The API server parses the client's text (SetDefaults_ResourceList rounds
    /// ResourceList values up to milli), stores `String()` — the canonical text — and the
    /// controller's protobuf decoder runs ParseQuantity on that text again; ParseQuantity keeps the
    /// text in `s` only when it is already canonical in its eyes (so "100m" keeps it, "128Mi" does
    /// not). Ported from k8s.io/apimachinery v0.36.3 pkg/api/resource quantity.go, amount.go,
    /// math.go and suffix.go.
    struct Quantity: Equatable {
        var value: Int64
        var scale: Int32
        var cached: String
        var format: String

        /// An exact amount, mantissa × 10^scale.
        struct Amount: Equatable {
            var mantissa: Int64
            var scale: Int32
            var format: String
        }

        static func decoded(_ json: JSONValue?, roundToMilli: Bool) -> Quantity? {
            let text: String
            switch json {
            case .string(let s)?: text = s.trimmingCharacters(in: .whitespacesAndNewlines)
            case .number(let n)?: text = n.rounded() == n && abs(n) < 1e15 ? String(Int64(n)) : String(n)
            default: text = "0" // absent or null: the zero Quantity, whose String() is "0"
            }
            guard var amount = exact(text) else { return nil }
            if roundToMilli { amount = roundUp(amount, to: -3) }
            guard let canonical = canonical(amount) else { return nil }
            return parse(canonical)
        }

        /// parseQuantityString: sign, digits before and after the point, and the suffix.
        static func split(_ s: [UInt8]) -> (positive: Bool, num: [UInt8], denom: [UInt8], suffix: [UInt8])? {
            func isDigit(_ c: UInt8) -> Bool { c >= 48 && c <= 57 }
            let end = s.count
            var positive = true, pos = 0
            if pos < end, s[0] == UInt8(ascii: "-") || s[0] == UInt8(ascii: "+") {
                positive = s[0] == UInt8(ascii: "+")
                pos += 1
            }
            while pos < end, s[pos] == UInt8(ascii: "0") { pos += 1 }
            if pos >= end { return (positive, [48], [], []) }
            var i = pos
            while i < end, isDigit(s[i]) { i += 1 }
            var num = Array(s[pos..<i])
            pos = i
            if num.isEmpty { num = [48] }
            var denom: [UInt8] = []
            if pos < end, s[pos] == UInt8(ascii: ".") {
                pos += 1
                var j = pos
                while j < end, isDigit(s[j]) { j += 1 }
                denom = Array(s[pos..<j])
                pos = j
            }
            let suffixStart = pos
            let letters = Array("eEinumkKMGTP".utf8)
            while pos < end, letters.contains(s[pos]) { pos += 1 }
            if pos < end, s[pos] == UInt8(ascii: "-") || s[pos] == UInt8(ascii: "+") { pos += 1 }
            while pos < end, isDigit(s[pos]) { pos += 1 }
            guard pos == end else { return nil } // ErrFormatWrong
            return (positive, num, denom, Array(s[suffixStart..<end]))
        }

        /// quantitySuffixer.interpret: (base, exponent, format).
        static func interpret(_ suffix: String) -> (base: Int32, exponent: Int32, format: String)? {
            let decimal: [String: Int32] = ["": 0, "n": -9, "u": -6, "m": -3, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18]
            let binary: [String: Int32] = ["Ki": 10, "Mi": 20, "Gi": 30, "Ti": 40, "Pi": 50, "Ei": 60]
            if let e = decimal[suffix] { return (10, e, "DecimalSI") }
            if let e = binary[suffix] { return (2, e, "BinarySI") }
            if suffix.count > 1, suffix.first == "e" || suffix.first == "E", let e = Int64(suffix.dropFirst()) {
                return (10, Int32(truncatingIfNeeded: e), "DecimalExponent")
            }
            return nil
        }

        /// ParseQuantity's int64 fast path; nil where Go parses into an inf.Dec or fails.
        static func parse(_ str: String) -> Quantity? {
            if str == "0" { return Quantity(value: 0, scale: 0, cached: "0", format: "DecimalSI") }
            guard !str.isEmpty, let p = split(Array(str.utf8)),
                  let suffix = interpret(String(decoding: p.suffix, as: UTF8.self)) else { return nil }
            let exponent = suffix.exponent, format = suffix.format
            let precision: Int32
            var scale: Int32 = 0, mantissa: Int64 = 1
            if format == "BinarySI" {
                guard exponent >= 0, p.denom.isEmpty else { return nil }
                mantissa = 1 << Int64(exponent)
                precision = 15 - Int32(p.num.count) - Int32(Float(exponent) * 3 / 10) - 1
            } else {
                scale = exponent
                precision = 18 - Int32(p.num.count + p.denom.count)
            }
            scale -= Int32(p.denom.count)
            guard precision >= 0, scale >= -9 else { return nil }
            let shifted = p.num + p.denom
            guard let value = Int64(String(decoding: shifted, as: UTF8.self)),
                  var result = multiply(value, mantissa) else { return nil }
            if !p.positive { result = -result }
            let keep = format == "BinarySI"
                ? exponent % 10 == 0 && value & 0x07 != 0
                : scale % 3 == 0 && !shifted.suffix(3).elementsEqual("000".utf8) && shifted.first != UInt8(ascii: "0")
            return Quantity(value: result, scale: scale, cached: keep ? str : "", format: format)
        }

        /// The exact value, by either of ParseQuantity's paths (the slow one rounds up to nano).
        static func exact(_ str: String) -> Amount? {
            if let q = parse(str) { return Amount(mantissa: q.value, scale: q.scale, format: q.format) }
            guard !str.isEmpty, let p = split(Array(str.utf8)),
                  let suffix = interpret(String(decoding: p.suffix, as: UTF8.self)),
                  var mantissa = Int64(String(decoding: p.num + p.denom, as: UTF8.self)) else { return nil }
            var scale = -Int32(p.denom.count)
            if suffix.base == 10 {
                scale += suffix.exponent
            } else {
                for _ in 0..<suffix.exponent {
                    guard let m = multiply(mantissa, 2) else { return nil }
                    mantissa = m
                }
            }
            if !p.positive { mantissa = -mantissa }
            return roundUp(Amount(mantissa: mantissa, scale: scale, format: suffix.format), to: -9)
        }

        /// int64Amount.AsScale / negativeScaleInt64: fewer decimals, rounding away from zero.
        static func roundUp(_ a: Amount, to target: Int32) -> Amount {
            guard a.scale < target else { return a }
            var value = a.mantissa, fraction = false
            for _ in 0..<(target - a.scale) {
                if !fraction, value % 10 != 0 { fraction = true }
                value /= 10
                if value == 0 { break }
            }
            if fraction { value += a.mantissa > 0 ? 1 : -1 }
            return Amount(mantissa: value, scale: target, format: a.format)
        }

        /// Quantity.String() / CanonicalizeBytes.
        static func canonical(_ a: Amount) -> String? {
            if a.mantissa == 0 { return "0" }
            var format = a.format
            if format == "BinarySI" {
                if let whole = wholeValue(a), whole > -1024, whole < 1024 {
                    format = "DecimalSI"
                } else if let whole = wholeValue(a) {
                    let (amount, times) = removeFactors(whole, 1024)
                    let suffixes = ["", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"]
                    return String(amount) + (Int(times) < suffixes.count ? suffixes[Int(times)] : "")
                } else {
                    format = "DecimalSI" // not a whole number (or beyond int64): shown as DecimalSI
                }
            }
            let (withoutTens, times) = removeFactors(a.mantissa, 10)
            var amount = withoutTens, exponent = a.scale + times
            switch exponent % 3 {
            case 1, -2:
                guard let m = multiply(amount, 10) else { return nil }
                amount = m; exponent -= 1
            case 2, -1:
                guard let m = multiply(amount, 100) else { return nil }
                amount = m; exponent -= 2
            default:
                break
            }
            if format == "DecimalExponent" { return String(amount) + (exponent == 0 ? "" : "e\(exponent)") }
            let suffixes: [Int32: String] = [-9: "n", -6: "u", -3: "m", 0: "", 3: "k", 6: "M", 9: "G", 12: "T", 15: "P", 18: "E"]
            return String(amount) + (suffixes[exponent] ?? "")
        }

        /// The amount as an integer, when it is one and fits in int64 (AsScale(0) exact).
        static func wholeValue(_ a: Amount) -> Int64? {
            var value = a.mantissa
            if a.scale >= 0 {
                for _ in 0..<a.scale {
                    guard let m = multiply(value, 10) else { return nil }
                    value = m
                }
                return value
            }
            for _ in 0..<(-a.scale) {
                guard value % 10 == 0 else { return nil }
                value /= 10
            }
            return value
        }

        /// removeInt64Factors: value == result * base^times.
        static func removeFactors(_ value: Int64, _ base: Int64) -> (Int64, Int32) {
            var result = value.magnitude, times: Int32 = 0
            while result >= UInt64(base), result % UInt64(base) == 0 { result /= UInt64(base); times += 1 }
            let signed = Int64(truncatingIfNeeded: result)
            return (value < 0 ? 0 &- signed : signed, times)
        }

        static func multiply(_ a: Int64, _ b: Int64) -> Int64? {
            let (product, overflow) = a.multipliedReportingOverflow(by: b)
            return overflow ? nil : product
        }
    }
}
