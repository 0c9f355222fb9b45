import Crypto
import Foundation
import _CryptoExtras

/// A verified and decrypted WeChat Pay API v3 notification. Only `verify(…)` makes one, so holding one
/// means the platform key signed these exact bytes recently and the resource opened with our APIv3 key.
public struct WeChatPayNotification: Sendable, Equatable {
    public static let defaultToleranceSeconds: Int64 = 300

    public let id: String
    /// e.g. `TRANSACTION.SUCCESS`.
    public let eventType: String
    /// The decrypted `resource`, verbatim, for the audit log.
    public let resourcePlaintext: Data
    public let transaction: WeChatPayTransaction

    /// Checks, in order: all four headers present; timestamp an integer; serial names a platform key we
    /// hold; signature base64 and valid (SHA256withRSA PKCS#1 v1.5) over `"<ts>\n<nonce>\n<body>\n"`;
    /// timestamp within `toleranceSeconds` of `now`; body is the notification JSON; resource algorithm is
    /// AEAD_AES_256_GCM with a 12-byte nonce; it decrypts and authenticates with `apiV3Key` and the
    /// associated data; the plaintext is a transaction. Signature before clock, as for Stripe.
    public static func verify(
        body: some DataProtocol, headers: WeChatPaySignatureHeaders,
        platformKeys: [String: _RSA.Signing.PublicKey], apiV3Key: WeChatPayAPIv3Key,
        now: Date, toleranceSeconds: Int64 = defaultToleranceSeconds
    ) throws(PaymentProviderError) -> WeChatPayNotification {
        // The same `Wechatpay-*` signature as on every API answer: header checks, signature, then the clock.
        try WeChatPayResponseSignature.verify(body: body, headers: headers, platformKeys: platformKeys, now: now, toleranceSeconds: toleranceSeconds)

        let envelope: Envelope
        do {
            envelope = try JSONDecoder().decode(Envelope.self, from: Data(body))
        } catch {
            throw .malformedBody(.wechatPay, reason: "not a notification: \(error)")
        }
        let plaintext = try decrypt(envelope.resource, key: apiV3Key)
        let transaction: WeChatPayTransaction
        do {
            transaction = try JSONDecoder().decode(WeChatPayTransaction.self, from: plaintext)
        } catch {
            throw .malformedBody(.wechatPay, reason: "resource is not a transaction: \(error)")
        }
        return WeChatPayNotification(
            id: envelope.id, eventType: envelope.eventType, resourcePlaintext: plaintext, transaction: transaction)
    }

    static func decrypt(_ resource: Resource, key: WeChatPayAPIv3Key) throws(PaymentProviderError) -> Data {
        guard resource.algorithm == "AEAD_AES_256_GCM" else {
            throw .unsupportedAlgorithm(.wechatPay, algorithm: resource.algorithm)
        }
        // WeChat sends the nonce as 12 ASCII characters and uses their bytes directly.
        let nonceBytes = Data(resource.nonce.utf8)
        guard nonceBytes.count == 12, let nonce = try? AES.GCM.Nonce(data: nonceBytes) else {
            throw .malformedBody(.wechatPay, reason: "resource nonce is not 12 bytes")
        }
        guard let combined = Data(base64Encoded: resource.ciphertext), combined.count >= 16 else {
            throw .malformedBody(.wechatPay, reason: "resource ciphertext is not base64 of ciphertext and tag")
        }
        do {
            let box = try AES.GCM.SealedBox(
                nonce: nonce, ciphertext: combined.dropLast(16), tag: combined.suffix(16))
            return try AES.GCM.open(box, using: key.symmetricKey, authenticating: Data((resource.associatedData ?? "").utf8))
        } catch {
            throw .decryptionFailed(.wechatPay)
        }
    }

    struct Envelope: Decodable {
        let id: String
        let eventType: String
        let resource: Resource

        enum CodingKeys: String, CodingKey {
            case id
            case eventType = "event_type"
            case resource
        }
    }

    struct Resource: Decodable {
        let algorithm: String
        let ciphertext: String
        let nonce: String
        let associatedData: String?

        enum CodingKeys: String, CodingKey {
            case algorithm, ciphertext, nonce
            case associatedData = "associated_data"
        }
    }
}
