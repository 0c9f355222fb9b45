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

/// A $10 recharge paid with PayPal, end to end against the stand-in PayPal API (scripts/peers/paypal_gateway.py):
/// the order makes a PayPal order, the payer approves it, and the capture happens on whichever comes first —
/// the payer's return, the CHECKOUT.ORDER.APPROVED webhook, or the reconciliation job — exactly once.
@Suite("PayPal checkout (stand-in gateway)", .enabled(if: PaymentPeer.isAvailable,
       "RECHARGE_TEST_PEERS_PYTHON is not set: run scripts/test (or eval \"$(scripts/start-peers)\") for the gateway peers"))
struct PayPalCheckoutTests {
    static let webhookID = "1JE4291016473214C"
    static let catalog = """
        {"products": [{"code": "topup-10", "kind": "top_up", "names": {"en": "$10 credit", "zh-Hans": "10美元话费"},
                       "prices": {"USD": "10.00"}, "credit": {"USD": "10.00"}}]}
        """

    enum Mode { case local, api }

    static func run(_ mode: Mode = .local, _ body: @escaping @Sendable (APIHarness, GatewayPeer) async throws -> Void) async throws {
        let gateway = try await GatewayPeer.start(script: "paypal_gateway.py",
                                                  arguments: ["--client-id", "AcLIENT", "--client-secret", "s3cret", "--webhook-id", webhookID], files: [:])
        do {
            let client = PayPalClient(configuration: .init(clientID: "AcLIENT", clientSecret: "s3cret", baseURL: gateway.url, requestTimeout: .seconds(10)),
                                      httpClient: .shared)
            let verification: PayPalGateway.Verification
            switch mode {
            case .local:
                let roots = try PayPalWebhookVerifier.certificates(pem: String(decoding: try await gateway.fetch("/_test/ca"), as: UTF8.self))
                verification = .local(PayPalWebhookVerifier(webhookID: webhookID, trustRoots: roots, extraCertificateOrigins: [gateway.url],
                                                            fetch: PayPalWebhookVerifier.fetcher(httpClient: .shared)))
            case .api:
                verification = .api(toleranceSeconds: 300)
            }
            let paypal = PayPalGateway(client: client, webhookID: webhookID, verification: verification, publicURL: "https://recharge.example")
            // Real time: the stand-in signs deliveries and issues certificates now.
            try await APIHarness.run(payments: PaymentProviders(sandbox: nil, paypal: paypal), clock: { Date() }) { api in
                #expect(try await api.openLine().status == .created)
                #expect(try await api.send(.put, "/v1/catalog", key: api.admin, json: Self.catalog).status == .ok)
                try await body(api, gateway)
            }
        } catch {
            await gateway.stop()
            throw error
        }
        await gateway.stop()
    }

