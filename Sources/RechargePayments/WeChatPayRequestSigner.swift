import Crypto
import Foundation
import _CryptoExtras

/// Signs WeChat Pay API v3 requests: builds the `Authorization` header from the merchant id, the
/// merchant certificate's serial number and its RSA private key.
public struct WeChatPayRequestSigner: Sendable {
    public static let scheme = "WECHATPAY2-SHA256-RSA2048"

    public let mchID: String
    public let serialNo: String
    private let privateKey: _RSA.Signing.PrivateKey

    public init(mchID: String, serialNo: String, merchantPrivateKey: _RSA.Signing.PrivateKey) {
        self.mchID = mchID
        self.serialNo = serialNo
        self.privateKey = merchantPrivateKey
    }

    /// The header value for one request. `urlPathWithQuery` is the path as sent, query included
    /// (`/v3/pay/transactions/out-trade-no/R1?mchid=…`); `body` is the exact bytes sent, empty for GET.
    /// Timestamp and nonce are injected so tests and retries are reproducible.
    public func authorization(
        method: String, urlPathWithQuery: String, body: some DataProtocol, timestamp: Int64, nonce: String
    ) throws(PaymentProviderError) -> String {
        var message = Data("\(method)\n\(urlPathWithQuery)\n\(timestamp)\n\(nonce)\n".utf8)
        message.append(contentsOf: body)
        message.append(UInt8(ascii: "\n"))
        let signature: String
        do {
            signature = try privateKey.signature(for: SHA256.hash(data: message), padding: .insecurePKCS1v1_5)
                .rawRepresentation.base64EncodedString()
        } catch {
            throw .invalidKey(.wechatPay, reason: "signing failed: \(error)")
        }
        return "\(Self.scheme) mchid=\"\(mchID)\",nonce_str=\"\(nonce)\",signature=\"\(signature)\","
            + "timestamp=\"\(timestamp)\",serial_no=\"\(serialNo)\""
    }
}
