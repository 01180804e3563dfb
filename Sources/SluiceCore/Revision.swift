import SluiceModel

/// Pod templates compared as the Deployment controller would see them: the `pod-template-hash`
/// label it adds to its ReplicaSets is ignored, and so is the order of keys.
public enum Revision {
    /// The template without the labels Sluice and the Deployment controller add.
    public static func normalized(_ template: PodTemplateSpec) -> PodTemplateSpec {
        var t = template
        if var labels = t.metadata?.labels {
            for key in [PodTemplateSpec.podTemplateHashLabel, Labels.rollout, Labels.role, Labels.revision] {
                labels[key] = nil
            }
            t.metadata?.labels = labels.isEmpty ? nil : labels
        }
        if t.metadata == ObjectMeta() { t.metadata = nil }
        return t
    }

    public static func same(_ a: PodTemplateSpec, _ b: PodTemplateSpec) -> Bool {
        normalized(a) == normalized(b)
    }

    /// A short, stable hash of the normalized template: FNV-1a over its canonical JSON, in
    /// base 36, ten characters. Names the canary (`<deployment>-<hash>`).
    public static func hash(_ template: PodTemplateSpec) -> String {
        let t = normalized(template)
        var text = ""
        if var meta = t.metadata {
            let labels = meta.labels ?? [:]
            let annotations = meta.annotations ?? [:]
            meta.labels = nil
            meta.annotations = nil
            canonical(.object(labels.mapValues(JSONValue.string)), into: &text)
            canonical(.object(annotations.mapValues(JSONValue.string)), into: &text)
            if meta != ObjectMeta() { canonical((try? JSONValue(encoding: meta)) ?? .null, into: &text) }
        }
        canonical(t.spec, into: &text)
        return digest(text)
    }

    /// Ten base-30 characters of FNV-1a over `text` (no vowels: no accidental words).
    static func digest(_ text: String) -> String {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in text.utf8 {
            h ^= UInt64(byte)
            h = h &* 0x0000_0100_0000_01B3
        }
        let digits = Array("0123456789bcdfghjklmnpqrstvwxz")
        var out = ""
        for _ in 0..<10 {
            out.append(digits[Int(h % UInt64(digits.count))])
            h /= UInt64(digits.count)
        }
        return out
    }

    /// A value's canonical JSON text: keys sorted, numbers as the engine formats them.
    static func canonical(_ value: JSONValue) -> String {
        var out = ""
        canonical(value, into: &out)
        return out
    }

    private static func canonical(_ value: JSONValue, into out: inout String) {
        switch value {
        case .null: out += "null"
        case .bool(let b): out += b ? "true" : "false"
        case .number(let n): out += MetricValue.format(n)
        case .string(let s): out += "\"" + s.replacingOccurrences(of: "\"", with: "\\\"") + "\""
        case .array(let a):
            out += "["
            for (i, v) in a.enumerated() {
                if i > 0 { out += "," }
                canonical(v, into: &out)
            }
            out += "]"
        case .object(let o):
            out += "{"
            for (i, key) in o.keys.sorted().enumerated() {
                if i > 0 { out += "," }
                out += "\"\(key)\":"
                canonical(o[key]!, into: &out)
            }
            out += "}"
        }
    }
}

/// Labels and annotations Sluice reads and writes.
public enum Labels {
    public static let rollout = "sluice.dev/rollout"
    public static let role = "sluice.dev/role"
    public static let revision = "sluice.dev/revision"
    public static let finalizer = "sluice.dev/cleanup"
    public static let abort = "sluice.dev/abort"
    public static let promote = "sluice.dev/promote"
    public static let retry = "sluice.dev/retry"
    public static let onDelete = "sluice.dev/on-delete"
    public static let allowRollouts = "sluice.dev/allow-rollouts"
}

extension String {
    fileprivate func replacingOccurrences(of target: String, with replacement: String) -> String {
        split(separator: Character(target), omittingEmptySubsequences: false).joined(separator: replacement)
    }
}
