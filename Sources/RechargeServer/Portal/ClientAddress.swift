import Foundation
import NIOCore

/// An IPv4 or IPv6 address as its bytes (4 or 16), parsed with `inet_pton`; an IPv4-mapped IPv6 address
/// (`::ffff:192.0.2.1`) is the IPv4 address it maps.
struct IPAddress: Hashable, Sendable {
    let bytes: [UInt8]

    /// Accepts `192.0.2.1`, `192.0.2.1:443`, `2001:db8::1`, `[2001:db8::1]:443` and a zone (`fe80::1%eth0`).
    init?(_ text: some StringProtocol) {
        var text = String(text).trimmingCharacters(in: .whitespaces)
        if text.hasPrefix("["), let end = text.firstIndex(of: "]") {
            text = String(text[text.index(after: text.startIndex)..<end])
        } else if text.filter({ $0 == ":" }).count == 1, let colon = text.firstIndex(of: ":") {
            text = String(text[..<colon])
        }
        if let percent = text.firstIndex(of: "%") { text = String(text[..<percent]) }
        guard !text.isEmpty, text.utf8.count <= 64 else { return nil }
        var v4 = in_addr()
        if inet_pton(AF_INET, text, &v4) == 1 {
            bytes = withUnsafeBytes(of: v4) { Array($0) }
            return
        }
        var v6 = in6_addr()
        guard inet_pton(AF_INET6, text, &v6) == 1 else { return nil }
        let all = withUnsafeBytes(of: v6) { Array($0) }
        bytes = all.prefix(10).allSatisfy { $0 == 0 } && all[10] == 0xFF && all[11] == 0xFF ? Array(all.suffix(4)) : all
    }

    static let loopback = IPAddress("127.0.0.1")!

    /// What a client is counted under: an IPv4 address, or the /64 of an IPv6 address — one subscriber's
    /// allocation, which holds 2^64 addresses an attacker could otherwise rotate through.
    var clientKey: String {
        if bytes.count == 4 { return bytes.map(String.init).joined(separator: ".") }
        let groups = stride(from: 0, to: 8, by: 2).map { String(UInt16(bytes[$0]) << 8 | UInt16(bytes[$0 + 1]), radix: 16) }
        return groups.joined(separator: ":") + "::/64"
    }
}

/// A CIDR block (`10.0.0.0/8`, `::1/128`, or one address).
public struct IPAddressRange: Sendable, Equatable, CustomStringConvertible {
    let network: [UInt8]
    let prefixLength: Int
    public let description: String

    public init?(_ text: String) {
        let parts = text.trimmingCharacters(in: .whitespaces).split(separator: "/", maxSplits: 1)
        guard let first = parts.first, let address = IPAddress(first) else { return nil }
        let bits = address.bytes.count * 8
        let length = parts.count == 2 ? Int(parts[1]) : bits
        guard let length, (0...bits).contains(length) else { return nil }
        network = address.bytes
        prefixLength = length
        description = text.trimmingCharacters(in: .whitespaces)
    }

    func contains(_ address: IPAddress) -> Bool {
        guard address.bytes.count == network.count else { return false }
        var remaining = prefixLength
        for (mine, theirs) in zip(network, address.bytes) where remaining > 0 {
            let mask: UInt8 = remaining >= 8 ? 0xFF : ~(0xFF >> UInt8(remaining))
            if mine & mask != theirs & mask { return false }
            remaining -= 8
        }
        return true
    }
}

/// Who a request comes from, for the per-client limits (login failures, texted codes): the connection's peer,
/// or behind a reverse proxy the address the proxy saw.
///
/// `X-Forwarded-For` is anyone's to write, so it is read only when the peer is a configured trusted proxy
/// (`RECHARGE_PORTAL_TRUSTED_PROXIES`, default none: the header is ignored). Its entries are then read from the
/// right — each trusted proxy appends the address it saw — and the first one that is not a trusted proxy is the
/// client; what a client wrote to the left of that is never looked at. A peer without an IP address (a Unix-domain
/// socket, or none at all in an in-process test) is this host: it counts as 127.0.0.1.
public struct ClientAddressRule: Sendable, Equatable {
    public var trustedProxies: [IPAddressRange]

    public init(trustedProxies: [IPAddressRange] = []) {
        self.trustedProxies = trustedProxies
    }

    /// Parses `127.0.0.1/32, 10.0.0.0/8, ::1` (commas or spaces).
    public init(parsing text: String) throws(PortalConfigurationError) {
        var ranges: [IPAddressRange] = []
        for part in text.split(whereSeparator: { $0 == "," || $0 == " " }) {
            guard let range = IPAddressRange(String(part)) else {
                throw .invalid(variable: "RECHARGE_PORTAL_TRUSTED_PROXIES", value: String(part), reason: "not an IP address or CIDR block")
            }
            ranges.append(range)
        }
        self.trustedProxies = ranges
    }

    func isTrusted(_ address: IPAddress) -> Bool { trustedProxies.contains { $0.contains(address) } }

    /// The client key (``IPAddress/clientKey``) of a request from `peer` carrying `forwardedFor` (every
    /// `X-Forwarded-For` value, in order).
    func client(peer: SocketAddress?, forwardedFor: [String]) -> String {
        var current = peer?.ipAddress.flatMap { IPAddress($0) } ?? .loopback
        guard isTrusted(current) else { return current.clientKey }
        let hops = forwardedFor.flatMap { $0.split(separator: ",") }
        for hop in hops.reversed() {
            guard let address = IPAddress(hop) else { break }
            current = address
            if !isTrusted(address) { break }
        }
        return current.clientKey
    }
}
