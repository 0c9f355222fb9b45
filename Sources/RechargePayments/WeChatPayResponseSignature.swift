import Crypto
import Foundation
import _CryptoExtras

/// The `Wechatpay-*` signature on an API v3 answer or notification: SHA256withRSA by the platform key named
/// in `Wechatpay-Serial` over `"<timestamp>\n<nonce>\n<body>\n"`, timestamp within tolerance.
enum WeChatPayResponseSignature {
    static func verify(
        body: some DataProtocol, headers: WeChatPaySignatureHeaders, platformKeys: [String: _RSA.Signing.PublicKey],
        now: Date, toleranceSeconds: Int64
    ) throws(PaymentProviderError) {
        func present(_ value: String?, _ name: String) throws(PaymentProviderError) -> String {
            guard let value, !value.isEmpty else { throw .missingSignatureHeader(.wechatPay, header: name) }
            return value
        }
        let timestampText = try present(headers.timestamp, WeChatPaySignatureHeaders.timestampName)
        let nonce = try present(headers.nonce, WeChatPaySignatureHeaders.nonceName)
        let signatureText = try present(headers.signature, WeChatPaySignatureHeaders.signatureName)
        let serial = try present(headers.serial, WeChatPaySignatureHeaders.serialName)
        guard timestampText.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }), let timestamp = Int64(timestampText) else {
            throw .malformedSignatureHeader(
                .wechatPay, header: WeChatPaySignatureHeaders.timestampName, reason: "not a unix timestamp")
        }
        guard let key = platformKeys[serial] else { throw .unknownPlatformSerial(.wechatPay, serial: serial) }
        guard let signature = Data(base64Encoded: signatureText) else {
            throw .malformedSignatureHeader(.wechatPay, header: WeChatPaySignatureHeaders.signatureName, reason: "not base64")
        }
        var message = Data("\(timestampText)\n\(nonce)\n".utf8)
        message.append(contentsOf: body)
        message.append(UInt8(ascii: "\n"))
        guard key.isValidSignature(
            _RSA.Signing.RSASignature(rawRepresentation: signature), for: SHA256.hash(data: message),
            padding: .insecurePKCS1v1_5)
        else { throw .noMatchingSignature(.wechatPay) }
        let nowSeconds = Int64(now.timeIntervalSince1970.rounded(.down))
        guard abs(nowSeconds - timestamp) <= toleranceSeconds else {
            throw .timestampOutsideTolerance(.wechatPay, timestamp: timestamp, now: nowSeconds, toleranceSeconds: toleranceSeconds)
        }
    }
}
