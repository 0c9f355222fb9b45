import Crypto
import Foundation

/// The merchant's APIv3 key: the 32 ASCII characters set in the merchant platform, whose bytes are the
/// AES-256-GCM key for notification resources. Checked once here so a misconfiguration fails at start-up,
/// not on the first payment.
public struct WeChatPayAPIv3Key: Sendable {
    // Bytes rather than SymmetricKey: swift-crypto 3.12's SymmetricKey is not Sendable.
    private let bytes: [UInt8]

    var symmetricKey: SymmetricKey { SymmetricKey(data: bytes) }

    public init(_ text: String) throws(PaymentProviderError) {
        let bytes = Data(text.utf8)
        guard bytes.count == 32 else {
            throw .invalidKey(.wechatPay, reason: "APIv3 key must be 32 bytes, got \(bytes.count)")
        }
        self.bytes = Array(bytes)
    }
}
