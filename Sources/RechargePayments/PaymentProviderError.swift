import Foundation

/// Why a provider's notification or signing request was refused, precise enough for a log line and, later,
/// an `application/problem+json` body. A rejected notification is never credited, so every case is final.
public enum PaymentProviderError: Error, Equatable, Sendable, CustomStringConvertible {
    /// A header the protocol requires was absent or empty.
    case missingSignatureHeader(PaymentProvider, header: String)
    /// A signature header was present but could not be parsed (`reason` says which part).
    case malformedSignatureHeader(PaymentProvider, header: String, reason: String)
    /// The header parsed, but no signature in it was made with the key or secret we hold over these bytes.
    case noMatchingSignature(PaymentProvider)
    /// The signature is authentic but its timestamp is too far from `now` (replay protection).
    case timestampOutsideTolerance(PaymentProvider, timestamp: Int64, now: Int64, toleranceSeconds: Int64)
    /// The body is not what the protocol says it is (bad form encoding, bad JSON, wrong charset …).
    case malformedBody(PaymentProvider, reason: String)
    /// A field the notification must carry is missing or empty.
    case missingField(PaymentProvider, field: String)
    /// An amount field is not an exact whole number of minor units.
    case invalidAmount(PaymentProvider, field: String, value: String)
    /// The notification is signed or encrypted with an algorithm we do not accept.
    case unsupportedAlgorithm(PaymentProvider, algorithm: String)
    /// WeChat Pay named a platform certificate serial we hold no public key for.
    case unknownPlatformSerial(PaymentProvider, serial: String)
    /// A key or secret we were configured with is unusable (not PEM/DER, wrong length …).
    case invalidKey(PaymentProvider, reason: String)
    /// The signature was valid but the encrypted resource did not open with our key (wrong APIv3 key or
    /// tampered ciphertext, nonce or associated data).
    case decryptionFailed(PaymentProvider)
    /// PayPal named a signing certificate we do not trust: a host that is not PayPal's, a chain that does not
    /// validate to our roots, an expired certificate, or one that is not for a paypal.com host.
    case untrustedCertificate(PaymentProvider, reason: String)
    /// The signing certificate could not be fetched; the provider retries the delivery later.
    case certificateUnavailable(PaymentProvider, reason: String)

    public var provider: PaymentProvider {
        switch self {
        case .missingSignatureHeader(let p, _), .malformedSignatureHeader(let p, _, _), .noMatchingSignature(let p),
            .timestampOutsideTolerance(let p, _, _, _), .malformedBody(let p, _), .missingField(let p, _),
            .invalidAmount(let p, _, _), .unsupportedAlgorithm(let p, _), .unknownPlatformSerial(let p, _),
            .invalidKey(let p, _), .decryptionFailed(let p), .untrustedCertificate(let p, _), .certificateUnavailable(let p, _):
            return p
        }
    }

    /// A stable machine-readable code, for logs and problem+json `type` slugs.
    public var code: String {
        switch self {
        case .missingSignatureHeader: "missing_signature_header"
        case .malformedSignatureHeader: "malformed_signature_header"
        case .noMatchingSignature: "no_matching_signature"
        case .timestampOutsideTolerance: "timestamp_outside_tolerance"
        case .malformedBody: "malformed_body"
        case .missingField: "missing_field"
        case .invalidAmount: "invalid_amount"
        case .unsupportedAlgorithm: "unsupported_algorithm"
        case .unknownPlatformSerial: "unknown_platform_serial"
        case .invalidKey: "invalid_key"
        case .decryptionFailed: "decryption_failed"
        case .untrustedCertificate: "untrusted_certificate"
        case .certificateUnavailable: "certificate_unavailable"
        }
    }

    public var description: String {
        let detail: String
        switch self {
        case .missingSignatureHeader(_, let header): detail = "header \(header) is missing"
        case .malformedSignatureHeader(_, let header, let reason): detail = "header \(header) is malformed: \(reason)"
        case .noMatchingSignature: detail = "no signature matches the body"
        case .timestampOutsideTolerance(_, let timestamp, let now, let tolerance):
            detail = "timestamp \(timestamp) is more than \(tolerance) s from now (\(now))"
        case .malformedBody(_, let reason): detail = "body is malformed: \(reason)"
        case .missingField(_, let field): detail = "field \(field) is missing"
        case .invalidAmount(_, let field, let value): detail = "field \(field) is not an exact amount: \(value)"
        case .unsupportedAlgorithm(_, let algorithm): detail = "algorithm \(algorithm) is not supported"
        case .unknownPlatformSerial(_, let serial): detail = "no platform key for serial \(serial)"
        case .invalidKey(_, let reason): detail = "key is unusable: \(reason)"
        case .decryptionFailed: detail = "resource did not decrypt with the APIv3 key"
        case .untrustedCertificate(_, let reason): detail = "signing certificate not trusted: \(reason)"
        case .certificateUnavailable(_, let reason): detail = "signing certificate not fetched: \(reason)"
        }
        return "\(provider.rawValue) \(code): \(detail)"
    }
}
