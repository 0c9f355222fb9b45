/// The Alipay OpenAPI methods Recharge calls; the raw value is the `method` parameter.
public enum AlipayTradeMethod: String, Sendable, CaseIterable {
    /// Returns a QR code the subscriber scans (face-to-face / in-app QR).
    case precreate = "alipay.trade.precreate"
    /// Desktop web checkout; the signed form is posted by the subscriber's browser.
    case pagePay = "alipay.trade.page.pay"
    /// Server-side status query, the fallback when a notify never arrives.
    case query = "alipay.trade.query"
    case refund = "alipay.trade.refund"
}
