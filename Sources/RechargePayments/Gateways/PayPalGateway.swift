import Foundation
import RechargeCore

/// PayPal, as the order flow sees it: Orders v2 checkout, capture, status queries and webhooks.
///
/// A `paypal` order makes a PayPal order (`custom_id` and `invoice_id` = our order id,
/// `PayPal-Request-Id: order:<id>:create`) and sends the payer to its approval page. Approval alone takes no
/// money: we capture (`PayPal-Request-Id: order:<id>:capture`) when the payer comes back to
/// `/paypal/return`, when the `CHECKOUT.ORDER.APPROVED` webhook arrives, or when the reconciliation job finds
/// the order approved — whichever is first; the others find it captured. A completed capture becomes a
/// confirmation (amount and currency re-checked against the order like every provider's); the order then keeps
/// the capture id, which refunds go to.
///
/// Webhooks are verified on the raw body, either locally (``PayPalWebhookVerifier``: certificate chain and
/// signature) or by PayPal's verify API, as configured.
public struct PayPalGateway: Sendable {
    public enum Verification: Sendable {
        /// Check the certificate chain and signature here (no call to PayPal per webhook).
        case local(PayPalWebhookVerifier)
        /// Ask `POST /v1/notifications/verify-webhook-signature`; the transmission time is still checked here.
        case api(toleranceSeconds: Int64)
    }

    public let client: PayPalClient?
    public let webhookID: String
    public let verification: Verification
    /// Where the payer comes back to (`<public URL>/paypal/return`, `/paypal/cancel`).
    public let publicURL: String

    public init(client: PayPalClient?, webhookID: String, verification: Verification, publicURL: String) {
        self.client = client
        self.webhookID = webhookID
        self.verification = verification
        self.publicURL = publicURL.hasSuffix("/") ? String(publicURL.dropLast()) : publicURL
    }

    /// What a verified webhook means for an order.
    public enum Outcome: Sendable, Equatable {
        case confirmation(PaymentConfirmation)
        /// The payer approved PayPal order `paypalOrderID` for our order `orderID`: capture it.
        case approved(orderID: String, paypalOrderID: String)
        /// A dispute (chargeback or claim) opened or resolved on the capture `captureID`.
        case dispute(eventID: String, disputeID: String, captureID: String, event: DisputeEvent)
        case ignored(type: String)
    }

    // MARK: Checkout

    /// Creates the PayPal order after ours is committed; returns its id and where the payer approves it.
    func startCheckout(_ order: RechargeOrder, locale: String?) async throws -> (reference: String, approvalURL: String) {
        guard let client else { throw RechargeError.paymentMethodUnavailable("paypal") }
        let price = order.quote.price
        let created = try await client.createOrder(
            orderID: order.id, amountMinorUnits: price.minorUnits(rounding: .halfEven), currency: price.currency.code,
            fractionDigits: price.currency.minorUnitDigits, description: order.quote.names["en"] ?? order.id,
            returnURL: "\(publicURL)/paypal/return?order=\(order.id)", cancelURL: "\(publicURL)/paypal/cancel?order=\(order.id)",
            locale: locale, requestID: "order:\(order.id):create")
        return (created.id, created.approvalURL ?? client.configuration.approvalURL(token: created.id))
    }

    public func approvalURL(_ order: RechargeOrder) -> String? {
        guard let client, let token = order.providerReference else { return nil }
        return client.configuration.approvalURL(token: token)
    }

    /// Captures an approved PayPal order; nil while the payer has not approved it. The order is read first, so a
    /// capture is only ever asked for an approved order (a refusal would otherwise be remembered under our
    /// `PayPal-Request-Id` and replayed to the real capture later); one made before (by another path, or a retry
    /// after a lost answer) is read back instead of taken twice.
    public func capture(_ order: RechargeOrder, paypalOrderID: String) async throws -> PaymentConfirmation? {
        guard let client else { throw RechargeError.paymentMethodUnavailable("paypal") }
        let current = try await client.order(id: paypalOrderID)
        switch current.status {
        case "COMPLETED":
            return try confirmation(from: current, order: order)
        case "APPROVED":
            let result: Result<PayPalOrder, PayPalAPIError>
            do {
                result = .success(try await client.capture(orderID: paypalOrderID, requestID: "order:\(order.id):capture"))
            } catch {
                result = .failure(error)
            }
            switch result {
            case .success(let captured):
                return try confirmation(from: captured, order: order)
            case .failure(let error) where error.issue == "ORDER_ALREADY_CAPTURED":
                return try confirmation(from: try await client.order(id: paypalOrderID), order: order)
            case .failure(let error):
                throw error
            }
        default:
            return nil
        }
    }

    /// The reconciliation job's status query: captures an approved order, confirms a completed one.
    public func query(_ order: RechargeOrder) async throws -> PaymentConfirmation? {
        guard let reference = order.providerReference else { return nil }
        return try await capture(order, paypalOrderID: reference)
    }

