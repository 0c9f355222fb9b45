import Foundation
import RechargeCore
import Testing

/// Offers as pure rules: holiday schedules in the operator's time zone, bonus buckets and top-up discounts in the
/// quote and the fulfilment plan, and which promotions the public offers page lists.
@Suite("Offers, bonus buckets and catalog time")
struct OffersTests {
    static let newYork = TimeZone(identifier: "America/New_York")!
    static let shanghai = TimeZone(identifier: "Asia/Shanghai")!

    static func instant(_ text: String, _ zone: TimeZone) throws -> Date {
        switch CatalogTime.instant(text, in: zone) {
        case .success(let date): return date
        case .failure(let failure): throw failure
        }
    }

    static func utc(_ text: String) throws -> Date { try Date(text, strategy: Date.ISO8601FormatStyle()) }

    @Test func localTimesAreReadInTheCatalogsZone() throws {
        // Shanghai has no daylight saving time: always UTC+8.
        #expect(try Self.instant("2027-02-06T00:00", Self.shanghai) == (try Self.utc("2027-02-05T16:00:00Z")))
        #expect(try Self.instant("2027-02-13 23:59:59", Self.shanghai) == (try Self.utc("2027-02-13T15:59:59Z")))
        // An instant with an offset is taken as written, whatever the zone.
        #expect(try Self.instant("2027-02-06T00:00:00+08:00", Self.newYork) == (try Self.utc("2027-02-05T16:00:00Z")))
        #expect(try Self.instant("2027-01-15T12:00", CatalogTime.utc) == (try Self.utc("2027-01-15T12:00:00Z")))
        // New York in winter (EST, −5) and in summer (EDT, −4).
        #expect(try Self.instant("2027-01-15T09:00", Self.newYork) == (try Self.utc("2027-01-15T14:00:00Z")))
        #expect(try Self.instant("2027-07-15T09:00", Self.newYork) == (try Self.utc("2027-07-15T13:00:00Z")))
        for bad in ["2027-02-30T00:00", "2027-13-01T00:00", "2027-02-06", "2027-02-06T24:00", "tomorrow", "2027-02-06T00:00:00.5"] {
            #expect(CatalogTime.instant(bad, in: Self.shanghai) == .failure(.malformed), "\(bad)")
        }
    }

    @Test func daylightSavingEdges() throws {
        // 2027-03-14: New York springs forward at 02:00 EST to 03:00 EDT. 02:30 never happens there.
        #expect(CatalogTime.instant("2027-03-14T02:30", in: Self.newYork) == .failure(.skipped))
        #expect(try Self.instant("2027-03-14T01:59:59", Self.newYork) == (try Self.utc("2027-03-14T06:59:59Z")))
        #expect(try Self.instant("2027-03-14T03:00", Self.newYork) == (try Self.utc("2027-03-14T07:00:00Z")))
        // 2027-11-07: falls back at 02:00 EDT to 01:00 EST; 01:30 happens twice and means the first (EDT) one.
        #expect(try Self.instant("2027-11-07T01:30", Self.newYork) == (try Self.utc("2027-11-07T05:30:00Z")))
        #expect(try Self.instant("2027-11-07T02:30", Self.newYork) == (try Self.utc("2027-11-07T07:30:00Z")))
        // A promotion across the spring-forward night lasts 23 hours, not 24.
        let start = try Self.instant("2027-03-14T00:00", Self.newYork)
        let end = try Self.instant("2027-03-15T00:00", Self.newYork)
        #expect(end.timeIntervalSince(start) == 23 * 3600)
        // Written back in the zone, a local time reads back to the same instant.
        #expect(CatalogTime.localText(start, in: Self.newYork) == "2027-03-14T00:00:00")
    }

    static func springFestival(limitTotal: Int? = nil, startsAt: String? = "2027-02-06T00:00", endsAt: String? = "2027-02-13T00:00",
                               code: String? = nil, listed: Bool? = nil) -> CatalogDefinition.Promotion {
        .init(code: "spring-festival", names: ["en": "Spring Festival: recharge 30, get 2 GB", "zh-Hans": "春节充30送2GB"], currency: "USD",
              tiers: nil, bonusValidityDays: nil, percentOff: nil, amountOff: nil, products: nil, discountCode: code, limitTotal: limitTotal,
              limitPerLine: nil, startsAt: startsAt, endsAt: endsAt, descriptions: ["en": "Recharge at least 30 USD during the holiday week."],
              listed: listed, minTopUp: "30",
              bonusAllowances: [.init(kind: .data, amount: "2GB", validityDays: 15), .init(kind: .sms, amount: "100", validityDays: 7,
                                                                                            coverage: .init(name: "China", countries: ["cn"]))])
    }

