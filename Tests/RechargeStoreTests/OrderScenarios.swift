import Foundation
import RechargeBanking
import RechargeCore
import RechargeStore
import RechargeTestSupport
import SQLKit
import Testing

/// Catalog and orders on each engine: import, quotes, exactly-once fulfilment under duplicate and concurrent
/// confirmations, mismatches, failure, cancellation and expiry.
enum OrderScenarios {
    static let now = TestDatabase.epoch
    static let alice = LedgerScenarios.alice

    static let catalogFile = CatalogDefinition(
        customTopUp: ["USD": .init(min: "5", max: "500")],
        products: [
            .init(code: "topup-10", kind: .topUp, names: ["en": "$10 credit", "zh-Hans": "10美元话费"], prices: ["USD": "10.00"],
                  credit: ["USD": "10.00"], allowances: nil, validityDays: nil, coverage: nil, autoRenew: nil, plan: nil, active: nil),
            .init(code: "us-data-5gb", kind: .pack, names: ["en": "US 5 GB / 30 days", "zh-Hans": "美国 5GB 30天"], prices: ["USD": "15.00"],
                  credit: nil, allowances: [.init(kind: .data, amount: "5GB"), .init(kind: .voice, amount: "100min")], validityDays: 30,
                  coverage: .init(name: "US", countries: ["US"]), autoRenew: true, plan: nil, active: nil),
        ])

    struct Fixture {
        let database: Database
        let ledger: LedgerStore
        let catalog: CatalogStore
        let orders: OrderStore
    }

    static let promotions: [CatalogDefinition.Promotion] = [
        .init(code: "recharge-bonus", names: ["en": "Recharge 50 get 5", "zh-Hans": "充50送5"], currency: "USD",
              tiers: [.init(min: "50", bonus: "5"), .init(min: "100", bonus: "12")], bonusValidityDays: 30, percentOff: nil, amountOff: nil,
              products: nil, discountCode: nil, limitTotal: nil, limitPerLine: nil, startsAt: nil, endsAt: nil),
        .init(code: "save20", names: ["en": "20% off data"], currency: "USD", tiers: nil, bonusValidityDays: nil, percentOff: 20, amountOff: nil,
              products: ["us-data-5gb"], discountCode: "save20", limitTotal: 100, limitPerLine: nil, startsAt: nil, endsAt: nil),
        .init(code: "welcome", names: ["en": "Welcome: 2 off"], currency: "USD", tiers: nil, bonusValidityDays: nil, percentOff: nil, amountOff: "2",
              products: nil, discountCode: "WELCOME", limitTotal: nil, limitPerLine: 1, startsAt: nil, endsAt: nil),
        .init(code: "last-year", names: ["en": "Expired"], currency: "USD", tiers: nil, bonusValidityDays: nil, percentOff: 50, amountOff: nil,
              products: nil, discountCode: "OLD50", limitTotal: nil, limitPerLine: nil, startsAt: "2020-01-01T00:00:00Z", endsAt: "2021-01-01T00:00:00Z"),
    ]

    static func with(_ backend: Backend, promotions: [CatalogDefinition.Promotion] = [], _ body: (Fixture) async throws -> Void) async throws {
        try await TestDatabase.with(backend) { database in
            let fixture = Fixture(database: database, ledger: LedgerStore(database: database), catalog: CatalogStore(database: database),
                                  orders: OrderStore(database: database))
            let file = CatalogDefinition(customTopUp: catalogFile.customTopUp, products: catalogFile.products, promotions: promotions)
            _ = try await fixture.catalog.importCatalog(try Catalog(file), now: now)
            _ = try await LedgerScenarios.open(fixture.ledger, alice)
            try await body(fixture)
        }
    }

    static func usd(_ text: String) throws -> Money { try Money(decimal: text, currency: .usd) }

    static func confirmation(_ order: RechargeOrder, event: String, outcome: PaymentConfirmation.Outcome = .succeeded, amount: Money? = nil,
                             provider: PaymentMethod = .sandbox) -> PaymentConfirmation {
        PaymentConfirmation(provider: provider, eventID: event, orderID: order.id, outcome: outcome, amount: amount ?? order.quote.price,
                            providerReference: "ref-\(event)", failureReason: outcome == .failed ? "card declined" : nil)
    }

    static func balance(_ fixture: Fixture, at instant: Date = now) async throws -> Int64 {
        try await fixture.ledger.balance(alice, at: instant).totals.first { $0.kind == .monetary }?.remaining ?? 0
    }

