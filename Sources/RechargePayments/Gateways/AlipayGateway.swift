import _CryptoExtras
import Foundation
import RechargeCore

/// Alipay's asynchronous notifications (`POST /webhooks/alipay`, form-encoded), turned into confirmations.
///
/// The RSA2 signature is checked with Alipay's public key over the raw form bytes before any field is read
/// (``AlipayNotification``); then the app id and seller id are re-checked against our configuration, the
/// order is `out_trade_no`, the amount `total_amount` in CNY, the event id `notify_id`. Alipay wants the
/// exact body `success` back, or it retries.
public struct AlipayGateway: Sendable {
    public let appID: String
    /// The merchant's Alipay account (`seller_id`, 2088…); checked when set.
    public let sellerID: String?
    let alipayPublicKey: _RSA.Signing.PublicKey
    /// The OpenAPI client (precreate, query, refund); without it notifications are verified but Alipay is not
    /// offered for new orders.
    public let client: AlipayClient?
    /// How old a notification's `notify_time` may be (`RECHARGE_ALIPAY_NOTIFY_MAX_AGE`, seconds). A captured
    /// notification replayed later is refused even though its signature is Alipay's; a payment whose
    /// notifications all come too late is still found by the reconciliation job's status query.
    public let notifyMaxAge: TimeInterval

    /// Alipay sends a notification up to 8 times within 25 hours (4 m, 10 m, 10 m, 1 h, 2 h, 6 h, 15 h apart)
    /// until it reads `success`: the default takes the whole schedule and nothing older.
    public static let defaultNotifyMaxAge: TimeInterval = 25 * 3600
    /// Clock difference tolerated for a `notify_time` ahead of ours.
    public static let notifyClockSkew: TimeInterval = 300
    /// The bounds `RECHARGE_ALIPAY_NOTIFY_MAX_AGE` may take: 5 minutes to 7 days.
    public static let notifyMaxAgeRange: ClosedRange<TimeInterval> = 300...(7 * 86_400)

    public init(appID: String, sellerID: String?, alipayPublicKey: String, client: AlipayClient? = nil,
                notifyMaxAge: TimeInterval = Self.defaultNotifyMaxAge) throws {
        self.appID = appID
        self.sellerID = sellerID
        self.alipayPublicKey = try ProviderRSAKey.publicKey(alipayPublicKey, provider: .alipay)
        self.client = client
        self.notifyMaxAge = notifyMaxAge
    }

    /// `RECHARGE_ALIPAY_NOTIFY_MAX_AGE` (whole seconds, within ``notifyMaxAgeRange``), or the default when unset.
    public static func notifyMaxAge(setting text: String?) throws(RechargeError) -> TimeInterval {
        guard let text, !text.isEmpty else { return defaultNotifyMaxAge }
        guard let seconds = Int(text), notifyMaxAgeRange.contains(TimeInterval(seconds)) else {
            throw .invalidRequest("RECHARGE_ALIPAY_NOTIFY_MAX_AGE must be whole seconds from \(Int(notifyMaxAgeRange.lowerBound)) to \(Int(notifyMaxAgeRange.upperBound)), not '\(text)'")
        }
        return TimeInterval(seconds)
    }

    /// The reconciliation job's status query: a paid trade whose notification may have been lost.
    public func query(_ order: RechargeOrder) async throws -> PaymentConfirmation? {
        guard let client else { return nil }
        let status = try await client.query(outTradeNo: order.id)
        guard status.isPaid else { return nil }
        return PaymentConfirmation(provider: .alipay, eventID: "query:\(status.tradeNo ?? order.id):paid", orderID: order.id, outcome: .succeeded,
                                   amount: try Money.fromMinorUnits(status.totalAmountMinorUnits, currency: try Currency(code: "CNY")),
                                   providerReference: status.tradeNo, failureReason: nil)
    }

