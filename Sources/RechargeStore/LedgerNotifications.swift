import Foundation
import RechargeCore
import SQLKit

/// The notifications a batch of applied ledger operations causes, queued in the batch's own transaction:
/// a `topUpApplied` per money top-up, a `packUsedUp` per data, voice or SMS bucket a debit takes to zero, and a
/// `lowBalance` when a debit takes the line's monetary balance below its threshold while the alarm is armed (see ``LowBalanceAlarm``; the armed state is stored per line in
/// `notification_preferences.low_balance_armed`).
///
/// A fixed handful of statements per batch: one read of the lines' contacts and alarms, one of their balances
/// after the batch, one of the names of emptied packs (only when a pack was emptied), at most one upsert of changed alarm states and one multi-row insert into the outbox. Event
/// keys come from the operations' idempotency keys, so a replayed operation (which is never "applied" again)
/// queues nothing, and a batch rolled back and retried queues the same keys. What to send is decided by each
/// operation's ``OperationPurpose``, never by reading its key.
enum LedgerNotifications {
    private struct LineContext {
        let id: Int64
        let currency: Currency
        var contact: NotificationContact
        var alarm: LowBalanceAlarm
        let initiallyArmed: Bool
    }

    static func enqueue(for applied: [(operation: LedgerOperation, purpose: OperationPurpose)], in db: any SQLDatabase) async throws {
        let operations = applied.map(\.operation)
        guard let now = operations.map(\.createdAt).max() else { return }
        let msisdns = Array(Set(operations.map(\.msisdn))).sorted()
        var lines: [String: LineContext] = [:]
        for (msisdn, row) in try await NotificationContactRow.load(msisdns: msisdns, in: db) {
            lines[msisdn] = LineContext(id: row.lineID, currency: row.currency, contact: row.contact,
                                        alarm: LowBalanceAlarm(threshold: row.threshold, armed: row.armed), initiallyArmed: row.armed)
        }

        // Monetary balance (valid buckets in the line's currency) after the batch; walking the batch's own
        // entries back gives the balance before it, and forward again the balance after each operation.
        let byLineID = try await NotificationContactRow.monetaryBalances(lineIDs: lines.values.map(\.id), at: now, in: db)
        var balance: [String: Int64] = [:]
        for (msisdn, line) in lines { balance[msisdn] = byLineID[line.id] }
        func monetaryChange(_ operation: LedgerOperation, currency: Currency) -> Int64 {
            operation.entries.filter { $0.bucketKind == .monetary && $0.unit == currency.code }.reduce(0) { $0 + $1.amount }
        }
        for operation in operations {
            guard let line = lines[operation.msisdn] else { continue }
            balance[operation.msisdn, default: 0] -= monetaryChange(operation, currency: line.currency)
        }

        // Names of the packs this batch emptied: a debit entry that leaves a data, voice or SMS bucket at zero.
        let emptied = operations.filter { $0.kind == .debit }.flatMap { operation in
            operation.entries.filter { $0.bucketKind != .monetary && $0.amount < 0 && $0.remainingAfter == 0 }
        }
        var packNames: [Int64: String] = [:]
        var localizedPackNames: [Int64: [String: String]] = [:]
        if !emptied.isEmpty {
            let ids = Array(Set(emptied.map(\.bucketID))).sorted()
            for row in try await db.raw("SELECT id, name FROM buckets WHERE id IN (\(binds: ids))").all() {
                packNames[try row.int64("id")] = try row.optional("name", as: String.self) ?? ""
            }
            // A bucket keeps the English name it was granted under; the message names it in the subscriber's language.
            if packNames.values.contains(where: { !$0.isEmpty }) {
                let catalog = try await CatalogStore.load(db)
                for (id, name) in packNames where !name.isEmpty {
                    if let names = catalog.displayNames(ofBucket: name) { localizedPackNames[id] = names }
                }
            }
        }

        var notifications: [OutgoingNotification] = []
        for (operation, purpose) in applied {
            guard var line = lines[operation.msisdn] else { continue }
            // A pack refund takes its buckets back: that is not the subscriber using it up.
            if operation.kind == .debit, purpose.isUsage {
                for entry in operation.entries where entry.bucketKind != .monetary && entry.amount < 0 && entry.remainingAfter == 0 {
                    let name = localizedPackNames[entry.bucketID].flatMap { $0[line.contact.language.rawValue] } ?? packNames[entry.bucketID] ?? ""
                    let event = NotificationEvent.packUsedUp(packName: name, kind: entry.bucketKind)
                    notifications += line.contact.notifications(
                        for: event, eventKey: OutgoingNotification.packUsedUpKey(operationKey: operation.idempotencyKey, bucketID: entry.bucketID))
                }
            }
            let change = monetaryChange(operation, currency: line.currency)
            let after = balance[operation.msisdn, default: 0] + change
            balance[operation.msisdn] = after
            guard change != 0 else { continue }
            let money = { (micros: Int64) in Money(micros: micros, currency: line.currency) }
            switch operation.kind {
            case .topUp:
                line.alarm.credited(to: after)
                // A pack's price passing through the main balance (bought online, or refunded) is not news.
                if !purpose.announcesTopUp {
                    lines[operation.msisdn] = line
                    continue
                }
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
