import Foundation
import SQLKit

/// Recomputes the ledger from its transfers and compares: each account's posted debits and credits must
/// equal the sums of its transfers, every transfer must join two accounts of its own unit, and every
/// applied operation must have its transfers (and a pending or rejected one none).
public struct LedgerAudit: Sendable {
    public struct Report: Sendable, Equatable {
        public var accounts = 0
        public var transfers = 0
        public var operations = 0
        public var discrepancies: [String] = []
        public var isBalanced: Bool { discrepancies.isEmpty }
    }

    let database: Database

    public init(database: Database) {
        self.database = database
    }

    public func run() async throws -> Report {
        try await database.read { db in
            var report = Report()
            let sums = try await db.raw("""
                SELECT a.id, a.code, a.debits_posted, a.credits_posted,
                       CAST(COALESCE((SELECT SUM(t.amount) FROM transfers t WHERE t.debit_account_id = a.id), 0) AS BIGINT) AS debits,
                       CAST(COALESCE((SELECT SUM(t.amount) FROM transfers t WHERE t.credit_account_id = a.id), 0) AS BIGINT) AS credits
                FROM ledger_accounts a ORDER BY a.id
                """).all()
            for row in sums {
                report.accounts += 1
                let code = try row.string("code")
                let (posted, summed) = ((try row.int64("debits_posted"), try row.int64("credits_posted")), (try row.int64("debits"), try row.int64("credits")))
                if posted != summed {
                    report.discrepancies.append("account \(code): posted debits/credits \(posted.0)/\(posted.1), transfers say \(summed.0)/\(summed.1)")
                }
            }
            let mismatched = try await db.raw("""
                SELECT t.id FROM transfers t
                JOIN ledger_accounts d ON d.id = t.debit_account_id
                JOIN ledger_accounts c ON c.id = t.credit_account_id
                WHERE d.unit <> t.unit OR c.unit <> t.unit OR t.amount <= 0
                """).all()
            for row in mismatched { report.discrepancies.append("transfer \(try row.int64("id")) mixes units or has a non-positive amount") }
            let operations = try await db.raw("""
                SELECT o.id, o.outcome, CAST((SELECT COUNT(*) FROM transfers t WHERE t.operation_id = o.id) AS BIGINT) AS legs
                FROM operations o
                """).all()
            for row in operations {
                report.operations += 1
                let (outcome, legs) = (try row.string("outcome"), try row.int64("legs"))
                if (outcome == "applied") != (legs > 0) {
                    report.discrepancies.append("operation \(try row.int64("id")) is \(outcome) with \(legs) transfers")
                }
            }
            report.transfers = Int(try await db.raw("SELECT CAST(COUNT(*) AS BIGINT) AS n FROM transfers").first()?.int64("n") ?? 0)
            return report
        }
    }
}
