import AsyncHTTPClient
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import RechargeCore
import RechargePayments
import RechargeServer
import RechargeStore
import RechargeTestSupport
import Testing

/// A card payment through Stripe's API, end to end against localstripe (PyPI), the peer scripts/start-peers
/// runs: the order creates a real PaymentIntent, the payer's side (what Stripe.js does) attaches a card and
/// confirms it, the reconciliation job's status query finds it succeeded and fulfils the order, and a refund
/// goes back through Stripe. Webhook delivery itself is tested in OrdersAPITests (signed events) and in
/// RechargePaymentsTests (localstripe's own webhook, verified on the raw bytes).
@Suite("Stripe end to end (localstripe)", .enabled(if: ProcessInfo.processInfo.environment["RECHARGE_TEST_STRIPE"] != nil,
                                                   "RECHARGE_TEST_STRIPE is not set: run scripts/test (or eval \"$(scripts/start-peers)\") for localstripe"))
struct StripeEndToEndTests {
    @Test func cardOrderIsConfirmedByStatusQueryAndRefunded() async throws {
        let base = try #require(ProcessInfo.processInfo.environment["RECHARGE_TEST_STRIPE"])
        // localstripe refuses automatic_payment_methods; real Stripe takes it.
        let client = StripeClient(configuration: .init(secretKey: "sk_test_recharge", baseURL: base, automaticPaymentMethods: false),
                                  httpClient: .shared)
        let payments = PaymentProviders(sandbox: nil, stripe: StripeGateway(webhookSecret: "whsec_recharge_e2e", client: client))
        try await APIHarness.run(payments: payments) { api in
            try await OrdersAPITests.setUp(api)
            let created = try await api.send(.post, "/v1/lines/+14155550100/orders", key: api.writer, idempotencyKey: "card-1",
                                             json: #"{"product": "topup-10", "paymentMethod": "stripe"}"#)
            #expect(created.status == .created, "\(String(buffer: created.body))")
            let order = try api.json(created)
            let id = try #require(order["id"] as? String)
            let checkout = try #require(order["checkout"] as? [String: Any])
            #expect(checkout["type"] as? String == "client_secret")
            #expect((checkout["clientSecret"] as? String)?.isEmpty == false)
            let intent = try #require(order["providerReference"] as? String)
            #expect(intent.hasPrefix("pi_"))

            // The payer's browser: a card, then confirm.
            _ = try await client.updatePaymentIntent(id: intent, paymentMethod: "pm_card_visa", idempotencyKey: "attach-\(id)")
            let confirmed = try await client.confirmPaymentIntent(id: intent, idempotencyKey: "confirm-\(id)")
            #expect(confirmed.status == .succeeded)
            #expect(try await api.mainBalance() == "0.00")

            // No webhook reaches this socket-less server: the reconciliation job asks Stripe, a minute later.
            let job = OrderReconciliationService(orders: api.services.orders, payments: payments,
                                                 clock: { APIHarness.now.addingTimeInterval(120) }, logger: Logger(label: "test"))
            await job.runOnce()
            #expect(try api.json(try await api.send(.get, "/v1/orders/\(id)", key: api.reader))["state"] as? String == "fulfilled")
            #expect(try await api.mainBalance() == "10.00")
            await job.runOnce()
            #expect(try await api.mainBalance() == "10.00")

            let refund = try await api.send(.post, "/v1/orders/\(id)/refunds", key: api.writer, idempotencyKey: "card-refund-1",
                                            json: #"{"amount": {"currency": "USD", "value": "4.00"}, "reason": "customer request"}"#)
            #expect(refund.status == .created, "\(String(buffer: refund.body))")
            let refunded = try api.json(refund)
            #expect(refunded["state"] as? String == "succeeded")
            #expect((refunded["providerReference"] as? String)?.hasPrefix("re_") == true)
            #expect(try await api.mainBalance() == "6.00")
            #expect(try await LedgerAudit(database: api.services.database).run().isBalanced)
        }
    }
}
