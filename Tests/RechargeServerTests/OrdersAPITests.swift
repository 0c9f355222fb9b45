import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import RechargeBanking
import RechargeCore
import RechargePayments
import RechargeNotifications
import RechargeServer
import RechargeStore
import RechargeTestSupport
import Testing

/// The online recharge over HTTP: catalog, order, sandbox checkout, signed notification, receipt.
@Suite("Orders API")
struct OrdersAPITests {
    static let catalog = """
        {"customTopUp": {"USD": {"min": "5", "max": "500"}},
         "products": [
           {"code": "topup-10", "kind": "top_up", "names": {"en": "$10 credit", "zh-Hans": "10美元话费"},
            "prices": {"USD": "10.00"}, "credit": {"USD": "10.00"}},
           {"code": "us-data-5gb", "kind": "pack", "names": {"en": "US 5 GB", "zh-Hans": "美国 5GB"}, "prices": {"USD": "15.00"},
            "allowances": [{"kind": "data", "amount": "5GB"}], "validityDays": 30, "coverage": {"name": "US", "countries": ["US"]}}
         ]}
        """

    static func setUp(_ api: APIHarness) async throws {
        #expect(try await api.openLine().status == .created)
        let put = try await api.send(.put, "/v1/catalog", key: api.admin, json: catalog)
        #expect(put.status == .ok, "\(String(buffer: put.body))")
    }

    func createOrder(_ api: APIHarness, _ json: String, key: String) async throws -> TestResponse {
        try await api.send(.post, "/v1/lines/+14155550100/orders", key: api.writer, idempotencyKey: key, json: json)
    }

    func notify(_ api: APIHarness, _ body: String, signature: String?) async throws -> TestResponse {
        var headers: HTTPFields = [.contentType: "application/json"]
        if let signature { headers[HTTPField.Name(SandboxGateway.signatureHeader)!] = signature }
        return try await api.client.execute(uri: "/webhooks/sandbox", method: .post, headers: headers, body: ByteBuffer(string: body))
    }

    func sign(_ api: APIHarness, _ body: String, at date: Date = APIHarness.now) throws -> String {
        try #require(api.services.payments.sandbox).sign(Array(body.utf8), timestamp: Int64(date.timeIntervalSince1970))
    }

