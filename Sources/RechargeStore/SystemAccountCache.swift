import Foundation
import NIOConcurrencyHelpers
import RechargeCore

/// Ids of operator-side accounts (clearing, revenue, expense, allowance), each created once in a transaction of its
/// own and then remembered, so that a top-up, an order's fulfilment or a refund refers to a committed account
/// without upserting it inside its own transaction. Single flight: the first request that needs a new account
/// creates it; the others arriving meanwhile wait for that one transaction.
///
/// Never called inside another write transaction: on SQLite the creation would wait for the writer it holds.
final class SystemAccountCache: Sendable {
    private let database: Database
    private let state = NIOLockedValueBox(State())

    private struct State {
        var ids: [String: Int64] = [:]
        /// Creations in flight, shared by the requests that need the same account meanwhile.
        var creating: [String: Task<Int64, any Error>] = [:]
    }

    init(database: Database) {
        self.database = database
    }

    func id(code: String, kind: LedgerAccountKind, unit: String, now: Date) async throws -> Int64 {
        let (cached, creation) = state.withLockedValue { state -> (Int64?, Task<Int64, any Error>?) in
            if let id = state.ids[code] { return (id, nil) }
            if let running = state.creating[code] { return (nil, running) }
            let database = database
            let task = Task { try await database.transaction { db in try await LedgerStore.upsertAccount(db, code: code, kind: kind, unit: unit, now: now) } }
            state.creating[code] = task
            return (nil, task)
        }
        if let cached { return cached }
        guard let creation else { preconditionFailure("neither cached nor being created") }
        do {
            let id = try await creation.value
            state.withLockedValue { state in
                state.ids[code] = id
                if state.creating[code] == creation { state.creating[code] = nil }
            }
            return id
        } catch {
            // The next request tries again.
            state.withLockedValue { state in
                if state.creating[code] == creation { state.creating[code] = nil }
            }
            throw error
        }
    }

    /// The ids of a plan's accounts, by code.
    func ids(_ accounts: [LedgerStep.Account], now: Date) async throws -> [String: Int64] {
        var ids: [String: Int64] = [:]
        for account in accounts where ids[account.code] == nil {
            ids[account.code] = try await id(code: account.code, kind: account.kind, unit: account.unit, now: now)
        }
        return ids
    }
}
