/// The fields of a Stripe Refund that a recharge refund needs; every other field is ignored.
///
/// `status` is `pending`, `succeeded`, `failed`, `requires_action` or `canceled`; only `succeeded` means
/// the money has gone back. `amount` is in minor units.
public struct StripeRefund: Decodable, Sendable, Equatable {
    public var id: String
    public var status: String
    public var amount: Int64
    public var currency: String
    public var paymentIntent: String?
}
