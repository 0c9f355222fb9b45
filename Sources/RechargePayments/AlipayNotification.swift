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
    /// `notify_time`: when Alipay sent the notification, "yyyy-MM-dd HH:mm:ss" in Beijing time, as sent.
    public let notifyTime: String?
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
            notifyTime: parameters["notify_time"].flatMap { $0.isEmpty ? nil : $0 },
            parameters: parameters)
    }

    /// Alipay's times ("yyyy-MM-dd HH:mm:ss", Beijing time: UTC+8 all year) as instants; nil when malformed.
    /// Parsed by hand: a formatter would follow the host's calendar and locale settings.
    public static func beijingTime(_ text: String) -> Date? {
        let bytes = Array(text.utf8)
        guard bytes.count == 19, bytes[4] == 0x2D, bytes[7] == 0x2D, bytes[10] == 0x20, bytes[13] == 0x3A, bytes[16] == 0x3A else { return nil }
        func number(_ range: Range<Int>) -> Int? {
            var value = 0
            for byte in bytes[range] {
                guard (0x30...0x39).contains(byte) else { return nil }
                value = value * 10 + Int(byte - 0x30)
            }
            return value
        }
        guard let year = number(0..<4), let month = number(5..<7), let day = number(8..<10),
              let hour = number(11..<13), let minute = number(14..<16), let second = number(17..<19),
              (1970...9999).contains(year), (1...12).contains(month), (0...23).contains(hour), (0...59).contains(minute), (0...59).contains(second)
        else { return nil }
        let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
        let lengths = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
        guard (1...lengths[month - 1]).contains(day) else { return nil }
        // Days since 1970-01-01 (proleptic Gregorian), then the offset of UTC+8.
        var days = 0
        for y in 1970..<year { days += (y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)) ? 366 : 365 }
        days += lengths.prefix(month - 1).reduce(0, +) + day - 1
        let seconds = ((days * 24 + hour) * 60 + minute) * 60 + second - 8 * 3600
        return Date(timeIntervalSince1970: TimeInterval(seconds))
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
