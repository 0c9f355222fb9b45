import _CryptoExtras
import Foundation
import RechargeCore

/// WeChat Pay API v3 payment notifications (`POST /webhooks/wechat_pay`), turned into confirmations.
///
/// The `Wechatpay-Signature` over `timestamp\nnonce\nbody\n` is checked with the platform key named by
/// `Wechatpay-Serial`, the timestamp must be within 300 s, and the AES-256-GCM resource is decrypted with the
/// APIv3 key (``WeChatPayNotification``); then mchid and appid are re-checked, the order is `out_trade_no`,
/// the amount `amount.total` fen, the event id the notification's `id`.
public struct WeChatPayGateway: Sendable {
    public let mchID: String
    public let appID: String
    let platformKeys: [String: _RSA.Signing.PublicKey]
    let apiV3Key: WeChatPayAPIv3Key
    /// The API v3 client (Native pay, query, refund); without it WeChat Pay is not offered for new orders.
    public let client: WeChatPayClient?

    public init(mchID: String, appID: String, platformKeys: [String: String], apiV3Key: String, client: WeChatPayClient? = nil) throws {
        self.mchID = mchID
        self.appID = appID
        self.client = client
        var keys: [String: _RSA.Signing.PublicKey] = [:]
        for (serial, pem) in platformKeys { keys[serial] = try ProviderRSAKey.publicKey(pem, provider: .wechatPay) }
        self.platformKeys = keys
        self.apiV3Key = try WeChatPayAPIv3Key(apiV3Key)
    }

    /// The reconciliation job's status query.
    public func query(_ order: RechargeOrder) async throws -> PaymentConfirmation? {
        guard let client else { return nil }
        let transaction = try await client.query(outTradeNo: order.id)
        guard transaction.isPaid else { return nil }
        return PaymentConfirmation(provider: .wechatPay, eventID: "query:\(transaction.transactionID ?? order.id):paid", orderID: order.id,
                                   outcome: .succeeded, amount: try Money.fromMinorUnits(transaction.totalFen, currency: try Currency(code: "CNY")),
                                   providerReference: transaction.transactionID, failureReason: nil)
    }

    public func verify(body: [UInt8], headers: WeChatPaySignatureHeaders, now: Date) throws(RechargeError) -> PaymentConfirmation {
        let notification: WeChatPayNotification
        do {
            notification = try WeChatPayNotification.verify(body: body, headers: headers, platformKeys: platformKeys, apiV3Key: apiV3Key, now: now)
        } catch {
            throw .paymentNotVerified(provider: "wechat_pay", reason: error.description)
        }
        let transaction = notification.transaction
        guard transaction.mchID == mchID, transaction.appID == appID else {
            throw .paymentNotVerified(provider: "wechat_pay", reason: "mchid \(transaction.mchID) / appid \(transaction.appID) are not ours")
        }
        let outcome: PaymentConfirmation.Outcome
        switch transaction.tradeState {
        case "SUCCESS": outcome = .succeeded
        case "CLOSED", "PAYERROR", "REVOKED": outcome = .failed
        default:
            throw .paymentNotVerified(provider: "wechat_pay", reason: "trade_state \(transaction.tradeState) is not final")
        }
        let amount = try Money.fromMinorUnits(transaction.amount.total, currency: try Currency(code: transaction.amount.currency))
        return PaymentConfirmation(provider: .wechatPay, eventID: notification.id, orderID: transaction.outTradeNo, outcome: outcome,
                                   amount: amount, providerReference: transaction.transactionID,
                                   failureReason: outcome == .failed ? "WeChat Pay trade \(transaction.tradeState)" : nil)
    }
}

extension WeChatPayGateway: PaymentGateway {
    public var method: PaymentMethod { .wechatPay }
    public var name: String { "wechat_pay" }
    public var displayName: String { "WeChat Pay" }
    public var currencies: Set<String>? { ["CNY"] }
    public var capabilities: PaymentCapabilities { [.refund, .partialRefund, .qrCode, .statusQuery] }
    public var settings: [PaymentSetting] {
        [PaymentSetting("RECHARGE_WECHAT_MCHID"), PaymentSetting("RECHARGE_WECHAT_APPID"), PaymentSetting("RECHARGE_WECHAT_APIV3_KEY_FILE", secret: true),
         PaymentSetting("RECHARGE_WECHAT_PLATFORM_KEY_FILE"), PaymentSetting("RECHARGE_WECHAT_PLATFORM_SERIAL"),
         PaymentSetting("RECHARGE_WECHAT_MERCHANT_KEY_FILE", required: false, secret: true), PaymentSetting("RECHARGE_WECHAT_MERCHANT_SERIAL", required: false),
         PaymentSetting("RECHARGE_WECHAT_API_URL", required: false)]
    }
    public var isOffered: Bool { client != nil }

    /// A Native-pay code for the payer's WeChat app; the trade number is the order id, so a retry asks for the same trade.
    public func startCheckout(_ order: RechargeOrder, chinese: Bool) async throws -> PaymentCheckout {
        guard let client else { throw RechargeError.paymentMethodUnavailable(method.rawValue) }
        let content = try await client.nativePay(outTradeNo: order.id, description: order.quote.names["zh-Hans"] ?? order.quote.names["en"] ?? order.id,
                                                 totalFen: order.quote.price.minorUnits(rounding: .halfEven), expiresAt: order.expiresAt)
        return .qrCode(payload: content, reference: order.id)
    }

    /// The QR content WeChat Pay gave when checkout started, kept with the order: shown again without a provider call.
    public func checkout(for order: RechargeOrder) -> PaymentCheckout? {
        order.checkoutPayload.map { .qrCode(payload: $0, reference: order.id) }
    }

    public func interpret(_ notification: PaymentNotification, now: Date) async throws(RechargeError) -> PaymentEvent {
        .confirmation(try verify(body: notification.body, headers: WeChatPaySignatureHeaders(headers: notification.headerFields), now: now))
    }

    /// WeChat Pay takes a 200 or 204 as accepted; nothing in the body is read.
    public func acknowledgement(for event: PaymentEvent) -> PaymentNotificationReply? { .noContent }

    /// WeChat Pay wants `{"code":"FAIL","message":…}` with a 4xx/5xx, and retries.
    public func refusal(_ error: RechargeError, status: Int) -> PaymentNotificationReply? {
        var json = JSONWriter(capacity: 128)
        json.object { json in
            json.field("code", "FAIL")
            json.field("message", error.detail)
        }
        return PaymentNotificationReply(status: status, contentType: "application/json", body: json.bytes)
    }

    public func refund(_ refund: OrderRefund, order: RechargeOrder) async throws -> String {
        guard let client else { throw RechargeError.paymentMethodUnavailable(method.rawValue) }
        let answer = try await client.refund(outTradeNo: order.id, outRefundNo: refund.id, refundFen: refund.amount.minorUnits(rounding: .halfEven),
                                             totalFen: order.quote.price.minorUnits(rounding: .halfEven))
        return answer.refundID ?? "wechat:" + refund.id
    }
}
