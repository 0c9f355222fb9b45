import Foundation
import RechargeCore
import SQLKit

/// Payment disputes (chargebacks) on fulfilled orders.
///
/// Opening one takes what it could claw back off the line's main balance (up to the disputed amount, never
/// below zero) to the provider's clearing account, and suspends the line so the disputed value cannot be used
/// meanwhile; both in one transaction, once per dispute id. Closing it reactivates the line (if the dispute
/// suspended it); a dispute won gives the money back.
extension OrderStore {
    public typealias DisputeEvent = RechargeCore.DisputeEvent

    public struct DisputeOutcome: Sendable, Equatable {
        public let disputeID: String
        public let orderID: String
        public let state: String
        /// Taken off the balance while open (what was there, up to the disputed amount).
        public let debited: Money
        public let duplicate: Bool
    }

    /// Applies a verified dispute event. `eventID` de-duplicates provider retries; `providerReference` finds the order.
    public func applyDispute(provider: PaymentMethod, eventID: String, disputeID: String, providerReference: String, event: DisputeEvent,
                             now: Date) async throws -> DisputeOutcome {
        try await Ledger.transaction(database) { [database] db in
            guard let row = try await db.raw("""
                SELECT id, line_id FROM orders WHERE payment_method = \(bind: provider.rawValue) AND provider_reference = \(bind: providerReference)
                """).first()
            else { throw RechargeError.orderNotFound("paid by \(provider.rawValue) \(providerReference)") }
            let order = try await Self.lockOrder(try row.string("id"), database: database, in: db)
            let lineID = try row.int64("line_id")
            // What the line holds is in the settlement currency (the quoted amount for a payer in another one).
            let currency = order.quote.settlementAmount.currency
            let recorded = try await db.raw("""
                INSERT INTO payment_events (provider, event_id, order_id, outcome, amount_micros, currency, received_at)
                VALUES (\(bind: provider.rawValue), \(bind: eventID), \(bind: order.id), 'dispute', 0, \(bind: currency.code), \(bind: now.unixMicros))
                ON CONFLICT (provider, event_id) DO NOTHING RETURNING id
                """).first()
            let existing = try await db.raw("""
                SELECT state, debited_micros, suspended_line FROM disputes WHERE id = \(bind: disputeID)
                """).first()
            func outcome(_ state: String, _ debited: Int64, duplicate: Bool) -> DisputeOutcome {
                DisputeOutcome(disputeID: disputeID, orderID: order.id, state: state, debited: Money(micros: debited, currency: currency), duplicate: duplicate)
            }
            if recorded == nil {
                return outcome(try existing?.string("state") ?? "open", try existing?.int64("debited_micros") ?? 0, duplicate: true)
            }
            let clearing = try await LedgerStore.upsertAccount(
                db, code: order.paymentMethod.clearingAccount(unit: currency.code), kind: .clearing, unit: currency.code, now: now)
            switch event {
            case .opened(let disputed):
                let amount = disputed.currency == currency || order.quote.settlement == nil
                    ? disputed : order.quote.settlementAmount
                if let existing { return outcome(try existing.string("state"), try existing.int64("debited_micros"), duplicate: true) }
                guard amount.currency == currency, amount.isPositive else {
                    throw RechargeError.paymentMismatch(order: order.id, reason: "dispute of \(amount) on an order paid in \(currency.code)")
                }
                let line = try await LedgerStore.loadLine(db, order.msisdn, lock: database.forUpdate)
                let main = try await db.raw("""
                    SELECT a.credits_posted - a.debits_posted AS remaining FROM buckets b JOIN ledger_accounts a ON a.id = b.account_id
                    WHERE b.line_id = \(bind: lineID) AND b.is_main = 1 AND b.unit = \(bind: currency.code)
                    """).first()?.int64("remaining") ?? 0
                let debit = min(amount.micros, max(0, main))
                if debit > 0 {
                    let command = try DebitCommand(msisdn: order.msisdn, kind: .monetary, amount: debit, currency: currency,
                                                   channel: order.paymentMethod.channel, reference: disputeID, mainBalanceOnly: true)
                    let request = try LedgerRequest(.debit(command), purpose: .disputeHold(disputeID: disputeID, orderID: order.id), now: now, counterparty: clearing)
                    _ = try await Ledger.apply([request], in: db, database: database).first?.get()
                }
                let suspended = line.status == .active
                if suspended {
                    try await db.raw("""
                        UPDATE lines SET status = 'suspended', updated_at = \(bind: now.unixMicros) WHERE id = \(bind: lineID)
                        """).run()
                }
                try await db.raw("""
                    INSERT INTO disputes (id, provider, order_id, amount_micros, debited_micros, currency, state, suspended_line, created_at, updated_at)
                    VALUES (\(bind: disputeID), \(bind: provider.rawValue), \(bind: order.id), \(bind: amount.micros), \(bind: debit),
                            \(bind: currency.code), 'open', \(bind: suspended ? 1 : 0), \(bind: now.unixMicros), \(bind: now.unixMicros))
                    """).run()
                return outcome("open", debit, duplicate: false)
            case .closed(let won):
                guard let existing, try existing.string("state") == "open" else {
                    return outcome(try existing?.string("state") ?? "unknown", try existing?.int64("debited_micros") ?? 0, duplicate: true)
                }
                let debited = try existing.int64("debited_micros")
                if won, debited > 0 {
                    let command = try TopUpCommand(msisdn: order.msisdn, value: .money(Money(micros: debited, currency: currency)),
                                                   channel: order.paymentMethod.channel, reference: disputeID)
                    let request = try LedgerRequest(.topUp(command), purpose: .disputeRelease(disputeID: disputeID, orderID: order.id), now: now, counterparty: clearing)
                    _ = try await Ledger.apply([request], in: db, database: database).first?.get()
                }
                if try existing.int64("suspended_line") == 1 {
                    try await db.raw("""
                        UPDATE lines SET status = 'active', updated_at = \(bind: now.unixMicros) WHERE id = \(bind: lineID) AND status = 'suspended'
                        """).run()
                }
                let state = won ? "won" : "lost"
                try await db.raw("""
                    UPDATE disputes SET state = \(bind: state), updated_at = \(bind: now.unixMicros) WHERE id = \(bind: disputeID)
                    """).run()
                return outcome(state, debited, duplicate: false)
            }
        }
    }
}