    @Test func catalogIsManagedByAdmins() async throws {
        try await APIHarness.run { api in
            try await Self.setUp(api)
            let listed = try api.json(try await api.send(.get, "/v1/catalog", key: api.reader))
            let products = try #require(listed["products"] as? [[String: Any]])
            #expect(products.map { $0["code"] as? String } == ["topup-10", "us-data-5gb"])
            #expect((products[1]["allowances"] as? [[String: Any]])?.first?["amount"] as? String == "5GB")
            try api.expectProblem(try await api.send(.put, "/v1/catalog", key: api.writer, json: Self.catalog), .forbidden, "forbidden")
            try api.expectProblem(try await api.send(.put, "/v1/catalog", key: api.admin, json: #"{"products": [{"code": "X Y", "kind": "pack", "names": {"en": "x"}, "prices": {"USD": "1"}}]}"#),
                                  .badRequest, "invalid-catalog")
            try api.expectProblem(try await api.send(.put, "/v1/catalog", key: api.admin, json: #"{"products": [], "extra": 1}"#), .badRequest, "malformed-body")
        }
    }

    /// The catalog's new fields over the API: the `name`/`description` aliases are read and written back as
    /// `names`/`descriptions`, the time zone and a local holiday date survive the round trip, and a quote of a
    /// top-up during the holiday shows the bonus buckets; a time the clocks skip is refused whole.
    @Test func catalogWithOffersRoundTrips() async throws {
        try await APIHarness.run { api in
            #expect(try await api.openLine().status == .created)
            let catalog = """
                {"timeZone": "America/New_York",
                 "customTopUp": {"USD": {"min": "5", "max": "500"}},
                 "products": [{"code": "topup-40", "kind": "top_up", "name": {"en": "$40 credit", "zh-Hans": "40美元话费"},
                               "description": {"en": "Forty dollars"}, "prices": {"USD": "40.00"}, "credit": {"USD": "40.00"}}],
                 "promotions": [{"code": "holiday", "name": {"en": "Holiday data"}, "currency": "USD", "minTopUp": "30",
                                 "bonusAllowances": [{"kind": "data", "amount": "1GB", "validityDays": 10},
                                                     {"kind": "voice", "amount": "60min", "validityDays": 5, "coverage": {"name": "US", "countries": ["US"]}}],
                                 "startsAt": "2026-11-01T00:00", "listed": true}]}
                """
            let put = try await api.send(.put, "/v1/catalog", key: api.admin, json: catalog)
            #expect(put.status == .ok, "\(String(buffer: put.body))")
            let listed = try api.json(try await api.send(.get, "/v1/catalog", key: api.reader))
            #expect(listed["timeZone"] as? String == "America/New_York")
            let product = try #require((listed["products"] as? [[String: Any]])?.first)
            #expect((product["names"] as? [String: String])?["zh-Hans"] == "40美元话费" && product["name"] == nil)
            #expect((product["descriptions"] as? [String: String])?["en"] == "Forty dollars")
            let promotion = try #require((listed["promotions"] as? [[String: Any]])?.first)
            #expect(promotion["startsAt"] as? String == "2026-11-01T00:00" && promotion["minTopUp"] as? String == "30.00")
            #expect((promotion["bonusAllowances"] as? [[String: Any]])?.map { $0["amount"] as? String } == ["1GB", "60min"])
            let quote = try api.json(try await api.send(.post, "/v1/lines/+14155550100/quotes", key: api.reader, json: #"{"product": "topup-40"}"#))
            let bonus = try #require(quote["bonusAllowances"] as? [[String: Any]])
            #expect(bonus.map { $0["kind"] as? String } == ["data", "voice"] && bonus.map { $0["validityDays"] as? Int } == [10, 5])
            #expect(bonus[1]["coverageName"] as? String == "US" && quote["promotions"] as? [String] == ["holiday"])
            let skipped = catalog.replacingOccurrences(of: "2026-11-01T00:00", with: "2027-03-14T02:30")
            try api.expectProblem(try await api.send(.put, "/v1/catalog", key: api.admin, json: skipped), .badRequest, "invalid-catalog")
            let both = catalog.replacingOccurrences(of: #""name": {"en": "Holiday data"}"#, with: #""name": {"en": "Holiday data"}, "names": {"en": "x"}"#)
            #expect(try await api.send(.put, "/v1/catalog", key: api.admin, json: both).status == .badRequest)
            #expect(try api.json(try await api.send(.get, "/v1/catalog", key: api.reader))["timeZone"] as? String == "America/New_York")
        }
    }

    /// The 399-byte "billion laughs" that took the server to 2 GB for 17 s: refused before Yams expands it, as is
    /// an aliased mapping key (composing alone would hash its expansion) and flow nesting past the limit.
    @Test func catalogRefusesAliasBombs() async throws {
        var bomb = "a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n"
        for (level, previous) in zip("bcdefghi", "abcdefgh") {
            bomb += "\(level): &\(level) [" + Array(repeating: "*\(previous)", count: 9).joined(separator: ",") + "]\n"
        }
        bomb += "products: *i\n"
        let text = bomb
        #expect(text.utf8.count < 420)
        try await APIHarness.run { api in
            let started = ContinuousClock.now
            let problem = try await api.client.execute(uri: "/v1/catalog", method: .put,
                                                       headers: [.authorization: "Bearer \(api.admin)", .contentType: "application/yaml"],
                                                       body: ByteBuffer(string: text))
            try api.expectProblem(problem, .badRequest, "invalid-catalog")
            #expect(ContinuousClock.now - started < .seconds(1))
        }
        for text in ["? *k\n: 1\n", "products: [{code: &x a}]\n", "products:\n- code: x\n  names: {en: *&y}\n",
                     "products: " + String(repeating: "[", count: 200) + String(repeating: "]", count: 200)] {
            #expect(throws: RechargeError.self) { _ = try CatalogFile.parse(text) }
        }
        // Text that merely contains & or * inside a word, and the demo catalog, still load.
        _ = try CatalogFile.parse(#"{"products": [{"code": "att", "kind": "top_up", "names": {"en": "AT&T 5*", "zh-Hans": "AT&T"}, "prices": {"USD": "5.00"}, "credit": {"USD": "5.00"}}]}"#)
    }

    @Test func catalogFiles() async throws {
        let demo = try CatalogFile.parse(try CatalogFile.demoText())
        #expect(demo.products.count >= 8)
        #expect(demo.product("us-data-5gb-30d")?.allowances.first?.amount == 5 << 30)
        #expect(demo.product("na-talk-text-30d")?.coverage?.countries == ["US", "CA", "MX"])
        #expect(demo.products.allSatisfy { $0.names["zh-Hans"] != nil })
        #expect(throws: RechargeError.invalidCatalog("unknown field 'products.validityDay'")) {
            try CatalogFile.parse("products:\n  - {code: a, kind: pack, names: {en: A}, prices: {USD: \"1\"}, validityDay: 3}\n")
        }
        #expect(throws: RechargeError.self) { try CatalogFile.parse("products: [") }
        #expect(throws: RechargeError.self) { try CatalogFile.parse("- just a list") }
        try await APIHarness.run { api in
            var headers: HTTPFields = [.authorization: "Bearer \(api.admin)", .contentType: "application/yaml"]
            let put = try await api.client.execute(uri: "/v1/catalog", method: .put, headers: headers, body: ByteBuffer(string: try CatalogFile.demoText()))
            #expect(put.status == .ok)
            #expect((try api.json(put)["products"] as? [Any])?.count == demo.products.count)
            headers[.contentType] = "application/yaml"
            let bad = try await api.client.execute(uri: "/v1/catalog", method: .put, headers: headers, body: ByteBuffer(string: "products: [{code: x}]"))
            try api.expectProblem(bad, .badRequest, "invalid-catalog")
        }
    }

    @Test func sandboxCheckoutFulfilsAndGivesAReceipt() async throws {
        try await APIHarness.run { api in
            try await Self.setUp(api)
            let created = try await createOrder(api, #"{"product": "topup-10", "paymentMethod": "sandbox"}"#, key: "order-1")
            #expect(created.status == .created, "\(String(buffer: created.body))")
            let order = try api.json(created)
            let id = try #require(order["id"] as? String)
            #expect(order["state"] as? String == "awaiting_payment")
            let checkout = try #require(order["checkout"] as? [String: Any])
            #expect(checkout["url"] as? String == "/sandbox/checkout/\(id)")
            // The same request again: the same order.
            let replay = try await createOrder(api, #"{"product": "topup-10", "paymentMethod": "sandbox"}"#, key: "order-1")
            #expect(try api.json(replay)["id"] as? String == id)
            #expect(replay.headers[HTTPField.Name("Idempotent-Replayed")!] == "true")

            // Nothing is credited by visiting the page.
            let page = try await api.client.execute(uri: "/sandbox/checkout/\(id)", method: .get)
            #expect(page.status == .ok)
            #expect(String(buffer: page.body).contains("10.00 USD"))
            #expect(try await api.mainBalance() == "0.00")

            let pay = try await api.client.execute(uri: "/sandbox/checkout/\(id)", method: .post,
                                                   headers: [.contentType: "application/x-www-form-urlencoded"], body: ByteBuffer(string: "action=pay"))
            #expect(pay.status == .seeOther)
            #expect(try await api.mainBalance() == "10.00")
            let paid = try api.json(try await api.send(.get, "/v1/orders/\(id)", key: api.reader))
            #expect(paid["state"] as? String == "fulfilled")
            #expect((paid["balanceAfter"] as? [String: Any])?["value"] as? String == "10.00")
            // Pressing Pay again (a second event) changes nothing.
            _ = try await api.client.execute(uri: "/sandbox/checkout/\(id)", method: .post, body: ByteBuffer(string: "action=pay"))
            #expect(try await api.mainBalance() == "10.00")

            let receipt = try api.json(try await api.send(.get, "/v1/orders/\(id)/receipt", key: api.reader))
            #expect((receipt["paid"] as? [String: Any])?["value"] as? String == "10.00")
            #expect((receipt["credited"] as? [String: Any])?["value"] as? String == "10.00")
            var headers: HTTPFields = [.authorization: "Bearer \(api.reader)", .accept: "text/html", .acceptLanguage: "zh-CN,zh;q=0.9"]
            let html = try await api.client.execute(uri: "/v1/orders/\(id)/receipt", method: .get, headers: headers)
            #expect(html.headers[.contentType] == "text/html; charset=utf-8")
            #expect(String(buffer: html.body).contains("充值收据") && String(buffer: html.body).contains("10美元话费"))
            headers[.acceptLanguage] = "en"
            #expect(String(buffer: try await api.client.execute(uri: "/v1/orders/\(id)/receipt", method: .get, headers: headers).body).contains("Recharge receipt"))

            // Refund 4.00 of it through the sandbox, then the rest.
            let refund = try await api.send(.post, "/v1/orders/\(id)/refunds", key: api.writer, idempotencyKey: "rf-1",
                                            json: #"{"amount": {"currency": "USD", "value": "4.00"}, "reason": "customer request"}"#)
            #expect(refund.status == .created, "\(String(buffer: refund.body))")
            let refunded = try api.json(refund)
            #expect(refunded["state"] as? String == "succeeded")
            #expect((refunded["providerReference"] as? String)?.hasPrefix("re_sbx_") == true)
            #expect(try await api.mainBalance() == "6.00")
            try api.expectProblem(try await api.send(.post, "/v1/orders/\(id)/refunds", key: api.writer, idempotencyKey: "rf-2",
                                                     json: #"{"amount": {"currency": "USD", "value": "7.00"}, "reason": "too much"}"#), .badRequest, "invalid-amount")
            _ = try await api.send(.post, "/v1/orders/\(id)/refunds", key: api.writer, idempotencyKey: "rf-3", json: #"{"reason": "the rest"}"#)
            #expect(try await api.mainBalance() == "0.00")
            let refunds = try api.json(try await api.send(.get, "/v1/orders/\(id)/refunds", key: api.reader))
            #expect((refunds["items"] as? [[String: Any]])?.compactMap { ($0["amount"] as? [String: Any])?["value"] as? String } == ["4.00", "6.00"])
            #expect(try api.json(try await api.send(.get, "/v1/orders/\(id)", key: api.reader))["state"] as? String == "refunded")

            let list = try api.json(try await api.send(.get, "/v1/lines/+14155550100/orders", key: api.reader))
            #expect((list["items"] as? [[String: Any]])?.count == 1)
            try api.expectProblem(try await api.send(.post, "/v1/orders/\(id)/cancel", key: api.writer), .conflict, "illegal-order-transition")
        }
    }

    @Test func notificationsAreVerifiedOnRawBytes() async throws {
        try await APIHarness.run { api in
            try await Self.setUp(api)
            let id = try #require(try api.json(try await createOrder(api, #"{"amount": {"currency": "USD", "value": "25.00"}, "paymentMethod": "sandbox"}"#, key: "o2"))["id"] as? String)
            func body(_ event: String, amount: Int = 2500) -> String {
                #"{"id":"\#(event)","type":"payment.succeeded","order":"\#(id)","amount":\#(amount),"currency":"USD","reference":"sbx_x"}"#
            }
            let genuine = body("evt_1")
            // Forged (no or wrong signature), tampered (signed, then changed), stale (signed 10 minutes ago).
            try api.expectProblem(try await notify(api, genuine, signature: nil), .badRequest, "payment-not-verified")
            try api.expectProblem(try await notify(api, genuine, signature: "t=\(Int(APIHarness.now.timeIntervalSince1970)),v1=\(String(repeating: "ab", count: 32))"),
                                  .badRequest, "payment-not-verified")
            try api.expectProblem(try await notify(api, body("evt_1", amount: 250000), signature: try sign(api, genuine)), .badRequest, "payment-not-verified")
            try api.expectProblem(try await notify(api, genuine, signature: try sign(api, genuine, at: APIHarness.now.addingTimeInterval(-600))),
                                  .badRequest, "payment-not-verified")
            // Signed but for the wrong amount: the order's price is re-checked.
            let short = body("evt_short", amount: 2499)
            try api.expectProblem(try await notify(api, short, signature: try sign(api, short)), .unprocessableContent, "payment-mismatch")
            #expect(try await api.mainBalance() == "0.00")

            let first = try await notify(api, genuine, signature: try sign(api, genuine))
            #expect(first.status == .ok)
            #expect(try api.json(first)["duplicate"] as? Bool == false)
            // Delivered again (providers retry): acknowledged, nothing applied.
            let again = try await notify(api, genuine, signature: try sign(api, genuine))
            #expect(try api.json(again)["duplicate"] as? Bool == true)
            #expect(try await api.mainBalance() == "25.00")
        }
    }

    /// Stripe events, signed the way Stripe signs them (StripeWebhookSignature, held byte-equal to the stripe SDK's
    /// own header in RechargePaymentsTests), through the HTTP route.
    @Test func stripeEventsMoveOrders() async throws {
        let secret = "whsec_test_recharge"
        try await APIHarness.run(payments: PaymentProviders(sandbox: nil, stripe: StripeGateway(webhookSecret: secret))) { api in
            try await Self.setUp(api)
            let order = try await api.services.orders.create(msisdn: try MSISDN("+14155550100"), item: .product("topup-10"), paymentMethod: .stripe,
                                                             key: try IdempotencyKey("s1"), now: APIHarness.now).order
            func event(_ id: String, _ type: String, amount: Int = 1000, order: String? = nil) -> String {
                #"{"id":"\#(id)","object":"event","type":"\#(type)","data":{"object":{"id":"pi_123","object":"payment_intent","amount":\#(amount),"amount_received":\#(amount),"currency":"usd","metadata":{"order":"\#(order ?? "")"}}}}"#
            }
            func post(_ body: String, signature: String?) async throws -> TestResponse {
                var headers: HTTPFields = [.contentType: "application/json"]
                if let signature { headers[HTTPField.Name("Stripe-Signature")!] = signature }
                return try await api.client.execute(uri: "/webhooks/stripe", method: .post, headers: headers, body: ByteBuffer(string: body))
            }
            let timestamp = Int64(APIHarness.now.timeIntervalSince1970)
            func sign(_ body: String, at time: Int64 = timestamp) -> String { StripeWebhookSignature.sign(payload: Array(body.utf8), secret: secret, timestamp: time) }
            let succeeded = event("evt_1", "payment_intent.succeeded", order: order.id)
            try api.expectProblem(try await post(succeeded, signature: nil), .badRequest, "payment-not-verified")
            try api.expectProblem(try await post(succeeded, signature: sign(succeeded, at: timestamp - 301)), .badRequest, "payment-not-verified")
            try api.expectProblem(try await post(event("evt_1", "payment_intent.succeeded", amount: 100000, order: order.id), signature: sign(succeeded)),
                                  .badRequest, "payment-not-verified")
            let short = event("evt_short", "payment_intent.succeeded", amount: 999, order: order.id)
            try api.expectProblem(try await post(short, signature: sign(short)), .unprocessableContent, "payment-mismatch")
            // Several v1 values while a secret rolls over: any one matching is enough.
            let rolled = sign(succeeded) + ",v1=" + String(repeating: "0", count: 64)
            let first = try await post(succeeded, signature: rolled)
            #expect(first.status == .ok, "\(String(buffer: first.body))")
            #expect(try api.json(first)["state"] as? String == "fulfilled")
            #expect(try api.json(try await post(succeeded, signature: sign(succeeded)))["duplicate"] as? Bool == true)
            #expect(try await api.mainBalance() == "10.00")
            // A chargeback: what is left of the 10.00 (all of it) is held and the line suspended until it closes.
            func dispute(_ id: String, _ type: String, status: String) -> String {
                #"{"id":"\#(id)","object":"event","type":"\#(type)","data":{"object":{"id":"dp_1","object":"dispute","amount":1000,"currency":"usd","payment_intent":"pi_123","status":"\#(status)"}}}"#
            }
            let opened = dispute("evt_d1", "charge.dispute.created", status: "needs_response")
            #expect(try api.json(try await post(opened, signature: sign(opened)))["dispute"] as? String == "open")
            #expect(try api.json(try await post(opened, signature: sign(opened)))["duplicate"] as? Bool == true)
            #expect(try await api.mainBalance() == "0.00")
            let line = try api.json(try await api.send(.get, "/v1/lines/+14155550100", key: api.reader))
            #expect(line["status"] as? String == "suspended")
            let won = dispute("evt_d2", "charge.dispute.closed", status: "won")
            #expect(try api.json(try await post(won, signature: sign(won)))["dispute"] as? String == "won")
            #expect(try await api.mainBalance() == "10.00")
            #expect(try api.json(try await api.send(.get, "/v1/lines/+14155550100", key: api.reader))["status"] as? String == "active")
            #expect(try await LedgerAudit(database: api.services.database).run().isBalanced)

            let other = event("evt_2", "charge.succeeded", order: order.id)
            #expect(try api.json(try await post(other, signature: sign(other)))["ignored"] as? String == "charge.succeeded")
            // The sandbox is off here: its routes do not exist.
            try api.expectProblem(try await api.client.execute(uri: "/webhooks/sandbox", method: .post, body: ByteBuffer(string: "{}")),
                                  .notFound, "not-found")
        }
    }

    /// A pack marked to renew: listed with its period, renewed by the reminder round, turned off by the subscriber.
    @Test func packRenewalsAreListedAndCanBeTurnedOff() async throws {
        try await APIHarness.run { api in
            try await Self.setUp(api)
            let renewing = Self.catalog.replacingOccurrences(of: #""validityDays": 30,"#, with: #""validityDays": 30, "autoRenew": true,"#)
            #expect(try await api.send(.put, "/v1/catalog", key: api.admin, json: renewing).status == .ok)
            #expect(try await api.topUp("+14155550100", "40.00", key: "t-1").status == .created)
            let created = try api.json(try await createOrder(api, #"{"product": "us-data-5gb", "paymentMethod": "sandbox"}"#, key: "rn-1"))
            let id = try #require(created["id"] as? String)
            _ = try await api.client.execute(uri: "/sandbox/checkout/\(id)", method: .post, body: ByteBuffer(string: "action=pay"))
            let list = try api.json(try await api.send(.get, "/v1/lines/+14155550100/renewals", key: api.reader))
            let item = try #require((list["items"] as? [[String: Any]])?.first)
            #expect(item["order"] as? String == id && item["state"] as? String == "active" && item["renewals"] as? Int == 0)
            #expect(item["validUntil"] as? String == "2026-12-18T11:06:40.000Z")
            // The reminder round renews it within its last day.
            let service = ReminderService(store: ReminderStore(database: api.services.database), renewals: api.services.renewals,
                                          clock: { APIHarness.now.addingTimeInterval(29.5 * 86_400) })
            try await service.runOnce()
            let renewed = try #require((try api.json(try await api.send(.get, "/v1/lines/+14155550100/renewals", key: api.reader))["items"]
                as? [[String: Any]])?.first)
            #expect(renewed["renewals"] as? Int == 1 && renewed["validUntil"] as? String == "2027-01-17T11:06:40.000Z")
            #expect(try await api.mainBalance() == "25.00")
            // Turned off: stays off; a reader may not; an unknown id is refused.
            let renewalID = try #require(renewed["id"] as? String)
            try api.expectProblem(try await api.send(.post, "/v1/renewals/\(renewalID)/cancel", key: api.reader), .forbidden, "forbidden")
            let cancelled = try api.json(try await api.send(.post, "/v1/renewals/\(renewalID)/cancel", key: api.writer))
            #expect(cancelled["state"] as? String == "cancelled")
            try api.expectProblem(try await api.send(.post, "/v1/renewals/rn_nosuchrenewal/cancel", key: api.writer), .badRequest, "invalid-request")
        }
    }

    @Test func bankTransferOrdersShowWhereToPay() async throws {
        let account = BankTransferAccount(holder: "Recharge Mobile LLC", account: "DE89370400440532013000", bank: "Example Bank")
        try await APIHarness.run(payments: PaymentProviders(sandbox: nil, bankAccount: account)) { api in
            try await Self.setUp(api)
            let created = try api.json(try await createOrder(api, #"{"product": "topup-10", "paymentMethod": "bank_transfer"}"#, key: "bt-1"))
            let checkout = try #require(created["checkout"] as? [String: Any])
            #expect(checkout["type"] as? String == "bank_transfer")
            #expect(checkout["account"] as? String == "DE89370400440532013000")
            let printed = try #require(checkout["reference"] as? String)
            #expect(printed.hasPrefix("RF") && printed.contains(" "))
            #expect(try RechargeBanking.PaymentReference(printed).electronic == created["providerReference"] as? String)
            // Seven days to pay, not thirty minutes.
            #expect(created["expiresAt"] as? String == "2026-11-25T11:06:40.000Z")
            try api.expectProblem(try await createOrder(api, #"{"product": "topup-10", "paymentMethod": "sandbox"}"#, key: "bt-2"),
                                  .unprocessableContent, "payment-method-unavailable")
            // The statement arrives (an admin uploads it): the order is paid once, however often it is uploaded.
            let statement = """
                <?xml version="1.0" encoding="UTF-8"?>
                <Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02"><BkToCstmrStmt><GrpHdr><MsgId>M</MsgId><CreDtTm>2026-11-20T00:00:00Z</CreDtTm></GrpHdr>
                <Stmt><Id>S</Id><CreDtTm>2026-11-20T00:00:00Z</CreDtTm><Acct><Id><IBAN>DE89370400440532013000</IBAN></Id><Ccy>USD</Ccy></Acct>
                <Ntry><Amt Ccy="USD">10.00</Amt><CdtDbtInd>CRDT</CdtDbtInd><Sts><Cd>BOOK</Cd></Sts><BookgDt><Dt>2026-11-20</Dt></BookgDt>
                <AcctSvcrRef>E1</AcctSvcrRef><NtryDtls><TxDtls><RmtInf><Ustrd>\(printed)</Ustrd></RmtInf></TxDtls></NtryDtls></Ntry>
                <Ntry><Amt Ccy="USD">3.00</Amt><CdtDbtInd>CRDT</CdtDbtInd><Sts><Cd>BOOK</Cd></Sts><BookgDt><Dt>2026-11-20</Dt></BookgDt>
                <AcctSvcrRef>E2</AcctSvcrRef><NtryDtls><TxDtls><RmtInf><Ustrd>for my phone</Ustrd></RmtInf></TxDtls></NtryDtls></Ntry>
                </Stmt></BkToCstmrStmt></Document>
                """
            for round in 0..<2 {
                let upload = try await api.client.execute(uri: "/v1/bank-statements", method: .post,
                                                          headers: [.authorization: "Bearer \(api.admin)", .contentType: "application/xml"],
                                                          body: ByteBuffer(string: statement))
                let summary = try api.json(upload)
                #expect(summary["paid"] as? Int == (round == 0 ? 1 : 0) && summary["alreadyApplied"] as? Int == round)
            }
            #expect(try await api.mainBalance() == "10.00")
            // Money paid by bank transfer goes back by the operator's bank run: refused before anything changes.
            let orderID = try #require(created["id"] as? String)
            try api.expectProblem(try await api.send(.post, "/v1/orders/\(orderID)/refunds", key: api.writer, idempotencyKey: "bt-rf",
                                                     json: #"{"reason": "changed mind"}"#), .unprocessableContent, "refund-not-supported")
            #expect(try await api.mainBalance() == "10.00")
            #expect(try api.json(try await api.send(.get, "/v1/orders/\(orderID)", key: api.reader))["state"] as? String == "fulfilled")
            let review = try api.json(try await api.send(.get, "/v1/bank-review", key: api.admin))
            #expect((review["items"] as? [[String: Any]])?.map { $0["outcome"] as? String } == ["no_reference"])
            let bad = try await api.client.execute(uri: "/v1/bank-statements", method: .post,
                                                   headers: [.authorization: "Bearer \(api.admin)", .contentType: "application/xml"],
                                                   body: ByteBuffer(string: "<Document><oops"))
            try api.expectProblem(bad, .badRequest, "invalid-statement")
            try api.expectProblem(try await api.send(.get, "/v1/bank-review", key: api.writer), .forbidden, "forbidden")
        }
    }

    @Test func badOrdersAreRefused() async throws {
        try await APIHarness.run { api in
            try await Self.setUp(api)
            try api.expectProblem(try await createOrder(api, #"{"product": "nope", "paymentMethod": "sandbox"}"#, key: "b1"), .unprocessableContent, "product-not-found")
            try api.expectProblem(try await createOrder(api, #"{"paymentMethod": "sandbox"}"#, key: "b2"), .badRequest, "invalid-request")
            try api.expectProblem(try await createOrder(api, #"{"product": "topup-10", "paymentMethod": "paypal"}"#, key: "b3"), .unprocessableContent, "payment-method-unavailable")
            try api.expectProblem(try await createOrder(api, #"{"amount": {"currency": "USD", "value": "1.00"}, "paymentMethod": "sandbox"}"#, key: "b4"), .badRequest, "invalid-amount")
            try api.expectProblem(try await api.send(.post, "/v1/lines/+14155550100/orders", key: api.writer, json: #"{"product": "topup-10", "paymentMethod": "sandbox"}"#),
                                  .badRequest, "missing-idempotency-key")
            try api.expectProblem(try await api.send(.get, "/v1/orders/ord_doesnotexist", key: api.reader), .notFound, "order-not-found")
            let orders = try api.json(try await api.send(.get, "/v1/lines/+14155550100/orders", key: api.reader))
            #expect((orders["items"] as? [Any])?.isEmpty == true)
        }
    }
}
