import Foundation
import RechargeCore
import SQLKit

/// The notifications a batch of applied ledger operations causes, queued in the batch's own transaction:
/// a `topUpApplied` per money top-up, and a `lowBalance` when a debit takes the line's monetary balance below
/// its threshold while the alarm is armed (see ``LowBalanceAlarm``; the armed state is stored per line in
/// `notification_preferences.low_balance_armed`).
///
/// A fixed handful of statements per batch: one read of the lines' contacts and alarms, one of their balances
/// after the batch, at most one upsert of changed alarm states and one multi-row insert into the outbox. Event
/// keys come from the operations' idempotency keys, so a replayed operation (which is never "applied" again)
/// queues nothing, and a batch rolled back and retried queues the same keys.
enum LedgerNotifications {
    private struct LineContext {
        let id: Int64
        let currency: Currency
        var contact: NotificationContact
        var alarm: LowBalanceAlarm
        let initiallyArmed: Bool
    }

    static func enqueue(for operations: [LedgerOperation], in db: any SQLDatabase) async throws {
        guard let now = operations.map(\.createdAt).max() else { return }
        let msisdns = Array(Set(operations.map(\.msisdn))).sorted()
        var lines: [String: LineContext] = [:]
        let rows = try await db.raw("""
            SELECT l.id, l.msisdn, l.currency, s.email AS subscriber_email, s.language AS subscriber_language,
                   p.sms_enabled, p.email_enabled, p.email AS preferred_email, p.language AS preferred_language,
                   p.low_balance_threshold, p.low_balance_armed
            FROM lines l
            LEFT JOIN subscribers s ON s.id = l.subscriber_id
            LEFT JOIN notification_preferences p ON p.line_id = l.id
            WHERE l.msisdn IN (\(binds: msisdns))
            """).all()
        for row in rows {
            let currency = try Currency(code: try row.string("currency"))
            let msisdn = try row.string("msisdn")
            let armed = (try row.optional("low_balance_armed", as: Int.self) ?? 1) == 1
            let threshold = try row.optional("low_balance_threshold", as: Int64.self) ?? LowBalanceAlarm.defaultThreshold(for: currency).micros
            let contact = NotificationContact(
                msisdn: msisdn,
                email: try row.optional("preferred_email", as: String.self) ?? row.optional("subscriber_email", as: String.self),
                language: NotificationLanguage(tag: try row.optional("preferred_language", as: String.self) ?? row.optional("subscriber_language", as: String.self)),
                smsEnabled: (try row.optional("sms_enabled", as: Int.self) ?? 1) == 1,
                emailEnabled: (try row.optional("email_enabled", as: Int.self) ?? 1) == 1)
            lines[msisdn] = LineContext(id: try row.int64("id"), currency: currency, contact: contact,
                                        alarm: LowBalanceAlarm(threshold: threshold, armed: armed), initiallyArmed: armed)
        }

        // Monetary balance (valid buckets in the line's currency) after the batch; walking the batch's own
        // entries back gives the balance before it, and forward again the balance after each operation.
        let balanceRows = try await db.raw("""
            SELECT l.msisdn, CAST(COALESCE(SUM(a.credits_posted - a.debits_posted), 0) AS BIGINT) AS balance
            FROM lines l
            JOIN buckets b ON b.line_id = l.id AND b.kind = 'monetary' AND b.unit = l.currency
            JOIN ledger_accounts a ON a.id = b.account_id
            WHERE l.msisdn IN (\(binds: msisdns)) AND b.valid_from <= \(bind: now.unixMicros)
              AND (b.valid_until IS NULL OR b.valid_until > \(bind: now.unixMicros))
            GROUP BY l.msisdn
            """).all()
        var balance: [String: Int64] = [:]
        for row in balanceRows { balance[try row.string("msisdn")] = try row.int64("balance") }
        func monetaryChange(_ operation: LedgerOperation, currency: Currency) -> Int64 {
            operation.entries.filter { $0.bucketKind == .monetary && $0.unit == currency.code }.reduce(0) { $0 + $1.amount }
        }
        for operation in operations {
            guard let line = lines[operation.msisdn] else { continue }
            balance[operation.msisdn, default: 0] -= monetaryChange(operation, currency: line.currency)
        }

        var notifications: [OutgoingNotification] = []
        for operation in operations {
            guard var line = lines[operation.msisdn] else { continue }
            let change = monetaryChange(operation, currency: line.currency)
            let after = balance[operation.msisdn, default: 0] + change
            balance[operation.msisdn] = after
            guard change != 0 else { continue }
            let money = { (micros: Int64) in Money(micros: micros, currency: line.currency) }
            switch operation.kind {
            case .topUp:
                line.alarm.credited(to: after)
                let event = NotificationEvent.topUpApplied(amount: money(change), balance: money(after), channel: operation.channel)
                notifications += line.contact.notifications(
                    for: event, eventKey: OutgoingNotification.eventKey(operationKey: operation.idempotencyKey, .topUpApplied))
            case .debit:
                if line.alarm.debited(to: after) {
                    let event = NotificationEvent.lowBalance(balance: money(after), threshold: money(line.alarm.threshold))
                    notifications += line.contact.notifications(
                        for: event, eventKey: OutgoingNotification.eventKey(operationKey: operation.idempotencyKey, .lowBalance))
                }
            }
            lines[operation.msisdn] = line
        }

        let changed = lines.values.filter { $0.alarm.armed != $0.initiallyArmed }.sorted { $0.id < $1.id }
        if !changed.isEmpty {
            var sql: SQLQueryString = "INSERT INTO notification_preferences (line_id, low_balance_armed, updated_at) VALUES "
            for (index, line) in changed.enumerated() {
                sql += index == 0 ? "(" : ", ("
                sql += "\(bind: line.id), \(bind: line.alarm.armed ? 1 : 0), \(bind: now.unixMicros))"
            }
            sql += " ON CONFLICT (line_id) DO UPDATE SET low_balance_armed = excluded.low_balance_armed, updated_at = excluded.updated_at"
            try await db.raw(sql).run()
        }
        try await OutboxStore.enqueue(notifications, now: now, in: db)
    }
}
