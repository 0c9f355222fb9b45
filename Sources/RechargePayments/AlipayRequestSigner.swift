import Crypto
import Foundation
import _CryptoExtras

/// Signs Alipay OpenAPI requests with the merchant's RSA2 private key and writes the form body for the
/// gateway (`https://openapi.alipay.com/gateway.do`).
///
/// Requests sign every parameter except `sign` itself — `sign_type` included, unlike notifications —
/// with empty values left out, sorted by key, joined `k=v&k=v`, SHA256withRSA, base64.
public struct AlipayRequestSigner: Sendable {
    public let appID: String
    private let privateKey: _RSA.Signing.PrivateKey

    public init(appID: String, merchantPrivateKey: _RSA.Signing.PrivateKey) {
        self.appID = appID
        self.privateKey = merchantPrivateKey
    }

    /// The common parameters of `method` around `bizContent` (a JSON object, written by the caller so its
    /// bytes are exactly what gets signed). `timestamp` is injected; Alipay reads it as Beijing time.
    public func parameters(
        method: AlipayTradeMethod, bizContent: String, timestamp: Date,
        notifyURL: String? = nil, returnURL: String? = nil
    ) -> [String: String] {
        var parameters = [
            "app_id": appID,
            "method": method.rawValue,
            "charset": "utf-8",
            "sign_type": "RSA2",
            "timestamp": Self.beijingTimestamp(timestamp),
            "version": "1.0",
            "biz_content": bizContent,
        ]
        if let notifyURL { parameters["notify_url"] = notifyURL }
        if let returnURL { parameters["return_url"] = returnURL }
        return parameters
    }

    /// The base64 RSA2 signature over `parameters`' canonical string.
    public func sign(_ parameters: [String: String]) throws(PaymentProviderError) -> String {
        let message = Data(AlipayNotification.signingString(parameters, excluding: ["sign"]).utf8)
        do {
            let signature = try privateKey.signature(for: SHA256.hash(data: message), padding: .insecurePKCS1v1_5)
            return signature.rawRepresentation.base64EncodedString()
        } catch {
            throw .invalidKey(.alipay, reason: "signing failed: \(error)")
        }
    }

    /// The `application/x-www-form-urlencoded` body: the signed parameters, sorted by key, with `sign` last.
    public func formBody(_ parameters: [String: String]) throws(PaymentProviderError) -> String {
        let signature = try sign(parameters)
        let sorted = parameters
            .filter { $0.key != "sign" && !$0.value.isEmpty }
            .sorted { $0.key.utf8.lexicographicallyPrecedes($1.key.utf8) }
            .map { ($0.key, $0.value) }
        return FormURLEncoding.encode(sorted + [("sign", signature)])
    }

    static func beijingTimestamp(_ date: Date) -> String {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(secondsFromGMT: 8 * 3600)!
        let c = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second], from: date)
        func two(_ n: Int?) -> String { n.map { $0 < 10 ? "0\($0)" : "\($0)" } ?? "00" }
        return "\(c.year ?? 0)-\(two(c.month))-\(two(c.day)) \(two(c.hour)):\(two(c.minute)):\(two(c.second))"
    }
}