    func confirmation(from paypal: PayPalOrder, order: RechargeOrder) throws -> PaymentConfirmation? {
        guard paypal.customID == order.id else {
            throw RechargeError.paymentNotVerified(provider: "paypal", reason: "PayPal order \(paypal.id) is for \(paypal.customID ?? "no order"), not \(order.id)")
        }
        guard let capture = paypal.completedCapture, let amount = capture.amount else { return nil }
        return PaymentConfirmation(provider: .paypal, eventID: "capture:\(capture.id)", orderID: order.id, outcome: .succeeded,
                                   amount: try Self.money(amount.value, currency: amount.currencyCode), providerReference: capture.id,
                                   failureReason: nil)
    }

    /// Gives `amount` of a capture back; the refund id is PayPal's.
    public func refund(_ refund: OrderRefund, order: RechargeOrder) async throws -> String {
        guard let client, let capture = order.providerReference else { throw RechargeError.paymentMethodUnavailable("paypal") }
        return try await client.refund(captureID: capture, amountMinorUnits: refund.amount.minorUnits(rounding: .halfEven),
                                       currency: refund.amount.currency.code, fractionDigits: refund.amount.currency.minorUnitDigits,
                                       invoiceID: refund.id, requestID: "refund:\(refund.id)").id
    }

    // MARK: Webhooks

    public func verify(body: [UInt8], headers: PayPalWebhookHeaders, now: Date) async throws(RechargeError) -> Outcome {
        switch verification {
        case .local(let verifier):
            do {
                try await verifier.verify(body: body, headers: headers, now: now)
            } catch {
                throw .paymentNotVerified(provider: "paypal", reason: error.description)
            }
        case .api(let tolerance):
            guard let client else { throw .paymentMethodUnavailable("paypal") }
            // The same checks as the local way, before PayPal's verify API is called: a forgery costs no call.
            do {
                _ = try PayPalWebhookVerifier.precheck(headers, now: now, toleranceSeconds: tolerance)
            } catch {
                throw .paymentNotVerified(provider: "paypal", reason: error.description)
            }
            let verified: Bool
            do {
                verified = try await client.verifyWebhookSignature(headers: headers, webhookID: webhookID, event: body)
            } catch {
                throw .paymentNotVerified(provider: "paypal", reason: "the verify API did not answer: \(error)")
            }
            guard verified else { throw .paymentNotVerified(provider: "paypal", reason: "PayPal's verify API answered FAILURE") }
        }
        return try Self.interpret(body)
    }

    static func interpret(_ body: [UInt8]) throws(RechargeError) -> Outcome {
        let event: PayPalEvent
        do {
            event = try JSONDecoder().decode(PayPalEvent.self, from: Data(body))
        } catch {
            throw .paymentNotVerified(provider: "paypal", reason: "the body is not a PayPal webhook event")
        }
        let resource = event.resource
        switch event.event_type {
        case "CHECKOUT.ORDER.APPROVED":
            guard let id = resource.id, let order = resource.purchase_units?.first.flatMap({ $0.custom_id ?? $0.reference_id }) else {
                throw .paymentNotVerified(provider: "paypal", reason: "order \(resource.id ?? "?") names no custom_id")
            }
            return .approved(orderID: order, paypalOrderID: id)
        case "CUSTOMER.DISPUTE.CREATED", "CUSTOMER.DISPUTE.RESOLVED":
            guard let disputeID = resource.dispute_id,
                  let capture = resource.disputed_transactions?.compactMap(\.seller_transaction_id).first
            else {
                throw .paymentNotVerified(provider: "paypal", reason: "dispute \(resource.dispute_id ?? "?") names no disputed transaction")
            }
            if event.event_type == "CUSTOMER.DISPUTE.CREATED" {
                guard let amount = resource.dispute_amount else {
                    throw .paymentNotVerified(provider: "paypal", reason: "dispute \(disputeID) has no dispute_amount")
                }
                return .dispute(eventID: event.id, disputeID: disputeID, captureID: capture,
                                event: .opened(amount: try money(amount.value, currency: amount.currency_code)))
            }
            // Resolved for us (or cancelled by the buyer): the money stays; any other outcome, the buyer kept it.
            let won = ["RESOLVED_SELLER_FAVOUR", "CANCELED_BY_BUYER", "DENIED"].contains(resource.dispute_outcome?.outcome_code ?? "")
            return .dispute(eventID: event.id, disputeID: disputeID, captureID: capture, event: .closed(won: won))
        case "PAYMENT.CAPTURE.COMPLETED", "PAYMENT.CAPTURE.DENIED", "PAYMENT.CAPTURE.DECLINED":
            guard let captureID = resource.id, let order = resource.custom_id, let amount = resource.amount else {
                throw .paymentNotVerified(provider: "paypal", reason: "capture \(resource.id ?? "?") names no custom_id or amount")
            }
            let succeeded = event.event_type == "PAYMENT.CAPTURE.COMPLETED"
            guard !succeeded || resource.status == "COMPLETED" else {
                throw .paymentNotVerified(provider: "paypal", reason: "capture \(captureID) is \(resource.status ?? "without status")")
            }
            return .confirmation(PaymentConfirmation(
                provider: .paypal, eventID: event.id, orderID: order, outcome: succeeded ? .succeeded : .failed,
                amount: try money(amount.value, currency: amount.currency_code),
                // A declined capture leaves the order on its PayPal order, which the payer can approve again.
                providerReference: succeeded ? captureID : nil,
                failureReason: succeeded ? nil : "PayPal declined the capture"))
        default:
            return .ignored(type: event.event_type)
        }
    }

