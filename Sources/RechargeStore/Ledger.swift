import Foundation
import RechargeCore
import SQLKit

/// The one way the order side applies ledger operations inside a transaction of its own (fulfilment, refunds,
/// disputes), with one retry policy: ``transaction(_:_:)`` runs the whole write again when another node claimed one
/// of its idempotency keys between check and insert (``BatchKeyConflict``, possible only with several nodes on
/// PostgreSQL), at most ``conflictRetries`` more times, and ``apply(_:in:database:)`` hands the requests to
/// ``LedgerBatch`` inside it. Their operator-side accounts come from a ``SystemAccountCache``, resolved before the
/// transaction starts. Top-ups and debits from the API reach the same batch through the group-commit writer.
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

    static func apply(_ requests: [LedgerRequest], in db: any SQLDatabase, database: Database) async throws -> [Result<LedgerResult, any Error>] {
        try await LedgerBatch.apply(requests, in: db, database: database)
    }
}
