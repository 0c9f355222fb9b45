import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import RechargeCore
@testable import RechargeServer
import RechargeStore
import RechargeTestSupport
import Testing

/// The public offers page, bonus data on a top-up, and a catalog localized per language: every page that names a
/// product or promotion, read in Chinese, shows the Chinese names and no English one.
@Suite("Portal: offers and the localized catalog")
struct OffersPortalTests {
    /// Every product and promotion has a Chinese name unlike its English one (some written with the `name:` alias).
    static let catalog = """
        timeZone: Asia/Shanghai
        customTopUp:
          USD: {min: "5.00", max: "500.00"}
        products:
          - code: topup-40
            kind: top_up
            names: {en: "Forty dollar credit", zh-Hans: "四十美元话费"}
            prices: {USD: "40.00"}
            credit: {USD: "40.00"}
          - code: topup-10
            kind: top_up
            name: {en: "Ten dollar credit", zh-Hans: "十美元话费"}
            prices: {USD: "10.00"}
            credit: {USD: "10.00"}
          - code: pack-5gb
            kind: pack
            name: {en: "5 GB monthly data", zh-Hans: "5 GB 月流量包"}
            description: {en: "Data for a month", zh-Hans: "一个月的流量"}
            prices: {USD: "15.00"}
            allowances:
              - {kind: data, amount: 5GB}
            validityDays: 30
        promotions:
          - code: gift-data
            name: {en: "Holiday gift data", zh-Hans: "节日赠送流量"}
            description: {en: "Top up 30 or more for 1 GB", zh-Hans: "充值满30送1GB"}
            currency: USD
            minTopUp: "30"
            bonusAllowances:
              - {kind: data, amount: 1GB, validityDays: 10}
            startsAt: "2026-11-01T00:00"
            endsAt: "2026-12-01T00:00"
          - code: pack-sale
            names: {en: "Pack sale", zh-Hans: "流量包特惠"}
            currency: USD
            amountOff: "3"
            products: [pack-5gb]
          - code: ten-off
            names: {en: "Ten percent off the ten", zh-Hans: "十美元充值九折"}
            currency: USD
            percentOff: 10
            discountOn: top_up
            products: [topup-10]
            startsAt: "2026-12-01T00:00"
          - code: shared-code
            names: {en: "Friends code", zh-Hans: "好友优惠码"}
            currency: USD
            percentOff: 5
            discountCode: FRIENDS5
            listed: true
          - code: staff-only
            names: {en: "Staff secret", zh-Hans: "员工专享"}
            currency: USD
            percentOff: 50
            discountCode: STAFF50
        """

    static let english = ["Forty dollar credit", "Ten dollar credit", "5 GB monthly data", "Holiday gift data", "Pack sale",
                          "Ten percent off the ten", "Friends code", "Data for a month", "Top up 30 or more",
                          // The demo line's buckets, named after the demo catalog's packs (still known, though no longer sold).
                          "US data 5 GB", "North America talk"]

