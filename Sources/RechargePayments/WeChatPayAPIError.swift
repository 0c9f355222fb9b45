/// Why a `WeChatPayClient` call did not return what it asked for.
///
/// `api` is WeChat Pay's refusal: the HTTP status and its `{"code","message"}` (`ORDER_NOT_EXIST`,
/// `SIGN_ERROR`, `PARAM_ERROR`, …). `responseVerification` means a 2xx answer arrived whose `Wechatpay-*`
/// signature we cannot verify with a platform key we hold, so nothing in it is trusted. `timedOut` and
/// `network` mean no answer arrived: query, or retry with the same `out_trade_no` / `out_refund_no`.
public enum WeChatPayAPIError: Error, Sendable, Equatable, CustomStringConvertible {
    case api(status: Int, code: String, message: String)
    case responseVerification(PaymentProviderError)
    /// The request could not be signed (an unusable merchant key).
    case signing(PaymentProviderError)
    /// An answer that is not WeChat Pay's: a non-2xx without its error JSON, or a body not of the shape asked for.
    case unexpectedResponse(status: Int, reason: String)
    case timedOut
    case network(reason: String)

    public var status: Int? {
        switch self {
        case .api(let status, _, _), .unexpectedResponse(let status, _): status
        default: nil
        }
    }

    public var code: String? {
        if case .api(_, let code, _) = self { code } else { nil }
    }

    public var description: String {
        switch self {
        case .api(let status, let code, let message): "WeChat Pay \(status) \(code): \(message)"
        case .responseVerification(let error): "WeChat Pay response not verified: \(error)"
        case .signing(let error): "WeChat Pay request not signed: \(error)"
        case .unexpectedResponse(let status, let reason): "unexpected WeChat Pay response, HTTP \(status): \(reason)"
        case .timedOut: "WeChat Pay request timed out"
        case .network(let reason): "WeChat Pay unreachable: \(reason)"
        }
    }
}