    /// Creates a PayPal order for $10; returns our order id and PayPal's.
    static func order(_ api: APIHarness, _ gateway: GatewayPeer, key: String) async throws -> (id: String, token: String) {
        let created = try await api.send(.post, "/v1/lines/+14155550100/orders", key: api.writer, idempotencyKey: key,
                                         json: #"{"product": "topup-10", "paymentMethod": "paypal"}"#)
        #expect(created.status == .created, "\(String(buffer: created.body))")
        let order = try api.json(created)
        let id = try #require(order["id"] as? String)
        #expect(order["state"] as? String == "awaiting_payment")
        let checkout = try #require(order["checkout"] as? [String: Any])
        let token = try #require(checkout["reference"] as? String)
        #expect(checkout["type"] as? String == "redirect")
        #expect(checkout["url"] as? String == "\(gateway.url)/checkoutnow?token=\(token)")
        // A retried create is the same order and the same PayPal order.
        let again = try api.json(try await api.send(.post, "/v1/lines/+14155550100/orders", key: api.writer, idempotencyKey: key,
                                                    json: #"{"product": "topup-10", "paymentMethod": "paypal"}"#))
        #expect(again["id"] as? String == id)
        #expect((again["checkout"] as? [String: Any])?["reference"] as? String == token)
        return (id, token)
    }

    static func state(_ api: APIHarness, _ id: String) async throws -> String? {
        try api.json(try await api.send(.get, "/v1/orders/\(id)", key: api.reader))["state"] as? String
    }

    struct Delivery: Decodable {
        let headers: [String: String]
        let body: String
    }

    static func deliver(_ api: APIHarness, _ gateway: GatewayPeer, _ query: String,
                        edit: (String) -> String = { $0 }) async throws -> TestResponse {
        let delivery = try JSONDecoder().decode(Delivery.self, from: try await gateway.fetch("/_test/webhook?\(query)"))
        var headers: HTTPFields = [.contentType: "application/json"]
        for (name, value) in delivery.headers { headers[HTTPField.Name(name)!] = value }
        return try await api.client.execute(uri: "/webhooks/paypal", method: .post, headers: headers, body: ByteBuffer(string: edit(delivery.body)))
    }

    @Test func payerReturnsCaptureThenWebhookAndRefund() async throws {
        try await Self.run { api, gateway in
            let (id, token) = try await Self.order(api, gateway, key: "pp-1")
            // Before approval the return page captures nothing.
            let early = try await api.client.execute(uri: "/paypal/return?order=\(id)&token=\(token)", method: .get, headers: [:], body: nil)
            #expect(String(buffer: early.body).contains(#"data-state="awaiting_payment""#))
            // Someone else's PayPal token on our order's return URL is refused.
            let forged = try await api.client.execute(uri: "/paypal/return?order=\(id)&token=5O190127TN364715T", method: .get, headers: [:], body: nil)
            #expect(forged.status == .badRequest)

            let approval = try JSONSerialization.jsonObject(with: try await gateway.fetch("/_test/approve?token=\(token)")) as? [String: Any]
            let returnURL = try #require(approval?["return_url"] as? String)
            #expect(returnURL.hasPrefix("https://recharge.example/paypal/return?order=\(id)&token=\(token)&PayerID="))
            let page = try await api.client.execute(uri: String(returnURL.dropFirst("https://recharge.example".count)), method: .get,
                                                    headers: [.acceptLanguage: "zh-CN"], body: nil)
            #expect(page.status == .ok)
            #expect(String(buffer: page.body).contains(#"data-state="fulfilled""#))
            #expect(String(buffer: page.body).contains("已支付"))
            #expect(try await api.mainBalance() == "10.00")
            // The payer reloads the page: nothing more.
            _ = try await api.client.execute(uri: String(returnURL.dropFirst("https://recharge.example".count)), method: .get, headers: [:], body: nil)

            // PayPal's own PAYMENT.CAPTURE.COMPLETED arrives after: a new event, acknowledged, the same payment applied once.
            let webhook = try await Self.deliver(api, gateway, "type=PAYMENT.CAPTURE.COMPLETED&token=\(token)")
            #expect(webhook.status == .ok, "\(String(buffer: webhook.body))")
            #expect(try api.json(webhook)["state"] as? String == "fulfilled")
            #expect(try await api.mainBalance() == "10.00")

            // A partial refund goes back through PayPal to the capture.
            let refund = try await api.send(.post, "/v1/orders/\(id)/refunds", key: api.writer, idempotencyKey: "pp-rf-1",
                                            json: #"{"amount": {"currency": "USD", "value": "4.00"}, "reason": "asked by the subscriber"}"#)
            #expect(refund.status == .created, "\(String(buffer: refund.body))")
            #expect(try api.json(refund)["state"] as? String == "succeeded")
            #expect(try await api.mainBalance() == "6.00")

            // A chargeback: what is left (6.00) is held and the line suspended; resolved for us, both come back.
            let opened = try await Self.deliver(api, gateway, "type=CUSTOMER.DISPUTE.CREATED&token=\(token)")
            #expect(try api.json(opened)["dispute"] as? String == "open", "\(String(buffer: opened.body))")
            #expect(try await api.mainBalance() == "0.00")
            #expect(try api.json(try await api.send(.get, "/v1/lines/+14155550100", key: api.reader))["status"] as? String == "suspended")
            let resolved = try await Self.deliver(api, gateway, "type=CUSTOMER.DISPUTE.RESOLVED&token=\(token)&outcome=RESOLVED_SELLER_FAVOUR")
            #expect(try api.json(resolved)["dispute"] as? String == "won", "\(String(buffer: resolved.body))")
            #expect(try await api.mainBalance() == "6.00")
            #expect(try api.json(try await api.send(.get, "/v1/lines/+14155550100", key: api.reader))["status"] as? String == "active")
            #expect(try await LedgerAudit(database: api.services.database).run().isBalanced)
        }
    }

    @Test func approvalWebhookCapturesAndForgeriesChangeNothing() async throws {
        try await Self.run { api, gateway in
            let (id, token) = try await Self.order(api, gateway, key: "pp-2")
            _ = try await gateway.fetch("/_test/approve?token=\(token)")
            // Forged, tampered, stale and rogue-certificate deliveries of the approval: refused, nothing captured.
            try api.expectProblem(try await Self.deliver(api, gateway, "type=CHECKOUT.ORDER.APPROVED&token=\(token)") {
                $0.replacingOccurrences(of: "10.00", with: "1.00")
            }, .badRequest, "payment-not-verified")
            try api.expectProblem(try await Self.deliver(api, gateway, "type=CHECKOUT.ORDER.APPROVED&token=\(token)&age=900"),
                                  .badRequest, "payment-not-verified")
            try api.expectProblem(try await Self.deliver(api, gateway, "type=CHECKOUT.ORDER.APPROVED&token=\(token)&rogue=1"),
                                  .badRequest, "payment-not-verified")
            #expect(try await Self.state(api, id) == "awaiting_payment")
            #expect(try await api.mainBalance() == "0.00")

            // The genuine one: captured and fulfilled; delivered twice (PayPal retries), applied once.
            let first = try await Self.deliver(api, gateway, "type=CHECKOUT.ORDER.APPROVED&token=\(token)")
            #expect(first.status == .ok, "\(String(buffer: first.body))")
            #expect(try api.json(first)["state"] as? String == "fulfilled")
            let second = try await Self.deliver(api, gateway, "type=CHECKOUT.ORDER.APPROVED&token=\(token)")
            #expect(try api.json(second)["duplicate"] as? Bool == true)
            #expect(try await api.mainBalance() == "10.00")
            let receipt = try api.json(try await api.send(.get, "/v1/orders/\(id)/receipt", key: api.reader))
            #expect((receipt["paid"] as? [String: Any])?["value"] as? String == "10.00", "\(receipt)")
        }
    }

    @Test func reconciliationCapturesAnApprovedOrder() async throws {
        try await Self.run { api, gateway in
            let (id, token) = try await Self.order(api, gateway, key: "pp-3")
            let job = OrderReconciliationService(orders: api.services.orders, payments: api.services.payments,
                                                 clock: { Date().addingTimeInterval(120) }, logger: Logger(label: "test"))
            await job.runOnce()
            #expect(try await Self.state(api, id) == "awaiting_payment")
            _ = try await gateway.fetch("/_test/approve?token=\(token)")
            await job.runOnce()
            #expect(try await Self.state(api, id) == "fulfilled")
            #expect(try await api.mainBalance() == "10.00")
            // The payer's browser comes back after the job captured: the page shows it paid, nothing applied twice.
            let page = try await api.client.execute(uri: "/paypal/return?order=\(id)&token=\(token)", method: .get, headers: [:], body: nil)
            #expect(String(buffer: page.body).contains(#"data-state="fulfilled""#))
            #expect(try await api.mainBalance() == "10.00")
        }
    }

    @Test func verifyAPIMode() async throws {
        try await Self.run(.api) { api, gateway in
            let (id, token) = try await Self.order(api, gateway, key: "pp-4")
            _ = try await gateway.fetch("/_test/approve?token=\(token)")
            try api.expectProblem(try await Self.deliver(api, gateway, "type=CHECKOUT.ORDER.APPROVED&token=\(token)") {
                $0.replacingOccurrences(of: "\"APPROVED\"", with: "\"COMPLETED\"")
            }, .badRequest, "payment-not-verified")
            try api.expectProblem(try await Self.deliver(api, gateway, "type=CHECKOUT.ORDER.APPROVED&token=\(token)&age=900"),
                                  .badRequest, "payment-not-verified")
            #expect(try await Self.state(api, id) == "awaiting_payment")
            let genuine = try await Self.deliver(api, gateway, "type=CHECKOUT.ORDER.APPROVED&token=\(token)")
            #expect(try api.json(genuine)["state"] as? String == "fulfilled", "\(String(buffer: genuine.body))")
            #expect(try await api.mainBalance() == "10.00")
        }
    }
}