    public func verify(body: [UInt8], now: Date) throws(RechargeError) -> PaymentConfirmation {
        let notification: AlipayNotification
        do {
            notification = try AlipayNotification.verify(body: body, alipayPublicKey: alipayPublicKey)
        } catch {
            throw .paymentNotVerified(provider: "alipay", reason: error.description)
        }
        // Alipay always sends notify_time; without one, or with one out of the window, it is not a live delivery.
        guard let text = notification.notifyTime, let sent = AlipayNotification.beijingTime(text) else {
            throw .paymentNotVerified(provider: "alipay", reason: "notify_time \(notification.notifyTime ?? "(none)") is missing or malformed")
        }
        let age = now.timeIntervalSince(sent)
        guard age <= notifyMaxAge, age >= -Self.notifyClockSkew else {
            throw .paymentNotVerified(provider: "alipay", reason: "notify_time \(text) is \(Int(age)) s old; at most \(Int(notifyMaxAge)) s is taken")
        }
        guard notification.appID == appID else {
            throw .paymentNotVerified(provider: "alipay", reason: "app_id \(notification.appID) is not ours")
        }
        if let sellerID, notification.sellerID != sellerID {
            throw .paymentNotVerified(provider: "alipay", reason: "seller_id \(notification.sellerID ?? "(none)") is not ours")
        }
        let outcome: PaymentConfirmation.Outcome
        switch notification.tradeStatus {
        case "TRADE_SUCCESS", "TRADE_FINISHED": outcome = .succeeded
        case "TRADE_CLOSED": outcome = .failed
        default:
            throw .paymentNotVerified(provider: "alipay", reason: "trade_status \(notification.tradeStatus) is not final")
        }
        let amount = try Money.fromMinorUnits(notification.totalAmountMinorUnits, currency: try Currency(code: "CNY"))
        return PaymentConfirmation(provider: .alipay, eventID: notification.notifyID, orderID: notification.outTradeNo, outcome: outcome,
                                   amount: amount, providerReference: notification.tradeNo,
                                   failureReason: outcome == .failed ? "the Alipay trade was closed unpaid" : nil)
    }
}

extension AlipayGateway: PaymentGateway {
    public var method: PaymentMethod { .alipay }
    public var name: String { "alipay" }
    public var displayName: String { "Alipay" }
    public var currencies: Set<String>? { ["CNY"] }
    public var capabilities: PaymentCapabilities { [.refund, .partialRefund, .qrCode, .statusQuery] }
    public var settings: [PaymentSetting] {
        [PaymentSetting("RECHARGE_ALIPAY_APP_ID"), PaymentSetting("RECHARGE_ALIPAY_PUBLIC_KEY_FILE"),
         PaymentSetting("RECHARGE_ALIPAY_PRIVATE_KEY_FILE", required: false, secret: true), PaymentSetting("RECHARGE_ALIPAY_SELLER_ID", required: false),
         PaymentSetting("RECHARGE_ALIPAY_GATEWAY", required: false), PaymentSetting("RECHARGE_ALIPAY_NOTIFY_MAX_AGE", required: false)]
    }
    public var isOffered: Bool { client != nil }

    /// A QR code for the payer's Alipay app; the trade number is the order id, so a retry asks for the same trade.
    public func startCheckout(_ order: RechargeOrder, chinese: Bool) async throws -> PaymentCheckout {
        guard let client else { throw RechargeError.paymentMethodUnavailable(method.rawValue) }
        let price = order.quote.price
        let content = try await client.precreate(outTradeNo: order.id, totalAmountMinorUnits: price.minorUnits(rounding: .halfEven),
                                                 subject: order.quote.names["zh-Hans"] ?? order.quote.names["en"] ?? order.id,
                                                 expiresAt: order.expiresAt).qrCode
        return .qrCode(payload: content, reference: order.id)
    }

    /// The QR content Alipay gave when checkout started, kept with the order: shown again without a provider call.
    public func checkout(for order: RechargeOrder) -> PaymentCheckout? {
        order.checkoutPayload.map { .qrCode(payload: $0, reference: order.id) }
    }

    public func interpret(_ notification: PaymentNotification, now: Date) async throws(RechargeError) -> PaymentEvent {
        .confirmation(try verify(body: notification.body, now: now))
    }

    /// Alipay retries a notification until it reads exactly `success`.
    public func acknowledgement(for event: PaymentEvent) -> PaymentNotificationReply? { .text("success", status: 200) }

    /// Anything refused is answered `fail` (Alipay reads the body, not the status, and retries).
    public func refusal(_ error: RechargeError, status: Int) -> PaymentNotificationReply? { .text("fail", status: status) }

    public func refund(_ refund: OrderRefund, order: RechargeOrder) async throws -> String {
        guard let client else { throw RechargeError.paymentMethodUnavailable(method.rawValue) }
        _ = try await client.refund(outTradeNo: order.id, refundAmountMinorUnits: refund.amount.minorUnits(rounding: .halfEven), outRequestNo: refund.id)
        return "alipay:" + refund.id
    }
}
