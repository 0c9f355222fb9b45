import Foundation
import RechargeCore
@testable import RechargeStore
import RechargeTestSupport
import SQLKit
import Testing

/// Operations carry their purpose in typed columns (migration 12): what the store writes for orders, refunds
/// and disputes, and what the migration's backfill derives from the keys of rows written before it, are the same.
enum OperationPurposeScenarios {
    static let now = OrderScenarios.now
    static let alice = OrderScenarios.alice

    struct Row: Equatable, CustomStringConvertible {
        let key: String
        let purpose: String?
        let orderID: String?
        let refundID: String?
        let subjectID: String?
        let grantNumber: Int64?
        var description: String { "\(key) → \(purpose ?? "nil") \(orderID ?? "-") \(refundID ?? "-") \(subjectID ?? "-") \(grantNumber.map(String.init) ?? "-")" }
    }

    static func rows(_ database: Database) async throws -> [Row] {
        try await database.read { db in
            try await db.raw("SELECT idempotency_key, purpose, order_id, refund_id, subject_id, grant_number FROM operations ORDER BY id").all().map {
                Row(key: try $0.decode(column: "idempotency_key", as: String.self), purpose: try $0.decode(column: "purpose", as: String?.self),
                    orderID: try $0.decode(column: "order_id", as: String?.self), refundID: try $0.decode(column: "refund_id", as: String?.self),
                    subjectID: try $0.decode(column: "subject_id", as: String?.self), grantNumber: try $0.decode(column: "grant_number", as: Int64?.self))
            }
        }
    }

    static func writtenAndBackfilledAgree(_ backend: Backend) async throws {
        try await OrderScenarios.with(backend, promotions: OrderScenarios.promotions) { fixture in
            let store = fixture.orders
            func paid(_ item: OrderStore.Item, _ key: String, method: PaymentMethod = .sandbox) async throws -> RechargeOrder {
                let reference = "pi_\(key)"
                var checkout: (@Sendable (String) -> String?)?
                if method == .stripe { checkout = { _ in reference } }
                let order = try await store.create(msisdn: alice, item: item, paymentMethod: method, key: try IdempotencyKey(key), now: now,
                                                   checkout: checkout).order
                return try await store.apply(PaymentConfirmation(provider: method, eventID: "evt_\(key)", orderID: order.id, outcome: .succeeded,
                                                                 amount: order.quote.price, providerReference: "pi_\(key)", failureReason: nil), now: now).order
            }
            let bonus = try await paid(.amount(try OrderScenarios.usd("60")), "p1")
            let pack = try await paid(.product("us-data-5gb"), "p2")
            let refund = try await store.startRefund(orderID: pack.id, amount: nil, reason: "mistake", key: try IdempotencyKey("rf-1"), now: now).refund
            let partial = try await store.startRefund(orderID: bonus.id, amount: try OrderScenarios.usd("5"), reason: "asked", key: try IdempotencyKey("rf-2"), now: now).refund
            let disputed = try await paid(.product("topup-10"), "p3", method: .stripe)
            _ = try await store.applyDispute(provider: .stripe, eventID: "evt_d1", disputeID: "dp_1", providerReference: "pi_p3",
                                             event: .opened(amount: try OrderScenarios.usd("10")), now: now)
            _ = try await store.applyDispute(provider: .stripe, eventID: "evt_d2", disputeID: "dp_1", providerReference: "pi_p3",
                                             event: .closed(won: true), now: now)
            // A client's key that looks like the server's own stays a client's top-up ("1" is not in an order id's alphabet, so it
            // never names a real order).
            _ = try await fixture.ledger.topUp(try TopUpCommand(msisdn: alice, value: .money(try OrderScenarios.usd("1")), channel: .card, reference: nil),
                                               key: try IdempotencyKey("order:\(bonus.id.dropLast())1:pay"), now: now)
            _ = try await fixture.ledger.debit(try DebitCommand(msisdn: alice, kind: .monetary, amount: 1_000_000, currency: .usd, channel: .network, reference: nil),
                                               key: try IdempotencyKey("dispute:dp_unknown:hold"), now: now)

            let written = try await rows(fixture.database)
            let byKey = Dictionary(uniqueKeysWithValues: written.map { ($0.key, $0) })
            #expect(byKey["order:\(bonus.id):credit"]?.purpose == "order_credit")
            #expect(byKey["order:\(bonus.id):bonus"]?.purpose == "order_bonus")
            #expect(byKey["order:\(pack.id):grant:2"] == Row(key: "order:\(pack.id):grant:2", purpose: "order_grant", orderID: pack.id,
                                                               refundID: nil, subjectID: nil, grantNumber: 2))
            #expect(byKey["refund:\(refund.id):unbuy"]?.purpose == "refund_unbuy" && byKey["refund:\(refund.id):unbuy"]?.orderID == pack.id)
            #expect(byKey["refund:\(refund.id):grant:1"]?.grantNumber == 1)
            #expect(byKey["dispute:dp_1:release"] == Row(key: "dispute:dp_1:release", purpose: "dispute_release", orderID: disputed.id,
                                                         refundID: nil, subjectID: "dp_1", grantNumber: nil))
            #expect(byKey["order:\(bonus.id.dropLast())1:pay"]?.purpose == "top_up")
            #expect(byKey["dispute:dp_unknown:hold"]?.purpose == "debit")
            #expect(byKey["refund:\(partial.id)"] == Row(key: "refund:\(partial.id)", purpose: "refund", orderID: bonus.id, refundID: partial.id,
                                                        subjectID: nil, grantNumber: nil))
            #expect(written.allSatisfy { $0.purpose != nil })

            // The backfill, run on the same rows with their columns emptied, finds the same thing.
            try await fixture.database.transaction { db in
                try await db.raw("UPDATE operations SET purpose = NULL, order_id = NULL, refund_id = NULL, subject_id = NULL, grant_number = NULL").run()
                for statement in Migration.operationPurposes.statements(fixture.database) where statement.hasPrefix("UPDATE") {
                    try await db.raw(SQLQueryString(statement)).run()
                }
            }
            let backfilled = try await rows(fixture.database)
            for (before, after) in zip(written, backfilled) { #expect(before == after) }
            #expect(written.count == backfilled.count)
        }
    }
}

@Suite("Operation purposes on SQLite")
struct SQLiteOperationPurposeTests {
    @Test func writtenAndBackfilledAgree() async throws { try await OperationPurposeScenarios.writtenAndBackfilledAgree(.sqlite) }
}

@Suite("Operation purposes on PostgreSQL", .enabled(if: TestDatabase.postgresAvailable, "RECHARGE_TEST_POSTGRES_URL is not set: run scripts/test to start PostgreSQL"))
struct PostgresOperationPurposeTests {
    @Test func writtenAndBackfilledAgree() async throws { try await OperationPurposeScenarios.writtenAndBackfilledAgree(.postgres) }
}
