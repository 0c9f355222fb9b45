import Foundation
import RechargeCore

/// Stripe, as the order flow sees it: webhook events turned into payment confirmations.
///
/// `POST /webhooks/stripe` carries an Event; its `Stripe-Signature` is checked on the raw bytes with the
/// endpoint secret (``StripeWebhookSignature``: HMAC-SHA256 of `t.payload`, several `v1` values, 300 s)
/// before anything is parsed. The order is found through the PaymentIntent's `metadata.order`, which the
/// checkout sets; the Event id is the de-duplication key.
public struct StripeGateway: Sendable {
    public let webhookSecret: String
    /// The API client (PaymentIntents, refunds); without it Stripe's webhooks are still verified but Stripe is
    /// not offered for new orders.
    public let client: StripeClient?
    /// This server's public address, for a Checkout Session's `success_url` and `cancel_url`
    /// (`<it>/stripe/return?order=…`); without it only PaymentIntents are offered.
    public let publicURL: String?

    public init(webhookSecret: String, client: StripeClient? = nil, publicURL: String? = nil) {
        self.webhookSecret = webhookSecret
        self.client = client
        self.publicURL = publicURL.map { $0.hasSuffix("/") ? String($0.dropLast()) : $0 }
    }

    /// The hosted page for an order: a Checkout Session keyed by the order id (a retried create gets the same one).
    public func startSession(_ order: RechargeOrder, locale: String?) async throws -> StripeCheckoutSession {
        guard let client else { throw RechargeError.paymentMethodUnavailable("stripe") }
        guard let publicURL else {
            throw RechargeError.invalidRequest("Stripe Checkout needs this server's public address (RECHARGE_PUBLIC_URL) for the payer's way back.")
        }
        return try await client.createCheckoutSession(
            amountMinorUnits: order.quote.price.minorUnits(rounding: .halfEven), currency: order.quote.price.currency.code, orderID: order.id,
            productName: order.quote.names["en"] ?? order.id, successURL: "\(publicURL)/stripe/return?order=\(order.id)",
            cancelURL: "\(publicURL)/stripe/return?order=\(order.id)&cancelled=1", locale: locale, idempotencyKey: "order:\(order.id):session")
    }

    /// A Checkout Session's status as a confirmation: paid, or nil (still open, unpaid, or expired).
    public func query(session id: String, order: RechargeOrder) async throws -> PaymentConfirmation? {
        guard let client else { return nil }
        let session: StripeCheckoutSession
        do {
            session = try await client.retrieveCheckoutSession(id: id)
        } catch {
            throw RechargeError.paymentNotVerified(provider: "stripe", reason: "status query of \(id) failed: \(error)")
        }
        guard session.isPaid, session.orderID == order.id, let minor = session.amountTotal, let code = session.currency else { return nil }
        return PaymentConfirmation(provider: .stripe, eventID: "query:\(session.id):paid", orderID: order.id, outcome: .succeeded,
                                   amount: try Money.fromMinorUnits(minor, currency: try Currency(code: code.uppercased())),
                                   providerReference: session.paymentIntent ?? session.id, failureReason: nil)
    }

    /// The status query of the reconciliation job: a PaymentIntent that succeeded (and whose webhook may have
    /// been lost) becomes a confirmation; anything else is nil (still open, or failed without money taken).
    public func query(paymentIntent id: String, order: RechargeOrder) async throws -> PaymentConfirmation? {
        guard let client else { return nil }
        let intent: StripePaymentIntent
        do {
            intent = try await client.retrievePaymentIntent(id: id)
        } catch {
            throw RechargeError.paymentNotVerified(provider: "stripe", reason: "status query of \(id) failed: \(error)")
        }
        guard intent.status == .succeeded, intent.orderID == order.id else { return nil }
        let amount = try Money.fromMinorUnits(intent.amount, currency: try Currency(code: intent.currency.uppercased()))
        return PaymentConfirmation(provider: .stripe, eventID: "query:\(intent.id):succeeded", orderID: order.id, outcome: .succeeded,
                                   amount: amount, providerReference: intent.id, failureReason: nil)
    }

    /// What a verified event means for an order.
    public enum Outcome: Sendable, Equatable {
        case confirmation(PaymentConfirmation)
        /// A dispute (chargeback) opened or closed on the PaymentIntent `paymentIntent`.
        case dispute(eventID: String, disputeID: String, paymentIntent: String, event: DisputeEvent)
        /// A type the order flow does not act on, or a payment that names no order (another integration on the
        /// same Stripe account): acknowledged with 200, because Stripe retries anything else for days. Only a
        /// bad signature (or a body that is no event) is refused.
        case ignored(type: String)
    }

