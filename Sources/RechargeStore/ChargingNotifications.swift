import Foundation
import RechargeCore
import SQLKit

/// The messages barring and restoring a line send, queued in the transaction that bars or restores it, and the
/// re-auths that tell the network a restored line's sessions may resume.
enum ChargingNotifications {
    enum Change {
        case serviceSuspended
        case serviceRestored
    }

    /// Queues the subscriber's message for `change` under `key` (a key of the change itself: queued once however
    /// often its transaction is retried).
    static func enqueue(_ change: Change, lineID: Int64, key: String, now: Date, in db: any SQLDatabase) async throws {
        guard let row = try await NotificationContactRow.load(lineIDs: [lineID], in: db)[lineID] else { return }
        let event: NotificationEvent
        switch change {
        case .serviceSuspended:
            event = .serviceSuspended(number: row.contact.msisdn)
        case .serviceRestored:
            let balance = try await NotificationContactRow.monetaryBalances(lineIDs: [lineID], at: now, in: db)[lineID] ?? 0
            event = .serviceRestored(number: row.contact.msisdn, balance: Money(micros: balance, currency: row.currency))
        }
        try await OutboxStore.enqueue(row.contact.notifications(for: event, eventKey: key), now: now, in: db)
    }

    /// Clears the bar of lines a credit just reached: their open sessions that were given a final unit are queued for
    /// a re-auth (Diameter RAR or HTTP callback) and the subscriber is told service is back. Runs in the credit's
    /// transaction, after its postings, so the message shows the new balance.
    static func restore(lineIDs: [Int64], now: Date, in db: any SQLDatabase) async throws {
        guard !lineIDs.isEmpty else { return }
        let cleared = try await db.raw("""
            UPDATE lines SET barred_at = NULL, updated_at = \(bind: now.unixMicros)
            WHERE id IN (\(binds: lineIDs)) AND barred_at IS NOT NULL
            RETURNING id
            """).all().map { try $0.int64("id") }
        guard !cleared.isEmpty else { return }
        try await db.raw("""
            INSERT INTO charging_reauths (charging_session_id, interface, peer, session_id, state, attempts, created_at, updated_at)
            SELECT id, interface, peer, session_id, 'pending', 0, \(bind: now.unixMicros), \(bind: now.unixMicros)
            FROM charging_sessions WHERE line_id IN (\(binds: cleared)) AND state = 'open' AND final_unit = 1
            """).run()
        for lineID in cleared {
            try await enqueue(.serviceRestored, lineID: lineID, key: "restored:\(lineID):\(now.unixMicros)", now: now, in: db)
        }
    }
}