    static func catalogRoundTrips(_ backend: Backend) async throws {
        try await with(backend) { fixture in
            let stored = try await fixture.catalog.catalog()
            #expect(stored == (try Catalog(catalogFile)))
            let pack = try #require(stored.product("us-data-5gb"))
            #expect(pack.allowances == [.init(kind: .data, amount: 5 << 30), .init(kind: .voice, amount: 6000)])
            #expect(pack.coverage?.countries == ["US"])
            // A second import without the pack keeps it (old orders name it) but stops selling it.
            let smaller = CatalogDefinition(customTopUp: nil, products: [catalogFile.products[0]])
            let summary = try await fixture.catalog.importCatalog(try Catalog(smaller), now: now)
            #expect(summary.added == 0 && summary.updated == 1 && summary.deactivated == 1)
            #expect(try await fixture.catalog.catalog().product("us-data-5gb")?.active == false)
            await #expect(throws: RechargeError.productNotFound("us-data-5gb")) {
                _ = try await fixture.orders.create(msisdn: alice, item: .product("us-data-5gb"), paymentMethod: .sandbox,
                                                    key: try IdempotencyKey("k1"), now: now)
            }
            // Custom amounts are no longer offered either.
            await #expect(throws: RechargeError.self) {
                _ = try await fixture.orders.create(msisdn: alice, item: .amount(try usd("20")), paymentMethod: .sandbox,
                                                    key: try IdempotencyKey("k2"), now: now)
            }
        }
    }

    static func topUpOrderIsFulfilledOnce(_ backend: Backend) async throws {
        try await with(backend) { fixture in
            let created = try await fixture.orders.create(msisdn: alice, item: .product("topup-10"), paymentMethod: .sandbox,
                                                          key: try IdempotencyKey("create-1"), now: now)
            #expect(!created.replayed)
            #expect(created.order.state == .created)
            #expect(created.order.quote.price == (try usd("10")))
            // Same key, same request: the same order. Same key, other request: refused.
            let again = try await fixture.orders.create(msisdn: alice, item: .product("topup-10"), paymentMethod: .sandbox,
                                                        key: try IdempotencyKey("create-1"), now: now)
            #expect(again.replayed && again.order.id == created.order.id)
            await #expect(throws: RechargeError.idempotencyKeyReused("create-1")) {
                _ = try await fixture.orders.create(msisdn: alice, item: .amount(try usd("20")), paymentMethod: .sandbox,
                                                    key: try IdempotencyKey("create-1"), now: now)
            }
            let waiting = try await fixture.orders.startCheckout(created.order.id, providerReference: "sbx_1", now: now)
            #expect(waiting.state == .awaitingPayment)

            let first = try await fixture.orders.apply(confirmation(waiting, event: "evt_1"), now: now)
            #expect(first.fulfilledNow && !first.duplicate)
            #expect(first.order.state == .fulfilled)
            #expect(first.order.operationIDs.count == 1)
            #expect(first.order.balanceAfter == (try usd("10")))
            // The same event again, and another event saying the same: nothing more.
            let replay = try await fixture.orders.apply(confirmation(waiting, event: "evt_1"), now: now)
            #expect(replay.duplicate && !replay.fulfilledNow)
            let other = try await fixture.orders.apply(confirmation(waiting, event: "evt_2"), now: now)
            #expect(!other.duplicate && !other.fulfilledNow && other.order.state == .fulfilled)
            #expect(try await balance(fixture) == 10_000_000)
            // A paid order cannot be cancelled.
            await #expect(throws: RechargeError.illegalOrderTransition(order: waiting.id, from: .fulfilled, event: "cancelled")) {
                _ = try await fixture.orders.cancel(waiting.id, now: now)
            }
            #expect(try await LedgerAudit(database: fixture.database).run().isBalanced)
        }
    }

    static func packOrderGrantsAllowances(_ backend: Backend) async throws {
        try await with(backend) { fixture in
            let order = try await fixture.orders.create(msisdn: alice, item: .product("us-data-5gb"), paymentMethod: .sandbox,
                                                        key: try IdempotencyKey("pack"), now: now).order
            let outcome = try await fixture.orders.apply(confirmation(order, event: "evt_pack"), now: now)
            #expect(outcome.order.state == .fulfilled)
            #expect(outcome.order.operationIDs.count == 4)
            let summary = try await fixture.ledger.balance(alice, at: now)
            #expect(summary.totals.first { $0.kind == .data }?.remaining == 5 << 30)
            #expect(summary.totals.first { $0.kind == .voice }?.remaining == 6000)
            // The money came in and went to pack revenue: the main balance is where it was.
            #expect(summary.totals.first { $0.kind == .monetary }?.remaining == 0)
            let data = try #require(summary.buckets.first { $0.kind == .data })
            #expect(data.validUntil == now.addingTimeInterval(30 * 86_400))
            #expect(data.name == "US 5 GB / 30 days")
            // The subscriber hears of the pack, not of a top-up spent at once.
            let events = try await OutboxStore(database: fixture.database).list(limit: 20).map(\.eventName)
            #expect(events.contains("data_pack_added") && !events.contains("top_up_applied"))
            #expect(try await LedgerAudit(database: fixture.database).run().isBalanced)
        }
    }

    static func mismatchedAndFailedPaymentsChangeNothing(_ backend: Backend) async throws {
        try await with(backend) { fixture in
            let order = try await fixture.orders.create(msisdn: alice, item: .amount(try usd("25")), paymentMethod: .sandbox,
                                                        key: try IdempotencyKey("custom"), now: now).order
            #expect(order.quote.credit == (try usd("25")))
            await #expect(throws: RechargeError.paymentMismatch(order: order.id, reason: "24.99 USD paid, 25.00 USD due")) {
                _ = try await fixture.orders.apply(confirmation(order, event: "evt_short", amount: try usd("24.99")), now: now)
            }
            await #expect(throws: RechargeError.self) {
                _ = try await fixture.orders.apply(confirmation(order, event: "evt_wrong_provider", provider: .stripe), now: now)
            }
            #expect(try await fixture.orders.order(order.id).state == .created)
            // The rejected event ids were not recorded: the genuine event with the same id still counts.
            let failed = try await fixture.orders.apply(confirmation(order, event: "evt_short", outcome: .failed), now: now)
            #expect(failed.order.state == .failed && failed.order.failureReason == "card declined")
            // The subscriber is told (an SMS to the line).
            let queued = try await OutboxStore(database: fixture.database).list(limit: 10)
            #expect(queued.contains { $0.eventName == "payment_failed" && $0.recipient == alice.e164 })
            // The customer retries with the same payment and it goes through: the order is fulfilled after all.
            let paid = try await fixture.orders.apply(confirmation(order, event: "evt_retry"), now: now)
            #expect(paid.fulfilledNow && paid.order.failureReason == nil)
            #expect(try await balance(fixture) == 25_000_000)
            await #expect(throws: RechargeError.orderNotFound("ord_nothere")) { _ = try await fixture.orders.order("ord_nothere") }
        }
    }

    static func expiryAndLatePayment(_ backend: Backend) async throws {
        try await with(backend) { fixture in
            let order = try await fixture.orders.create(msisdn: alice, item: .product("topup-10"), paymentMethod: .sandbox,
                                                        key: try IdempotencyKey("late"), now: now, lifetime: 600).order
            let cancelled = try await fixture.orders.create(msisdn: alice, item: .product("topup-10"), paymentMethod: .sandbox,
                                                            key: try IdempotencyKey("cancel"), now: now).order
            #expect(try await fixture.orders.cancel(cancelled.id, now: now).state == .cancelled)
            #expect(try await fixture.orders.expireOverdue(now: now.addingTimeInterval(599)) == 0)
            #expect(try await fixture.orders.expireOverdue(now: now.addingTimeInterval(600)) == 1)
            #expect(try await fixture.orders.order(order.id).state == .expired)
            // Money taken after the window closed is still credited.
            let late = try await fixture.orders.apply(confirmation(order, event: "evt_late"), now: now.addingTimeInterval(900))
            #expect(late.fulfilledNow)
            #expect(try await balance(fixture, at: now.addingTimeInterval(900)) == 10_000_000)
            #expect(try await fixture.orders.orders(msisdn: alice).map(\.id).sorted() == [order.id, cancelled.id].sorted())
        }
    }

    static func suspendedLineIsFulfilledWhenActive(_ backend: Backend) async throws {
        try await with(backend) { fixture in
            // A suspended line takes top-ups but not purchases: its pack waits, paid, until it is active again.
            let topUp = try await fixture.orders.create(msisdn: alice, item: .product("topup-10"), paymentMethod: .sandbox,
                                                        key: try IdempotencyKey("susp-topup"), now: now).order
            let pack = try await fixture.orders.create(msisdn: alice, item: .product("us-data-5gb"), paymentMethod: .sandbox,
                                                       key: try IdempotencyKey("susp-pack"), now: now).order
            _ = try await fixture.ledger.changeStatus(alice, to: .suspended, now: now)
            #expect(try await fixture.orders.apply(confirmation(topUp, event: "evt_t"), now: now).fulfilledNow)
            let outcome = try await fixture.orders.apply(confirmation(pack, event: "evt_p"), now: now)
            #expect(outcome.order.state == .paid && !outcome.fulfilledNow)
            #expect(outcome.order.failureReason?.contains("suspended") == true)
            #expect(try await fixture.orders.fulfilPaidOrders(now: now) == 0)
            _ = try await fixture.ledger.changeStatus(alice, to: .active, now: now)
            #expect(try await fixture.orders.fulfilPaidOrders(now: now) == 1)
            let fulfilled = try await fixture.orders.order(pack.id)
            #expect(fulfilled.state == .fulfilled && fulfilled.failureReason == nil)
            let summary = try await fixture.ledger.balance(alice, at: now)
            #expect(summary.totals.first { $0.kind == .data }?.remaining == 5 << 30)
            #expect(try await balance(fixture) == 10_000_000)
            #expect(try await LedgerAudit(database: fixture.database).run().isBalanced)
        }
    }

    /// The same notification ten times at once, with other events for the same order and the expiry job
    /// racing them: one fulfilment, one credit.
    static func concurrentConfirmationsFulfilOnce(_ backend: Backend) async throws {
        try await with(backend) { fixture in
            var orders: [RechargeOrder] = []
            for index in 0..<5 {
                orders.append(try await fixture.orders.create(msisdn: alice, item: .product("topup-10"), paymentMethod: .sandbox,
                                                              key: try IdempotencyKey("race-\(index)"), now: now, lifetime: 1).order)
            }
            let store = fixture.orders
            let fulfilments = try await withThrowingTaskGroup(of: Bool.self) { group in
                for order in orders {
                    for copy in 0..<10 {
                        let event = copy < 7 ? "evt_\(order.id)" : "evt_\(order.id)_\(copy)"
                        group.addTask {
                            // As a provider does, a notification answered 503 (the pool is smaller than the crowd on a
                            // loaded machine) is delivered again.
                            while true {
                                do {
                                    return try await store.apply(confirmation(order, event: event), now: now.addingTimeInterval(2)).fulfilledNow
                                } catch DatabaseError.unavailable {
                                    try await Task.sleep(for: .milliseconds(20))
                                }
                            }
                        }
                    }
                    group.addTask {
                        while true {
                            do {
                                _ = try await store.expireOverdue(now: now.addingTimeInterval(2))
                                return false
                            } catch DatabaseError.unavailable {
                                try await Task.sleep(for: .milliseconds(20))
                            }
                        }
                    }
                }
                var count = 0
                for try await fulfilled in group where fulfilled { count += 1 }
                return count
            }
            #expect(fulfilments == orders.count)
            #expect(try await balance(fixture, at: now.addingTimeInterval(2)) == Int64(orders.count) * 10_000_000)
            for order in orders { #expect(try await fixture.orders.order(order.id).state == .fulfilled) }
            let report = try await LedgerAudit(database: fixture.database).run()
            #expect(report.isBalanced, "\(report.discrepancies)")
        }
    }
}

