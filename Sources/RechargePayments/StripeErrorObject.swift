/// The `error` object of a Stripe error response, `{"error": {"type", "code", "message", "param", …}}`.
///
/// Every field is optional: Stripe documents `type` as always present, but a peer or proxy may send less,
/// and a partly filled error is still more useful than "could not decode".
public struct StripeErrorObject: Decodable, Sendable, Equatable {
    /// `card_error`, `invalid_request_error`, `api_error`, `idempotency_error`, …
    public var type: String?
    /// A short machine-readable code such as `card_declined` or `resource_missing`.
    public var code: String?
    /// Human-readable; meant for logs and support, not to be shown to subscribers as is.
    public var message: String?
    /// The request parameter the error is about, when there is one.
    public var param: String?
    /// For card errors, the issuer's reason (`insufficient_funds`, `generic_decline`, …).
    public var declineCode: String?

    public init(type: String? = nil, code: String? = nil, message: String? = nil, param: String? = nil, declineCode: String? = nil) {
        self.type = type
        self.code = code
        self.message = message
        self.param = param
        self.declineCode = declineCode
    }
}
