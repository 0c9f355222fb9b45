/// The fields of a Stripe Checkout Session that a recharge order needs; every other field is ignored.
///
/// A Session is Stripe's hosted payment page: the payer is sent to `url`, pays there, and comes back to our
/// `success_url`. Payment happens through a PaymentIntent Stripe makes (`paymentIntent`), which refunds and
/// disputes then name. `paymentStatus` is `paid` once the money is taken (`unpaid` while an asynchronous
/// method, such as a bank debit, is still pending).
public struct StripeCheckoutSession: Decodable, Sendable, Equatable {
    public var id: String
    /// The hosted page; present while the session is `open`.
    public var url: String?
    /// `open`, `complete` or `expired`.
    public var status: String?
    /// `paid`, `unpaid` or `no_payment_required`.
    public var paymentStatus: String
    public var paymentIntent: String?
    public var amountTotal: Int64?
    public var currency: String?
    public var clientReferenceId: String?
    public var metadata: [String: String]?

    /// Our order id, as `createCheckoutSession` put it in `metadata[order]` (and `client_reference_id`).
    public var orderID: String? { metadata?["order"] ?? clientReferenceId }
    public var isPaid: Bool { paymentStatus == "paid" }
}
