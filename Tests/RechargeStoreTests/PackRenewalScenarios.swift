import Foundation
import RechargeCore
import RechargeStore
import RechargeTestSupport
import Testing

/// Auto-renewal of packs on each engine: renewed once per period from the balance (also when two scanners race),
/// the new period starting where the old one ends; a renewal that cannot be paid says why and changes nothing.
enum PackRenewalScenarios {
    static let now = OrderScenarios.now
    static let alice = OrderScenarios.alice
    static let day: TimeInterval = 86_400

    static func buyPack(_ fixture: OrderScenarios.Fixture, key: String) async throws -> RechargeOrder {
        let order = try await fixture.orders.create(msisdn: alice, item: .product("us-data-5gb"), paymentMethod: .sandbox,
                                                    key: try IdempotencyKey(key), now: now).order
        return try await fixture.orders.apply(OrderScenarios.confirmation(order, event: "evt_\(key)"), now: now).order
    }

    static func data(_ fixture: OrderScenarios.Fixture, at instant: Date) async throws -> Int64 {
        try await fixture.ledger.balance(alice, at: instant).totals.first { $0.kind == .data }?.remaining ?? 0
    }

    static func renewsOnceThenSaysWhyNot(_ backend: Backend) async throws {
        try await OrderScenarios.with(backend) { fixture in
            let renewals = PackRenewalStore(database: fixture.database, catalog: fixture.catalog)
            _ = try await fixture.ledger.topUp(try TopUpCommand(msisdn: alice, value: .money(try OrderScenarios.usd("40")), channel: .card, reference: "t1"),
                                               key: try IdempotencyKey("top-1"), now: now)
            let order = try await buyPack(fixture, key: "p1")
            #expect(order.state == .fulfilled && order.quote.autoRenew == true)
            let registered = try #require(try await renewals.renewals(msisdn: alice).first)
            #expect(registered.state == .active && registered.cycle == 0 && registered.validUntil == now.addingTimeInterval(30 * day))
            #expect(try await OrderScenarios.balance(fixture) == 40_000_000)

            // Two days before the end: not yet.
            #expect(try await renewals.renewDue(now: now.addingTimeInterval(28 * day)) == .init())
            // Within the last day: renewed once, though two scanners ask at the same moment.
            let due = now.addingTimeInterval(29.5 * day)
            async let first = renewals.renewDue(now: due)
            async let second = renewals.renewDue(now: due)
            let passes = try await [first, second]
            #expect(passes.map(\.renewed).reduce(0, +) == 1 && passes.map(\.failed).reduce(0, +) == 0)
            #expect(try await renewals.renewDue(now: due) == .init())
            #expect(try await OrderScenarios.balance(fixture, at: due) == 25_000_000)
            let renewed = try #require(try await renewals.renewals(msisdn: alice).first)
            #expect(renewed.cycle == 1 && renewed.validUntil == now.addingTimeInterval(60 * day))
            // The new 5 GB starts when the old one ends: one pack's worth at any time, none after the second period.
            #expect(try await data(fixture, at: due) == 5 << 30)
            #expect(try await data(fixture, at: now.addingTimeInterval(31 * day)) == 5 << 30)
            #expect(try await data(fixture, at: now.addingTimeInterval(61 * day)) == 0)

            // Next period the balance is short: the renewal fails, says why, and debits and grants nothing.
            _ = try await fixture.ledger.debit(try DebitCommand(msisdn: alice, kind: .monetary, amount: 15_000_000, currency: .usd, channel: .network,
                                                                reference: nil), key: try IdempotencyKey("spend-1"), now: due)
            let later = now.addingTimeInterval(59.5 * day)
            #expect(try await renewals.renewDue(now: later) == .init(renewed: 0, failed: 1))
            #expect(try await renewals.renewDue(now: later) == .init())
            #expect(try await OrderScenarios.balance(fixture, at: later) == 10_000_000)
            #expect(try await data(fixture, at: now.addingTimeInterval(61 * day)) == 0)
            let failed = try #require(try await renewals.renewals(msisdn: alice).first)
            #expect(failed.state == .failed && failed.failure == .insufficientBalance && failed.cycle == 1)

            let messages = try await OutboxStore(database: fixture.database).list(limit: 100)
            let renewedMessages = messages.filter { $0.eventName == "pack_renewed" }
            let failedMessages = messages.filter { $0.eventName == "pack_renewal_failed" }
            // One event each (on each of the line's channels: SMS and email).
            #expect(Set(renewedMessages.map(\.eventKey)).count == 1 && Set(failedMessages.map(\.eventKey)).count == 1, "\(messages.map(\.eventName))")
            #expect(Set(renewedMessages.map(\.channel)) == [.sms, .email])
            #expect(renewedMessages.first?.eventKey == "renewal:\(renewed.id):1:pack_renewed")
            let report = try await LedgerAudit(database: fixture.database).run()
            #expect(report.isBalanced, "\(report.discrepancies)")
        }
    }

