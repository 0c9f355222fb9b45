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

/// Stripe Checkout (the hosted page) for an order. localstripe has no Checkout Sessions, so Stripe's side is an
/// HTTP recorder answering with Session objects shaped as Stripe documents them, and the events are signed the
/// way Stripe signs them (StripeWebhookSignature, held byte-equal to stripe-python's in RechargePaymentsTests).
@Suite("Stripe Checkout Sessions", .enabled(if: PaymentPeer.isAvailable,
       "RECHARGE_TEST_PEERS_PYTHON is not set: run scripts/test (or eval \"$(scripts/start-peers)\") for the HTTP recorder"))
struct StripeCheckoutSessionTests {
    static let secret = "whsec_test_checkout"

    static func session(_ id: String, order: String?, paid: Bool, intent: String? = nil) -> Data {
        let metadata = order.map { #"{"order":"\#($0)"}"# } ?? "{}"
        return Data(#"{"id":"\#(id)","object":"checkout.session","url":\#(paid ? "null" : "\"https://checkout.stripe.com/c/pay/\(id)\""),"status":"\#(paid ? "complete" : "open")","payment_status":"\#(paid ? "paid" : "unpaid")","payment_intent":\#(intent.map { "\"\($0)\"" } ?? "null"),"amount_total":1000,"currency":"usd","metadata":\#(metadata)}"#.utf8)
    }

    @Test func hostedPageOrder() async throws {
        let recorder = try await HTTPRecorder.start(responseBody: Self.session("cs_test_a1", order: nil, paid: false))
        let client = StripeClient(configuration: .init(secretKey: "sk_test_x", baseURL: recorder.url, automaticPaymentMethods: false), httpClient: .shared)
        let stripe = StripeGateway(webhookSecret: Self.secret, client: client, publicURL: "https://recharge.example/")
        try await APIHarness.run(payments: PaymentProviders(sandbox: nil, stripe: stripe)) { api in
            try await OrdersAPITests.setUp(api)
            let body = #"{"product": "topup-10", "paymentMethod": "stripe", "stripeCheckout": "checkout_session"}"#
            let created = try await api.send(.post, "/v1/lines/+14155550100/orders", key: api.writer, idempotencyKey: "cs-1", json: body)
            #expect(created.status == .created, "\(String(buffer: created.body))")
            let order = try api.json(created)
            let id = try #require(order["id"] as? String)
            let checkout = try #require(order["checkout"] as? [String: Any])
            #expect(checkout["type"] as? String == "redirect" && checkout["url"] as? String == "https://checkout.stripe.com/c/pay/cs_test_a1")
            #expect(checkout["reference"] as? String == "cs_test_a1" && order["providerReference"] as? String == "cs_test_a1")
            // Retried: the same order, the same session (Stripe answers the same Idempotency-Key with the same session).
            let again = try api.json(try await api.send(.post, "/v1/lines/+14155550100/orders", key: api.writer, idempotencyKey: "cs-1", json: body))
            #expect(again["id"] as? String == id && (again["checkout"] as? [String: Any])?["reference"] as? String == "cs_test_a1")
            let sent = try recorder.requests()
            #expect(sent.count == 2 && sent.allSatisfy { $0.path == "/v1/checkout/sessions" && $0.header("Idempotency-Key") == "order:\(id):session" })
            #expect(String(decoding: sent[0].body, as: UTF8.self).contains("success_url=https%3A%2F%2Frecharge.example%2Fstripe%2Freturn%3Forder%3D\(id)&"))
            // Bad values of the field: refused, nothing made.
            try api.expectProblem(try await api.send(.post, "/v1/lines/+14155550100/orders", key: api.writer, idempotencyKey: "cs-2",
                                                     json: #"{"product": "topup-10", "paymentMethod": "stripe", "stripeCheckout": "hosted"}"#),
                                  .badRequest, "invalid-request")
            #expect(try recorder.requests().count == 2)
            #expect((try api.json(try await api.send(.get, "/v1/lines/+14155550100/orders", key: api.reader))["items"] as? [Any])?.count == 1)

            // The payer comes back before paying: the session is asked, the page says not yet.
            let early = try await api.client.execute(uri: "/stripe/return?order=\(id)", method: .get, headers: [:], body: nil)
            #expect(String(buffer: early.body).contains(#"data-state="awaiting_payment""#))

            func post(_ event: String) async throws -> TestResponse {
                let signature = StripeWebhookSignature.sign(payload: Array(event.utf8), secret: Self.secret, timestamp: Int64(APIHarness.now.timeIntervalSince1970))
                return try await api.client.execute(uri: "/webhooks/stripe", method: .post,
                                                    headers: [.contentType: "application/json", HTTPField.Name("Stripe-Signature")!: signature],
                                                    body: ByteBuffer(string: event))
            }
            func completed(_ eventID: String, paymentStatus: String, amount: Int = 1000) -> String {
                #"{"id":"\#(eventID)","object":"event","type":"checkout.session.completed","data":{"object":{"id":"cs_test_a1","object":"checkout.session","payment_status":"\#(paymentStatus)","payment_intent":"pi_cs_1","amount_total":\#(amount),"currency":"usd","client_reference_id":"\#(id)","metadata":{"order":"\#(id)"}}}}"#
            }
            // Completed but not yet paid (an asynchronous method): acknowledged, nothing applied.
            #expect(try api.json(try await post(completed("evt_c0", paymentStatus: "unpaid")))["ignored"] as? String != nil)
            try api.expectProblem(try await post(completed("evt_c1", paymentStatus: "paid", amount: 100)), .unprocessableContent, "payment-mismatch")
            #expect(try api.json(try await api.send(.get, "/v1/orders/\(id)", key: api.reader))["state"] as? String == "awaiting_payment")
            let paid = try await post(completed("evt_c2", paymentStatus: "paid"))
            #expect(try api.json(paid)["state"] as? String == "fulfilled", "\(String(buffer: paid.body))")
            // The order now names the PaymentIntent (refunds and disputes go to it); its own event changes nothing more.
            #expect(try api.json(try await api.send(.get, "/v1/orders/\(id)", key: api.reader))["providerReference"] as? String == "pi_cs_1")
            let intentEvent = #"{"id":"evt_pi","object":"event","type":"payment_intent.succeeded","data":{"object":{"id":"pi_cs_1","object":"payment_intent","amount":1000,"amount_received":1000,"currency":"usd","metadata":{"order":"\#(id)"}}}}"#
            #expect(try api.json(try await post(intentEvent))["state"] as? String == "fulfilled")
            #expect(try await api.mainBalance() == "10.00")
            let page = try await api.client.execute(uri: "/stripe/return?order=\(id)", method: .get, headers: [.acceptLanguage: "zh-CN"], body: nil)
            #expect(String(buffer: page.body).contains(#"data-state="fulfilled""#) && String(buffer: page.body).contains("已支付"))
        }
    }

    @Test func returnPageAndReconciliationAskTheSession() async throws {
        let recorder = try await HTTPRecorder.start(responseBody: Self.session("cs_test_b1", order: nil, paid: false))
        let client = StripeClient(configuration: .init(secretKey: "sk_test_x", baseURL: recorder.url, automaticPaymentMethods: false), httpClient: .shared)
        let stripe = StripeGateway(webhookSecret: Self.secret, client: client, publicURL: "https://recharge.example")
        try await APIHarness.run(payments: PaymentProviders(sandbox: nil, stripe: stripe)) { api in
            try await OrdersAPITests.setUp(api)
            func order(_ key: String) async throws -> String {
                let created = try await api.send(.post, "/v1/lines/+14155550100/orders", key: api.writer, idempotencyKey: key,
                                                 json: #"{"product": "topup-10", "paymentMethod": "stripe", "stripeCheckout": "checkout_session"}"#)
                return try #require(try api.json(created)["id"] as? String)
            }
            // The payer pays and comes back before any webhook: the return page asks the session and applies it.
            let first = try await order("b-1")
            try recorder.respond(with: Self.session("cs_test_b1", order: first, paid: true, intent: "pi_b1"))
            let page = try await api.client.execute(uri: "/stripe/return?order=\(first)", method: .get, headers: [:], body: nil)
            #expect(String(buffer: page.body).contains(#"data-state="fulfilled""#), "\(String(buffer: page.body))")
            #expect(try await api.mainBalance() == "10.00")
            // Nobody comes back and no webhook arrives: the reconciliation job asks the session.
            try recorder.respond(with: Self.session("cs_test_b2", order: nil, paid: false))
            let second = try await order("b-2")
            try recorder.respond(with: Self.session("cs_test_b2", order: second, paid: true, intent: "pi_b2"))
            let job = OrderReconciliationService(orders: api.services.orders, payments: api.services.payments,
                                                 clock: { APIHarness.now.addingTimeInterval(120) }, logger: Logger(label: "test"))
            await job.runOnce()
            #expect(try api.json(try await api.send(.get, "/v1/orders/\(second)", key: api.reader))["state"] as? String == "fulfilled")
            #expect(try await api.mainBalance() == "20.00")
            // A session that reports another order is not believed for this one.
            try recorder.respond(with: Self.session("cs_test_b3", order: nil, paid: false))
            let third = try await order("b-3")
            try recorder.respond(with: Self.session("cs_test_b3", order: first, paid: true, intent: "pi_b1"))
            await job.runOnce()
            #expect(try api.json(try await api.send(.get, "/v1/orders/\(third)", key: api.reader))["state"] as? String == "awaiting_payment")
            #expect(try await api.mainBalance() == "20.00")
            #expect(try await LedgerAudit(database: api.services.database).run().isBalanced)
        }
    }
}
