import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import RechargeCore
import RechargePayments
@testable import RechargeServer
import RechargeStore
import RechargeTestSupport
import Testing

/// The sandbox pays orders without money, so a production start (`recharge serve` with no flags) must not offer
/// it anywhere; with it on, every page that offers it and every order paid through it says "test payment".
@Suite("Sandbox: off unless asked for")
struct SandboxSwitchTests {
    /// What `recharge serve` makes of its flags and `RECHARGE_SANDBOX`.
    @Test func onlyAnExplicitFlagOrDemoTurnsItOn() throws {
        #expect(try !SandboxSwitch(flag: nil, environment: nil, demo: false).isOn)
        #expect(try SandboxSwitch(flag: nil, environment: nil, demo: false).gateway(secret: nil) == nil)
        #expect(try SandboxSwitch(flag: nil, environment: nil, demo: false).startWarning == nil)
        #expect(try SandboxSwitch(flag: true, environment: nil, demo: false).reason == "--sandbox")
        #expect(try SandboxSwitch(flag: nil, environment: "on", demo: false).reason == "RECHARGE_SANDBOX=on")
        #expect(try SandboxSwitch(flag: nil, environment: nil, demo: true).reason == "--demo")
        // An explicit off wins over --demo; the flag wins over the environment.
        #expect(try !SandboxSwitch(flag: false, environment: nil, demo: true).isOn)
        #expect(try !SandboxSwitch(flag: nil, environment: "off", demo: true).isOn)
        #expect(try !SandboxSwitch(flag: false, environment: "on", demo: false).isOn)
        #expect(try SandboxSwitch(flag: true, environment: "off", demo: false).isOn)
        #expect(try SandboxSwitch(flag: nil, environment: nil, demo: true).startWarning?.contains("test payments") == true)
        #expect(throws: SandboxSwitch.InvalidSetting.self) { _ = try SandboxSwitch(flag: nil, environment: "maybe", demo: false) }
    }

    /// The payment providers of a start with no flags and no environment, as `recharge serve` builds them.
    static func production() throws -> PaymentProviders {
        PaymentProviders(sandbox: try SandboxSwitch(flag: nil, environment: nil, demo: false).gateway(secret: nil))
    }

