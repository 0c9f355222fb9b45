import Foundation
import RechargeCore

/// The built-in payment provider: a hosted checkout page with Pay and Fail buttons whose answer comes back
/// as a signed notification, exactly as a real provider's would. It lets a newcomer run the whole online
/// recharge with no accounts, and it exercises the same path (raw-body signature check, freshness, event
/// de-duplication, amount check) that every provider's notifications take.
///
/// Notification: `POST /webhooks/sandbox`, JSON body
/// `{"id":"evt_…","type":"payment.succeeded"|"payment.failed","order":"ord_…","amount":1000,"currency":"USD","reference":"sbx_…","reason":…}`
/// (amount in minor units, as providers send it) and the header
/// `Sandbox-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<raw body>">` — Stripe's scheme, so one
/// verifier shape serves both.
public struct SandboxGateway: Sendable {
    public static let signatureHeader = "Sandbox-Signature"
    /// How old (or how far in the future) a notification may be.
    public static let tolerance: TimeInterval = 300

    /// The signing key, used as UTF-8 bytes exactly like a Stripe endpoint secret.
    private let secret: String

    /// `secret`: the shared signing secret (`RECHARGE_SANDBOX_SECRET`); by default random per process, which is
    /// all the built-in checkout page needs.
    public init(secret: String? = nil) {
        if let secret {
            self.secret = secret
        } else {
            var generator = SystemRandomNumberGenerator()
            self.secret = "whsec_sbx_" + (0..<32).map { _ in String(UInt8.random(in: 0...255, using: &generator), radix: 16) }.joined()
        }
    }

    /// The notification the checkout page sends when the payer presses Pay or Fail.
    public func notification(for order: RechargeOrder, succeeded: Bool, eventID: String, now: Date) -> (body: [UInt8], signature: String) {
        var json = JSONWriter(capacity: 256)
        json.object { json in
            json.field("id", eventID)
            json.field("type", succeeded ? "payment.succeeded" : "payment.failed")
            json.field("order", order.id)
            json.field("amount", order.quote.price.minorUnits(rounding: .halfEven))
            json.field("currency", order.quote.price.currency.code)
            json.field("reference", "sbx_" + order.id.dropFirst(4))
            json.field("reason", succeeded ? nil : "The sandbox payer pressed Fail.")
        }
        let body = json.bytes
        return (body, sign(body, timestamp: Int64(now.timeIntervalSince1970)))
    }

    /// `t=<timestamp>,v1=<hex>` for `body`: Stripe's scheme (``StripeWebhookSignature``).
    public func sign(_ body: [UInt8], timestamp: Int64) -> String {
        StripeWebhookSignature.sign(payload: body, secret: secret, timestamp: timestamp)
    }

    /// Checks the signature on the raw bytes first, then the time, and only then parses the body.
    public func verify(body: [UInt8], signature header: String?, now: Date) throws(RechargeError) -> PaymentConfirmation {
        func reject(_ reason: String) -> RechargeError { .paymentNotVerified(provider: "sandbox", reason: reason) }
        do {
            try StripeWebhookSignature(secret: secret, toleranceSeconds: Int64(Self.tolerance)).verify(payload: body, header: header, now: now)
        } catch {
            throw reject(error.description)
        }
        struct Body: Decodable {
            let id: String
            let type: String
            let order: String
            let amount: Int64
            let currency: String
            let reference: String?
            let reason: String?
        }
        let parsed: Body
        do {
            parsed = try JSONDecoder().decode(Body.self, from: Data(body))
        } catch {
            throw reject("the body is not a sandbox notification")
        }
        let outcome: PaymentConfirmation.Outcome
        switch parsed.type {
        case "payment.succeeded": outcome = .succeeded
        case "payment.failed": outcome = .failed
        default: throw reject("unknown event type '\(parsed.type)'")
        }
        guard (1...200).contains(parsed.id.utf8.count) else { throw reject("event id must be 1 to 200 bytes") }
        let amount = try Money.fromMinorUnits(parsed.amount, currency: try Currency(code: parsed.currency))
        return PaymentConfirmation(provider: .sandbox, eventID: parsed.id, orderID: parsed.order, outcome: outcome, amount: amount,
                                   providerReference: parsed.reference, failureReason: parsed.reason)
    }
}

extension SandboxGateway: PaymentGateway {
    public var method: PaymentMethod { .sandbox }
    public var name: String { "sandbox" }
    public var displayName: String { "the sandbox" }
    public var currencies: Set<String>? { nil }
    public var capabilities: PaymentCapabilities { [.refund, .partialRefund, .redirect, .localReference] }
    public var settings: [PaymentSetting] { [PaymentSetting("RECHARGE_SANDBOX", required: false), PaymentSetting("RECHARGE_SANDBOX_SECRET", required: false, secret: true)] }
    public var isOffered: Bool { true }

    public func localReference(forOrder id: String) -> String? { "sbx_" + id.dropFirst(4) }

    public func startCheckout(_ order: RechargeOrder, chinese: Bool) async throws -> PaymentCheckout {
        .redirect(url: "/sandbox/checkout/\(order.id)", reference: nil)
    }

    public func checkout(for order: RechargeOrder) -> PaymentCheckout? { .redirect(url: "/sandbox/checkout/\(order.id)", reference: nil) }

    public func interpret(_ notification: PaymentNotification, now: Date) async throws(RechargeError) -> PaymentEvent {
        .confirmation(try verify(body: notification.body, signature: notification.header(Self.signatureHeader), now: now))
    }

    public func query(_ order: RechargeOrder) async throws -> PaymentConfirmation? { nil }

    /// The sandbox gives money back at once.
    public func refund(_ refund: OrderRefund, order: RechargeOrder) async throws -> String { "re_sbx_" + refund.id.dropFirst(3) }
}
