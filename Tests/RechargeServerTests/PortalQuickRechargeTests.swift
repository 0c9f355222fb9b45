import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import RechargeCore
@testable import RechargeServer
import RechargeStore
import RechargeTestSupport
import Testing

/// Quick recharge (any number, no account) and custom amounts: the guest's journey to the success SMS at the number
/// they gave, the one "cannot recharge" page, the per-client and per-number limits under concurrent requests, the
/// signed links, and the custom amount's messages on the signed-in page.
@Suite("Portal: quick recharge and custom amounts")
struct PortalQuickRechargeTests {
    static let demo = "%2B14155550100"

    static func hidden(_ name: String, in page: TestResponse) -> String? {
        page.html.range(of: #"name="\#(name)" value=""#).map { String(page.html[$0.upperBound...].prefix { $0 != "\"" }) }
    }

    /// The page with its CSRF tokens taken out (the one part that may differ between two visitors' pages).
    static func withoutTokens(_ page: TestResponse) -> String {
        page.html.replacingOccurrences(of: #"name="csrf" value="[^"]*""#, with: "", options: .regularExpression)
    }

    @Test(arguments: [Backend.sqlite, .postgres])
    func aGuestRechargesANumberAndTheSMSGoesToTheNumberGiven(_ backend: Backend) async throws {
        guard backend == .sqlite || TestDatabase.postgresAvailable else { return }
        try await PortalHarness.run(backend) { portal in
            let guest = portal.visitor()
            let start = try await guest.get("/quick")
            #expect(start.status == .ok && start.html.contains(#"id="quick-form""#))
            #expect(try await guest.get("/login").html.contains(#"href="/quick""#))

            // The number typed twice: a mismatch is caught before anything is looked up.
            let mismatch = try await guest.get("/quick/choose?number=\(Self.demo)&confirm=%2B14155550101")
            #expect(mismatch.status == .unprocessableContent && mismatch.html.contains("The two numbers are not the same"))
            let choose = try await guest.get("/quick/choose?number=\(Self.demo)&confirm=%2B1%20415%20555%200100")
            #expect(choose.status == .ok)
            #expect(choose.html.contains(#"id="item-topup-10""#) && choose.html.contains(#"id="amount""#) && choose.html.contains("From 5.00 USD to 500.00 USD"))
            #expect(choose.html.contains(#"id="contact""#) && choose.html.contains(#"action="/quick/review""#))
            // No balance, no line picker, no line state.
            #expect(!choose.html.contains("25.00 USD") && !choose.html.contains(#"id="line""#) && !choose.html.contains("Active"))

            // The custom amount's mistakes, each with its own message and the form again.
            let base = "/quick/review?number=\(Self.demo)&item=custom&method=sandbox&promotionCode=&contact=%2B14155550199&amount="
            let decimals = try await guest.get(base + "12.345")
            #expect(decimals.status == .unprocessableContent && decimals.html.contains("at most 2 digits after the decimal point"))
            #expect(decimals.html.contains(#"value="12.345""#) && decimals.html.contains(#"value="+14155550199""#))
            #expect(try await guest.get(base + "4.99").html.contains("The smallest amount is 5.00 USD."))
            #expect(try await guest.get(base + "500.01").html.contains("The largest amount is 500.00 USD."))
            #expect(try await guest.get(base + "ten").html.contains("Enter the amount as a number"))
            let badContact = try await guest.get("/quick/review?number=\(Self.demo)&item=topup-10&method=sandbox&contact=nobody")
            #expect(badContact.status == .unprocessableContent && badContact.html.contains("Enter a mobile number with its country code or an email address"))

            let review = try await guest.get(base + "12.50")
            #expect(review.status == .ok)
            #expect(review.html.contains(#"<strong id="price">12.50 USD</strong>"#))
            #expect(review.html.contains(#"<strong id="guest-number">+14155550100</strong>"#))
            #expect(review.html.contains("SMS to +14155550199") && review.html.contains(#"action="/quick/pay""#))
            #expect(!review.html.contains("25.00 USD"))
            let key = try #require(Self.hidden("key", in: review))
            let ordersBefore = try await portal.services.orders.orders(msisdn: try MSISDN("+14155550100")).count
            // Nothing was ordered or asked of a provider before Pay.
            #expect(ordersBefore == 0)

            let fields = ["number": "+14155550100", "item": "custom", "amount": "12.50", "method": "sandbox", "promotionCode": "", "key": key,
                          "contact": "+14155550199"]
            let paid = try await guest.post("/quick/pay", fields)
            #expect(paid.status == .seeOther)
            let checkout = try #require(paid.headers[.location])
            #expect(checkout.hasPrefix("/sandbox/checkout/ord_") && checkout.contains("?return=/quick/orders/ord_"))
            #expect(try await guest.post("/quick/pay", fields).headers[.location] == checkout)   // Pay twice: one order
            #expect(try await portal.services.orders.orders(msisdn: try MSISDN("+14155550100")).count == 1)
            let link = String(checkout[checkout.range(of: "?return=")!.upperBound...])
            let sandbox = try await guest.post(checkout, ["action": "pay"], csrf: "")
            #expect(sandbox.status == .seeOther && sandbox.headers[.location] == link)

            // The order page is the signed-in one's template and model, without the balance or the account's links.
            let result = try await guest.get(link)
            #expect(result.status == .ok)
            #expect(result.html.contains(#"data-state="fulfilled""#) && result.html.contains("12.50 USD"))
            #expect(result.html.contains("the number has been recharged") && !result.html.contains("your balance"))
            #expect(!result.html.contains("new-balance") && !result.html.contains("/dashboard") && !result.html.contains("37.50"))
            #expect(result.html.contains(#"href="\#(link)/receipt""#))
            let receipt = try await guest.get(link + "/receipt")
            #expect(receipt.status == .ok && receipt.html.contains("12.50 USD") && !receipt.html.contains("Balance after") && !receipt.html.contains("37.50"))

            // The line got the money; the success message went to the number the guest gave, not kept anywhere else.
            let summary = try await portal.services.ledger.balance(try MSISDN("+14155550100"), at: PortalHarness.now)
            #expect(PortalController.mainBalance(summary).micros == 37_500_000)
            let messages = try await portal.services.outbox.list(state: nil, limit: 1000)
            let sms = messages.filter { $0.eventName == "guest_recharge" }
            #expect(sms.count == 1 && sms.first?.recipient == "+14155550199" && sms.first?.channel == .sms)
            if case .guestRecharge(let number, _, let price, _)? = sms.first?.event {
                #expect(number == "+14155550100" && price.micros == 12_500_000)
            } else {
                Issue.record("no guest_recharge event")
            }
            #expect(!messages.contains { $0.recipient == "+14155550199" && $0.eventName != "guest_recharge" })
            let kept = try await portal.services.database.read { db in
                try await db.raw("SELECT recipient FROM guest_orders").all().map { try $0.decode(column: "recipient", as: String?.self) }
            }
            #expect(kept == [nil])   // the contact is cleared once its message is queued
            let preferences = try await portal.services.notificationPreferences.preferences(try MSISDN("+14155550100"))
            #expect(preferences.email == nil)

            // A link tampered with, cut short or pointing elsewhere is a plain 404.
            let token = String(link.dropFirst("/quick/orders/".count))
            let flipped = String(token.dropLast()) + (token.last == "A" ? "B" : "A")
            #expect(try await guest.get("/quick/orders/\(flipped)").status == .notFound)
            #expect(try await guest.get("/quick/orders/\(token.split(separator: ".")[0])").status == .notFound)
            let later = token.split(separator: ".")
            #expect(try await guest.get("/quick/orders/\(later[0]).\(Int(later[1])! + 86_400).\(later[2])").status == .notFound)
            // The signed-in order page is not a guest's: it needs the account.
            #expect(try await guest.get("/orders/\(later[0])").status != .ok)

            // An order left unpaid expires with the others; its page says so and offers to try again.
            let second = try await guest.get("/quick/review?number=\(Self.demo)&item=topup-10&method=sandbox&contact=")
            let unpaid = try await guest.post("/quick/pay", ["number": "+14155550100", "item": "topup-10", "method": "sandbox", "promotionCode": "",
                                                             "key": try #require(Self.hidden("key", in: second)), "contact": "+14155550177"])
            let unpaidLink = String(try #require(unpaid.headers[.location]?.split(separator: "=", maxSplits: 1).last))
            let ended = PortalHarness.now.addingTimeInterval(86_400)
            #expect(try await portal.services.orders.expireOverdue(now: ended) == 1)
            let expired = try await guest.get(unpaidLink)
            #expect(expired.html.contains(#"data-state="expired""#) && expired.html.contains("/quick/choose?number="))
            // Its contact stays for a late payment, then the sweep forgets it (the row stays: a guest's order).
            let contacts = { try await portal.services.database.read { db in
                try await db.raw("SELECT recipient FROM guest_orders WHERE recipient IS NOT NULL").all().count
            } }
            #expect(try await contacts() == 1)
            #expect(try await portal.services.accounts.sweep(now: ended.addingTimeInterval(29 * 86_400)).guestContacts == 0)
            #expect(try await contacts() == 1)
            #expect(try await portal.services.accounts.sweep(now: ended.addingTimeInterval(31 * 86_400)).guestContacts == 1)
            #expect(try await contacts() == 0)
            #expect(try await portal.services.database.read { db in try await db.raw("SELECT order_id FROM guest_orders").all().count } == 2)
        }
    }

    @Test(arguments: [Backend.sqlite, .postgres])
    func everyNumberThatCannotBeRechargedGetsTheSamePage(_ backend: Backend) async throws {
        guard backend == .sqlite || TestDatabase.postgresAvailable else { return }
        try await PortalHarness.run(backend) { portal in
            let now = PortalHarness.now
            let closed = try MSISDN("+14155550111")
            let euro = try MSISDN("+14155550122")
            for (msisdn, currency) in [(closed, Currency.usd), (euro, try Currency(code: "EUR"))] {
                _ = try await portal.services.ledger.openLine(
                    try OpenLineCommand(msisdn: msisdn, iccid: nil, type: .prepaid, currency: currency, creditLimit: nil, subscriber: nil), now: now)
            }
            _ = try await portal.services.ledger.changeStatus(closed, to: .terminated, now: now)
            let guest = portal.visitor()
            try await guest.get("/quick")
            // Not ours, closed, nothing sold in its currency: one page, byte for byte, for the choice and the review.
            for path in ["/quick/choose?number=N&confirm=N", "/quick/review?number=N&item=topup-10&method=sandbox&contact="] {
                var pages: Set<String> = []
                for number in ["+14155559999", closed.e164, euro.e164, "+442079460000"] {
                    let page = try await guest.get(path.replacingOccurrences(of: "N", with: PortalForm.encode(number)))
                    #expect(page.status == .unprocessableContent)
                    #expect(page.html.contains("This number cannot be recharged here"))
                    pages.insert(Self.withoutTokens(page))
                }
                #expect(pages.count == 1)
            }
            // Pay too: no order, the same answer.
            let review = try await guest.get("/quick/review?number=\(Self.demo)&item=topup-10&method=sandbox&contact=")
            let key = try #require(Self.hidden("key", in: review))
            let refused = try await guest.post("/quick/pay", ["number": closed.e164, "item": "topup-10", "method": "sandbox", "key": key, "contact": ""])
            #expect(refused.status == .unprocessableContent && refused.html.contains("This number cannot be recharged here"))
            #expect(try await portal.services.orders.orders(msisdn: closed).isEmpty)
        }
    }

    /// Concurrent requests from one address, and from many addresses for one number: exactly the limit gets through,
    /// on both engines, and a refused Pay writes no order.
    @Test(arguments: [Backend.sqlite, .postgres])
    func limitsHoldUnderConcurrentRequests(_ backend: Backend) async throws {
        guard backend == .sqlite || TestDatabase.postgresAvailable else { return }
        let limits = GuestRechargeLimits(reviewPerClient: 5, reviewPerNumber: 7, payPerClient: 3, payPerNumber: 1000)
        try await PortalHarness.run(backend, portal: PortalHarness.configuration { $0.guestLimits = limits }) { portal in
            func statuses(_ count: Int, _ request: @escaping @Sendable (Int) async throws -> HTTPResponse.Status) async throws -> [Int: Int] {
                try await withThrowingTaskGroup(of: HTTPResponse.Status.self) { group in
                    for index in 0..<count { group.addTask { try await request(index) } }
                    var tally: [Int: Int] = [:]
                    for try await status in group { tally[status.code, default: 0] += 1 }
                    return tally
                }
            }
            // One address, many numbers (the client's counter is claimed first).
            let prober = portal.visitor(address: "198.51.100.7")
            let fromOne = try await statuses(20) { index in
                try await prober.get("/quick/choose?number=%2B1415555\(1000 + index)&confirm=%2B1415555\(1000 + index)").status
            }
            #expect(fromOne[429] == 15 && (fromOne[200] ?? 0) + (fromOne[422] ?? 0) == 5, "\(fromOne)")
            let refused = try await prober.get("/quick/choose?number=\(Self.demo)&confirm=\(Self.demo)")
            #expect(refused.status == .tooManyRequests && refused.headers[.retryAfter] != nil && refused.html.contains("Too many recharge attempts"))

            // Many addresses, one number.
            let visitors = (0..<20).map { portal.visitor(address: "203.0.113.\($0 + 1)") }
            let toOne = try await statuses(20) { index in
                try await visitors[index].get("/quick/choose?number=\(Self.demo)&confirm=\(Self.demo)").status
            }
            #expect(toOne[200] == 7 && toOne[429] == 13, "\(toOne)")

            // Pay: three orders from one address, whatever the number of requests racing.
            let payer = portal.visitor(address: "192.0.2.55")
            let review = try await payer.get("/quick/review?number=%2B14155550100&item=topup-10&method=sandbox&contact=")
            #expect(review.status == .tooManyRequests)   // the number's lookups are spent: Pay has counters of its own
            try await payer.get("/quick")
            let paid = try await statuses(12) { index in
                let key = "race-key-\(index)-" + String(repeating: "x", count: 12)
                return try await payer.post("/quick/pay", ["number": "+14155550100", "item": "topup-10", "method": "sandbox", "key": key, "contact": ""]).status
            }
            #expect(paid[303] == 3 && paid[429] == 9, "\(paid)")
            #expect(try await portal.services.orders.orders(msisdn: try MSISDN("+14155550100")).count == 3)
            let counted = try await portal.services.guests.used(
                subject: "pay|client|192.0.2.55", windowStart: limits.claims(.pay, client: "192.0.2.55", number: try MSISDN("+14155550100"), now: PortalHarness.now)[0].windowStart)
            #expect(counted == 12)
        }
    }

    @Test func signedLinksExpireAndCannotBeForged() throws {
        let link = GuestOrderLink(key: Array(repeating: 7, count: 32))
        let now = Date(timeIntervalSince1970: 1_800_000_000)
        let id = "ord_abcdefghjkmnpqrstvwxyz23"
        let token = link.token(orderID: id, expires: now.addingTimeInterval(60))
        #expect(try link.orderID(from: token, now: now) == id)
        #expect(throws: GuestOrderLink.Refusal.expired) { try link.orderID(from: token, now: now.addingTimeInterval(61)) }
        #expect(throws: GuestOrderLink.Refusal.badSignature) {
            try GuestOrderLink(key: Array(repeating: 8, count: 32)).orderID(from: token, now: now)
        }
        let parts = token.split(separator: ".").map(String.init)
        #expect(throws: GuestOrderLink.Refusal.badSignature) { try link.orderID(from: "\(parts[0]).\(Int(parts[1])! + 3600).\(parts[2])", now: now) }
        #expect(throws: GuestOrderLink.Refusal.badSignature) {
            try link.orderID(from: "ord_abcdefghjkmnpqrstvwxyz24.\(parts[1]).\(parts[2])", now: now)
        }
        for junk in ["", "...", id, "\(id).x.\(parts[2])", "\(parts[0]).\(parts[1])", "../etc.1.x"] {
            #expect(throws: GuestOrderLink.Refusal.malformed, "\(junk)") { try link.orderID(from: junk, now: now) }
        }
    }

    /// The signed-in recharge page's custom amount: the range shown, each mistake's message, a bonus promotion applied
    /// as for a catalog top-up, and the order.
    @Test func aSubscriberRechargesACustomAmount() async throws {
        try await PortalHarness.run { portal in
            let withBonus = try CatalogFile.demoText() + """

                  - code: recharge-bonus
                    names: {en: "Recharge 50 get 5", zh-Hans: "充50送5"}
                    currency: USD
                    tiers: [{min: "50", bonus: "5"}]
                    bonusValidityDays: 30
                """
            _ = try await portal.services.catalog.importCatalog(try CatalogFile.parse(withBonus), now: PortalHarness.now)
            let me = try await portal.signUp("+14155550100")
            let form = try await me.get("/recharge?line=\(Self.demo)")
            #expect(form.html.contains(#"id="item-custom""#) && form.html.contains("From 5.00 USD to 500.00 USD"))
            let base = "/recharge/review?line=\(Self.demo)&item=custom&method=sandbox&promotionCode=&amount="
            for (amount, message) in [("3", "The smallest amount is 5.00 USD."), ("501", "The largest amount is 500.00 USD."),
                                      ("10.999", "at most 2 digits after the decimal point"), ("1O", "Enter the amount as a number")] {
                let page = try await me.get(base + amount)
                #expect(page.status == .unprocessableContent && page.html.contains(message), "\(amount)")
                #expect(page.html.contains(#"id="item-custom" name="item" value="custom" checked"#), "\(amount)")
            }
            let review = try await me.get(base + "55.55")
            #expect(review.status == .ok && review.html.contains(#"<strong id="price">55.55 USD</strong>"#))
            #expect(review.html.contains("5.00 USD 30 days"))   // the bonus tier, as for a catalog top-up
            let key = try #require(Self.hidden("key", in: review))
            let paid = try await me.post("/recharge/pay", ["line": "+14155550100", "item": "custom", "amount": "55.55", "method": "sandbox",
                                                           "promotionCode": "", "key": key])
            #expect(paid.status == .seeOther)
            let order = try #require(try await portal.services.orders.orders(msisdn: try MSISDN("+14155550100")).first)
            #expect(order.quote.price.micros == 55_550_000 && order.quote.bonus?.micros == 5_000_000)
            // A tampered amount at Pay is refused with the same message, and orders nothing.
            try await me.get("/recharge?line=\(Self.demo)")
            let tampered = try await me.post("/recharge/pay", ["line": "+14155550100", "item": "custom", "amount": "5000", "method": "sandbox",
                                                               "promotionCode": "", "key": key + "x"])
            #expect(tampered.status == .unprocessableContent && tampered.html.contains("The largest amount is 500.00 USD."))
            #expect(try await portal.services.orders.orders(msisdn: try MSISDN("+14155550100")).count == 1)
        }
    }
}