    @Test func productionOffersNoSandboxInTheAPI() async throws {
        #expect(try Self.production().offered.isEmpty)
        try await APIHarness.run(payments: try Self.production()) { api in
            try await OrdersAPITests.setUp(api)
            let quote = try await api.send(.post, "/v1/lines/+14155550100/quotes", key: api.reader, json: #"{"product": "topup-10"}"#)
            #expect(quote.status == .ok)
            let methods = try #require(try api.json(quote)["paymentMethods"] as? [String])
            #expect(!methods.contains("sandbox"))
            let refused = try await api.send(.post, "/v1/lines/+14155550100/orders", key: api.writer, idempotencyKey: "p-1",
                                             json: #"{"product": "topup-10", "paymentMethod": "sandbox"}"#)
            try api.expectProblem(refused, .unprocessableContent, "payment-method-unavailable")
            #expect(try await api.services.orders.orders(msisdn: try MSISDN("+14155550100")).isEmpty)
            // A sandbox order that exists anyway (made while it was on, or by another node) cannot be paid here.
            let order = try await api.services.orders.create(msisdn: try MSISDN("+14155550100"), item: .product("topup-10"), paymentMethod: .sandbox,
                                                             key: try IdempotencyKey("old"), now: APIHarness.now).order
            let page = try await api.client.execute(uri: "/sandbox/checkout/\(order.id)", method: .get)
            try api.expectProblem(page, .notFound, "not-found")
            let pay = try await api.client.execute(uri: "/sandbox/checkout/\(order.id)", method: .post, headers: [.contentType: "application/x-www-form-urlencoded"],
                                                   body: ByteBuffer(string: "action=pay"))
            try api.expectProblem(pay, .notFound, "not-found")
            try api.expectProblem(try await api.client.execute(uri: "/webhooks/sandbox", method: .post, body: ByteBuffer(string: "{}")), .notFound, "not-found")
            #expect(try await api.services.orders.order(order.id).state == .created)
            #expect(try await api.mainBalance() == "0.00")
        }
    }

    /// The library's own default is a production one too: a caller that passes no providers offers none.
    @Test func servicesOfferNoSandboxByDefault() async throws {
        try await TestDatabase.with(.sqlite) { database in
            #expect(RechargeServices(database: database).payments.sandbox == nil)
        }
    }

    @Test func productionPortalOffersNoSandbox() async throws {
        try await PortalHarness.run(payments: try Self.production()) { portal in
            let me = try await portal.signUp("+14155550100")
            let form = try await me.get("/recharge?line=%2B14155550100")
            #expect(form.status == .ok)
            #expect(!form.html.contains(#"id="method-sandbox""#))
            #expect(!form.html.contains(#"id="test-payments""#))
            let review = try await me.get("/recharge/review?line=%2B14155550100&item=topup-10&method=sandbox&promotionCode=")
            #expect(review.status == .unprocessableContent)
        }
    }

    @Test(arguments: [("en", "test payments"), ("zh-Hans", "测试支付")])
    func pagesThatOfferItSayTestPayments(_ language: String, _ words: String) async throws {
        try await PortalHarness.run { portal in
            let me = try await portal.signUp("+14155550100", language: language)
            let form = try await me.get("/recharge?line=%2B14155550100")
            #expect(form.html.contains(#"id="method-sandbox""#))
            let notice = try #require(form.html.range(of: #"id="test-payments""#).map { String(form.html[$0.upperBound...].prefix { $0 != "<" }) })
            #expect(notice.contains(words), "\(notice)")
        }
    }

    /// Paid through the sandbox: the order page, the receipt, the history (page and CSV) and the API say so.
    @Test func aSandboxOrderIsMarkedAsATestPaymentEverywhere() async throws {
        try await PortalHarness.run { portal in
            let me = try await portal.signUp("+14155550100")
            let review = try await me.get("/recharge/review?line=%2B14155550100&item=topup-10&method=sandbox&promotionCode=")
            let key = try #require(review.html.range(of: #"name="key" value=""#).map { String(review.html[$0.upperBound...].prefix { $0 != "\"" }) })
            let paid = try await me.post("/recharge/pay", ["line": "+14155550100", "item": "topup-10", "method": "sandbox", "promotionCode": "", "key": key])
            let checkout = try #require(paid.headers[.location])
            let orderID = String(checkout.split(separator: "/")[2].prefix { $0 != "?" })
            #expect(try await me.post(checkout, ["action": "pay"], csrf: "").status == .seeOther)

            let order = try await me.get("/orders/\(orderID)")
            #expect(order.html.contains(#"data-state="fulfilled""#))
            #expect(order.html.contains(#"id="test-payment""#) && order.html.contains("Test payment: no real money is involved."))
            let receipt = try await me.get("/orders/\(orderID)/receipt")
            #expect(receipt.html.contains(#"id="test-payment""#))
            let history = try await me.get("/history?line=%2B14155550100")
            let rows = history.html.components(separatedBy: #"<tr class="operation"#).dropFirst()
            // One test payment (the sandbox top-up) among the demo's credits and buckets, which are not.
            #expect(rows.count > 1 && rows.filter { $0.contains(#"class="test-payment""#) }.count == 1)
            let csv = try await me.get("/history.csv?line=%2B14155550100").html.split(separator: "\r\n")
            #expect(csv.filter { $0.contains(",\(orderID),") }.allSatisfy { $0.hasSuffix(",true") })
            #expect(csv.dropFirst().filter { !$0.contains(",\(orderID),") }.allSatisfy { $0.hasSuffix(",false") })

            // The API: the order, its receipt (JSON and printable).
            var headers: HTTPFields = [.authorization: "Bearer \(portal.admin)"]
            let json = try await portal.client.execute(uri: "/v1/orders/\(orderID)", method: .get, headers: headers)
            let object = try #require(try JSONSerialization.jsonObject(with: Data(buffer: json.body)) as? [String: Any])
            #expect(object["testPayment"] as? Bool == true)
            let receiptJSON = try await portal.client.execute(uri: "/v1/orders/\(orderID)/receipt", method: .get, headers: headers)
            #expect((try JSONSerialization.jsonObject(with: Data(buffer: receiptJSON.body)) as? [String: Any])?["testPayment"] as? Bool == true)
            // The API's transaction history marks the same top-up, and only it.
            let page = try await portal.client.execute(uri: "/v1/lines/+14155550100/transactions?limit=200", method: .get, headers: headers)
            let items = try #require((try JSONSerialization.jsonObject(with: Data(buffer: page.body)) as? [String: Any])?["items"] as? [[String: Any]])
            #expect(items.count > 1)
            #expect(items.filter { $0["testPayment"] as? Bool == true }.map { $0["reference"] as? String } == [orderID])
            headers[.accept] = "text/html"
            let printable = try await portal.client.execute(uri: "/v1/orders/\(orderID)/receipt", method: .get, headers: headers)
            #expect(String(buffer: printable.body).contains("Test payment: no real money was paid."))
            // The money is the sandbox's, not a channel's that will be reconciled, nor revenue.
            let accounts = try await portal.services.database.read { db in
                try await db.raw("SELECT code FROM ledger_accounts WHERE code LIKE 'clearing:%'").all().map { try $0.decode(column: "code", as: String.self) }
            }
            #expect(accounts.contains("clearing:sandbox:USD") && !accounts.contains("clearing:online:USD"))
        }
    }

    /// A real method's order is not a test payment.
    @Test func aRealOrderIsNoTestPayment() async throws {
        try await APIHarness.run(payments: PaymentProviders(sandbox: nil, bankAccount: BankTransferAccount(holder: "Recharge", account: "DE89370400440532013000", bank: nil))) { api in
            try await OrdersAPITests.setUp(api)
            let created = try await api.send(.post, "/v1/lines/+14155550100/orders", key: api.writer, idempotencyKey: "b-1",
                                             json: #"{"product": "topup-10", "paymentMethod": "bank_transfer"}"#)
            #expect(created.status == .created)
            #expect(try api.json(created)["testPayment"] as? Bool == false)
            let quote = try await api.send(.post, "/v1/lines/+14155550100/quotes", key: api.reader, json: #"{"product": "topup-10"}"#)
            #expect(try api.json(quote)["paymentMethods"] as? [String] == ["bank_transfer"])
        }
    }
}
