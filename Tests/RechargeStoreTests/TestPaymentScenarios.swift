import Foundation
import RechargeCore
import RechargeStore
import RechargeTestSupport
import SQLKit
import Testing

/// Sandbox (test) payments on each engine: their money is booked against `clearing:sandbox:*`, never against a
/// real channel's clearing account nor revenue, also when a pack is bought and when it is refunded.
enum TestPaymentScenarios {
    static let now = OrderScenarios.now
    static let alice = OrderScenarios.alice

    /// Net position (credits − debits) of every ledger account whose code starts with `prefix`, by code.
    static func positions(_ database: Database, _ prefix: String) async throws -> [String: Int64] {
        try await database.read { db in
            var result: [String: Int64] = [:]
            for row in try await db.raw("SELECT code, debits_posted, credits_posted FROM ledger_accounts").all() {
                let code = try row.decode(column: "code", as: String.self)
                guard code.hasPrefix(prefix) else { continue }
                result[code] = try row.decode(column: "credits_posted", as: Int64.self) - row.decode(column: "debits_posted", as: Int64.self)
            }
            return result
        }
    }

    static func sandboxMoneyIsNeverRevenue(_ backend: Backend) async throws {
        try await OrderScenarios.with(backend) { fixture in
            let store = fixture.orders
            func paid(_ item: OrderStore.Item, _ method: PaymentMethod, _ key: String) async throws -> RechargeOrder {
                let order = try await store.create(msisdn: alice, item: item, paymentMethod: method, key: try IdempotencyKey(key), now: now).order
                #expect(order.isTestPayment == (method == .sandbox))
                let fulfilled = try await store.apply(OrderScenarios.confirmation(order, event: "evt_\(key)", provider: method), now: now).order
                #expect(fulfilled.state == .fulfilled)
                return fulfilled
            }
            // A sandbox top-up and a sandbox pack: 10 + 15 USD owed by the sandbox, nothing to revenue or real clearing.
            _ = try await paid(.product("topup-10"), .sandbox, "t1")
            let pack = try await paid(.product("us-data-5gb"), .sandbox, "t2")
            #expect(try await positions(fixture.database, "clearing:sandbox:") == ["clearing:sandbox:USD": -10_000_000])
            #expect(try await positions(fixture.database, "revenue:").values.allSatisfy { $0 == 0 })
            #expect(try await positions(fixture.database, "clearing:online:").values.allSatisfy { $0 == 0 })
            // The same pack paid by card is revenue, and its money is owed by the card channel.
            _ = try await paid(.product("us-data-5gb"), .stripe, "t3")
            #expect(try await positions(fixture.database, "revenue:") == ["revenue:packs:USD": 15_000_000])
            #expect(try await positions(fixture.database, "clearing:card:") == ["clearing:card:USD": -15_000_000])
            // A sandbox pack given back returns to the sandbox's account, not out of revenue.
            let refund = try await store.startRefund(orderID: pack.id, amount: nil, reason: "test", key: try IdempotencyKey("t2-refund"), now: now)
            #expect(refund.order.state == .refunded)
            #expect(try await positions(fixture.database, "revenue:") == ["revenue:packs:USD": 15_000_000])
            #expect(try await positions(fixture.database, "clearing:sandbox:") == ["clearing:sandbox:USD": -10_000_000])
            // A history can tell the line's test payments apart.
            let ids = try await store.testPaymentOrderIDs(msisdn: alice)
            let all = try await store.orders(msisdn: alice)
            #expect(ids == Set(all.filter { $0.paymentMethod == .sandbox }.map(\.id)) && ids.count == 2)
            let report = try await LedgerAudit(database: fixture.database).run()
            #expect(report.isBalanced, "\(report.discrepancies)")
        }
    }
}

@Suite("Test payments on SQLite")
struct SQLiteTestPaymentTests {
    @Test func sandboxMoneyIsNeverRevenue() async throws { try await TestPaymentScenarios.sandboxMoneyIsNeverRevenue(.sqlite) }
}

@Suite("Test payments on PostgreSQL", .enabled(if: TestDatabase.postgresAvailable, "RECHARGE_TEST_POSTGRES_URL is not set: run scripts/test to start PostgreSQL"))
struct PostgresTestPaymentTests {
    @Test func sandboxMoneyIsNeverRevenue() async throws { try await TestPaymentScenarios.sandboxMoneyIsNeverRevenue(.postgres) }
}