    static func money(_ value: String, currency code: String) throws(RechargeError) -> Money {
        let currency = try Currency(code: code)
        do {
            let minor = try MinorUnitAmount.parse(value, fractionDigits: currency.minorUnitDigits, field: "amount.value", provider: .paypal)
            return try Money.fromMinorUnits(minor, currency: currency)
        } catch let error as PaymentProviderError {
            throw .paymentNotVerified(provider: "paypal", reason: error.description)
        } catch {
            throw .paymentNotVerified(provider: "paypal", reason: "\(error)")
        }
    }
}

extension PayPalGateway: PaymentGateway {
    public var method: PaymentMethod { .paypal }
    public var name: String { "paypal" }
    public var displayName: String { "PayPal" }
    public var currencies: Set<String>? { nil }
    public var capabilities: PaymentCapabilities { [.refund, .partialRefund, .dispute, .redirect, .statusQuery] }
    public var settings: [PaymentSetting] {
        [PaymentSetting("RECHARGE_PAYPAL_CLIENT_ID"), PaymentSetting("RECHARGE_PAYPAL_CLIENT_SECRET", secret: true), PaymentSetting("RECHARGE_PAYPAL_WEBHOOK_ID"),
         PaymentSetting("RECHARGE_PUBLIC_URL"), PaymentSetting("RECHARGE_PAYPAL_WEBHOOK_VERIFY", required: false),
         PaymentSetting("RECHARGE_PAYPAL_CERT_ROOTS_FILE", required: false), PaymentSetting("RECHARGE_PAYPAL_API_URL", required: false),
         PaymentSetting("RECHARGE_PAYPAL_BRAND_NAME", required: false)]
    }
    public var isOffered: Bool { client != nil }

    /// A PayPal order keyed by ours; the payer approves it on PayPal's page.
    public func startCheckout(_ order: RechargeOrder, chinese: Bool) async throws -> PaymentCheckout {
        let started = try await startCheckout(order, locale: chinese ? "zh-CN" : nil)
        return .redirect(url: started.approvalURL, reference: started.reference)
    }

    public func checkout(for order: RechargeOrder) -> PaymentCheckout? {
        approvalURL(order).map { .redirect(url: $0, reference: order.providerReference) }
    }

    public func interpret(_ notification: PaymentNotification, now: Date) async throws(RechargeError) -> PaymentEvent {
        let headers = PayPalWebhookHeaders(
            transmissionID: notification.header(PayPalWebhookHeaders.transmissionIDName),
            transmissionTime: notification.header(PayPalWebhookHeaders.transmissionTimeName),
            transmissionSignature: notification.header(PayPalWebhookHeaders.transmissionSignatureName),
            certURL: notification.header(PayPalWebhookHeaders.certURLName), authAlgorithm: notification.header(PayPalWebhookHeaders.authAlgorithmName))
        switch try await verify(body: notification.body, headers: headers, now: now) {
        case .confirmation(let confirmation): return .confirmation(confirmation)
        case .approved(let orderID, let paypalOrderID): return .approved(orderID: orderID, reference: paypalOrderID)
        case .dispute(let eventID, let disputeID, let captureID, let event):
            return .dispute(eventID: eventID, disputeID: disputeID, providerReference: captureID, event: event)
        case .ignored(let type): return .ignored(type: type)
        }
    }
}

/// The fields of a PayPal webhook event the order flow reads.
private struct PayPalEvent: Decodable {
    struct Amount: Decodable { let currency_code: String; let value: String }
    struct Resource: Decodable {
        struct Transaction: Decodable { let seller_transaction_id: String? }
        struct Outcome: Decodable { let outcome_code: String? }
        struct Unit: Decodable { let custom_id: String?; let reference_id: String? }
        struct Supplementary: Decodable { struct Related: Decodable { let order_id: String? }; let related_ids: Related? }
        let id: String?
        let status: String?
        let amount: Amount?
        let custom_id: String?
        let purchase_units: [Unit]?
        let supplementary_data: Supplementary?
        let dispute_id: String?
        let disputed_transactions: [Transaction]?
        let dispute_amount: Amount?
        let dispute_outcome: Outcome?
    }
    let id: String
    let event_type: String
    let resource: Resource
}