extension OrderScenarios {
    static func bonusesAndDiscounts(_ backend: Backend) async throws {
        try await with(backend, promotions: promotions) { fixture in
            _ = try await LedgerScenarios.open(fixture.ledger, LedgerScenarios.bob)
            // Automatic bonus: 60 reaches the 50 tier (5), not the 100 tier.
            let topUp = try await fixture.orders.create(msisdn: alice, item: .amount(try usd("60")), paymentMethod: .sandbox,
                                                        key: try IdempotencyKey("bonus"), now: now).order
            let five = try usd("5"), sixty = try usd("60")
            #expect(topUp.quote.bonus == five && topUp.quote.price == sixty && topUp.quote.promotions == ["recharge-bonus"])
            let paid = try await fixture.orders.apply(confirmation(topUp, event: "evt_bonus"), now: now)
            #expect(paid.order.operationIDs.count == 2)
            let summary = try await fixture.ledger.balance(alice, at: now)
            #expect(summary.totals.first { $0.kind == .monetary }?.remaining == 65_000_000)
            let bonus = try #require(summary.buckets.first { $0.kind == .monetary && !$0.isMain })
            #expect(bonus.remaining == 5_000_000 && bonus.validUntil == now.addingTimeInterval(30 * 86_400))
            // Under 50: no bonus.
            let small = try await fixture.orders.quote(msisdn: alice, item: .amount(try usd("20")), promotionCode: nil, now: now)
            #expect(small.bonus == nil && small.promotions.isEmpty)

            // A code: 20% off the pack; codes are case-insensitive and trimmed.
            let quote = try await fixture.orders.quote(msisdn: alice, item: .product("us-data-5gb"), promotionCode: " Save20 ", now: now)
            let fifteen = try usd("15"), three = try usd("3"), twelve = try usd("12")
            #expect(quote.listPrice == fifteen && quote.discount == three && quote.price == twelve)
            let pack = try await fixture.orders.create(msisdn: alice, item: .product("us-data-5gb"), paymentMethod: .sandbox,
                                                       promotionCode: "SAVE20", key: try IdempotencyKey("pack-code"), now: now).order
            #expect(try await fixture.orders.promotionUses("save20") == 1)
            // The provider must be paid the discounted price.
            await #expect(throws: RechargeError.self) {
                _ = try await fixture.orders.apply(confirmation(pack, event: "evt_full", amount: try usd("15")), now: now)
            }
            #expect(try await fixture.orders.apply(confirmation(pack, event: "evt_disc"), now: now).fulfilledNow)

            // Refusals name the code and the reason, and reserve nothing.
            await #expect(throws: RechargeError.promotionUnavailable(code: "NOPE", reason: "no such code")) {
                _ = try await fixture.orders.quote(msisdn: alice, item: .product("us-data-5gb"), promotionCode: "nope", now: now)
            }
            await #expect(throws: RechargeError.promotionUnavailable(code: "OLD50", reason: "not valid at this time")) {
                _ = try await fixture.orders.quote(msisdn: alice, item: .product("us-data-5gb"), promotionCode: "old50", now: now)
            }
            await #expect(throws: RechargeError.promotionUnavailable(code: "SAVE20", reason: "not valid for this product")) {
                _ = try await fixture.orders.quote(msisdn: alice, item: .product("topup-10"), promotionCode: "save20", now: now)
            }
            // Once per line: the second order on the same line is refused, another line may use it; a cancelled
            // order gives its use back.
            let first = try await fixture.orders.create(msisdn: alice, item: .product("us-data-5gb"), paymentMethod: .sandbox,
                                                        promotionCode: "welcome", key: try IdempotencyKey("w1"), now: now).order
            #expect(first.quote.price == (try usd("13")))
            await #expect(throws: RechargeError.promotionUnavailable(code: "WELCOME", reason: "this line has already used it the maximum number of times")) {
                _ = try await fixture.orders.create(msisdn: alice, item: .product("us-data-5gb"), paymentMethod: .sandbox,
                                                    promotionCode: "welcome", key: try IdempotencyKey("w2"), now: now)
            }
            _ = try await fixture.orders.create(msisdn: LedgerScenarios.bob, item: .product("us-data-5gb"), paymentMethod: .sandbox,
                                                promotionCode: "welcome", key: try IdempotencyKey("w3"), now: now)
            _ = try await fixture.orders.cancel(first.id, now: now)
            let again = try await fixture.orders.create(msisdn: alice, item: .product("us-data-5gb"), paymentMethod: .sandbox,
                                                        promotionCode: "welcome", key: try IdempotencyKey("w4"), now: now, lifetime: 60).order
            // Expiry gives the use back too.
            #expect(try await fixture.orders.promotionUses("welcome") == 2)
            #expect(try await fixture.orders.expireOverdue(now: now.addingTimeInterval(60)) >= 1)
            #expect(try await fixture.orders.promotionUses("welcome") == 1)
            // …and a late payment takes it again: the price was paid with the discount.
            #expect(try await fixture.orders.apply(confirmation(again, event: "evt_late_w"), now: now.addingTimeInterval(90)).fulfilledNow)
            #expect(try await fixture.orders.promotionUses("welcome") == 2)
            let report = try await LedgerAudit(database: fixture.database).run()
            #expect(report.isBalanced, "\(report.discrepancies)")
        }
    }

    /// A code limited to 100 uses, 300 orders racing for it: exactly 100 get it.
    static func limitedCodeUnderRace(_ backend: Backend) async throws {
        try await with(backend, promotions: promotions) { fixture in
            let store = fixture.orders
            let outcomes = try await withThrowingTaskGroup(of: Bool.self) { group in
                for index in 0..<300 {
                    group.addTask {
                        // A client retries what the server answers 503 to (PostgreSQL's pool is smaller than the crowd).
                        while true {
                            do {
                                _ = try await store.create(msisdn: alice, item: .product("us-data-5gb"), paymentMethod: .sandbox, promotionCode: "SAVE20",
                                                           key: try IdempotencyKey("race-\(index)"), now: now)
                                return true
                            } catch RechargeError.promotionUnavailable {
                                return false
                            } catch DatabaseError.unavailable {
                                try await Task.sleep(for: .milliseconds(20))
                            }
                        }
                    }
                }
                return try await group.reduce(into: [Bool]()) { $0.append($1) }
            }
            #expect(outcomes.filter { $0 }.count == 100)
            #expect(try await store.promotionUses("save20") == 100)
            #expect(try await store.orders(msisdn: alice, limit: 200).count == 100)
        }
    }
}

