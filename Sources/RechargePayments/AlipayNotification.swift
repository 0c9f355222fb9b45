import Crypto
import Foundation
import _CryptoExtras

/// A verified Alipay asynchronous payment notification (the `notify_url` POST), with the fields a
/// recharge needs typed. Only `verify(body:alipayPublicKey:)` makes one, so holding one means Alipay
/// signed exactly these bytes.
public struct AlipayNotification: Sendable, Equatable {
    public let outTradeNo: String
    public let tradeNo: String
    /// `WAIT_BUYER_PAY`, `TRADE_CLOSED`, `TRADE_SUCCESS` or `TRADE_FINISHED`; left as Alipay's word so a
    /// status added later is logged as sent rather than lost.
    public let tradeStatus: String
    /// `total_amount` ("12.34" yuan) in fen, exactly.
    public let totalAmountMinorUnits: Int64
    public let appID: String
    public let sellerID: String?
    public let notifyID: String
    /// `gmt_payment`, "yyyy-MM-dd HH:mm:ss" in Beijing time, as sent.
    public let gmtPayment: String?
    /// Every decoded parameter, `sign` included, for the audit log.
    public let parameters: [String: String]

    /// Whether the buyer's money has arrived (the two statuses Alipay documents as paid).
    public var isPaid: Bool { tradeStatus == "TRADE_SUCCESS" || tradeStatus == "TRADE_FINISHED" }

    /// Checks, in order: the body decodes as UTF-8 form data; `sign` is present and base64; `sign_type`
    /// (when sent) is RSA2 and `charset` (when sent) UTF-8; the RSA2 signature over the canonical string
    /// (see `signingString`) verifies with Alipay's public key; then the typed fields are present and the
    /// amount exact. Fields are read only after the signature, so nothing unauthenticated is interpreted.
    public static func verify(
        body: some Collection<UInt8>, alipayPublicKey: _RSA.Signing.PublicKey
    ) throws(PaymentProviderError) -> AlipayNotification {
        let parameters = try FormURLEncoding.decode(body)
        guard let sign = parameters["sign"], !sign.isEmpty else { throw .missingField(.alipay, field: "sign") }
        if let signType = parameters["sign_type"], signType != "RSA2" {
            throw .unsupportedAlgorithm(.alipay, algorithm: signType)
        }
        if let charset = parameters["charset"], charset.lowercased() != "utf-8" {
            throw .malformedBody(.alipay, reason: "charset \(charset) is not utf-8")
        }
        // Alipay's base64 may arrive with its line breaks kept by some gateways.
        guard let signature = Data(base64Encoded: sign.filter { !$0.isWhitespace }) else {
            throw .malformedBody(.alipay, reason: "sign is not base64")
        }
        let message = Data(signingString(parameters, excluding: ["sign", "sign_type"]).utf8)
        guard alipayPublicKey.isValidSignature(
            _RSA.Signing.RSASignature(rawRepresentation: signature), for: SHA256.hash(data: message),
            padding: .insecurePKCS1v1_5)
        else { throw .noMatchingSignature(.alipay) }

        func required(_ name: String) throws(PaymentProviderError) -> String {
            guard let value = parameters[name], !value.isEmpty else { throw .missingField(.alipay, field: name) }
            return value
        }
        return AlipayNotification(
            outTradeNo: try required("out_trade_no"),
            tradeNo: try required("trade_no"),
            tradeStatus: try required("trade_status"),
            totalAmountMinorUnits: try MinorUnitAmount.parse(
                try required("total_amount"), field: "total_amount", provider: .alipay),
            appID: try required("app_id"),
            sellerID: parameters["seller_id"].flatMap { $0.isEmpty ? nil : $0 },
            notifyID: try required("notify_id"),
            gmtPayment: parameters["gmt_payment"].flatMap { $0.isEmpty ? nil : $0 },
            parameters: parameters)
    }

    /// Alipay's canonical string: parameters other than `excluded` with non-empty values, sorted by key
    /// (byte order, as Alipay's Java SDK sorts ASCII keys), joined `k=v&k=v` with the decoded values.
    public static func signingString(_ parameters: [String: String], excluding excluded: Set<String>) -> String {
        parameters
            .filter { !excluded.contains($0.key) && !$0.value.isEmpty }
            .sorted { $0.key.utf8.lexicographicallyPrecedes($1.key.utf8) }
            .map { "\($0.key)=\($0.value)" }
            .joined(separator: "&")
    }
}
