/// The fields of a Stripe PaymentIntent that a recharge order needs; every other field is ignored.
///
/// `clientSecret` goes to the browser for Stripe Elements and nowhere else (not into logs). `amount` is in
/// the currency's minor units (cents), as Stripe counts. `metadata["order"]` ties the intent to our order.
public struct StripePaymentIntent: Decodable, Sendable, Equatable {
    /// A PaymentIntent's `status`. Kept open (not an enum) so a status Stripe adds later still decodes.
    public struct Status: RawRepresentable, Decodable, Sendable, Hashable, CustomStringConvertible {
        public let rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }
        public init(from decoder: any Decoder) throws {
            rawValue = try decoder.singleValueContainer().decode(String.self)
        }
        public var description: String { rawValue }

        public static let requiresPaymentMethod = Status(rawValue: "requires_payment_method")
        public static let requiresConfirmation = Status(rawValue: "requires_confirmation")
        public static let requiresAction = Status(rawValue: "requires_action")
        public static let processing = Status(rawValue: "processing")
        public static let requiresCapture = Status(rawValue: "requires_capture")
        public static let canceled = Status(rawValue: "canceled")
        public static let succeeded = Status(rawValue: "succeeded")
    }

    public var id: String
    public var clientSecret: String?
    public var status: Status
    public var amount: Int64
    public var currency: String
    public var metadata: [String: String]

    /// Our order id, as `createPaymentIntent` put it in `metadata[order]`.
    public var orderID: String? { metadata["order"] }

    enum CodingKeys: String, CodingKey {
        case id, clientSecret, status, amount, currency, metadata
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        id = try container.decode(String.self, forKey: .id)
        clientSecret = try container.decodeIfPresent(String.self, forKey: .clientSecret)
        status = try container.decode(Status.self, forKey: .status)
        amount = try container.decode(Int64.self, forKey: .amount)
        currency = try container.decode(String.self, forKey: .currency)
        metadata = try container.decodeIfPresent([String: String].self, forKey: .metadata) ?? [:]
    }
}