extension OrderScenarios {
    /// Bonus data for top-ups of 30 or more, limited to `limitTotal` uses overall and `limitPerLine` per line.
    static func bonusData(limitTotal: Int?, limitPerLine: Int?) -> CatalogDefinition.Promotion {
        .init(code: "holiday-data", names: ["en": "Holiday: recharge 30, get 2 GB", "zh-Hans": "节日充30送2GB"], currency: "USD", tiers: nil,
              bonusValidityDays: nil, percentOff: nil, amountOff: nil, products: nil, discountCode: nil, limitTotal: limitTotal,
              limitPerLine: limitPerLine, startsAt: nil, endsAt: nil, minTopUp: "30",
              bonusAllowances: [.init(kind: .data, amount: "2GB", validityDays: 15), .init(kind: .voice, amount: "30min", validityDays: 7)])
    }

    /// 50 concurrent top-ups for an automatic bonus limited to 10 uses: all 50 orders are placed, exactly 10 with the
    /// bonus (an automatic promotion that ran out stops applying), and paying them all, twice over and concurrently,
    /// grants exactly 10 data buckets and 10 voice buckets, each in the fulfilment's transaction; the ledger balances.
    static func bonusBucketsUnderRace(_ backend: Backend) async throws {
        try await with(backend, promotions: [bonusData(limitTotal: 10, limitPerLine: nil)]) { fixture in
            let store = fixture.orders
            let created = try await withThrowingTaskGroup(of: RechargeOrder?.self) { group in
                for index in 0..<50 {
                    group.addTask {
                        while true {
                            do {
                                return try await store.create(msisdn: alice, item: .amount(try usd("30")), paymentMethod: .sandbox,
                                                              key: try IdempotencyKey("bonus-race-\(index)"), now: now).order
                            } catch RechargeError.promotionUnavailable {
                                return nil
                            } catch DatabaseError.unavailable {
                                try await Task.sleep(for: .milliseconds(20))
                            }
                        }
                    }
                }
                return try await group.reduce(into: [RechargeOrder]()) { if let order = $1 { $0.append(order) } }
            }
            #expect(created.count == 50)
            #expect(try await store.promotionUses("holiday-data") == 10)
            let withBonus = created.filter { $0.quote.bonusAllowances != nil }
            #expect(withBonus.count == 10 && withBonus.allSatisfy { $0.quote.bonusAllowances?.count == 2 && $0.quote.limitedPromotions == ["holiday-data"] })
            #expect(created.filter { $0.quote.bonusAllowances == nil }.allSatisfy { $0.quote.promotions.isEmpty })
            // A quote now shows no bonus (and is not refused).
            #expect(try await store.quote(msisdn: alice, item: .amount(try usd("30")), promotionCode: nil, now: now).bonusAllowances == nil)
            // Every order confirmed twice, all at once: each is fulfilled once.
            try await withThrowingTaskGroup(of: Void.self) { group in
                for order in created {
                    for _ in 0..<2 {
                        group.addTask {
                            while true {
                                do {
                                    _ = try await store.apply(confirmation(order, event: "evt_\(order.id)"), now: now)
                                    return
                                } catch DatabaseError.unavailable {
                                    try await Task.sleep(for: .milliseconds(20))
                                }
                            }
                        }
                    }
                }
                try await group.waitForAll()
            }
            let summary = try await fixture.ledger.balance(alice, at: now)
            let data = summary.buckets.filter { $0.kind == .data }
            let voice = summary.buckets.filter { $0.kind == .voice }
            #expect(data.count == 10 && voice.count == 10)
            #expect(data.allSatisfy { $0.remaining == 2 << 30 && $0.validUntil == now.addingTimeInterval(15 * 86_400) && $0.name == "Holiday: recharge 30, get 2 GB" })
            #expect(voice.allSatisfy { $0.remaining == 1800 && $0.validUntil == now.addingTimeInterval(7 * 86_400) })
            #expect(try await balance(fixture) == 1_500_000_000)
            for order in created { #expect(try await store.order(order.id).state == .fulfilled) }
            let grants = try await fixture.database.read { db in
                try await db.raw("SELECT COUNT(*) AS n FROM operations WHERE purpose = \(bind: OperationPurpose.Name.orderBonusGrant.rawValue)").first()?
                    .decode(column: "n", as: Int64.self) ?? 0
            }
            #expect(grants == 20)
            let report = try await LedgerAudit(database: fixture.database).run()
            #expect(report.isBalanced, "\(report.discrepancies)")
        }
    }

    /// Per line: a bonus limited to 2 uses per line gives two orders of a line the bonus, the others none; a
    /// top-up discount is paid in part by promotion expense, clearing expecting only what the payer pays.
    static func bonusPerLineAndTopUpDiscount(_ backend: Backend) async throws {
        let discount = CatalogDefinition.Promotion(
            code: "topup-save", names: ["en": "10% off top-ups"], currency: "USD", tiers: nil, bonusValidityDays: nil, percentOff: 10, amountOff: nil,
            products: ["topup-10"], discountCode: nil, limitTotal: nil, limitPerLine: nil, startsAt: nil, endsAt: nil, discountOn: .topUp)
        try await with(backend, promotions: [bonusData(limitTotal: nil, limitPerLine: 2), discount]) { fixture in
            let store = fixture.orders
            let outcomes = try await withThrowingTaskGroup(of: Bool.self) { group in
                for index in 0..<6 {
                    group.addTask {
                        while true {
                            do {
                                _ = try await store.create(msisdn: alice, item: .amount(try usd("40")), paymentMethod: .sandbox,
                                                           key: try IdempotencyKey("line-\(index)"), now: now)
                                return true
                            } catch RechargeError.promotionUnavailable {
                                return false
                            } catch DatabaseError.unavailable {
                                try await Task.sleep(for: .milliseconds(20))
                            }
                        }
                    }
                }
                return try await group.reduce(into: [Bool]()) { $0.append($1) }
            }
            #expect(outcomes.filter { $0 }.count == 6)
            #expect(try await store.orders(msisdn: alice, limit: 20).filter { $0.quote.bonusAllowances != nil }.count == 2)
            let order = try await store.create(msisdn: alice, item: .product("topup-10"), paymentMethod: .sandbox, key: try IdempotencyKey("disc"), now: now).order
            let (nine, one, ten) = (try usd("9"), try usd("1"), try usd("10"))
            #expect(order.quote.price == nine && order.quote.discount == one && order.quote.credit == ten)
            let paid = try await store.apply(confirmation(order, event: "evt_disc"), now: now).order
            #expect(paid.state == .fulfilled && paid.balanceAfter == ten)
            let report = try await LedgerAudit(database: fixture.database).run()
            #expect(report.isBalanced, "\(report.discrepancies)")
        }
    }
}

extension OrderScenarios {
    static func refunds(_ backend: Backend) async throws {
        try await with(backend, promotions: promotions) { fixture in
            let store = fixture.orders
            func paid(_ item: OrderStore.Item, _ key: String) async throws -> RechargeOrder {
                let order = try await store.create(msisdn: alice, item: item, paymentMethod: .sandbox, key: try IdempotencyKey(key), now: now).order
                return try await store.apply(confirmation(order, event: "evt_\(key)"), now: now).order
            }
            let order = try await paid(.amount(try usd("30")), "r1")
            // Part, then the rest; the order's state follows; each refund is one debit of the main balance.
            let part = try await store.startRefund(orderID: order.id, amount: try usd("10"), reason: "customer asked", key: try IdempotencyKey("rf-1"), now: now)
            #expect(part.refund.state == .pending && part.order.state == .partiallyRefunded && !part.replayed)
            #expect(part.refund.balanceAfter == (try usd("20")))
            let done = try await store.completeRefund(part.refund.id, providerReference: "re_1", now: now)
            #expect(done.state == .succeeded && done.providerReference == "re_1")
            let again = try await store.startRefund(orderID: order.id, amount: try usd("10"), reason: "customer asked", key: try IdempotencyKey("rf-1"), now: now)
            #expect(again.replayed && again.refund.id == part.refund.id)
            await #expect(throws: RechargeError.idempotencyKeyReused("rf-1")) {
                _ = try await store.startRefund(orderID: order.id, amount: try usd("11"), reason: "customer asked", key: try IdempotencyKey("rf-1"), now: now)
            }
            // More than is left on the order is refused and changes nothing.
            await #expect(throws: RechargeError.self) {
                _ = try await store.startRefund(orderID: order.id, amount: try usd("20.01"), reason: "x", key: try IdempotencyKey("rf-2"), now: now)
            }
            // Money already spent cannot go back: spend 15 of the remaining 20, then only 5 can be refunded.
            _ = try await fixture.ledger.debit(try DebitCommand(msisdn: alice, kind: .monetary, amount: 15_000_000, currency: .usd, channel: .network, reference: nil),
                                                key: try IdempotencyKey("usage-1"), now: now)
            await #expect(throws: RechargeError.self) {
                _ = try await store.startRefund(orderID: order.id, amount: nil, reason: "rest", key: try IdempotencyKey("rf-3"), now: now)
            }
            let rest = try await store.startRefund(orderID: order.id, amount: try usd("5"), reason: "rest", key: try IdempotencyKey("rf-4"), now: now)
            #expect(rest.order.state == .partiallyRefunded)
            #expect(rest.refund.balanceAfter == (try usd("0")))
            #expect(try await store.refunds(orderID: order.id).map(\.amount.micros) == [10_000_000, 5_000_000])
            // A full refund of an untouched order closes it.
            let other = try await paid(.product("topup-10"), "r2")
            let full = try await store.startRefund(orderID: other.id, amount: nil, reason: "duplicate purchase", key: try IdempotencyKey("rf-5"), now: now)
            #expect(full.refund.amount == (try usd("10")))
            #expect(full.order.state == .refunded)
            await #expect(throws: RechargeError.self) {
                _ = try await store.startRefund(orderID: other.id, amount: nil, reason: "again", key: try IdempotencyKey("rf-6"), now: now)
            }
            // A bonus is kept and not paid out: 60 paid, 5 bonus, at most 55 goes back.
            let bonus = try await paid(.amount(try usd("60")), "r3")
            let capped = try await store.startRefund(orderID: bonus.id, amount: nil, reason: "changed mind", key: try IdempotencyKey("rf-7"), now: now)
            #expect(capped.refund.amount == (try usd("55")))
            #expect(capped.order.state == .partiallyRefunded)
            // Unpaid orders are refused.
            let unpaid = try await store.create(msisdn: alice, item: .product("topup-10"), paymentMethod: .sandbox, key: try IdempotencyKey("r4"), now: now).order
            await #expect(throws: RechargeError.self) {
                _ = try await store.startRefund(orderID: unpaid.id, amount: nil, reason: "x", key: try IdempotencyKey("rf-8"), now: now)
            }
            // A pack goes back whole and unused: its buckets are taken back, its price returns from pack revenue.
            func allowances() async throws -> [BucketKind: Int64] {
                Dictionary(uniqueKeysWithValues: try await fixture.ledger.balance(alice, at: now).totals.filter { $0.kind != .monetary }.map { ($0.kind, $0.remaining) })
            }
            let moneyBefore = try await balance(fixture)
            let allowancesBefore = try await allowances()
            let pack = try await paid(.product("us-data-5gb"), "r5")
            #expect(try await allowances()[.data] == (allowancesBefore[.data] ?? 0) + 5 << 30)
            await #expect(throws: RechargeError.self) {   // a pack is not refunded in part
                _ = try await store.startRefund(orderID: pack.id, amount: try usd("5"), reason: "x", key: try IdempotencyKey("rf-9"), now: now)
            }
            let packRefund = try await store.startRefund(orderID: pack.id, amount: nil, reason: "bought by mistake", key: try IdempotencyKey("rf-10"), now: now)
            #expect(packRefund.refund.amount == (try usd("15")) && packRefund.order.state == .refunded)
            #expect(try await allowances()[.data] ?? 0 == allowancesBefore[.data] ?? 0)
            #expect(try await allowances()[.voice] ?? 0 == allowancesBefore[.voice] ?? 0)
            #expect(try await balance(fixture) == moneyBefore)
            await #expect(throws: RechargeError.self) {
                _ = try await store.startRefund(orderID: pack.id, amount: nil, reason: "again", key: try IdempotencyKey("rf-11"), now: now)
            }
            // A pack partly used is not refunded, and the refused attempt changes nothing.
            let used = try await paid(.product("us-data-5gb"), "r6")
            _ = try await fixture.ledger.debit(try DebitCommand(msisdn: alice, kind: .data, amount: 1 << 20, currency: nil, channel: .network, reference: nil),
                                               key: try IdempotencyKey("surf-1"), now: now)
            let afterUse = try await allowances()
            do {
                _ = try await store.startRefund(orderID: used.id, amount: nil, reason: "x", key: try IdempotencyKey("rf-12"), now: now)
                Issue.record("a used pack was refunded")
            } catch RechargeError.invalidAmount(_, let reason) {
                #expect(reason.contains("used or has expired"), "\(reason)")
            }
            #expect(try await allowances() == afterUse)
            #expect(try await store.order(used.id).state == .fulfilled)
            let messages = try await OutboxStore(database: fixture.database).list(limit: 100)
            #expect(Set(messages.filter { $0.eventName == "refund" }.map(\.eventKey)).count == 5)
            #expect(messages.filter { $0.eventName == "pack_used_up" }.isEmpty)
            let report = try await LedgerAudit(database: fixture.database).run()
            #expect(report.isBalanced, "\(report.discrepancies)")
        }
    }
}

