import Foundation
import RechargeCore
import SQLKit

extension LedgerRequest {
    /// The requests that carry out a plan's steps inside `db`'s transaction: each step's operator-side account from
    /// `accounts` (resolved through the ``SystemAccountCache`` before the transaction), else found or created here;
    /// its key built from its purpose.
    static func carrying(_ steps: [LedgerStep], accounts resolved: [String: Int64] = [:], now: Date, in db: any SQLDatabase) async throws -> [LedgerRequest] {
        var accounts = resolved
        var requests: [LedgerRequest] = []
        for step in steps {
            let account = step.counterparty
            let id: Int64
            if let known = accounts[account.code] {
                id = known
            } else {
                id = try await LedgerStore.upsertAccount(db, code: account.code, kind: account.kind, unit: account.unit, now: now)
                accounts[account.code] = id
            }
            let command: Command
            switch step.command {
            case .topUp(let topUp): command = .topUp(topUp)
            case .debit(let debit): command = .debit(debit)
            }
            requests.append(try LedgerRequest(command, purpose: step.purpose, now: now, counterparty: id))
        }
        return requests
    }
}
