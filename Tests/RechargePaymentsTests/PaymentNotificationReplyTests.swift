import Foundation
import RechargeCore
import RechargePayments
import Testing

/// How each adapter wants its notifications answered (``PaymentGateway/acknowledgement(for:)``,
/// ``PaymentGateway/refusal(_:status:)``, ``PaymentGateway/foreignEvent(_:)``); the webhook routes send these bytes.
struct PaymentNotificationReplyTests {
    let confirmation = PaymentConfirmation(provider: .stripe, eventID: "evt_1", orderID: "ord_x", outcome: .succeeded,
                                           amount: Money(micros: 1_000_000, currency: .usd), providerReference: "pi_1", failureReason: nil)
    let refused = RechargeError.paymentNotVerified(provider: "test", reason: "bad signature")

    @Test func alipayReadsSuccessOrFail() throws {
        let alipay = try AlipayGateway(appID: "2021000000000000", sellerID: nil, alipayPublicKey: TestKeys.provider.publicKey.pemRepresentation)
        #expect(alipay.acknowledgement(for: .confirmation(confirmation)) == .text("success", status: 200))
        let refusal = try #require(alipay.refusal(refused, status: 400))
        #expect(refusal.status == 400 && refusal.contentType == "text/plain; charset=utf-8" && String(decoding: refusal.body, as: UTF8.self) == "fail")
        #expect(alipay.foreignEvent(.confirmation(confirmation)) == nil)
    }

    @Test func wechatPayReadsNoContentOrAFailObject() throws {
        let wechat = try WeChatPayGateway(mchID: "1900000001", appID: "wx1", platformKeys: [:], apiV3Key: "0123456789abcdefghijklmnopqrstuv")
        #expect(wechat.acknowledgement(for: .confirmation(confirmation)) == .noContent)
        let refusal = try #require(wechat.refusal(refused, status: 400))
        let json = try #require(try JSONSerialization.jsonObject(with: Data(refusal.body)) as? [String: String])
        #expect(refusal.status == 400 && refusal.contentType == "application/json" && json == ["code": "FAIL", "message": refused.detail])
    }

    @Test func stripeAcknowledgesEventsAboutOtherSystemsOrders() {
        let stripe = StripeGateway(webhookSecret: "whsec_test")
        for gateway in [StripePaymentIntentsGateway(stripe), StripeCheckoutGateway(stripe)] as [any PaymentGateway] {
            #expect(gateway.acknowledgement(for: .confirmation(confirmation)) == nil && gateway.refusal(refused, status: 400) == nil)
            #expect(gateway.foreignEvent(.confirmation(confirmation)) == .ignored(type: "evt_1 (order ord_x is not ours)"))
            let dispute = PaymentEvent.dispute(eventID: "evt_2", disputeID: "dp_1", providerReference: "pi_2", event: .closed(won: true))
            #expect(gateway.foreignEvent(dispute) == .ignored(type: "evt_2 (PaymentIntent pi_2 is not one of ours)"))
            #expect(gateway.foreignEvent(.ignored(type: "customer.created")) == nil)
        }
    }

    @Test func sandboxUsesTheServersReceipt() {
        let sandbox = SandboxGateway(secret: "sandbox-secret")
        #expect(sandbox.acknowledgement(for: .confirmation(confirmation)) == nil && sandbox.refusal(refused, status: 400) == nil)
        #expect(sandbox.foreignEvent(.confirmation(confirmation)) == nil)
    }
}