    @Test(arguments: [Backend.sqlite, .postgres])
    func offersBonusDataAndChineseNames(_ backend: Backend) async throws {
        guard backend == .sqlite || TestDatabase.postgresAvailable else { return }
        try await PortalHarness.run(backend) { portal in
            _ = try await portal.services.catalog.importCatalog(try CatalogFile.parse(Self.catalog), now: PortalHarness.now)

            // Anyone may read the offers, in either language: running now, starting soon (with Beijing dates), a
            // listed code, never the secret one.
            let visitor = portal.visitor(acceptLanguage: "en")
            let offers = try await visitor.get("/offers")
            #expect(offers.status == .ok)
            #expect(offers.html.contains(#"data-code="gift-data""#) && offers.html.contains(#"data-code="pack-sale""#))
            #expect(offers.html.contains("Holiday gift data") && offers.html.contains("Top up 30.00 USD or more and get 1.00 GB, valid 10 days"))
            #expect(offers.html.contains("From 2026-11-01 00:00 to 2026-12-01 00:00") && offers.html.contains("Asia/Shanghai"))
            #expect(offers.html.contains(#"id="offers-upcoming""#) && offers.html.contains(#"data-code="ten-off""#))
            #expect(offers.html.contains("<code>FRIENDS5</code>"))
            #expect(!offers.html.contains("STAFF50") && !offers.html.contains("staff-only") && !offers.html.contains("Staff secret"))
            let login = try await visitor.get("/login")
            #expect(login.html.contains(#"href="/offers""#))

            let me = try await portal.signUp("+14155550100", language: "zh-Hans")
            var pages: [String: TestResponse] = [:]
            pages["offers"] = try await me.get("/offers")
            #expect(pages["offers"]?.html.contains("节日赠送流量") == true && pages["offers"]?.html.contains("充值满30送1GB") == true)
            #expect(pages["offers"]?.html.contains("2026-11-01 00:00 至 2026-12-01 00:00") == true)
            pages["recharge"] = try await me.get("/recharge?line=%2B14155550100")
            #expect(pages["recharge"]?.html.contains("5 GB 月流量包") == true && pages["recharge"]?.html.contains("四十美元话费") == true)
            #expect(pages["recharge"]?.html.contains(#"<small class="description">一个月的流量</small>"#) == true, "the pack's description, in Chinese")

            // A top-up of 40 earns the bonus data: on the review page, the order page, the receipt and the dashboard.
            let review = try await me.get("/recharge/review?line=%2B14155550100&item=topup-40&method=sandbox&promotionCode=")
            pages["review"] = review
            #expect(review.html.contains(#"id="bonus-allowances""#) && review.html.contains("节日赠送流量"))
            let key = try #require(review.html.range(of: #"name="key" value=""#).map { String(review.html[$0.upperBound...].prefix { $0 != "\"" }) })
            let paid = try await me.post("/recharge/pay", ["line": "+14155550100", "item": "topup-40", "method": "sandbox", "promotionCode": "", "key": key])
            let checkout = try #require(paid.headers[.location])
            let orderID = String(checkout.split(separator: "/")[2].prefix { $0 != "?" })
            _ = try await me.post(checkout, ["action": "pay"], csrf: "")
            let order = try await me.get("/orders/\(orderID)")
            pages["order"] = order
            #expect(order.html.contains(#"data-state="fulfilled""#) && order.html.contains(#"id="bonus-allowances""#))
            #expect(order.html.contains("<strong id=\"new-balance\">65.00 USD</strong>"))
            pages["receipt"] = try await me.get("/orders/\(orderID)/receipt")
            #expect(pages["receipt"]?.html.contains("节日赠送流量") == true && pages["receipt"]?.html.contains("1.00 GB") == true)

            // A pack with the automatic pack discount.
            let packReview = try await me.get("/recharge/review?line=%2B14155550100&item=pack-5gb&method=sandbox&promotionCode=")
            pages["review-pack"] = packReview
            #expect(packReview.html.contains("5 GB 月流量包") && packReview.html.contains(#"<strong id="price">12.00 USD</strong>"#))
            let packKey = try #require(packReview.html.range(of: #"name="key" value=""#).map { String(packReview.html[$0.upperBound...].prefix { $0 != "\"" }) })
            let packPaid = try await me.post("/recharge/pay", ["line": "+14155550100", "item": "pack-5gb", "method": "sandbox", "promotionCode": "",
                                                                "key": packKey])
            let packCheckout = try #require(packPaid.headers[.location])
            let packID = String(packCheckout.split(separator: "/")[2].prefix { $0 != "?" })
            _ = try await me.post(packCheckout, ["action": "pay"], csrf: "")
            pages["order-pack"] = try await me.get("/orders/\(packID)")
            let packReceipt = try await me.get("/orders/\(packID)/receipt")
            pages["receipt-pack"] = packReceipt
            #expect(packReceipt.html.contains("流量包特惠"))

            let dashboard = try await me.get("/dashboard")
            pages["dashboard"] = dashboard
            #expect(dashboard.html.contains("节日赠送流量") && dashboard.html.contains("5 GB 月流量包") && dashboard.html.contains(#"href="/offers""#))
            pages["history"] = try await me.get("/history?line=%2B14155550100")

            for (name, page) in pages {
                #expect(page.status == .ok, "\(name): \(page.status)")
                #expect(page.html.contains(#"<html lang="zh-Hans">"#), "\(name) is not in Chinese")
                for english in Self.english {
                    #expect(!page.html.contains(english), "\(name) shows the English '\(english)'")
                }
            }

            // The bonus is announced under the promotion's name in the subscriber's language.
            let announced = try await portal.services.outbox.list(state: nil, limit: 200).filter { $0.eventKey == "order:\(orderID):bonus_granted" }
            #expect(!announced.isEmpty)
            for message in announced {
                guard case .bonusGranted(let name, let grants)? = message.event else { Issue.record("not a bonus_granted event"); continue }
                #expect(name == (message.language == .simplifiedChinese ? "节日赠送流量" : "Holiday gift data"))
                #expect(grants.map(\.amount) == [1 << 30])
            }
        }
    }

    /// A catalog with a bad time zone, a skipped local time, or both spellings of the names is refused whole.
    @Test func catalogRefusals() throws {
        let skipped = Self.catalog.replacingOccurrences(of: "timeZone: Asia/Shanghai", with: "timeZone: America/New_York")
            .replacingOccurrences(of: "2026-12-01T00:00\"\n  - code: pack-sale", with: "2027-03-14T02:30\"\n  - code: pack-sale")
        #expect(throws: RechargeError.self) { try CatalogFile.parse(skipped) }
        #expect(throws: RechargeError.self) { try CatalogFile.parse(Self.catalog.replacingOccurrences(of: "Asia/Shanghai", with: "Asia/Atlantis")) }
        let both = Self.catalog.replacingOccurrences(of: "    name: {en: \"Ten dollar credit\"", with: "    names: {en: \"x\"}\n    name: {en: \"Ten dollar credit\"")
        #expect(throws: RechargeError.self) { try CatalogFile.parse(both) }
        #expect(throws: RechargeError.self) { try CatalogFile.parse(Self.catalog.replacingOccurrences(of: "minTopUp", with: "minTopup")) }
        let parsed = try CatalogFile.parse(Self.catalog)
        #expect(parsed.product("pack-5gb")?.name(language: "zh-Hans") == "5 GB 月流量包")
        #expect(parsed.timeZone.identifier == "Asia/Shanghai")
    }
}
