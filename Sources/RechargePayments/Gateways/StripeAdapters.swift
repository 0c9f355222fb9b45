import Foundation
import RechargeCore

/// Stripe with an embedded payment form: a PaymentIntent keyed by the order id, whose client secret the payer's
/// browser uses with Stripe.js.
public struct StripePaymentIntentsGateway: StripeAdapter {
    public let stripe: StripeGateway

    public init(_ stripe: StripeGateway) { self.stripe = stripe }

    public var name: String { "stripe_payment_intents" }
    public var capabilities: PaymentCapabilities { [.refund, .partialRefund, .dispute, .statusQuery] }
    public var settings: [PaymentSetting] { StripeGateway.settings }

    /// Made after the order is committed (never a network call inside a transaction), keyed by the order id.
    public func startCheckout(_ order: RechargeOrder, chinese: Bool) async throws -> PaymentCheckout {
        guard let client = stripe.client else { throw RechargeError.paymentMethodUnavailable("stripe") }
        let intent = try await client.createPaymentIntent(
            amountMinorUnits: order.quote.price.minorUnits(rounding: .halfEven), currency: order.quote.price.currency.code.lowercased(),
            orderID: order.id, idempotencyKey: "order:\(order.id):intent")
        return .clientSecret(intent.clientSecret, reference: intent.id)
    }

    public func query(_ order: RechargeOrder) async throws -> PaymentConfirmation? {
        guard let intent = order.providerReference else { return nil }
        return try await stripe.query(paymentIntent: intent, order: order)
    }
}

/// Stripe's hosted page: a Checkout Session keyed by the order id; the payer is sent to Stripe and back.
public struct StripeCheckoutGateway: StripeAdapter, ReferenceClaiming {
    public let stripe: StripeGateway

    public init(_ stripe: StripeGateway) { self.stripe = stripe }

    public var name: String { "stripe_checkout" }
    public var capabilities: PaymentCapabilities { [.refund, .partialRefund, .dispute, .statusQuery, .redirect] }
    public var settings: [PaymentSetting] { StripeGateway.settings + [PaymentSetting("RECHARGE_PUBLIC_URL")] }

    /// Stripe names Checkout Sessions `cs_…`: an order still on its session is this adapter's.
    public func claims(_ reference: String) -> Bool { reference.hasPrefix("cs_") }

    public func startCheckout(_ order: RechargeOrder, chinese: Bool) async throws -> PaymentCheckout {
        let session = try await stripe.startSession(order, locale: chinese ? "zh" : nil)
        return .redirect(url: session.url, reference: session.id)
    }

    public func query(_ order: RechargeOrder) async throws -> PaymentConfirmation? {
        guard let session = order.providerReference else { return nil }
        return try await stripe.query(session: session, order: order)
    }
}

/// What Stripe's two adapters share: one account (its webhook secret and API client), one event format, refunds to
/// the PaymentIntent that took the money.
public protocol StripeAdapter: PaymentGateway {
    var stripe: StripeGateway { get }
}

extension StripeAdapter {
    public var method: PaymentMethod { .stripe }
    public var displayName: String { "Stripe" }
    public var currencies: Set<String>? { nil }
    public var isOffered: Bool { stripe.client != nil }

    public func interpret(_ notification: PaymentNotification, now: Date) async throws(RechargeError) -> PaymentEvent {
        try stripe.interpret(notification, now: now)
    }

    /// Signed by Stripe but about no order of ours (another system's payment on the same account, a dispute on
    /// another PaymentIntent): acknowledged as ignored, since Stripe retries every non-2xx for days.
    public func foreignEvent(_ event: PaymentEvent) -> PaymentEvent? {
        switch event {
        case .confirmation(let confirmation): .ignored(type: "\(confirmation.eventID) (order \(confirmation.orderID) is not ours)")
        case .dispute(let eventID, _, let paymentIntent, _): .ignored(type: "\(eventID) (PaymentIntent \(paymentIntent) is not one of ours)")
        case .approved, .ignored: nil
        }
    }

    public func refund(_ refund: OrderRefund, order: RechargeOrder) async throws -> String {
        try await stripe.refund(refund, order: order)
    }
}

extension StripeGateway {
    static let settings = [
        PaymentSetting("RECHARGE_STRIPE_WEBHOOK_SECRET", secret: true), PaymentSetting("RECHARGE_STRIPE_SECRET_KEY", required: false, secret: true),
        PaymentSetting("RECHARGE_STRIPE_API_URL", required: false),
    ]

    func interpret(_ notification: PaymentNotification, now: Date) throws(RechargeError) -> PaymentEvent {
        switch try verify(body: notification.body, signature: notification.header(StripeWebhookSignature.headerName), now: now) {
        case .confirmation(let confirmation): .confirmation(confirmation)
        case .dispute(let eventID, let disputeID, let paymentIntent, let event):
            .dispute(eventID: eventID, disputeID: disputeID, providerReference: paymentIntent, event: event)
        case .ignored(let type): .ignored(type: type)
        }
    }

    /// Back to the PaymentIntent that took the money (a Checkout Session's order keeps its PaymentIntent once paid).
    func refund(_ refund: OrderRefund, order: RechargeOrder) async throws -> String {
        guard let client, let intent = order.providerReference else { throw RechargeError.paymentMethodUnavailable("stripe") }
        return try await client.createRefund(paymentIntent: intent, amountMinorUnits: refund.amount.minorUnits(rounding: .halfEven),
                                             idempotencyKey: "refund:\(refund.id)").id
    }
}
