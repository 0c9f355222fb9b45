import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import RechargeCore
@testable import RechargeServer
import RechargeStore
import RechargeTestSupport
import Testing

@Suite("Portal: a subscriber's journey")
struct PortalJourneyTests {
    /// register → code → log in → dashboard → recharge with the sandbox (with and without a promotion code) →
    /// result page with the new balance → receipt → voucher with dashes → history, CSV → Chinese → log out.
    @Test(arguments: [Backend.sqlite, .postgres])
    func wholeJourney(_ backend: Backend) async throws {
        guard backend == .sqlite || TestDatabase.postgresAvailable else { return }
        try await PortalHarness.run(backend) { portal in
            let cards = try await portal.voucherCards(count: 2)
            let pins = cards.map(\.pin)
            let me = try await portal.signUp("+14155550100")
            let dashboard = try await me.get("/dashboard")
            #expect(dashboard.status == .ok)
            #expect(dashboard.html.contains(#"data-msisdn="+14155550100""#))
            #expect(dashboard.html.contains(#"<strong class="balance">25.00 USD</strong>"#))
            #expect(dashboard.html.contains("<progress"))
            #expect(dashboard.headers[.contentSecurityPolicy]?.contains("default-src 'self'") == true)

            // The recharge form lists the catalog's top-ups and packs for the line's currency, and the sandbox.
            let form = try await me.get("/recharge?line=%2B14155550100")
            #expect(form.status == .ok)
            #expect(form.html.contains(#"id="item-topup-10""#))
            #expect(form.html.contains(#"id="item-us-data-5gb-30d""#))
            #expect(form.html.contains(#"id="method-sandbox""#))
            #expect(!form.html.contains(#"id="item-topup-cny-100""#))   // no USD price

            let review = try await me.get("/recharge/review?line=%2B14155550100&item=topup-10&method=sandbox&promotionCode=")
            #expect(review.status == .ok)
            #expect(review.html.contains(#"<strong id="price">10.00 USD</strong>"#))
            let bogus = try await me.get("/recharge/review?line=%2B14155550100&item=topup-10&method=sandbox&promotionCode=NOPE")
            #expect(bogus.html.contains(#"class="error""#))
            #expect(bogus.html.contains(#"<strong id="price">10.00 USD</strong>"#))

            // A discount code changes the price shown, with the list price and the discount beside it.
            let pack = try await me.get("/recharge/review?line=%2B14155550100&item=us-data-5gb-30d&method=sandbox&promotionCode=")
            let discounted = try await me.get("/recharge/review?line=%2B14155550100&item=us-data-5gb-30d&method=sandbox&promotionCode=welcome20")
            #expect(!pack.html.contains(#"id="discount""#))
            #expect(discounted.html.contains(#"id="discount""#) && discounted.html.contains(#"id="list-price""#))
            func price(_ page: TestResponse) -> String? {
                page.html.range(of: #"<strong id="price">"#).map { String(page.html[$0.upperBound...].prefix { $0 != "<" }) }
            }
            #expect(price(pack) != nil && price(discounted) != nil && price(pack) != price(discounted))

            // Pay: the order, then the sandbox's page, which comes back to the result page.
            let key = try #require(review.html.range(of: #"name="key" value=""#).map { String(review.html[$0.upperBound...].prefix { $0 != "\"" }) })
            try await me.get("/recharge/review?line=%2B14155550100&item=topup-10&method=sandbox&promotionCode=")
            let paid = try await me.post("/recharge/pay", ["line": "+14155550100", "item": "topup-10", "method": "sandbox", "promotionCode": "", "key": key])
            #expect(paid.status == .seeOther)
            let checkout = try #require(paid.headers[.location])
            #expect(checkout.hasPrefix("/sandbox/checkout/ord_") && checkout.contains("?return=/orders/ord_"))
            // Pressing Pay twice (the same review page) makes no second order.
            let again = try await me.post("/recharge/pay", ["line": "+14155550100", "item": "topup-10", "method": "sandbox", "promotionCode": "", "key": key])
            #expect(again.headers[.location] == checkout)
            let orderID = String(checkout.split(separator: "/")[2].prefix { $0 != "?" })
            let sandbox = try await me.post(checkout, ["action": "pay"], csrf: "")
            #expect(sandbox.status == .seeOther)
            #expect(sandbox.headers[.location] == "/orders/\(orderID)")
            let result = try await me.get("/orders/\(orderID)")
            #expect(result.html.contains(#"data-state="fulfilled""#))
            #expect(result.html.contains(#"<strong id="new-balance">35.00 USD</strong>"#))
            let receipt = try await me.get("/orders/\(orderID)/receipt")
            #expect(receipt.status == .ok)
            #expect(receipt.html.contains(orderID))
            #expect(receipt.html.contains("10.00 USD"))

            // A card, its number and PIN typed as printed.
            let pin = pins[0]
            let typed = "\(pin.prefix(4)) \(pin.dropFirst(4).prefix(4))-\(pin.dropFirst(8).prefix(4)) \(pin.dropFirst(12))"
            let serial = cards[0].serial
            let typedSerial = "\(serial.prefix(4)) \(serial.dropFirst(4).prefix(3))-\(serial.dropFirst(7))"
            try await me.get("/redeem")
            // Without the card number: refused before any lookup, the number typed kept, nothing counted.
            let noSerial = try await me.post("/redeem", ["line": "+14155550100", "pin": typed, "serial": " - "])
            #expect(noSerial.status == .badRequest && noSerial.html.contains("Enter the card number printed on the card."))
            let badSerial = try await me.post("/redeem", ["line": "+14155550100", "pin": typed, "serial": "1000x"])
            #expect(badSerial.status == .badRequest && badSerial.html.contains(#"value="1000x""#))
            // The PIN with the other card's number: the one message for a wrong pair, counted as a failure.
            let wrongPair = try await me.post("/redeem", ["line": "+14155550100", "pin": typed, "serial": cards[1].serial])
            #expect(wrongPair.status == .unprocessableContent)
            #expect(wrongPair.html.contains("The card number and PIN do not match a card."))
            #expect(try await portal.services.vouchers?.guardCounter(.line("+14155550100"))?.failures == 1)
            let redeemed = try await me.post("/redeem", ["line": "+14155550100", "pin": typed, "serial": typedSerial])
            #expect(redeemed.status == .ok)
            #expect(redeemed.html.contains(#"id="result""#))
            #expect(redeemed.html.contains(#"<strong id="new-balance">45.00 USD</strong>"#))
            let reused = try await me.post("/redeem", ["line": "+14155550100", "pin": typed, "serial": serial])
            #expect(reused.status == .conflict)
            #expect(reused.html.contains(#"class="error""#))
            let mistyped = try await me.post("/redeem", ["line": "+14155550100", "pin": String(pin.dropLast()) + (pin.last == "1" ? "2" : "1"), "serial": serial])
            #expect(mistyped.status == .badRequest)

            // History: the sandbox payment and the card, newest first; a receipt per operation; the CSV.
            let history = try await me.get("/history?line=%2B14155550100")
            #expect(history.status == .ok)
            let rows = history.html.components(separatedBy: #"<tr class="operation"#).count - 1
            #expect(rows >= 2 + 4)   // two recharges, the demo's credit and three buckets
            let credits = try await me.get("/history?line=%2B14155550100&type=top_up&from=2026-01-01&to=2030-12-31")
            #expect(credits.status == .ok)
            let debits = try await me.get("/history?line=%2B14155550100&type=debit")
            #expect(debits.html.components(separatedBy: #"<tr class="operation"#).count == 1)
            let badDate = try await me.get("/history?line=%2B14155550100&from=yesterday")
            #expect(badDate.status == .badRequest)
            let receiptLink = try #require(history.html.range(of: #"class="receipt-link" href=""#).map { String(history.html[$0.upperBound...].prefix { $0 != "\"" }) })
            let operationReceipt = try await me.get(receiptLink.replacingOccurrences(of: "&amp;", with: "&"))
            #expect(operationReceipt.status == .ok)
            let csv = try await me.get("/history.csv?line=%2B14155550100&type=all")
            #expect(csv.status == .ok)
            #expect(csv.headers[.contentType] == "text/csv; charset=utf-8")
            #expect(csv.headers[.contentDisposition]?.hasPrefix("attachment;") == true)
            let csvLines = csv.html.split(separator: "\r\n")
            #expect(csvLines.first == "operation,time,type,channel,reference,line,bucket_kind,unit,amount,remaining_after,test_payment")
            #expect(csvLines.contains { $0.contains(",top_up,voucher,") && $0.contains(",10.00,") })
            #expect(csvLines.contains { $0.contains(",top_up,online,\(orderID),") })

            // Chinese, remembered in a cookie and on the account.
            let switched = try await me.post("/language", ["language": "zh-Hans", "next": "/dashboard"])
            #expect(switched.status == .seeOther)
            #expect(switched.headers[.location] == "/dashboard")
            #expect(PortalVisitor.setCookie("rc_lang", in: switched)?.hasPrefix("rc_lang=zh-Hans") == true)
            let chinese = try await me.get("/dashboard")
            #expect(chinese.html.contains(#"<html lang="zh-Hans">"#))
            #expect(chinese.html.contains("我的余额"))
            let account = try #require(try await portal.services.accounts.credentials(phone: try MSISDN("+14155550100"))?.account)
            #expect(account.language == .simplifiedChinese)

            // Every page is small: HTML plus the one stylesheet and script under 100 KB.
            let assets = try await me.get("/static/portal.css").body.readableBytes + (try await me.get("/static/portal.js")).body.readableBytes
            for page in [dashboard, form, review, result, receipt, redeemed, history, chinese] {
                #expect(page.body.readableBytes + assets < 100_000)
            }

            // Logging out ends the session on the server too: the old cookie no longer opens a page.
            let token = try #require(me.cookies["rc_session"])
            let out = try await me.post("/logout", [:])
            #expect(out.headers[.location] == "/login")
            #expect(try await me.get("/dashboard").headers[.location]?.hasPrefix("/login") == true)
            me.setCookie("rc_session", token)
            #expect(try await me.get("/dashboard").status == .seeOther)
        }
    }

    @Test func languageFromAcceptLanguage() async throws {
        try await PortalHarness.run { portal in
            let chinese = try await portal.visitor(acceptLanguage: "zh-CN,zh;q=0.9,en;q=0.8").get("/login")
            #expect(chinese.html.contains(#"<html lang="zh-Hans">"#))
            #expect(chinese.html.contains("登录"))
            let english = try await portal.visitor(acceptLanguage: "fr-FR,en;q=0.5,zh;q=0.3").get("/login")
            #expect(english.html.contains(#"<html lang="en">"#))
            #expect(PortalController.language(acceptLanguage: "zh-TW") == .english)
            #expect(PortalController.language(acceptLanguage: "en;q=0.2, zh-Hans;q=0.8") == .simplifiedChinese)
            #expect(PortalController.language(acceptLanguage: nil) == .english)
        }
    }

    /// An email given at registration counts only once its own code comes back; logging in leads straight to that page.
    @Test func emailGivenAtRegistrationIsConfirmedByItsCode() async throws {
        try await PortalHarness.run { portal in
            let visitor = portal.visitor()
            try await visitor.get("/register")
            try await visitor.post("/register", ["phone": "+14155550100"])
            let code = try #require(try await portal.code(to: "+14155550100"))
            let verified = try await visitor.post("/register/verify", ["phone": "+14155550100", "code": code, "password": "correct horse 1", "email": "Li.Wei@example.com"])
            let login = try #require(verified.headers[.location])
            #expect(login.hasPrefix("/login?email=1&phone=%2B14155550100&next="))
            let page = try await visitor.get(login)
            #expect(page.html.contains(#"name="next" value="/settings/email/verify?email=Li.Wei%40example.com""#))
            let account = try #require(try await portal.services.accounts.credentials(phone: try MSISDN("+14155550100"))?.account)
            #expect(account.email == nil)
            let signedIn = try await visitor.post("/login", ["phone": "+14155550100", "password": "correct horse 1", "next": "/settings/email/verify?email=Li.Wei%40example.com"])
            #expect(signedIn.headers[.location] == "/settings/email/verify?email=Li.Wei%40example.com")
            #expect(try await visitor.get("/settings/email/verify?email=Li.Wei%40example.com").html.contains(#"value="Li.Wei@example.com""#))
            let emailCode = try #require(try await portal.code(to: "Li.Wei@example.com"))
            #expect(try await visitor.post("/settings/email/verify", ["email": "Li.Wei@example.com", "code": "999999" == emailCode ? "000000" : "999999"]).status == .unprocessableContent)
            let confirmed = try await visitor.post("/settings/email/verify", ["email": "Li.Wei@example.com", "code": emailCode])
            #expect(confirmed.headers[.location] == "/settings?saved=1")
            #expect(try await portal.services.accounts.credentials(phone: try MSISDN("+14155550100"))?.account.email == "Li.Wei@example.com")
        }
    }

    @Test func addingALineNeedsItsCode() async throws {
        try await PortalHarness.run { portal in
            let me = try await portal.signUp("+14155550100")
            try await me.get("/settings")
            // A number that is no line gets the same answer as a line (and no code).
            let unknown = try await me.post("/settings/lines", ["msisdn": "+14155559999"])
            #expect(unknown.headers[.location] == "/settings/lines/verify?msisdn=%2B14155559999")
            #expect(try await portal.code(to: "+14155559999") == nil)
            let sent = try await me.post("/settings/lines", ["msisdn": "+14155550101"])
            #expect(sent.headers[.location] == "/settings/lines/verify?msisdn=%2B14155550101")
            try await me.get("/settings/lines/verify?msisdn=%2B14155550101")
            let wrong = try await me.post("/settings/lines/verify", ["msisdn": "+14155550101", "code": "000000"])
            #expect(wrong.status == .unprocessableContent)
            let code = try #require(try await portal.code(to: "+14155550101"))
            let added = try await me.post("/settings/lines/verify", ["msisdn": "+14155550101", "code": code])
            #expect(added.headers[.location] == "/settings?saved=1")
            let dashboard = try await me.get("/dashboard")
            #expect(dashboard.html.contains(#"data-msisdn="+14155550101""#))
            // The demo line ending within 7 days is flagged, and 1.20 USD is below the 5.00 threshold.
            #expect(dashboard.html.contains(#"class="warning""#))

            // The notification phone changes only with the code sent to the new number.
            let phone = try await me.post("/settings/phone", ["notifyPhone": "+8613800138000"])
            #expect(phone.headers[.location] == "/settings/phone/verify?phone=%2B8613800138000")
            try await me.get("/settings/phone/verify?phone=%2B8613800138000")
            let phoneCode = try #require(try await portal.code(to: "+8613800138000"))
            #expect(try await me.post("/settings/phone/verify", ["phone": "+8613800138000", "code": phoneCode]).headers[.location] == "/settings?saved=1")
            let settings = try await me.get("/settings")
            #expect(settings.html.contains("+8613800138000"))
        }
    }
}

@Suite("Portal: security")
struct PortalSecurityTests {
    @Test func formsWithoutTheirCSRFTokenChangeNothing() async throws {
        try await PortalHarness.run { portal in
            let visitor = portal.visitor()
            // No page seen yet: no token at all.
            #expect(try await visitor.post("/register", ["phone": "+14155550100"], csrf: "").status == .forbidden)
            try await visitor.get("/register")
            #expect(!visitor.csrf.isEmpty)
            #expect(try await visitor.post("/register", ["phone": "+14155550100"], csrf: "").status == .forbidden)
            #expect(try await visitor.post("/register", ["phone": "+14155550100"], csrf: String(repeating: "A", count: 43)).status == .forbidden)
            #expect(try await portal.code(to: "+14155550100") == nil)

            // Signed in, the session's own token is needed: another visitor's does not do.
            let me = try await portal.signUp("+14155550100")
            let stranger = portal.visitor()
            try await stranger.get("/login")
            let forged = try await me.post("/settings/phone", ["notifyPhone": "+14155550199"], csrf: stranger.csrf)
            #expect(forged.status == .forbidden)
            #expect(try await portal.code(to: "+14155550199") == nil)
            let logout = try await me.post("/logout", [:], csrf: "")
            #expect(logout.status == .forbidden)
            #expect(try await me.get("/dashboard").status == .ok)
        }
    }

    @Test func sessionCookieFlagsAndRenewalOnLogin() async throws {
        try await PortalHarness.run { portal in
            let visitor = portal.visitor()
            let first = try await visitor.get("/login")
            let anonymous = try #require(PortalVisitor.setCookie("rc_csrf", in: first))
            #expect(anonymous.contains("HttpOnly") && anonymous.contains("Secure") && anonymous.contains("SameSite=Strict"))
            try await visitor.get("/register")
            try await visitor.post("/register", ["phone": "+14155550100"])
            let code = try #require(try await portal.code(to: "+14155550100"))
            try await visitor.post("/register/verify", ["phone": "+14155550100", "code": code, "password": "correct horse 1"])
            // A session token planted before login is never promoted.
            visitor.setCookie("rc_session", "planted-by-an-attacker")
            try await visitor.get("/login")
            let login = try await visitor.post("/login", ["phone": "+14155550100", "password": "correct horse 1"])
            let cookie = try #require(PortalVisitor.setCookie("rc_session", in: login))
            #expect(cookie.contains("HttpOnly"))
            #expect(cookie.contains("Secure"))
            #expect(cookie.contains("SameSite=Lax"))
            #expect(cookie.contains("Path=/"))
            #expect(visitor.cookies["rc_session"] != "planted-by-an-attacker")
            let token = try #require(visitor.cookies["rc_session"])
            #expect(token.utf8.count >= 43)
            // Logging in again gives a new session and ends the old one.
            try await visitor.get("/login?next=/history")
            let again = portal.visitor()
            try await again.get("/login")
            again.setCookie("rc_session", token)
            let relogin = try await again.post("/login", ["phone": "+14155550100", "password": "correct horse 1"])
            #expect(relogin.status == .seeOther)
            #expect(again.cookies["rc_session"] != token)
            #expect(try await portal.services.accounts.session(token: token, now: PortalHarness.now) == nil)
        }
    }

    @Test func repeatedWrongPasswordsLockTheNumberWithGrowingDelays() async throws {
        try await PortalHarness.run { portal in
            _ = try await portal.signUp("+14155550100")
            func attempts(_ phone: String) async throws -> [TestResponse] {
                let visitor = portal.visitor(address: "203.0.113.9")
                try await visitor.get("/login")
                var answers: [TestResponse] = []
                for _ in 0..<6 { answers.append(try await visitor.post("/login", ["phone": phone, "password": "wrong password"])) }
                return answers
            }
            let registered = try await attempts("+14155550100")
            let unregistered = try await attempts("+14155550177")
            for answers in [registered, unregistered] {
                #expect(answers.prefix(4).allSatisfy { $0.status == .ok && $0.html.contains(#"class="error""#) })
                #expect(answers[4].status == .tooManyRequests)
                #expect(answers[5].status == .tooManyRequests)
                #expect(answers[4].headers[.retryAfter].flatMap(Int.init) ?? 0 > 0)
            }
            // The same words for a number with an account and one without.
            func error(_ response: TestResponse) -> String {
                let html = response.html
                guard let start = html.range(of: #"<p class="error" role="alert">"#) else { return "" }
                return String(html[start.upperBound...].prefix { $0 != "<" })
            }
            #expect(error(registered[0]) == error(unregistered[0]))
            #expect(error(registered[5]) == error(unregistered[5]))
            // Even the right password waits for the lock to end, from the address that earned it.
            let visitor = portal.visitor(address: "203.0.113.9")
            try await visitor.get("/login")
            #expect(try await visitor.post("/login", ["phone": "+14155550100", "password": "correct horse 1"]).status == .tooManyRequests)
        }
    }

    /// Guesses sent all at once cannot slip under the limit: each takes its number from one counter before bcrypt.
    @Test(arguments: [Backend.sqlite, .postgres])
    func parallelGuessesAreCountedBeforeThePasswordIsChecked(_ backend: Backend) async throws {
        guard backend == .sqlite || TestDatabase.postgresAvailable else { return }
        try await PortalHarness.run(backend) { portal in
            _ = try await portal.signUp("+14155550100")
            let statuses = try await withThrowingTaskGroup(of: HTTPResponse.Status.self) { group in
                for _ in 0..<30 {
                    group.addTask {
                        let visitor = portal.visitor(address: "203.0.113.9")
                        try await visitor.get("/login")
                        return try await visitor.post("/login", ["phone": "+14155550100", "password": "wrong password"]).status
                    }
                }
                return try await group.reduce(into: [HTTPResponse.Status]()) { $0.append($1) }
            }
            // Four wrong passwords are checked; every other guess is refused by the lock without reaching bcrypt.
            #expect(statuses.filter { $0 == .ok }.count == 4)
            #expect(statuses.filter { $0 == .tooManyRequests }.count == 26)
        }
    }

    @Test func noAnswerSaysWhetherANumberIsRegistered() async throws {
        try await PortalHarness.run { portal in
            _ = try await portal.signUp("+14155550100")
            func answers(_ phone: String) async throws -> [String] {
                let visitor = portal.visitor()
                try await visitor.get("/register")
                let register = try await visitor.post("/register", ["phone": phone])
                try await visitor.get("/reset")
                let reset = try await visitor.post("/reset", ["phone": phone])
                let resetPage = try await visitor.get(try #require(reset.headers[.location]))
                let strip = { (html: String) in html.replacingOccurrences(of: visitor.csrf, with: "").replacingOccurrences(of: phone, with: "N")
                    .replacingOccurrences(of: PortalController.masked(phone: phone), with: "M") }
                return ["\(register.status.code) \(register.headers[.location]?.replacingOccurrences(of: PortalForm.encode(phone), with: "N") ?? "")",
                        "\(reset.status.code) \(reset.headers[.location]?.replacingOccurrences(of: PortalForm.encode(phone), with: "N") ?? "")",
                        strip(resetPage.html)]
            }
            #expect(try await answers("+14155550100") == answers("+14155550177"))
            // A code sent to a registered number cannot register it again.
            let visitor = portal.visitor()
            try await visitor.get("/register")
            try await visitor.post("/register", ["phone": "+14155550100"])
            let code = try #require(try await portal.code(to: "+14155550100"))
            let twice = try await visitor.post("/register/verify", ["phone": "+14155550100", "code": code, "password": "another password"])
            #expect(twice.status == .unprocessableContent)
            let stillMine = portal.visitor()
            try await stillMine.get("/login")
            #expect(try await stillMine.post("/login", ["phone": "+14155550100", "password": "correct horse 1"]).status == .seeOther)
        }
    }

    @Test func oneAccountCannotSeeAnothersLines() async throws {
        try await PortalHarness.run { portal in
            let owner = try await portal.signUp("+14155550100")
            let review = try await owner.get("/recharge/review?line=%2B14155550100&item=topup-10&method=sandbox&promotionCode=")
            let key = try #require(review.html.range(of: #"name="key" value=""#).map { String(review.html[$0.upperBound...].prefix { $0 != "\"" }) })
            let paid = try await owner.post("/recharge/pay", ["line": "+14155550100", "item": "topup-10", "method": "sandbox", "promotionCode": "", "key": key])
            let checkout = try #require(paid.headers[.location])
            try await owner.post(checkout, ["action": "pay"], csrf: "")
            let orderID = String(checkout.split(separator: "/")[2].prefix { $0 != "?" })
            let history = try await owner.get("/history?line=%2B14155550100")
            let receipt = try #require(history.html.range(of: #"class="receipt-link" href=""#).map { String(history.html[$0.upperBound...].prefix { $0 != "\"" }) })
            let operation = receipt.split(separator: "/")[1]

            let other = try await portal.signUp("+14155550101")
            for path in ["/history?line=%2B14155550100", "/history.csv?line=%2B14155550100", "/recharge?line=%2B14155550100", "/redeem?line=%2B14155550100",
                         "/orders/\(orderID)", "/orders/\(orderID)/receipt", "/history/\(operation)/receipt?line=%2B14155550100",
                         "/recharge/review?line=%2B14155550100&item=topup-10&method=sandbox", "/history?line=%2B19995550100"] {
                let answer = try await other.get(path)
                #expect(answer.status == .notFound, "\(path)")
                #expect(!answer.html.contains("+14155550100"), "\(path)")
            }
            // Its own operation id with the other's line is refused too, and so is paying for a line that is not its own.
            try await other.get("/redeem")
            #expect(try await other.post("/redeem", ["line": "+14155550100", "pin": "1234 5678 9012 3452"]).status == .notFound)
            #expect(try await other.post("/recharge/pay", ["line": "+14155550100", "item": "topup-10", "method": "sandbox", "key": key + "x"]).status == .notFound)
            #expect(try await other.get("/history/\(operation)/receipt?line=%2B14155550101").status == .notFound)
        }
    }

    /// The reminder round sweeps dead sessions, old codes and stale login counts; live ones stay.
    @Test func sweepDeletesOnlyWhatCanNoLongerBeUsed() async throws {
        try await PortalHarness.run { portal in
            _ = try await portal.signUp("+14155550100")
            let accounts = portal.services.accounts
            let now = PortalHarness.now
            let account = try #require(try await accounts.credentials(phone: try MSISDN("+14155550100"))?.account)
            let idle = try await accounts.createSession(accountID: account.id, replacing: nil, now: now)
            let later = now.addingTimeInterval(AccountStore.sessionIdleTimeout + 60)
            let live = try await accounts.createSession(accountID: account.id, replacing: nil, now: later)
            _ = try await accounts.recordLoginFailure(phone: try MSISDN("+14155550177"), client: "192.0.2.1", now: now)
            _ = try await accounts.recordLoginFailure(phone: try MSISDN("+14155550188"), client: "192.0.2.1", now: later.addingTimeInterval(86_000))
            #expect(try await accounts.sweep(now: now) == AccountStore.Sweep(sessions: 0, codes: 0, loginCounts: 0))
            // Half an hour on: the sign-up's session and `idle` are idle too long; the live one stays usable.
            #expect(try await accounts.sweep(now: later) == AccountStore.Sweep(sessions: 2, codes: 0, loginCounts: 0))
            #expect(try await accounts.session(token: idle.token, now: later) == nil)
            #expect(try await accounts.session(token: live.token, now: later) != nil)
            // A day on: that session too, the register code (a day past its expiry), the count of +1…177 (the count of
            // +1…188, tried since, stays).
            let dayLater = later.addingTimeInterval(86_400)
            // (Two rows a number: its count from the address, and across every address.)
            #expect(try await accounts.sweep(now: dayLater) == AccountStore.Sweep(sessions: 1, codes: 1, loginCounts: 2))
            #expect(try await accounts.sweep(now: dayLater) == AccountStore.Sweep(sessions: 0, codes: 0, loginCounts: 0))
            #expect(try await accounts.loginLockedUntil(phone: try MSISDN("+14155550188"), client: "192.0.2.1", now: dayLater) == nil)
        }
    }

    @Test func anonymousTokensAreRandomBase64URL() {
        let tokens = (0..<2000).map { _ in PortalController.randomToken() }
        #expect(Set(tokens).count == tokens.count)
        #expect(tokens.allSatisfy { $0.utf8.count == 43 && $0.utf8.allSatisfy { byte in
            (0x30...0x39).contains(byte) || (0x41...0x5A).contains(byte) || (0x61...0x7A).contains(byte) || byte == 0x2D || byte == 0x5F } })
        // Every position takes many values (a stuck byte or shift would show here).
        for position in 0..<43 {
            #expect(Set(tokens.map { Array($0.utf8)[position] }).count > (position == 42 ? 3 : 40), "position \(position)")
        }
    }

    @Test func signedOutVisitorsAreSentToLogin() async throws {
        try await PortalHarness.run { portal in
            let visitor = portal.visitor()
            for path in ["/dashboard", "/recharge", "/redeem", "/history", "/settings", "/orders/ord_x"] {
                let answer = try await visitor.get(path)
                #expect(answer.status == .seeOther, "\(path)")
                #expect(answer.headers[.location] == "/login?next=" + PortalForm.encode(path), "\(path)")
            }
            #expect(try await visitor.get("/").headers[.location] == "/login")
            // A redirect after login stays on this site.
            #expect(PortalController.localPath("//evil.example/x") == nil)
            #expect(PortalController.localPath("https://evil.example/") == nil)
            #expect(PortalController.localPath("/\\evil.example") == nil)
            #expect(PortalController.localPath("/history?line=1") == "/history?line=1")
        }
    }
}

@Suite("Portal: templates and locale files")
struct PortalLocaleTests {
    static let resources = try! PortalResources.bundled()