extension OrderScenarios {
    static func camt053(_ entries: [(reference: String, amount: String, direction: String, id: String)]) -> Data {
        let body = entries.map { entry in
            """
            <Ntry><Amt Ccy="USD">\(entry.amount)</Amt><CdtDbtInd>\(entry.direction)</CdtDbtInd><Sts><Cd>BOOK</Cd></Sts>
              <BookgDt><Dt>2026-11-20</Dt></BookgDt><AcctSvcrRef>\(entry.id)</AcctSvcrRef>
              <NtryDtls><TxDtls><RltdPties><Dbtr><Pty><Nm>王芳</Nm></Pty></Dbtr></RltdPties>
                <RmtInf><Ustrd>话费充值 \(entry.reference)</Ustrd></RmtInf></TxDtls></NtryDtls></Ntry>
            """
        }.joined()
        return Data("""
            <?xml version="1.0" encoding="UTF-8"?>
            <Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02"><BkToCstmrStmt>
            <GrpHdr><MsgId>M1</MsgId><CreDtTm>2026-11-20T23:00:00Z</CreDtTm></GrpHdr>
            <Stmt><Id>S1</Id><CreDtTm>2026-11-20T23:00:00Z</CreDtTm>
            <Acct><Id><IBAN>DE89370400440532013000</IBAN></Id><Ccy>USD</Ccy></Acct>\(body)</Stmt></BkToCstmrStmt></Document>
            """.utf8)
    }

