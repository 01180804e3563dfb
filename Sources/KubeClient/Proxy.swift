import AsyncHTTPClient
import Foundation

/// Which proxy a client goes through, as client-go decides: the cluster's `proxy-url` when the
/// kubeconfig gives one; else `HTTPS_PROXY` (for an https server) or `HTTP_PROXY` (for http),
/// upper or lower case, unless `NO_PROXY` names the server's host — exactly, as a domain suffix
/// (`.example.com` or `example.com`), as a CIDR range, or `*`.
public enum ProxySettings {
    public struct Choice: Sendable, Hashable {
        public var scheme: String
        public var host: String
        public var port: Int
        public var username: String?
        public var password: String?
    }

    public static func choose(server: String, proxyURL: String?, environment: [String: String]) throws(KubeClientError) -> Choice? {
        guard let target = URLComponents(string: server), let host = target.host else { return nil }
        func env(_ name: String) -> String? { (environment[name] ?? environment[name.lowercased()]).flatMap { $0.isEmpty ? nil : $0 } }
        let raw: String
        if let proxyURL, !proxyURL.isEmpty {
            raw = proxyURL
        } else {
            guard let fromEnvironment = target.scheme == "https" ? env("HTTPS_PROXY") : env("HTTP_PROXY") else { return nil }
            if let exempt = env("NO_PROXY"), bypasses(host: host, noProxy: exempt) { return nil }
            raw = fromEnvironment
        }
        let text = raw.contains("://") ? raw : "http://" + raw
        guard let url = URLComponents(string: text), let proxyHost = url.host, let scheme = url.scheme?.lowercased(),
              ["http", "https", "socks5"].contains(scheme) else {
            throw .credentials("proxy \(raw) is not an http://, https:// or socks5:// URL")
        }
        let port = url.port ?? (scheme == "socks5" ? 1080 : scheme == "https" ? 443 : 80)
        return Choice(scheme: scheme, host: proxyHost, port: port, username: url.user, password: url.password)
    }

    /// `NO_PROXY`: comma-separated hosts, domains (`.example.com` or `example.com` matches its
    /// subdomains too), IPv4 CIDR ranges, `host:port` entries (the host part), or `*`.
    static func bypasses(host: String, noProxy: String) -> Bool {
        let host = host.lowercased()
        for raw in noProxy.split(separator: ",") {
            var entry = raw.trimmingCharacters(in: .whitespaces).lowercased()
            if entry.isEmpty { continue }
            if entry == "*" { return true }
            if entry.contains("/") {
                if inRange(host, cidr: entry) { return true }
                continue
            }
            if let colon = entry.lastIndex(of: ":"), !entry.contains("]"), entry.filter({ $0 == ":" }).count == 1 {
                entry = String(entry[..<colon])
            }
            if entry.hasPrefix(".") { entry.removeFirst() }
            if host == entry || host.hasSuffix("." + entry) { return true }
        }
        return false
    }

    static func inRange(_ host: String, cidr: String) -> Bool {
        let parts = cidr.split(separator: "/")
        guard parts.count == 2, let bits = Int(parts[1]), (0...32).contains(bits),
              let network = ipv4(String(parts[0])), let address = ipv4(host) else { return false }
        let mask: UInt32 = bits == 0 ? 0 : ~UInt32(0) << (32 - bits)
        return network & mask == address & mask
    }

    static func ipv4(_ text: String) -> UInt32? {
        let octets = text.split(separator: ".").compactMap { UInt32($0) }
        guard octets.count == 4, octets.allSatisfy({ $0 < 256 }), text.split(separator: ".").count == 4 else { return nil }
        return octets.reduce(0) { $0 << 8 | $1 }
    }

    /// The AsyncHTTPClient proxy for a choice.
    static func configuration(_ choice: Choice?) -> HTTPClient.Configuration.Proxy? {
        guard let choice else { return nil }
        if choice.scheme == "socks5" { return .socksServer(host: choice.host, port: choice.port) }
        if let user = choice.username {
            return .server(host: choice.host, port: choice.port, authorization: .basic(username: user, password: choice.password ?? ""))
        }
        return .server(host: choice.host, port: choice.port)
    }
}
