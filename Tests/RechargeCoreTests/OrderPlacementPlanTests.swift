import Foundation
import RechargeCore
import Testing

/// Order creation and promotion rules as pure plans: no database, only the catalog and the usage counters' values.
@Suite("Order placement and promotion plans")
struct OrderPlacementPlanTests {
    static func promotion(_ code: String, discountCode: String?, percentOff: Int? = 20, limitTotal: Int?, limitPerLine: Int?,
                          endsAt: String? = nil) -> CatalogDefinition.Promotion {
        .init(code: code, names: ["en": code], currency: "USD", tiers: nil, bonusValidityDays: nil, percentOff: percentOff, amountOff: nil,
              products: nil, discountCode: discountCode, limitTotal: limitTotal, limitPerLine: limitPerLine, startsAt: nil, endsAt: endsAt)
    }

    static let catalog = try! Catalog(CatalogDefinition(
        customTopUp: ["USD": .init(min: "5", max: "500")],
        products: [OrderLifecycleTests.product("us-5gb")],
        promotions: [
            promotion("launch", discountCode: "LAUNCH", limitTotal: 100, limitPerLine: 1),
            promotion("open", discountCode: "OPEN", percentOff: 10, limitTotal: nil, limitPerLine: nil),
            promotion("over", discountCode: "OVER", limitTotal: nil, limitPerLine: nil, endsAt: "2020-01-01T00:00:00Z"),
            .init(code: "bonus", names: ["en": "Recharge 50 get 5"], currency: "USD", tiers: [.init(min: "50", bonus: "5")], bonusValidityDays: 30,
                  percentOff: nil, amountOff: nil, products: nil, discountCode: nil, limitTotal: nil, limitPerLine: nil, startsAt: nil, endsAt: nil),
        ]))

    static func plan(_ item: OrderItem, code: String? = nil) throws -> OrderPlacementPlan {
        try OrderPlacementPlan(item: item, lineCurrency: .usd, promotionCode: code, payCurrency: nil, catalog: catalog, at: now)
    }

    @Test func limitedCodeDiscountsAndTakesOneUse() throws {
        let plan = try Self.plan(.product("us-5gb"), code: " launch ")
        #expect(plan.quote.price.micros == 12_000_000 && plan.quote.discount?.micros == 3_000_000)
        #expect(plan.quote.limitedPromotions == ["launch"])
        #expect(plan.promotionUses == [PromotionUse(code: "launch", shownCode: "LAUNCH", limitTotal: 100, limitPerLine: 1)])
    }

    @Test func unlimitedPromotionsTakeNoUse() throws {
        let discounted = try Self.plan(.product("us-5gb"), code: "OPEN")
        #expect(discounted.quote.price.micros == 13_500_000 && discounted.promotionUses.isEmpty)
        let bonus = try Self.plan(.amount(try Money(decimal: "60", currency: .usd)))
        #expect(bonus.quote.promotions == ["bonus"] && bonus.promotionUses.isEmpty)
        #expect(try Self.plan(.product("us-5gb")).quote.price.micros == 15_000_000)
    }

    @Test func refusals() {
        #expect(throws: RechargeError.productNotFound("nope")) { try Self.plan(.product("nope")) }
        #expect(throws: RechargeError.promotionUnavailable(code: "NOPE", reason: "no such code")) { try Self.plan(.product("us-5gb"), code: "nope") }
        #expect(throws: RechargeError.promotionUnavailable(code: "OVER", reason: "not valid at this time")) { try Self.plan(.product("us-5gb"), code: "OVER") }
        #expect(throws: RechargeError.self) { try Self.plan(.amount(Money(micros: 1_000_000, currency: .usd))) }
    }

    @Test func limitsAgainstTheCounters() throws {
        let use = try #require(try Self.plan(.product("us-5gb"), code: "LAUNCH").promotionUses.first)
        #expect(use.refusal(used: nil, usedByLine: nil) == nil)
        #expect(use.refusal(used: 99, usedByLine: 0) == nil)
        #expect(use.refusal(used: 100, usedByLine: 1) == use.exhausted)
        #expect(use.refusal(used: 5, usedByLine: 1) == use.exhaustedForLine)
        #expect(use.exhausted == .promotionUnavailable(code: "LAUNCH", reason: "it has been used the maximum number of times"))
        // A late payment for an order that gave its use back is honoured past the limits.
        let promotion = try #require(Self.catalog.promotions.first { $0.code == "launch" })
        #expect(PromotionUse.honouring(promotion).refusal(used: 100, usedByLine: 1) == nil)
    }

    @Test func newOrderExpiresWithItsLifetime() throws {
        let plan = try Self.plan(.product("us-5gb"))
        let order = plan.order(id: "ord_1", msisdn: sampleMSISDN, paymentMethod: .sandbox, providerReference: "sb_1", checkoutStarted: true,
                               now: now, lifetime: 1800)
        #expect(order.state == .awaitingPayment && order.providerReference == "sb_1" && order.quote == plan.quote)
        #expect(order.expiresAt == now.addingTimeInterval(1800) && order.createdAt == now && order.operationIDs.isEmpty)
        #expect(plan.order(id: "ord_2", msisdn: sampleMSISDN, paymentMethod: .stripe, providerReference: nil, checkoutStarted: false,
                           now: now, lifetime: 60).state == .created)
    }
}
