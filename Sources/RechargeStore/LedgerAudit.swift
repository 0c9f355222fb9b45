import Foundation
import SQLKit

/// Recomputes the ledger from its transfers and compares: each account's posted debits and credits must
/// equal the sums of its transfers, every transfer must join two accounts of its own unit with a positive
/// amount, no bucket may sit below its floor, no idempotency key may appear twice, and every applied
/// operation must have its transfers (a rejected one none). Each check is one pass over its table, so a
/// million transfers take seconds.
public struct LedgerAudit: Sendable {
    public struct Report: Sendable, Equatable {
        public var accounts = 0
        public var transfers = 0
        public var operations = 0
        public var buckets = 0
        public var discrepancies: [String] = []
        public var isBalanced: Bool { discrepancies.isEmpty }
    }

    let database: Database

    public init(database: Database) {
        self.database = database
    }

    public func run() async throws -> Report {
        try await database.read(timeout: .seconds(3600)) { db in
            var report = Report()
            var sums: [Int64: (debits: Int64, credits: Int64)] = [:]
            let sumRows = try await db.raw("""
                SELECT account_id, CAST(SUM(debits) AS BIGINT) AS debits, CAST(SUM(credits) AS BIGINT) AS credits FROM (
                    SELECT debit_account_id AS account_id, amount AS debits, 0 AS credits FROM transfers
                    UNION ALL
                    SELECT credit_account_id AS account_id, 0 AS debits, amount AS credits FROM transfers
                ) AS postings GROUP BY account_id
                """).all()
            for row in sumRows {
                sums[try row.int64("account_id")] = (try row.int64("debits"), try row.int64("credits"))
            }
            for row in try await db.raw("SELECT id, code, debits_posted, credits_posted FROM ledger_accounts").all() {
                report.accounts += 1
                let id = try row.int64("id")
                let posted = (debits: try row.int64("debits_posted"), credits: try row.int64("credits_posted"))
                let summed = sums.removeValue(forKey: id) ?? (0, 0)
                if posted != summed {
                    report.discrepancies.append("account \(try row.string("code")): posted debits/credits \(posted.debits)/\(posted.credits), transfers say \(summed.debits)/\(summed.credits)")
                }
            }
            for id in sums.keys.sorted() { report.discrepancies.append("transfers refer to account \(id), which does not exist") }

            let mismatched = try await db.raw("""
                SELECT t.id FROM transfers t
                JOIN ledger_accounts d ON d.id = t.debit_account_id
                JOIN ledger_accounts c ON c.id = t.credit_account_id
                WHERE d.unit <> t.unit OR c.unit <> t.unit OR t.amount <= 0 OR t.debit_account_id = t.credit_account_id
                """).all()
            for row in mismatched { report.discrepancies.append("transfer \(try row.int64("id")) mixes units, has a non-positive amount or moves value to its own account") }

            let belowFloor = try await db.raw("""
                SELECT b.id, a.credits_posted - a.debits_posted AS remaining, b.floor FROM buckets b
                JOIN ledger_accounts a ON a.id = b.account_id
                WHERE a.credits_posted - a.debits_posted < b.floor
                """).all()
            for row in belowFloor {
                report.discrepancies.append("bucket \(try row.int64("id")) holds \(try row.int64("remaining")), below its floor \(try row.int64("floor"))")
            }
            report.buckets = Int(try await db.raw("SELECT CAST(COUNT(*) AS BIGINT) AS n FROM buckets").first()?.int64("n") ?? 0)

            // Reservations: an account's pending debits are exactly its pending reservations, and what a bucket holds
            // reserved never exceeds what it has above its floor (two sessions never hold the same money).
            let pendingMismatch = try await db.raw("""
                SELECT a.id, a.code, a.debits_pending,
                       (SELECT COALESCE(CAST(SUM(r.amount) AS BIGINT), 0) FROM reservations r WHERE r.account_id = a.id AND r.state = 'pending') AS held
                FROM ledger_accounts a
                WHERE a.debits_pending <> (SELECT COALESCE(CAST(SUM(r.amount) AS BIGINT), 0) FROM reservations r WHERE r.account_id = a.id AND r.state = 'pending')
                """).all()
            for row in pendingMismatch {
                report.discrepancies.append("account \(try row.string("code")): pending debits \(try row.int64("debits_pending")), pending reservations \(try row.int64("held"))")
            }
            let overReserved = try await db.raw("""
                SELECT b.id FROM buckets b JOIN ledger_accounts a ON a.id = b.account_id
                WHERE a.debits_pending > 0 AND a.credits_posted - a.debits_posted - a.debits_pending < b.floor
                """).all()
            for row in overReserved { report.discrepancies.append("bucket \(try row.int64("id")) has more reserved than it holds above its floor") }

            let duplicateKeys = try await db.raw("""
                SELECT idempotency_key FROM operations GROUP BY idempotency_key HAVING COUNT(*) > 1
                """).all()
            for row in duplicateKeys { report.discrepancies.append("idempotency key \(try row.string("idempotency_key")) was applied more than once") }

            var legs: [Int64: Int64] = [:]
            for row in try await db.raw("SELECT operation_id, CAST(COUNT(*) AS BIGINT) AS legs FROM transfers GROUP BY operation_id").all() {
                let count = try row.int64("legs")
                legs[try row.int64("operation_id")] = count
                report.transfers += Int(count)
            }
            for row in try await db.raw("SELECT id, outcome FROM operations").all() {
                report.operations += 1
                let id = try row.int64("id")
                let outcome = try row.string("outcome")
                let count = legs.removeValue(forKey: id) ?? 0
                if (outcome == "applied") != (count > 0) {
                    report.discrepancies.append("operation \(id) is \(outcome) with \(count) transfers")
                }
            }
            for id in legs.keys.sorted() { report.discrepancies.append("transfers belong to operation \(id), which does not exist") }
            return report
        }
    }
}