    public func verify(body: [UInt8], signature: String?, now: Date) throws(RechargeError) -> Outcome {
        do {
            try StripeWebhookSignature(secret: webhookSecret).verify(payload: body, header: signature, now: now)
        } catch {
            throw .paymentNotVerified(provider: "stripe", reason: error.description)
        }
        let event: StripeEvent
        do {
            event = try JSONDecoder().decode(StripeEvent.self, from: Data(body))
        } catch {
            throw .paymentNotVerified(provider: "stripe", reason: "the body is not a Stripe event")
        }
        let intent = event.data.object
        let outcome: PaymentConfirmation.Outcome
        switch event.type {
        case "payment_intent.succeeded": outcome = .succeeded
        case "payment_intent.payment_failed": outcome = .failed
        case "charge.dispute.created", "charge.dispute.closed":
            guard intent.object == "dispute", let paymentIntent = intent.payment_intent else {
                throw .paymentNotVerified(provider: "stripe", reason: "\(event.type) without a dispute on a PaymentIntent")
            }
            if event.type == "charge.dispute.created" {
                guard let minor = intent.amount, let code = intent.currency else {
                    throw .paymentNotVerified(provider: "stripe", reason: "dispute \(intent.id) has no amount or currency")
                }
                let amount = try Money.fromMinorUnits(minor, currency: try Currency(code: code.uppercased()))
                return .dispute(eventID: event.id, disputeID: intent.id, paymentIntent: paymentIntent, event: .opened(amount: amount))
            }
            // `warning_closed`: an inquiry that never became a chargeback; the money was never taken.
            let won = intent.status == "won" || intent.status == "warning_closed"
            return .dispute(eventID: event.id, disputeID: intent.id, paymentIntent: paymentIntent, event: .closed(won: won))
        case "checkout.session.completed", "checkout.session.async_payment_succeeded", "checkout.session.async_payment_failed":
            // The hosted page: paid at once (cards), or later (asynchronous methods, whose completion is "unpaid").
            guard intent.object == "checkout.session" else { throw .paymentNotVerified(provider: "stripe", reason: "\(event.type) without a Checkout Session") }
            let failed = event.type == "checkout.session.async_payment_failed"
            guard failed || intent.payment_status == "paid" else { return .ignored(type: "\(event.type) (\(intent.payment_status ?? "no payment status"))") }
            // Another integration on the same Stripe account: genuine, not ours, acknowledged (see `ignored`).
            guard let order = intent.metadata?["order"] ?? intent.client_reference_id else { return .ignored(type: "\(event.type) (names no order)") }
            guard let minor = intent.amount_total, let code = intent.currency else {
                throw .paymentNotVerified(provider: "stripe", reason: "Checkout Session \(intent.id) has no amount or currency")
            }
            return .confirmation(PaymentConfirmation(
                provider: .stripe, eventID: event.id, orderID: order, outcome: failed ? .failed : .succeeded,
                amount: try Money.fromMinorUnits(minor, currency: try Currency(code: code.uppercased())),
                // The PaymentIntent is what refunds and disputes name; a failure leaves the order on its session.
                providerReference: failed ? nil : intent.payment_intent ?? intent.id,
                failureReason: failed ? "the payment on Stripe Checkout failed" : nil))
        default: return .ignored(type: event.type)
        }
        guard intent.object == "payment_intent" else { throw .paymentNotVerified(provider: "stripe", reason: "\(event.type) without a PaymentIntent") }
        guard let order = intent.metadata?["order"], !order.isEmpty else { return .ignored(type: "\(event.type) (names no order)") }
        guard let currencyCode = intent.currency, let minor = outcome == .succeeded ? (intent.amount_received ?? intent.amount) : intent.amount else {
            throw .paymentNotVerified(provider: "stripe", reason: "PaymentIntent \(intent.id) has no amount or currency")
        }
        let amount = try Money.fromMinorUnits(minor, currency: try Currency(code: currencyCode.uppercased()))
        let reason = intent.last_payment_error.map { [$0.code, $0.message].compactMap { $0 }.joined(separator: ": ") }
        return .confirmation(PaymentConfirmation(provider: .stripe, eventID: event.id, orderID: order, outcome: outcome, amount: amount,
                                                 providerReference: intent.id, failureReason: reason))
    }
}

/// The fields of a Stripe Event the order flow reads.
private struct StripeEvent: Decodable {
    struct Payload: Decodable {
        struct Object: Decodable {
            struct PaymentError: Decodable { let message: String?; let code: String? }
            let id: String
            let object: String
            let amount: Int64?
            let amount_received: Int64?
            let currency: String?
            let metadata: [String: String]?
            let last_payment_error: PaymentError?
            let payment_intent: String?
            let status: String?
            let payment_status: String?
            let amount_total: Int64?
            let client_reference_id: String?
        }
        let object: Object
    }
    let id: String
    let type: String
    let data: Payload
}