    static func cancelledRefundedAndUnsoldPacksDoNotRenew(_ backend: Backend) async throws {
        try await OrderScenarios.with(backend) { fixture in
            let renewals = PackRenewalStore(database: fixture.database, catalog: fixture.catalog)
            _ = try await fixture.ledger.topUp(try TopUpCommand(msisdn: alice, value: .money(try OrderScenarios.usd("100")), channel: .card, reference: "t1"),
                                               key: try IdempotencyKey("top-1"), now: now)
            let cancelled = try await buyPack(fixture, key: "c1")
            let refunded = try await buyPack(fixture, key: "c2")
            let unsold = try await buyPack(fixture, key: "c3")
            let byOrder = Dictionary(uniqueKeysWithValues: try await renewals.renewals(msisdn: alice).map { ($0.orderID, $0) })
            #expect(byOrder.count == 3)
            // The subscriber turns one off; one pack is refunded (unused); then the pack stops being sold.
            #expect(try await renewals.cancel(try #require(byOrder[cancelled.id]).id, now: now).state == .cancelled)
            _ = try await fixture.orders.startRefund(orderID: refunded.id, amount: nil, reason: "not needed", key: try IdempotencyKey("rf"), now: now)
            let smaller = CatalogDefinition(customTopUp: nil, products: [OrderScenarios.catalogFile.products[0]])
            _ = try await fixture.catalog.importCatalog(try Catalog(smaller), now: now)

            let due = now.addingTimeInterval(29.5 * day)
            let before = try await OrderScenarios.balance(fixture, at: due)
            #expect(try await renewals.renewDue(now: due) == .init(renewed: 0, failed: 1))
            #expect(try await OrderScenarios.balance(fixture, at: due) == before)
            let after = Dictionary(uniqueKeysWithValues: try await renewals.renewals(msisdn: alice).map { ($0.orderID, $0) })
            #expect(after[cancelled.id]?.state == .cancelled && after[refunded.id]?.state == .cancelled)
            #expect(after[unsold.id]?.state == .failed && after[unsold.id]?.failure == .noLongerSold)
            #expect(try await LedgerAudit(database: fixture.database).run().isBalanced)
        }
    }
}

