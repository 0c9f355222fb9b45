import Crypto
import Foundation
import RechargeCore

/// Verifies Stripe's `Stripe-Signature` webhook header against the raw request body, and signs bodies the
/// same way for our own tests and the sandbox provider.
///
/// Header: `t=<unix seconds>,v1=<hex HMAC-SHA256>[,v1=…][,v0=…]`. The MAC is over `"<t>." + body` keyed
/// with the endpoint secret (`whsec_…`) taken as UTF-8 bytes, as is. Several `v1` entries appear while a
/// secret is being rolled; any one matching is enough. `v0` and unknown schemes are ignored.
public struct StripeWebhookSignature: Sendable {
    public static let headerName = "Stripe-Signature"
    public static let defaultToleranceSeconds: Int64 = 300

    public let secret: String
    public let toleranceSeconds: Int64

    public init(secret: String, toleranceSeconds: Int64 = StripeWebhookSignature.defaultToleranceSeconds) {
        self.secret = secret
        self.toleranceSeconds = toleranceSeconds
    }

    /// Checks, in order: header present, header parses (one integer `t`, at least one `v1`), some `v1`
    /// matches (constant time), `t` within tolerance of `now`. The signature goes before the clock so that
    /// a forged request is reported as forged, not as stale. Returns the signed timestamp.
    @discardableResult
    public func verify(payload: some DataProtocol, header: String?, now: Date) throws(PaymentProviderError) -> Int64 {
        guard let header, !header.isEmpty else {
            throw .missingSignatureHeader(.stripe, header: Self.headerName)
        }
        let parsed = try Self.parse(header)
        let expected = Self.mac(payload: payload, secret: secret, timestamp: parsed.timestamp)
        // Evaluate every candidate so the time taken does not say which entry (if any) matched.
        var matched = false
        for candidate in parsed.signatures {
            if let bytes = Self.hexBytes(candidate), ConstantTime.equal(bytes, expected) { matched = true }
        }
        guard matched else { throw .noMatchingSignature(.stripe) }
        let nowSeconds = Int64(now.timeIntervalSince1970.rounded(.down))
        // Stripe's own libraries only refuse old timestamps; we refuse ones from the future too, since a
        // clock that far ahead on either side is a fault worth seeing rather than accepting.
        guard abs(nowSeconds - parsed.timestamp) <= toleranceSeconds else {
            throw .timestampOutsideTolerance(.stripe, timestamp: parsed.timestamp, now: nowSeconds, toleranceSeconds: toleranceSeconds)
        }
        return parsed.timestamp
    }

    /// The `Stripe-Signature` header value Stripe would send for `payload` at `timestamp`.
    public static func sign(payload: some DataProtocol, secret: String, timestamp: Int64) -> String {
        let mac = mac(payload: payload, secret: secret, timestamp: timestamp)
        return "t=\(timestamp),v1=\(mac.map { String(format: "%02x", $0) }.joined())"
    }

    static func mac(payload: some DataProtocol, secret: String, timestamp: Int64) -> [UInt8] {
        var hmac = HMAC<SHA256>(key: SymmetricKey(data: Data(secret.utf8)))
        hmac.update(data: Data("\(timestamp).".utf8))
        hmac.update(data: payload)
        return Array(hmac.finalize())
    }

    static func parse(_ header: String) throws(PaymentProviderError) -> (timestamp: Int64, signatures: [Substring]) {
        func malformed(_ reason: String) -> PaymentProviderError {
            .malformedSignatureHeader(.stripe, header: headerName, reason: reason)
        }
        var timestamp: Int64?
        var signatures: [Substring] = []
        for item in header.split(separator: ",", omittingEmptySubsequences: false) {
            let item = item.trimmingCharacters(in: .whitespaces)
            guard let equals = item.firstIndex(of: "=") else { throw malformed("entry without '='") }
            let key = item[..<equals]
            let value = item[item.index(after: equals)...]
            switch key {
            case "t":
                guard timestamp == nil else { throw malformed("more than one t") }
                guard !value.isEmpty, value.allSatisfy(\.isASCIIDigit), let t = Int64(value) else {
                    throw malformed("t is not a unix timestamp")
                }
                timestamp = t
            case "v1":
                signatures.append(Substring(value))
            default:
                continue  // v0 (test-mode legacy) and schemes Stripe may add later
            }
        }
        guard let timestamp else { throw malformed("no t") }
        guard !signatures.isEmpty else { throw malformed("no v1 signature") }
        return (timestamp, signatures)
    }

    static func hexBytes(_ hex: Substring) -> [UInt8]? {
        let digits = Array(hex.utf8)
        guard digits.count % 2 == 0 else { return nil }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(digits.count / 2)
        var index = 0
        while index < digits.count {
            guard let high = hexValue(digits[index]), let low = hexValue(digits[index + 1]) else { return nil }
            bytes.append(high << 4 | low)
            index += 2
        }
        return bytes
    }

    private static func hexValue(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): c - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): c - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}

extension Character {
    fileprivate var isASCIIDigit: Bool { isASCII && isNumber }
}
