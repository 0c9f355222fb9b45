/// Why an `AlipayClient` call did not return what it asked for.
///
/// `gateway` is Alipay's own, verified answer with a `code` other than `10000` (40004 business failure with
/// `sub_code` such as `ACQ.TRADE_NOT_EXIST`, 40002 invalid parameters or signature, …). `responseVerification`
/// means an answer arrived that we cannot prove Alipay signed, so nothing in it is trusted. `timedOut` and
/// `network` mean no answer arrived: the outcome is unknown, query, or retry with the same `out_trade_no` /
/// `out_request_no`.
public enum AlipayAPIError: Error, Sendable, Equatable, CustomStringConvertible {
    case gateway(code: String, msg: String?, subCode: String?, subMsg: String?)
    /// The response's `sign` is missing or does not verify with the Alipay public key over the raw
    /// `…_response` text, or the signed object is not what the method returns.
    case responseVerification(PaymentProviderError)
    /// The request could not be signed (an unusable merchant key).
    case signing(PaymentProviderError)
    /// An answer that is not Alipay's: a non-200 status, or a body without the method's response object.
    case unexpectedResponse(status: Int, reason: String)
    case timedOut
    case network(reason: String)

    public var subCode: String? {
        if case .gateway(_, _, let subCode, _) = self { subCode } else { nil }
    }

    public var description: String {
        switch self {
        case .gateway(let code, let msg, let subCode, let subMsg):
            "Alipay \(code) \(msg ?? "")\(subCode.map { " \($0)" } ?? "")\(subMsg.map { ": \($0)" } ?? "")"
        case .responseVerification(let error): "Alipay response not verified: \(error)"
        case .signing(let error): "Alipay request not signed: \(error)"
        case .unexpectedResponse(let status, let reason): "unexpected Alipay response, HTTP \(status): \(reason)"
        case .timedOut: "Alipay request timed out"
        case .network(let reason): "Alipay unreachable: \(reason)"
        }
    }
}
