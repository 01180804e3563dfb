import SluiceModel

/// The Prometheus servers the controller may query: its `--prometheus-address` (the default
/// for templates that name none) and its `--allow-prometheus` entries. Sluice sends no request
/// to any other address.
public struct PrometheusAllowlist: Sendable, Hashable {
    public var defaultAddress: String?
    public var allowed: [String]

    public init(defaultAddress: String?, allowed: [String] = []) {
        self.defaultAddress = defaultAddress
        self.allowed = allowed
    }

    /// Whether a request may go to this address (for `PrometheusQuerier(admits:)`).
    public var admits: @Sendable (String) -> Bool {
        let list = self
        return { list.refusal(of: $0) == nil }
    }

    /// Nil when the address may be queried; otherwise why not, and what to do.
    public func refusal(of address: String?) -> String? {
        guard let address else {
            return defaultAddress == nil
                ? "no address is given and the controller has no --prometheus-address; set provider.prometheus.address"
                : nil
        }
        guard let target = PrometheusAddress(address) else {
            return "'\(address)' is not an http or https URL with a host"
        }
        let entries = ([defaultAddress].compactMap { $0 } + allowed).compactMap(PrometheusAddress.init)
        if entries.contains(where: { $0.admits(target) }) { return nil }
        return "'\(address)' is not allowed by the controller; add it to --allow-prometheus or use the default address"
    }
}

/// A normalized Prometheus base URL: scheme, lowercase host, explicit port, path without a trailing slash.
struct PrometheusAddress: Hashable {
    var scheme: String
    var host: String
    var port: Int
    var path: String

    init?(_ text: String) {
        let parts = text.split(separator: "://", maxSplits: 1).map(String.init)
        guard parts.count == 2, let scheme = ["http", "https"].first(where: { $0 == parts[0].lowercased() }) else {
            return nil
        }
        let rest = parts[1]
        let authority = rest.prefix { $0 != "/" && $0 != "?" && $0 != "#" }
        guard !authority.contains("@") else { return nil }
        var path = String(rest.dropFirst(authority.count).prefix { $0 != "?" && $0 != "#" })
        while path.hasSuffix("/") { path.removeLast() }
        var host = String(authority)
        var port = scheme == "https" ? 443 : 80
        if let colon = authority.lastIndex(of: ":"), !authority.hasSuffix("]") {
            guard let p = Int(authority[authority.index(after: colon)...]), (1...65535).contains(p) else { return nil }
            port = p
            host = String(authority[..<colon])
        }
        guard !host.isEmpty else { return nil }
        self.scheme = scheme
        self.host = host.lowercased()
        self.port = port
        self.path = path
    }

    /// This entry admits the target when both name the same server and the target's path is at or under this one's.
    func admits(_ target: PrometheusAddress) -> Bool {
        scheme == target.scheme && host == target.host && port == target.port
            && (target.path == path || target.path.hasPrefix(path + "/"))
    }
}
