/// Why a `StripeClient` call did not return the object it asked for.
///
/// `api` is Stripe's own answer (its error JSON and HTTP status): a decline, a bad parameter, a bad key.
/// `timedOut` and `network` mean no answer arrived, so the outcome of a POST is unknown: retry it with the
/// same idempotency key, or ask with `retrievePaymentIntent`. `unexpectedResponse` is an answer that was
/// not what Stripe sends (not JSON, or not the object asked for). None of them carries the secret key.
public enum StripeAPIError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Stripe refused the request: HTTP status (402 for a decline, 401 for a bad key, …) and its error object.
    case api(status: Int, error: StripeErrorObject)
    /// An answer that is not Stripe's: a body that does not decode, or a non-2xx without error JSON.
    case unexpectedResponse(status: Int, reason: String)
    /// The request timeout passed before the whole response arrived.
    case timedOut
    /// The request could not be sent or the connection failed (refused, reset, DNS, TLS).
    case network(reason: String)

    /// The HTTP status Stripe answered with, if it answered.
    public var status: Int? {
        switch self {
        case .api(let status, _), .unexpectedResponse(let status, _): status
        case .timedOut, .network: nil
        }
    }

    /// Stripe's error `code` (`card_declined`, …), if Stripe sent one.
    public var code: String? {
        if case .api(_, let error) = self { error.code } else { nil }
    }

    public var description: String {
        switch self {
        case .api(let status, let error):
            "Stripe \(status) \(error.type ?? "error")\(error.code.map { " \($0)" } ?? ""): \(error.message ?? "no message")"
                + (error.param.map { " (param \($0))" } ?? "")
        case .unexpectedResponse(let status, let reason): "unexpected Stripe response, HTTP \(status): \(reason)"
        case .timedOut: "Stripe request timed out"
        case .network(let reason): "Stripe unreachable: \(reason)"
        }
    }
}