    static func bankTransfers(_ backend: Backend) async throws {
        try await with(backend) { fixture in
            var generator = SystemRandomNumberGenerator()
            func bankOrder(_ item: OrderStore.Item, _ key: String) async throws -> (RechargeOrder, PaymentReference) {
                let order = try await fixture.orders.create(msisdn: alice, item: item, paymentMethod: .bankTransfer, key: try IdempotencyKey(key),
                                                            now: now, lifetime: 7 * 86_400).order
                let reference = PaymentReference.random(using: &generator)
                return (try await fixture.orders.startCheckout(order.id, providerReference: reference.electronic, now: now), reference)
            }
            let (first, firstReference) = try await bankOrder(.amount(try usd("30")), "bank-1")
            let (second, secondReference) = try await bankOrder(.product("topup-10"), "bank-2")
            let statement = try Camt053Parser().parse(camt053([
                (firstReference.printed.lowercased(), "30.00", "CRDT", "E1"),        // as a payer might type it
                (secondReference.electronic, "9.00", "CRDT", "E2"),                  // short: to review
                ("RF18539007547034", "12.00", "CRDT", "E3"),                         // valid, but no such order
                ("thanks", "5.00", "CRDT", "E4"),                                    // no reference at all
                (firstReference.electronic, "30.00", "DBIT", "E5"),                  // a debit: not a payment in
            ]))
            let importer = BankStatementImport(orders: fixture.orders)
            let summary = try await importer.apply(statement[0], now: now)
            #expect(summary.credits == 4 && summary.paid == 1 && summary.toReview == 3 && summary.debitsIgnored == 1)
            #expect(try await fixture.orders.order(first.id).state == .fulfilled)
            #expect(try await fixture.orders.order(second.id).state == .awaitingPayment)
            #expect(try await balance(fixture) == 30_000_000)
            // The same statement again (or an overlapping one): nothing paid twice, nothing reviewed twice.
            let again = try await importer.apply(statement[0], now: now)
            #expect(again.paid == 0 && again.alreadyApplied == 1 && again.toReview == 0)
            #expect(try await balance(fixture) == 30_000_000)
            let review = try await fixture.orders.bankReview()
            #expect(review.map(\.outcome) == ["amount_mismatch", "unknown_reference", "no_reference"])
            #expect(review.first?.orderID == second.id && review.first?.debtor == "王芳")
            let report = try await LedgerAudit(database: fixture.database).run()
            #expect(report.isBalanced, "\(report.discrepancies)")
        }
    }
}

