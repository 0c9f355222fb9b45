import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import RechargeCore
import RechargePayments
import RechargeServer
import RechargeStore
import RechargeTestSupport
import Testing

/// Stripe retries every delivery not answered 2xx for days: a genuine event about no order of ours (another
/// integration on the same Stripe account) is acknowledged with 200 `ignored`; only a bad signature is a 4xx.
@Suite("Stripe: signed events for no order of ours")
struct StripeForeignEventTests {
    static let secret = "whsec_test_foreign"

    @Test func signedEventsForOtherOrdersAreAcknowledged() async throws {
        try await APIHarness.run(payments: PaymentProviders(sandbox: nil, stripe: StripeGateway(webhookSecret: Self.secret))) { api in
            try await OrdersAPITests.setUp(api)
            func post(_ body: String, signature: String?) async throws -> TestResponse {
                var headers: HTTPFields = [.contentType: "application/json"]
                if let signature { headers[HTTPField.Name("Stripe-Signature")!] = signature }
                return try await api.client.execute(uri: "/webhooks/stripe", method: .post, headers: headers, body: ByteBuffer(string: body))
            }
            func sign(_ body: String) -> String {
                StripeWebhookSignature.sign(payload: Array(body.utf8), secret: Self.secret, timestamp: Int64(APIHarness.now.timeIntervalSince1970))
            }
            let intent = { (id: String, metadata: String) in
                #"{"id":"\#(id)","object":"event","type":"payment_intent.succeeded","data":{"object":{"id":"pi_other","object":"payment_intent","amount":1000,"amount_received":1000,"currency":"usd","metadata":\#(metadata)}}}"#
            }
            let foreign = [
                intent("evt_f1", #"{"order":"ord_aaaaaaaaaaaaaaaaaaaaaaaa"}"#),   // well-formed, not ours
                intent("evt_f2", #"{"order":"INV-2026-0001"}"#),                   // another system's id
                intent("evt_f3", "{}"),                                            // names no order
                #"{"id":"evt_f4","object":"event","type":"checkout.session.completed","data":{"object":{"id":"cs_other","object":"checkout.session","payment_status":"paid","amount_total":1000,"currency":"usd","metadata":{}}}}"#,
                #"{"id":"evt_f5","object":"event","type":"charge.dispute.created","data":{"object":{"id":"dp_other","object":"dispute","amount":1000,"currency":"usd","payment_intent":"pi_other","status":"needs_response"}}}"#,
            ]
            for body in foreign {
                let answer = try await post(body, signature: sign(body))
                #expect(answer.status == .ok, "\(String(buffer: answer.body))")
                #expect(try api.json(answer)["ignored"] is String, "\(String(buffer: answer.body))")
            }
            // The same bytes unsigned, or signed with another secret: refused.
            try api.expectProblem(try await post(foreign[0], signature: nil), .badRequest, "payment-not-verified")
            let forged = StripeWebhookSignature.sign(payload: Array(foreign[0].utf8), secret: "whsec_someone_else", timestamp: Int64(APIHarness.now.timeIntervalSince1970))
            try api.expectProblem(try await post(foreign[0], signature: forged), .badRequest, "payment-not-verified")
            #expect(try await api.mainBalance() == "0.00")
            #expect(try await LedgerAudit(database: api.services.database).run().isBalanced)
        }
    }
}