    static let topUpDiscount = CatalogDefinition.Promotion(
        code: "topup-5-off", names: ["en": "5% off top-ups", "zh-Hans": "充值九五折"], currency: "USD", tiers: nil, bonusValidityDays: nil,
        percentOff: 5, amountOff: nil, products: nil, discountCode: nil, limitTotal: nil, limitPerLine: nil, startsAt: nil, endsAt: nil,
        discountOn: .topUp)

    static func catalog(_ promotions: [CatalogDefinition.Promotion], timeZone: String? = "Asia/Shanghai") throws -> Catalog {
        try Catalog(CatalogDefinition(
            customTopUp: ["USD": .init(min: "5", max: "500")],
            products: [OrderLifecycleTests.product("us-5gb"),
                       OrderLifecycleTests.product("topup-10", kind: .topUp, prices: ["USD": "10"], credit: ["USD": "10"], allowances: nil, validityDays: nil)],
            promotions: promotions, timeZone: timeZone))
    }

    static let holiday = try! utc("2027-02-08T04:00:00Z")

    @Test func bucketBonusInTheQuoteAndThePlan() throws {
        let catalog = try Self.catalog([Self.springFestival(limitTotal: 10)])
        let promotion = try #require(catalog.promotions.first)
        let start = try Self.utc("2027-02-05T16:00:00Z"), end = try Self.utc("2027-02-12T16:00:00Z")
        #expect(promotion.startsAt == start && promotion.endsAt == end)
        let plan = try OrderPlacementPlan(item: .amount(try Money(decimal: "30", currency: .usd)), lineCurrency: .usd, promotionCode: nil,
                                          payCurrency: nil, catalog: catalog, at: Self.holiday)
        #expect(plan.quote.bonusAllowances?.map(\.amount) == [2 << 30, 100])
        #expect(plan.quote.bonusNames?["zh-Hans"] == "春节充30送2GB" && plan.quote.price.micros == 30_000_000)
        #expect(plan.quote.promotions == ["spring-festival"] && plan.quote.limitedPromotions == ["spring-festival"])
        #expect(plan.promotionUses == [PromotionUse(code: "spring-festival", shownCode: "spring-festival", limitTotal: 10, limitPerLine: .max,
                                                    isAutomatic: true)])
        // Used up, an automatic promotion stops applying: the store plans again without it, and the order goes ahead.
        let use = try #require(plan.promotionUses.first)
        #expect(use.limitReached(forLine: false) as? PromotionUse.ExhaustedAutomatic == PromotionUse.ExhaustedAutomatic(code: "spring-festival"))
        let without = try OrderPlacementPlan(item: .amount(try Money(decimal: "30", currency: .usd)), lineCurrency: .usd, promotionCode: nil,
                                             payCurrency: nil, catalog: catalog, at: Self.holiday, excluding: ["spring-festival"])
        #expect(without.quote.bonusAllowances == nil && without.promotionUses.isEmpty && without.quote.price.micros == 30_000_000)
        // Below the minimum, before the week, after it (Shanghai midnight, not UTC midnight): no bonus.
        for (amount, instant) in [("29.99", Self.holiday), ("30", try Self.utc("2027-02-05T15:59:59Z")), ("30", try Self.utc("2027-02-12T16:00:00Z"))] {
            let other = try OrderPlacementPlan(item: .amount(try Money(decimal: amount, currency: .usd)), lineCurrency: .usd, promotionCode: nil,
                                               payCurrency: nil, catalog: catalog, at: instant)
            #expect(other.quote.bonusAllowances == nil && other.promotionUses.isEmpty, "\(amount) at \(instant)")
        }
        // Packs earn no top-up bonus.
        let pack = try OrderPlacementPlan(item: .product("us-5gb"), lineCurrency: .usd, promotionCode: nil, payCurrency: nil, catalog: catalog,
                                          at: Self.holiday)
        #expect(pack.quote.bonusAllowances == nil)

        let order = OrderPlanTests.order(plan.quote)
        let fulfilment = try FulfilmentPlan(order: order, lineCurrency: .usd, now: Self.holiday)
        #expect(fulfilment.steps.map(\.purpose) == [.orderCredit(orderID: OrderPlanTests.id), .orderBonusGrant(orderID: OrderPlanTests.id, number: 1),
                                                    .orderBonusGrant(orderID: OrderPlanTests.id, number: 2)])
        #expect(fulfilment.steps.dropFirst().map(\.counterparty.code) == [BucketKind.data, .sms].map { LedgerAccountCode.allowance(unit: $0.unit(currency: .usd)) })
        guard case .topUp(let data) = fulfilment.steps[1].command, case .bucket(let grant, _) = data.value else { Issue.record("no data bucket"); return }
        #expect(grant.kind == .data && grant.amount == 2 << 30 && grant.validUntil == Self.holiday.addingTimeInterval(15 * 86_400))
        #expect(grant.name == "Spring Festival: recharge 30, get 2 GB" && data.channel == .promotion)
        #expect(fulfilment.bonusGranted == [GrantedBonus(kind: .data, amount: 2 << 30, validUntil: Self.holiday.addingTimeInterval(15 * 86_400)),
                                            GrantedBonus(kind: .sms, amount: 100, validUntil: Self.holiday.addingTimeInterval(7 * 86_400))])
        #expect(fulfilment.dataPackAdded == nil)
        #expect(Set(fulfilment.steps.compactMap(\.purpose.idempotencyKey)).count == 3)
    }

    @Test func topUpDiscountIsFundedByPromotionExpense() throws {
        let catalog = try Self.catalog([Self.topUpDiscount, OrderPlacementPlanTests.promotion("packs", discountCode: nil, limitTotal: nil, limitPerLine: nil)])
        let plan = try OrderPlacementPlan(item: .product("topup-10"), lineCurrency: .usd, promotionCode: nil, payCurrency: nil, catalog: catalog, at: now)
        #expect(plan.quote.price.micros == 9_500_000 && plan.quote.discount?.micros == 500_000 && plan.quote.credit?.micros == 10_000_000)
        #expect(plan.quote.promotions == ["topup-5-off"])
        // The pack gets the pack discount, not the top-up one.
        let pack = try OrderPlacementPlan(item: .product("us-5gb"), lineCurrency: .usd, promotionCode: nil, payCurrency: nil, catalog: catalog, at: now)
        #expect(pack.quote.promotions == ["packs"] && pack.quote.price.micros == 12_000_000)
        let fulfilment = try FulfilmentPlan(order: OrderPlanTests.order(plan.quote), lineCurrency: .usd, now: now)
        #expect(fulfilment.steps.map(\.purpose) == [.orderCredit(orderID: OrderPlanTests.id), .orderDiscount(orderID: OrderPlanTests.id)])
        #expect(fulfilment.steps.map(\.counterparty.code) == [PaymentMethod.stripe.clearingAccount(unit: "USD"), LedgerAccountCode.promotionExpense(unit: "USD")])
        let amounts = fulfilment.steps.compactMap { step -> Int64? in
            guard case .topUp(let command) = step.command, case .money(let money) = command.value else { return nil }
            return money.micros
        }
        // Clearing expects what the payer pays; the line gets the full credit.
        #expect(amounts == [9_500_000, 500_000])
        // A refund gives back at most what was paid.
        let refund = try RefundPlan(order: OrderPlanTests.order(plan.quote, state: .fulfilled), refunded: 0, requested: nil)
        #expect(refund.amount.micros == 9_500_000)
    }

    @Test func listingShowsPublicPromotionsRunningAndSoon() throws {
        let secret = OrderPlacementPlanTests.promotion("secret", discountCode: "STAFF50", limitTotal: nil, limitPerLine: nil)
        let publicCode = CatalogDefinition.Promotion(
            code: "welcome", names: ["en": "Welcome"], currency: "USD", tiers: nil, bonusValidityDays: nil, percentOff: 10, amountOff: nil,
            products: nil, discountCode: "WELCOME", limitTotal: nil, limitPerLine: nil, startsAt: nil, endsAt: nil, listed: true)
        let hidden = CatalogDefinition.Promotion(
            code: "quiet", names: ["en": "Quiet"], currency: "USD", tiers: nil, bonusValidityDays: nil, percentOff: 10, amountOff: nil,
            products: nil, discountCode: nil, limitTotal: nil, limitPerLine: nil, startsAt: nil, endsAt: nil, listed: false)
        let catalog = try Self.catalog([Self.springFestival(), Self.topUpDiscount, secret, publicCode, hidden,
                                        OrderPlacementPlanTests.promotion("over", discountCode: nil, limitTotal: nil, limitPerLine: nil, endsAt: "2020-01-01T00:00:00Z")])
        let during = catalog.offers(at: Self.holiday)
        #expect(during.running.map(\.code) == ["spring-festival", "topup-5-off", "welcome"])
        #expect(during.upcoming.isEmpty)
        // Three weeks before: the holiday is upcoming; five weeks before: not yet shown.
        let before = catalog.offers(at: try Self.utc("2027-01-15T00:00:00Z"))
        #expect(before.running.map(\.code) == ["topup-5-off", "welcome"] && before.upcoming.map(\.code) == ["spring-festival"])
        #expect(catalog.offers(at: try Self.utc("2026-12-31T00:00:00Z")).upcoming.isEmpty)
        // A secret code is never listed, however the page is asked.
        #expect(!catalog.promotions.first { $0.code == "secret" }!.isListed)
    }

    @Test func catalogChecksTheNewFields() throws {
        func refused(_ promotion: CatalogDefinition.Promotion, timeZone: String? = nil) -> Bool {
            (try? Self.catalog([promotion], timeZone: timeZone)) == nil
        }
        #expect(refused(Self.springFestival(), timeZone: "Mars/Olympus"))
        #expect(refused(Self.springFestival(startsAt: "2027-03-14T02:30", endsAt: nil), timeZone: "America/New_York"))
        #expect(!refused(Self.springFestival(startsAt: "2027-03-14T03:30", endsAt: nil), timeZone: "America/New_York"))
        let money = CatalogDefinition.Promotion(code: "x", names: ["en": "x"], currency: "USD", tiers: nil, bonusValidityDays: nil, percentOff: nil,
                                                amountOff: nil, products: nil, discountCode: nil, limitTotal: nil, limitPerLine: nil, startsAt: nil,
                                                endsAt: nil, bonusAllowances: [.init(kind: .monetary, amount: "5", validityDays: 30)])
        #expect(refused(money))
        let noDays = CatalogDefinition.Promotion(code: "x", names: ["en": "x"], currency: "USD", tiers: nil, bonusValidityDays: nil, percentOff: nil,
                                                 amountOff: nil, products: nil, discountCode: nil, limitTotal: nil, limitPerLine: nil, startsAt: nil,
                                                 endsAt: nil, bonusAllowances: [.init(kind: .data, amount: "1GB", validityDays: 0)])
        #expect(refused(noDays))
        let discountOnBonus = CatalogDefinition.Promotion(code: "x", names: ["en": "x"], currency: "USD", tiers: [.init(min: "10", bonus: "1")],
                                                          bonusValidityDays: 30, percentOff: nil, amountOff: nil, products: nil, discountCode: nil,
                                                          limitTotal: nil, limitPerLine: nil, startsAt: nil, endsAt: nil, discountOn: .topUp)
        #expect(refused(discountOnBonus))
        // The definition round-trips, local dates and the zone included.
        let catalog = try Self.catalog([Self.springFestival(), Self.topUpDiscount])
        #expect(try Catalog(catalog.definition) == catalog)
        #expect(catalog.definition.timeZone == "Asia/Shanghai" && catalog.definition.promotions?.first?.startsAt == "2027-02-06T00:00")
    }

    @Test func namesAndDescriptionsFallBackToEnglish() throws {
        let json = """
            {"code": "p", "kind": "pack", "name": {"en": "5 GB monthly data", "zh-Hans": "5 GB 月流量包"}, "description": {"en": "Data for a month"},
             "prices": {"USD": "5"}, "allowances": [{"kind": "data", "amount": "5GB"}], "validityDays": 30}
            """
        let definition = try JSONDecoder().decode(CatalogDefinition.Product.self, from: Data(json.utf8))
        let catalog = try Catalog(CatalogDefinition(customTopUp: nil, products: [definition]))
        let product = try #require(catalog.product("p"))
        #expect(product.name(language: "zh-Hans") == "5 GB 月流量包" && product.name(language: "en") == "5 GB monthly data")
        #expect(product.description(language: "zh-Hans") == "Data for a month")
        // Written back in the canonical spelling.
        let encoded = String(decoding: try JSONEncoder().encode(product.definition), as: UTF8.self)
        #expect(encoded.contains("\"names\"") && encoded.contains("\"descriptions\"") && !encoded.contains("\"name\""))
        // Both spellings at once are refused.
        let both = json.replacingOccurrences(of: "\"prices\"", with: "\"names\": {\"en\": \"x\"}, \"prices\"")
        #expect(throws: DecodingError.self) { try JSONDecoder().decode(CatalogDefinition.Product.self, from: Data(both.utf8)) }
    }
}