extension OrderScenarios {
    /// A chargeback on an order whose money was partly spent: only what is left is held; a lost dispute keeps it.
    static func disputes(_ backend: Backend) async throws {
        try await with(backend) { fixture in
            let store = fixture.orders
            let order = try await store.create(msisdn: alice, item: .product("topup-10"), paymentMethod: .stripe, key: try IdempotencyKey("d1"), now: now,
                                               checkout: { _ in "pi_dispute" }).order
            #expect(order.state == .awaitingPayment && order.providerReference == "pi_dispute")
            _ = try await store.apply(PaymentConfirmation(provider: .stripe, eventID: "evt_paid", orderID: order.id, outcome: .succeeded,
                                                          amount: order.quote.price, providerReference: "pi_dispute", failureReason: nil), now: now)
            _ = try await fixture.ledger.debit(try DebitCommand(msisdn: alice, kind: .monetary, amount: 7_000_000, currency: .usd, channel: .network, reference: nil),
                                                key: try IdempotencyKey("spend"), now: now)
            let opened = try await store.applyDispute(provider: .stripe, eventID: "evt_o", disputeID: "dp_9", providerReference: "pi_dispute",
                                                      event: .opened(amount: try usd("10")), now: now)
            let three = try usd("3")
            #expect(opened.state == "open" && opened.debited == three && !opened.duplicate)
            #expect(try await fixture.ledger.line(alice).status == .suspended)
            #expect(try await balance(fixture) == 0)
            let again = try await store.applyDispute(provider: .stripe, eventID: "evt_o", disputeID: "dp_9", providerReference: "pi_dispute",
                                                     event: .opened(amount: try usd("10")), now: now)
            #expect(again.duplicate)
            let lost = try await store.applyDispute(provider: .stripe, eventID: "evt_c", disputeID: "dp_9", providerReference: "pi_dispute",
                                                    event: .closed(won: false), now: now)
            #expect(lost.state == "lost")
            #expect(try await fixture.ledger.line(alice).status == .active)
            #expect(try await balance(fixture) == 0)
            await #expect(throws: RechargeError.self) {
                _ = try await store.applyDispute(provider: .stripe, eventID: "evt_x", disputeID: "dp_x", providerReference: "pi_unknown",
                                                 event: .opened(amount: try usd("1")), now: now)
            }
            let report = try await LedgerAudit(database: fixture.database).run()
            #expect(report.isBalanced, "\(report.discrepancies)")
        }
    }
}

