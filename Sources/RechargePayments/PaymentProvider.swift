/// The payment provider whose protocol a `PaymentProviderError` comes from.
public enum PaymentProvider: String, Sendable, Codable, CaseIterable {
    case stripe
    case paypal
    case alipay
    case wechatPay = "wechat_pay"
}
