import Foundation
import RechargeCore

/// One payment provider as the order flow sees it: what it takes, what it can do, what it needs configured,
/// and the four things every provider does in its own way — start a checkout, tell a genuine notification from a
/// forged one, answer a status query, give money back.
///
/// Adding a provider is one adapter file conforming to this protocol and one line in
/// ``PaymentGatewayRegistry/init(sandbox:stripe:bankTransfer:alipay:wechatPay:paypal:)``.
public protocol PaymentGateway: Sendable {
    /// The method orders record (Stripe's PaymentIntents and Checkout adapters share `.stripe`).
    var method: PaymentMethod { get }
    /// The adapter's name in the registry, unique.
    var name: String { get }
    /// How the provider is named to people (in problem details: "Stripe did not take refund …").
    var displayName: String { get }
    /// The currencies it takes (ISO 4217 codes); nil: any the catalog prices in.
    var currencies: Set<String>? { get }
    var capabilities: PaymentCapabilities { get }
    /// The settings it is configured from (environment variables of `recharge serve`).
    var settings: [PaymentSetting] { get }
    /// Whether new orders may be paid through it (its API client is configured); notifications are verified either way.
    var isOffered: Bool { get }
    /// How long an order waits for its money (bank transfers take days).
    var paymentWindow: TimeInterval { get }

    /// The payer's reference made in the order's creating transaction (the sandbox's, a bank transfer's RF
    /// reference); nil when the provider makes it at checkout.
    func localReference(forOrder id: String) -> String?
    /// Starts the checkout at the provider once the order is committed, keyed by the order id so a retry (or a
    /// crash in between) gets the same one back. `chinese`: the payer reads Chinese.
    func startCheckout(_ order: RechargeOrder, chinese: Bool) async throws -> PaymentCheckout
    /// What the payer sees again for an order already awaiting payment, without asking the provider; nil when it
    /// cannot be shown again that way.
    func checkout(for order: RechargeOrder) -> PaymentCheckout?
    /// A raw notification, verified on its bytes before anything in it is believed.
    func interpret(_ notification: PaymentNotification, now: Date) async throws(RechargeError) -> PaymentEvent
    /// What a genuine event about no order of this server's becomes: nil (the default), it is refused like any
    /// other (`order-not-found`); an ``PaymentEvent/ignored(type:)``, it is acknowledged, for a provider whose
    /// webhooks also carry other systems' payments (one Stripe account, several integrations) and which retries a
    /// refusal for days although no retry can help.
    func foreignEvent(_ event: PaymentEvent) -> PaymentEvent?
    /// The answer to a notification the order flow took (applied, a duplicate, or acknowledged without acting on
    /// it); nil (the default): the server's own JSON receipt, naming the order and its state, of which the
    /// provider reads only the 2xx.
    func acknowledgement(for event: PaymentEvent) -> PaymentNotificationReply?
    /// The answer to a notification refused (forged, stale, mismatched, about an unknown order) with `status`,
    /// the HTTP status the server gives `error`; nil (the default): the error is answered as the server's problem.
    func refusal(_ error: RechargeError, status: Int) -> PaymentNotificationReply?
    /// The status query of the reconciliation job: a payment whose notification may have been lost.
    func query(_ order: RechargeOrder) async throws -> PaymentConfirmation?
    /// Sends a refund back, keyed by the refund's id; returns the provider's refund id.
    func refund(_ refund: OrderRefund, order: RechargeOrder) async throws -> String
}

extension PaymentGateway {
    public var paymentWindow: TimeInterval { 30 * 60 }
    public func localReference(forOrder id: String) -> String? { nil }
    public func checkout(for order: RechargeOrder) -> PaymentCheckout? { nil }
    public func foreignEvent(_ event: PaymentEvent) -> PaymentEvent? { nil }
    public func acknowledgement(for event: PaymentEvent) -> PaymentNotificationReply? { nil }
    public func refusal(_ error: RechargeError, status: Int) -> PaymentNotificationReply? { nil }

    /// Whether `currency` can be paid through this adapter.
    public func takes(_ currency: Currency) -> Bool { currencies?.contains(currency.code) ?? true }
}

/// What an adapter can do beyond taking a payment.
public struct PaymentCapabilities: OptionSet, Sendable, Hashable {
    public let rawValue: Int
    public init(rawValue: Int) { self.rawValue = rawValue }

    /// Money goes back through the provider.
    public static let refund = PaymentCapabilities(rawValue: 1 << 0)
    /// Part of a payment can go back.
    public static let partialRefund = PaymentCapabilities(rawValue: 1 << 1)
    /// The provider reports chargebacks.
    public static let dispute = PaymentCapabilities(rawValue: 1 << 2)
    /// The payer scans a QR code with a wallet app.
    public static let qrCode = PaymentCapabilities(rawValue: 1 << 3)
    /// The payer is sent to a page of the provider's.
    public static let redirect = PaymentCapabilities(rawValue: 1 << 4)
    /// The reconciliation job can ask the provider about a payment.
    public static let statusQuery = PaymentCapabilities(rawValue: 1 << 5)
    /// The payer's reference is made with the order, in its creating transaction (``PaymentGateway/localReference(forOrder:)``).
    public static let localReference = PaymentCapabilities(rawValue: 1 << 6)
}

/// One configuration value an adapter reads.
public struct PaymentSetting: Sendable, Hashable {
    public let name: String
    public let required: Bool
    /// Never logged or shown.
    public let secret: Bool

    public init(_ name: String, required: Bool = true, secret: Bool = false) {
        self.name = name
        self.required = required
        self.secret = secret
    }
}

/// What the payer sees to pay an order.
public enum PaymentCheckout: Sendable, Equatable {
    /// A page of the provider's (or the sandbox's) to send the payer to (nil only if the provider gave none).
    case redirect(url: String?, reference: String?)
    /// A PaymentIntent's client secret, for the provider's own payment form (as the provider gave it).
    case clientSecret(String?, reference: String)
    /// The content of a QR code for the payer's wallet app.
    case qrCode(payload: String, reference: String)
    /// Where to transfer the money, with the reference that finds the order on the statement.
    case bankTransfer(reference: String, account: String, holder: String, bank: String?)
}

/// A notification as it arrived: the raw body (signatures cover these bytes) and the headers.
public struct PaymentNotification: Sendable {
    public let body: [UInt8]
    private let headers: [String: String]

    public init(body: [UInt8], headers: [String: String]) {
        self.body = body
        self.headers = Dictionary(headers.map { ($0.key.lowercased(), $0.value) }, uniquingKeysWith: { first, _ in first })
    }

    /// A header by its case-insensitive name.
    public func header(_ name: String) -> String? { headers[name.lowercased()] }

    public var headerFields: [String: String] { headers }
}

/// What a verified notification means for the order flow.
public enum PaymentEvent: Sendable, Equatable {
    case confirmation(PaymentConfirmation)
    /// The payer approved the payment at the provider; it must still be captured (PayPal).
    case approved(orderID: String, reference: String)
    /// A chargeback opened or closed on the payment the provider calls `providerReference`.
    case dispute(eventID: String, disputeID: String, providerReference: String, event: DisputeEvent)
    /// Genuine, but nothing the order flow acts on: acknowledged, so the provider stops retrying.
    case ignored(type: String)
}
