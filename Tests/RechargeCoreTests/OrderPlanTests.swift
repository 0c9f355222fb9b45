import Foundation
import RechargeCore
import Testing

/// Fulfilment and refund rules as pure plans: no database, only the order.
@Suite("Fulfilment and refund plans")
struct OrderPlanTests {
    static let catalog = try! Catalog(CatalogDefinition(
        customTopUp: ["USD": .init(min: "5", max: "500")],
        products: [
            OrderLifecycleTests.product("us-5gb", allowances: [.init(kind: .data, amount: "5GB"), .init(kind: .voice, amount: "100min")]),
            OrderLifecycleTests.product("topup-10", kind: .topUp, prices: ["USD": "10"], credit: ["USD": "10"], allowances: nil, validityDays: nil),
        ],
        promotions: [
            .init(code: "bonus", names: ["en": "Recharge 50 get 5"], currency: "USD", tiers: [.init(min: "50", bonus: "5")], bonusValidityDays: 30,
                  percentOff: nil, amountOff: nil, products: nil, discountCode: nil, limitTotal: nil, limitPerLine: nil, startsAt: nil, endsAt: nil),
        ]))
    static let id = "ord_abcdefghijkmnpqrstuvwxyz23"

    static func order(_ quote: OrderQuote, state: OrderState = .paid, method: PaymentMethod = .stripe) -> RechargeOrder {
        RechargeOrder(id: id, msisdn: sampleMSISDN, quote: quote, paymentMethod: method, state: state, providerReference: nil, failureReason: nil,
                      operationIDs: [], createdAt: now, updatedAt: now, expiresAt: now, paidAt: nil, fulfilledAt: nil, balanceAfter: nil)
    }

    static func topUp(_ amount: String) throws -> OrderQuote {
        let base = try OrderQuote.customTopUp(try Money(decimal: amount, currency: .usd), catalog: catalog, lineCurrency: .usd)
        return try base.applying(try PromotionChoice.choose(from: catalog.promotions, product: nil, listPrice: base.price, credit: base.credit,
                                                            enteredCode: nil, at: now))
    }

    static func pack() throws -> OrderQuote {
        try OrderQuote.product(try #require(catalog.product("us-5gb")), currency: .usd, lineCurrency: .usd)
    }

    @Test func topUpWithBonus() throws {
        let plan = try FulfilmentPlan(order: Self.order(try Self.topUp("60")), lineCurrency: .usd, now: now)
        #expect(plan.steps.map(\.purpose) == [.orderCredit(orderID: Self.id), .orderBonus(orderID: Self.id)])
        #expect(plan.steps.map(\.counterparty.code) == [PaymentMethod.stripe.clearingAccount(unit: "USD"), LedgerAccountCode.promotionExpense(unit: "USD")])
        #expect(!plan.needsDebits && plan.dataPackAdded == nil && plan.renewal == nil)
        guard case .topUp(let bonus) = plan.steps[1].command, case .bucket(let grant, _) = bonus.value else { Issue.record("no bonus bucket"); return }
        #expect(grant.amount == 5_000_000 && grant.validUntil == now.addingTimeInterval(30 * day))
    }

    @Test func packIsPaidInSpentAndGranted() throws {
        let plan = try FulfilmentPlan(order: Self.order(try Self.pack(), method: .sandbox), lineCurrency: .usd, now: now)
        #expect(plan.steps.map(\.purpose) == [.orderPayment(orderID: Self.id), .orderPurchase(orderID: Self.id),
                                              .orderGrant(orderID: Self.id, number: 1), .orderGrant(orderID: Self.id, number: 2)])
        // A test payment's price goes back to the sandbox's clearing account, never to revenue.
        #expect(plan.steps[1].counterparty.code == PaymentMethod.sandbox.purchaseAccount(unit: "USD").code)
        #expect(plan.needsDebits && plan.dataPackAdded?.bytes == 5 << 30 && plan.dataPackAdded?.validUntil == now.addingTimeInterval(30 * day))
    }

    @Test func bonusIsNeverPaidOut() throws {
        let order = Self.order(try Self.topUp("60"), state: .fulfilled)
        let rest = try RefundPlan(order: order, refunded: 0, requested: nil)
        #expect(rest.amount.micros == 55_000_000 && rest.orderState == .partiallyRefunded)
        #expect(try rest.steps(order: order, refundID: "rf_1", grantedBuckets: []).map(\.purpose) == [.refund(refundID: "rf_1", orderID: Self.id)])
        #expect(throws: RechargeError.self) { try RefundPlan(order: order, refunded: 50_000_000, requested: try Money(decimal: "5.01", currency: .usd)) }
        #expect(throws: RechargeError.self) { try RefundPlan(order: order, refunded: 55_000_000, requested: nil) }
        #expect(throws: RechargeError.self) { try RefundPlan(order: order, refunded: 0, requested: Money(micros: 1, currency: .usd)) }
    }

    @Test func packGoesBackWhole() throws {
        let order = Self.order(try Self.pack(), state: .fulfilled)
        #expect(throws: RechargeError.self) { try RefundPlan(order: order, refunded: 0, requested: try Money(decimal: "5", currency: .usd)) }
        let whole = try RefundPlan(order: order, refunded: 0, requested: nil)
        #expect(whole.orderState == .refunded && whole.isPack)
        let steps = try whole.steps(order: order, refundID: "rf_1", grantedBuckets: [41, 42])
        #expect(steps.map(\.purpose) == [.refundGrant(refundID: "rf_1", orderID: Self.id, number: 1),
                                         .refundGrant(refundID: "rf_1", orderID: Self.id, number: 2),
                                         .refundUnbuy(refundID: "rf_1", orderID: Self.id), .refund(refundID: "rf_1", orderID: Self.id)])
        guard case .debit(let takeBack) = steps[1].command else { Issue.record("not a debit"); return }
        #expect(takeBack.bucketID == 42 && takeBack.amount == 6000)
    }

    /// The accounts created before a refund's transaction are exactly those its steps book against.
    @Test func refundCounterpartiesAreKnownBeforehand() throws {
        for order in [Self.order(try Self.pack(), state: .fulfilled), Self.order(try Self.topUp("60"), state: .fulfilled, method: .sandbox)] {
            let steps = try RefundPlan(order: order, refunded: 0, requested: nil).steps(order: order, refundID: "rf_1", grantedBuckets: [41, 42])
            #expect(Set(steps.map(\.counterparty.code)) == Set(RefundPlan.counterparties(of: order).map(\.code)))
        }
    }

    @Test func unpaidOrdersAreNotRefunded() throws {
        #expect(throws: RechargeError.self) { try RefundPlan(order: Self.order(try Self.pack(), state: .awaitingPayment), refunded: 0, requested: nil) }
    }

    @Test func proportionalAmountsAddUp() {
        // 100 CNY paid for 13.89 USD: three partial refunds never give back more than the settlement.
        let parts: [Int64] = [33_000_000, 33_000_000, 34_000_000]
        var refunded: Int64 = 0
        var back: Int64 = 0
        for part in parts {
            back += ProportionalAmount.down(refunded + part, from: 100_000_000, to: 13_890_000) - ProportionalAmount.down(refunded, from: 100_000_000, to: 13_890_000)
            refunded += part
        }
        #expect(back == 13_890_000)
        #expect(ProportionalAmount.up(1, from: 3, to: 1) == 1 && ProportionalAmount.down(1, from: 3, to: 1) == 0)
    }
}