    static func templateTexts() throws -> [String: String] {
        let folder = try #require(PortalResources.directory).appendingPathComponent("templates")
        var texts: [String: String] = [:]
        for file in try FileManager.default.contentsOfDirectory(atPath: folder.path) where file.hasSuffix(".mustache") {
            texts[file] = try String(contentsOf: folder.appendingPathComponent(file), encoding: .utf8)
        }
        return texts
    }

    @Test func bothLanguagesHaveTheSameKeysAndNoEmptyText() throws {
        let english = Self.resources.strings.table(.english)
        let chinese = Self.resources.strings.table(.simplifiedChinese)
        #expect(english.count > 200)
        #expect(Set(english.keys).subtracting(chinese.keys).isEmpty, "missing in zh-Hans: \(Set(english.keys).subtracting(chinese.keys).sorted())")
        #expect(Set(chinese.keys).subtracting(english.keys).isEmpty, "missing in en: \(Set(chinese.keys).subtracting(english.keys).sorted())")
        for (key, text) in english { #expect(!text.isEmpty, "en \(key)") }
        for (key, text) in chinese { #expect(!text.isEmpty, "zh-Hans \(key)") }
        // Placeholders match: a text shows the same values in both languages.
        let placeholder = /\{[a-z]+\}/
        for (key, text) in english {
            let ours = Set(text.matches(of: placeholder).map { String($0.output) })
            let theirs = Set((chinese[key] ?? "").matches(of: placeholder).map { String($0.output) })
            #expect(ours == theirs, "placeholders of \(key)")
        }
    }

    @Test func everyKeyUsedExists() throws {
        let keys = Set(Self.resources.strings.table(.english).keys)
        // In templates: {{t.key}}.
        for (file, text) in try Self.templateTexts() {
            // Static words are shown pre-escaped (`{{{t.key}}}`); a double-brace `{{t.key}}` would escape them again.
            #expect(!text.replacingOccurrences(of: "{{{t.", with: "").contains("{{t."), "\(file) uses {{t.…}}: write {{{t.…}}}")
            for match in text.matches(of: /\{\{\{t\.([a-zA-Z0-9_\-]+)\}\}\}/) {
                #expect(keys.contains(String(match.output.1)), "\(file) uses t.\(match.output.1)")
            }
        }
        // Built from values in code: every case of each family.
        var families: [String] = OrderState.allCases.map { "order_state_\($0.rawValue)" } + Channel.allCases.map { "channel_\($0.rawValue)" }
        families += PaymentMethod.allCases.map { "method_\($0.rawValue)" } + BucketKind.allCases.map { "bucket_kind_\($0.rawValue)" }
        families += LineType.allCases.map { "line_type_\($0.rawValue)" } + LineStatus.allCases.map { "line_status_\($0.rawValue)" }
        families += NotificationLanguage.allCases.map { "language_\($0.rawValue)" } + ["type_all", "type_top_up", "type_debit"]
        families += [LedgerOperation.Kind.topUp, .debit].map { "operation_\($0.rawValue)" }
        families += ["bonus", "bucket", "pack_discount", "top_up_discount"].map { "offers_kind_\($0)" }
        for key in families { #expect(keys.contains(key), "missing \(key)") }
        // Literal keys in the portal's Swift code: text("key" …), "key" in PortalRefusal(… key:).
        let sources = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Sources/RechargeServer/Portal")
        for file in try FileManager.default.contentsOfDirectory(atPath: sources.path) where file.hasSuffix(".swift") {
            let code = try String(contentsOf: sources.appendingPathComponent(file), encoding: .utf8)
            for match in code.matches(of: /(?:text\(|key: |title: )"([a-z_]+)"/) {
                #expect(keys.contains(String(match.output.1)), "\(file) uses \(match.output.1)")
            }
        }
    }

    /// Words belong in the locale files: what is left of a template after removing Mustache tags, HTML tags,
    /// entities and punctuation must be empty, and no attribute a person reads (placeholder, title, alt,
    /// aria-label) may hold a literal.
    @Test func noTemplateHoldsABareString() throws {
        for (file, text) in try Self.templateTexts() {
            var rest = text.replacing(/\{\{\{?[^}]*\}?\}\}/, with: " ")
            for attribute in ["placeholder", "title", "alt", "aria-label"] {
                for match in rest.matches(of: try Regex("\(attribute)=\"([^\"]*)\"")) {
                    let value = (match.output[1].substring.map(String.init) ?? "").trimmingCharacters(in: .whitespaces)
                    #expect(value.isEmpty || value.allSatisfy { ":/%·•()- ".contains($0) }, "\(file): \(attribute)=\"\(value)\"")
                }
            }
            rest = rest.replacing(/<script[^>]*>.*?<\/script>/.dotMatchesNewlines(), with: " ")
            rest = rest.replacing(/<style[^>]*>.*?<\/style>/.dotMatchesNewlines(), with: " ")
            rest = rest.replacing(/<[^>]*>/, with: " ").replacing(/&[a-z]+;/, with: " ")
            let leftover = rest.filter { !$0.isWhitespace && !":/%·•()-|".contains($0) }
            #expect(leftover.isEmpty, "\(file) holds text outside the locale files: \(leftover)")
        }
    }

    @Test func pagesRenderWithoutUnresolvedKeysInBothLanguages() async throws {
        try await PortalHarness.run { portal in
            for language in ["en", "zh-CN"] {
                let visitor = portal.visitor(acceptLanguage: language)
                for path in ["/login", "/register", "/reset", "/register/verify?phone=%2B14155550100", "/reset/verify?phone=%2B14155550100"] {
                    let page = try await visitor.get(path)
                    #expect(page.status == .ok, "\(path)")
                    #expect(!page.html.contains("{{") && !page.html.contains("error_") && !page.html.contains("_title"), "\(path)")
                    #expect(page.html.contains("<label for=\"phone\">") || path.contains("verify"), "\(path)")
                }
            }
        }
    }
}

@Suite("Portal: strings")
struct PortalStringsTests {
    @Test func placeholdersAreFilledOnceEach() {
        let strings = PortalStrings(tables: [.english: ["a": "{x} and {y}, {x}; {unknown} {", "b": "no braces"], .simplifiedChinese: ["a": "{y}与{x}"]])
        #expect(strings.text("a", .english, ["x": "1", "y": "{x}"]) == "1 and {x}, 1; {unknown} {")
        #expect(strings.text("a", .simplifiedChinese, ["x": "甲", "y": "乙"]) == "乙与甲")
        #expect(strings.text("b", .simplifiedChinese) == "no braces")   // English when the language lacks it
        #expect(strings.text("missing", .english) == "missing")
        #expect(PortalStrings(tables: [.english: ["x": #"<b>"Tom" & 'Jerry'</b>"#]]).escapedTable(.english)["x"] == "&lt;b&gt;&quot;Tom&quot; &amp; &#39;Jerry&#39;&lt;/b&gt;")
    }
}
