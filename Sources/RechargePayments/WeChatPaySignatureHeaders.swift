/// The four `Wechatpay-*` headers WeChat Pay API v3 puts on every notification (and response), picked out
/// of a request's headers by case-insensitive name.
public struct WeChatPaySignatureHeaders: Sendable, Equatable {
    public static let timestampName = "Wechatpay-Timestamp"
    public static let nonceName = "Wechatpay-Nonce"
    public static let signatureName = "Wechatpay-Signature"
    public static let serialName = "Wechatpay-Serial"

    public var timestamp: String?
    public var nonce: String?
    public var signature: String?
    public var serial: String?

    public init(timestamp: String?, nonce: String?, signature: String?, serial: String?) {
        self.timestamp = timestamp
        self.nonce = nonce
        self.signature = signature
        self.serial = serial
    }

    /// HTTP header names are case-insensitive, and proxies do lower-case them.
    public init(headers: [String: String]) {
        func value(_ name: String) -> String? {
            headers.first { $0.key.caseInsensitiveCompare(name) == .orderedSame }?.value
        }
        self.init(
            timestamp: value(Self.timestampName), nonce: value(Self.nonceName),
            signature: value(Self.signatureName), serial: value(Self.serialName))
    }
}