extension OrderScenarios {
    /// A USD line paid in CNY: at the catalog's rate (kept on the order, with its expiry), or at a product's own
    /// CNY price; the line gets exactly the USD it was quoted.
    static func payingInAnotherCurrency(_ backend: Backend) async throws {
        try await TestDatabase.with(backend) { database in
            let ledger = LedgerStore(database: database)
            let catalog = CatalogStore(database: database)
            let orders = OrderStore(database: database, catalog: catalog)
            var products = catalogFile.products
            products.append(.init(code: "global-1gb", kind: .pack, names: ["en": "Global 1 GB"], prices: ["USD": "9.00", "CNY": "65.00"], credit: nil,
                                  allowances: [.init(kind: .data, amount: "1GB")], validityDays: 7, coverage: nil, autoRenew: nil, plan: nil, active: nil))
            _ = try await catalog.importCatalog(try Catalog(CatalogDefinition(
                customTopUp: catalogFile.customTopUp, products: products,
                fxRates: [.init(base: "USD", quote: "CNY", rate: "7.2345", source: "ops desk", validMinutes: 15)])), now: now)
            _ = try await LedgerScenarios.open(ledger, alice)
            let cny = try Currency(code: "CNY")
            let order = try await orders.create(msisdn: alice, item: .product("topup-10"), paymentMethod: .sandbox, payCurrency: cny,
                                                key: try IdempotencyKey("fx-1"), now: now).order
            #expect(order.quote.price == Money(micros: 72_350_000, currency: cny))
            let ten = try usd("10"), nine = try usd("9")
            #expect(order.quote.settlement == ten && order.quote.credit == ten)
            #expect(order.quote.fx?.rate == "7.2345" && order.quote.fx?.source == "ops desk")
            #expect(order.quote.fx?.expiresAt == now.addingTimeInterval(900) && order.expiresAt == now.addingTimeInterval(900))
            await #expect(throws: RechargeError.self) {
                _ = try await orders.apply(confirmation(order, event: "evt_usd", amount: try usd("10")), now: now)
            }
            #expect(try await orders.apply(confirmation(order, event: "evt_cny"), now: now).fulfilledNow)
            #expect(try await balance(Fixture(database: database, ledger: ledger, catalog: catalog, orders: orders)) == 10_000_000)
            // The product's own CNY price, no rate involved.
            let pack = try await orders.create(msisdn: alice, item: .product("global-1gb"), paymentMethod: .sandbox, payCurrency: cny,
                                               key: try IdempotencyKey("fx-2"), now: now).order
            #expect(pack.quote.price == Money(micros: 65_000_000, currency: cny) && pack.quote.fx == nil && pack.quote.settlement == nine)
            #expect(try await orders.apply(confirmation(pack, event: "evt_pack_cny"), now: now).fulfilledNow)
            #expect(try await ledger.balance(alice, at: now).totals.first { $0.kind == .data }?.remaining == 1 << 30)
            // No rate, no price: refused.
            await #expect(throws: RechargeError.self) {
                _ = try await orders.create(msisdn: alice, item: .product("topup-10"), paymentMethod: .sandbox, payCurrency: try Currency(code: "EUR"),
                                            key: try IdempotencyKey("fx-3"), now: now)
            }
            // Refunds are in the currency paid; the line gives back the same share of its 10 USD, and the parts add
            // up to exactly 10 USD: ⌊30 × 10 / 72.35⌋ = 4.146510 USD, then 10 − 4.146510 for the remaining 42.35 CNY.
            let fixture = Fixture(database: database, ledger: ledger, catalog: catalog, orders: orders)
            await #expect(throws: RechargeError.self) {   // in USD: not what was paid
                _ = try await orders.startRefund(orderID: order.id, amount: try usd("1"), reason: "x", key: try IdempotencyKey("fx-r0"), now: now)
            }
            let part = try await orders.startRefund(orderID: order.id, amount: Money(micros: 30_000_000, currency: cny), reason: "part",
                                                    key: try IdempotencyKey("fx-r1"), now: now)
            #expect(part.refund.amount == Money(micros: 30_000_000, currency: cny) && part.order.state == .partiallyRefunded)
            #expect(part.refund.balanceAfter == Money(micros: 10_000_000 - 4_146_510, currency: .usd))
            let rest = try await orders.startRefund(orderID: order.id, amount: nil, reason: "rest", key: try IdempotencyKey("fx-r2"), now: now)
            #expect(rest.refund.amount == Money(micros: 42_350_000, currency: cny) && rest.order.state == .refunded)
            #expect(try await balance(fixture) == 0)
            // The CNY-priced pack, unused: back whole, 65 CNY to the payer, its 1 GB taken back.
            let packBack = try await orders.startRefund(orderID: pack.id, amount: nil, reason: "not needed", key: try IdempotencyKey("fx-r3"), now: now)
            #expect(packBack.refund.amount == Money(micros: 65_000_000, currency: cny))
            #expect(try await ledger.balance(alice, at: now).totals.first { $0.kind == .data }?.remaining ?? 0 == 0)
            let report = try await LedgerAudit(database: database).run()
            #expect(report.isBalanced, "\(report.discrepancies)")
        }
    }
}

@Suite("Orders on SQLite")
struct SQLiteOrderTests {
    @Test func catalog() async throws { try await OrderScenarios.catalogRoundTrips(.sqlite) }
    @Test func topUpOrder() async throws { try await OrderScenarios.topUpOrderIsFulfilledOnce(.sqlite) }
    @Test func packOrder() async throws { try await OrderScenarios.packOrderGrantsAllowances(.sqlite) }
    @Test func mismatches() async throws { try await OrderScenarios.mismatchedAndFailedPaymentsChangeNothing(.sqlite) }
    @Test func expiry() async throws { try await OrderScenarios.expiryAndLatePayment(.sqlite) }
    @Test func suspendedLine() async throws { try await OrderScenarios.suspendedLineIsFulfilledWhenActive(.sqlite) }
    @Test func concurrentConfirmations() async throws { try await OrderScenarios.concurrentConfirmationsFulfilOnce(.sqlite) }
    @Test func promotions() async throws { try await OrderScenarios.bonusesAndDiscounts(.sqlite) }
    @Test func limitedCodeRace() async throws { try await OrderScenarios.limitedCodeUnderRace(.sqlite) }
    @Test func bonusBucketsRace() async throws { try await OrderScenarios.bonusBucketsUnderRace(.sqlite) }
    @Test func bonusPerLineAndTopUpDiscount() async throws { try await OrderScenarios.bonusPerLineAndTopUpDiscount(.sqlite) }
    @Test func refunds() async throws { try await OrderScenarios.refunds(.sqlite) }
    @Test func bankTransfers() async throws { try await OrderScenarios.bankTransfers(.sqlite) }
    @Test func disputes() async throws { try await OrderScenarios.disputes(.sqlite) }
    @Test func payingInAnotherCurrency() async throws { try await OrderScenarios.payingInAnotherCurrency(.sqlite) }
}

@Suite("Orders on PostgreSQL", .enabled(if: TestDatabase.postgresAvailable, "RECHARGE_TEST_POSTGRES_URL is not set: run scripts/test to start PostgreSQL"))
struct PostgresOrderTests {
    @Test func catalog() async throws { try await OrderScenarios.catalogRoundTrips(.postgres) }
    @Test func topUpOrder() async throws { try await OrderScenarios.topUpOrderIsFulfilledOnce(.postgres) }
    @Test func packOrder() async throws { try await OrderScenarios.packOrderGrantsAllowances(.postgres) }
    @Test func mismatches() async throws { try await OrderScenarios.mismatchedAndFailedPaymentsChangeNothing(.postgres) }
    @Test func expiry() async throws { try await OrderScenarios.expiryAndLatePayment(.postgres) }
    @Test func suspendedLine() async throws { try await OrderScenarios.suspendedLineIsFulfilledWhenActive(.postgres) }
    @Test func concurrentConfirmations() async throws { try await OrderScenarios.concurrentConfirmationsFulfilOnce(.postgres) }
    @Test func promotions() async throws { try await OrderScenarios.bonusesAndDiscounts(.postgres) }
    @Test func limitedCodeRace() async throws { try await OrderScenarios.limitedCodeUnderRace(.postgres) }
    @Test func bonusBucketsRace() async throws { try await OrderScenarios.bonusBucketsUnderRace(.postgres) }
    @Test func bonusPerLineAndTopUpDiscount() async throws { try await OrderScenarios.bonusPerLineAndTopUpDiscount(.postgres) }
    @Test func refunds() async throws { try await OrderScenarios.refunds(.postgres) }
    @Test func bankTransfers() async throws { try await OrderScenarios.bankTransfers(.postgres) }
    @Test func disputes() async throws { try await OrderScenarios.disputes(.postgres) }
    @Test func payingInAnotherCurrency() async throws { try await OrderScenarios.payingInAnotherCurrency(.postgres) }
}
