import Foundation
import RechargeCore
import SQLKit

/// The one entry point to the ledger, with one retry policy: ``transaction(_:_:)`` runs the whole write again when
/// another node claimed one of its idempotency keys between check and insert (``BatchKeyConflict``, possible only with
/// several nodes on PostgreSQL), at most ``conflictRetries`` more times, and ``apply(_:in:database:markingReplayedRefusals:)``
/// hands the requests to ``LedgerBatch`` inside it. Every writer goes through here: the group-commit writer of the
/// API's top-ups and debits (``apply(_:database:markingReplayedRefusals:)``, a transaction of its own), and the order,
/// refund, dispute, voucher and pack-renewal paths (a transaction of their own with other rows written beside the
/// ledger's). Their operator-side accounts come from a ``SystemAccountCache``, resolved before the transaction starts.
enum Ledger {
    static let conflictRetries = 3

    static func transaction<T: Sendable>(_ database: Database, _ body: @escaping @Sendable (any SQLDatabase) async throws -> T) async throws -> T {
        var attempt = 0
        while true {
            do {
                return try await database.transaction(body)
            } catch is BatchKeyConflict where attempt < conflictRetries {
                attempt += 1
            }
        }
    }

    /// Applies `requests` inside the caller's transaction `db` (opened with ``transaction(_:_:)``, so a key conflict
    /// retries the caller's whole write, not just the ledger's part of it).
    ///
    /// `markingReplayedRefusals`: a stored refusal answered to a retry comes back as ``ReplayedRefusal``. Only the
    /// API's top-ups and debits want that (they answer a replayed refusal with its own status); every other path
    /// treats a refusal the same whether it is new or replayed, so the default is `false`.
    static func apply(_ requests: [LedgerRequest], in db: any SQLDatabase, database: Database,
                      markingReplayedRefusals: Bool = false) async throws -> [Result<LedgerResult, any Error>] {
        try await LedgerBatch.apply(requests, in: db, database: database, markingReplayedRefusals: markingReplayedRefusals)
    }

    /// Applies `requests` in a transaction of their own, retried under the one policy: the group-commit writer's
    /// batch, where nothing but the ledger is written.
    static func apply(_ requests: [LedgerRequest], database: Database,
                      markingReplayedRefusals: Bool = false) async throws -> [Result<LedgerResult, any Error>] {
        try await transaction(database) { db in
            try await apply(requests, in: db, database: database, markingReplayedRefusals: markingReplayedRefusals)
        }
    }
}