extension PackRenewalScenarios {
    /// The subscriber's switch (issue 16, item 6): off, on again (the renewal pass honours each), refused for a
    /// refunded pack and once the period is over; concurrent flips of one renewal all succeed, one after the other.
    static func theSwitchTurnsRenewalOffAndOnAgain(_ backend: Backend) async throws {
        try await OrderScenarios.with(backend) { fixture in
            let renewals = PackRenewalStore(database: fixture.database, catalog: fixture.catalog)
            _ = try await fixture.ledger.topUp(try TopUpCommand(msisdn: alice, value: .money(try OrderScenarios.usd("100")), channel: .card, reference: "t1"),
                                               key: try IdempotencyKey("top-1"), now: now)
            let kept = try await buyPack(fixture, key: "s1")
            let refunded = try await buyPack(fixture, key: "s2")
            _ = try await fixture.orders.startRefund(orderID: refunded.id, amount: nil, reason: "not needed", key: try IdempotencyKey("rf"), now: now)
            let byOrder = Dictionary(uniqueKeysWithValues: try await renewals.renewals(msisdn: alice).map { ($0.orderID, $0) })
            let id = try #require(byOrder[kept.id]).id
            let refundedID = try #require(byOrder[refunded.id]).id
            #expect(byOrder[refunded.id]?.refunded == true && byOrder[kept.id]?.refunded == false)

            #expect(try await renewals.setAutoRenew(id, on: false, now: now).state == .cancelled)
            #expect(try await renewals.setAutoRenew(id, on: false, now: now).state == .cancelled)   // off twice: still off
            #expect(try await renewals.setAutoRenew(id, on: true, now: now).state == .active)
            #expect(try await renewals.setAutoRenew(id, on: true, now: now).state == .active)
            await #expect(throws: PackRenewalSwitch.Refusal.refunded) { try await renewals.setAutoRenew(refundedID, on: true, now: now) }
            await #expect(throws: RechargeError.self) { try await renewals.setAutoRenew("rn_nope", on: true, now: now) }

            // Twenty flips at once: each waits for the row lock and applies; none sees the row change under it.
            let flips = try await withThrowingTaskGroup(of: PackRenewalStore.Renewal.State.self) { group in
                for index in 0..<20 { group.addTask { try await renewals.setAutoRenew(id, on: index % 2 == 0, now: now).state } }
                var states: [PackRenewalStore.Renewal.State] = []
                for try await state in group { states.append(state) }
                return states
            }
            #expect(flips.count == 20)
            _ = try await renewals.setAutoRenew(id, on: true, now: now)

            // On: the pass renews it (and not the refunded one).
            let due = now.addingTimeInterval(29.5 * day)
            #expect(try await renewals.renewDue(now: due) == .init(renewed: 1, failed: 0))
            // Off: the next period is not bought, and the balance stays.
            #expect(try await renewals.setAutoRenew(id, on: false, now: due).state == .cancelled)
            let nextDue = now.addingTimeInterval(59.5 * day)
            let before = try await OrderScenarios.balance(fixture, at: nextDue)
            #expect(try await renewals.renewDue(now: nextDue) == .init())
            #expect(try await OrderScenarios.balance(fixture, at: nextDue) == before)
            // After the period ended it cannot be turned on (that would buy a new pack nobody chose).
            await #expect(throws: PackRenewalSwitch.Refusal.periodOver) {
                try await renewals.setAutoRenew(id, on: true, now: now.addingTimeInterval(61 * day))
            }
            #expect(try await renewals.renewals(msisdn: alice).first { $0.id == id }?.state == .cancelled)
            #expect(try await LedgerAudit(database: fixture.database).run().isBalanced)
        }
    }
}

@Suite("Pack renewals on SQLite")
struct PackRenewalsOnSQLite {
    @Test func renewsOnce() async throws { try await PackRenewalScenarios.renewsOnceThenSaysWhyNot(.sqlite) }
    @Test func stops() async throws { try await PackRenewalScenarios.cancelledRefundedAndUnsoldPacksDoNotRenew(.sqlite) }
    @Test func autoRenewSwitch() async throws { try await PackRenewalScenarios.theSwitchTurnsRenewalOffAndOnAgain(.sqlite) }
}

@Suite("Pack renewals on PostgreSQL", .enabled(if: TestDatabase.postgresAvailable, "RECHARGE_TEST_POSTGRES_URL is not set: run scripts/test to start PostgreSQL"))
struct PackRenewalsOnPostgres {
    @Test func renewsOnce() async throws { try await PackRenewalScenarios.renewsOnceThenSaysWhyNot(.postgres) }
    @Test func stops() async throws { try await PackRenewalScenarios.cancelledRefundedAndUnsoldPacksDoNotRenew(.postgres) }
    @Test func autoRenewSwitch() async throws { try await PackRenewalScenarios.theSwitchTurnsRenewalOffAndOnAgain(.postgres) }
}
