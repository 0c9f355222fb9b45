import Foundation
import RechargeCore
import SQLKit

/// The delivery worker's writes, group-committed: "sent" marks and delivery receipts from concurrent sends and
/// the SMPP session share transactions, and inside one transaction all the sent marks are one multi-row
/// `UPDATE … FROM (VALUES …)` (plus one multi-row insert of their receipt meeting rows), all the receipts one
/// multi-row insert and one multi-row update, instead of five or six single-row statements per SMS. Other
/// writes ("failed", "dead", failed receipts) run one by one in the same transaction.
///
/// The statements are the single-row ones' (``OutboxStore/markSent(_:providerID:now:)`` describes the meeting
/// row), in the same order per message: sent marks first, then receipts, so a receipt that arrives with its
/// own message's mark in one batch finds it. If a shared transaction fails, every write is retried on its own,
/// single-row, one per transaction, so one failing write cannot fail the others.
final class OutboxMarks: Sendable {
    struct Sent: Sendable {
        let messageID: Int64
        let attempts: Int
        let providerID: String?
        let expectsReceipt: Bool
        let now: Date
    }

    struct Receipt: Sendable {
        let providerID: String
        let deliveredAt: Date
        let now: Date
    }

    typealias Write = @Sendable (any SQLDatabase) async throws -> Int

    private enum Item: Sendable {
        case sent(Sent)
        case receipt(Receipt)
        case write(Write)
    }

    private struct Pending {
        let item: Item
        let continuation: CheckedContinuation<Int, any Error>
    }

    private let database: Database
    private let queue: LeaderQueue<Pending>
    /// Rows per multi-row statement (4 binds each: far below SQLite's 32,766 and PostgreSQL's 65,535).
    static let rowsPerStatement = 250

    init(database: Database, maxBatch: Int = 1000) {
        self.database = database
        self.queue = LeaderQueue(maxBatch: maxBatch)
    }

    /// 1 if the claimed message was marked sent, 0 if the claim was lost.
    func sent(_ mark: Sent) async throws -> Int { try await enqueue(.sent(mark)) }
    /// 1 if a sent message with this provider id took the receipt, 0 if it waits in `outbox_receipts`.
    func receipt(_ receipt: Receipt) async throws -> Int { try await enqueue(.receipt(receipt)) }
    /// Any other write; returns what `write` returns.
    func run(_ write: @escaping Write) async throws -> Int { try await enqueue(.write(write)) }

    private func enqueue(_ item: Item) async throws -> Int {
        try await withCheckedThrowingContinuation { continuation in
            if queue.append(Pending(item: item, continuation: continuation)) { Task { await self.lead() } }
        }
    }

    private func lead() async {
        while let batch = queue.nextBatch() {
            do {
                let results = try await database.transaction { db in try await Self.apply(batch.map(\.item), in: db) }
                for (pending, result) in zip(batch, results) { pending.continuation.resume(returning: result) }
            } catch {
                for pending in batch {
                    do {
                        let result = try await database.transaction { db in try await Self.applyOne(pending.item, in: db) }
                        pending.continuation.resume(returning: result)
                    } catch {
                        pending.continuation.resume(throwing: error)
                    }
                }
            }
        }
    }

    // MARK: Many at once

    /// Results in the order of `items`.
    private static func apply(_ items: [Item], in db: any SQLDatabase) async throws -> [Int] {
        var results = [Int](repeating: 0, count: items.count)
        var sent: [(index: Int, mark: Sent)] = []
        var receipts: [(index: Int, receipt: Receipt)] = []
        for (index, item) in items.enumerated() {
            switch item {
            case .sent(let mark) where mark.providerID != nil: sent.append((index, mark))
            case .sent(let mark): results[index] = try await sentOne(mark, in: db)
            case .receipt(let receipt): receipts.append((index, receipt))
            case .write: break
            }
        }
        for chunk in sent.chunked(rowsPerStatement) {
            let marked = try await sentMany(chunk.map(\.mark), in: db)
            for entry in chunk { results[entry.index] = marked.contains(entry.mark.messageID) ? 1 : 0 }
        }
        // Two receipts for one id in a batch (a retransmitted deliver_sm): the first is applied with the others,
        // the rest one by one after it, as they would have been.
        var seen = Set<String>()
        var unique: [(index: Int, receipt: Receipt)] = []
        var repeated: [(index: Int, receipt: Receipt)] = []
        for entry in receipts {
            if seen.insert(entry.receipt.providerID).inserted { unique.append(entry) } else { repeated.append(entry) }
        }
        for chunk in unique.chunked(rowsPerStatement) {
            let found = try await receiptsMany(chunk.map(\.receipt), in: db)
            for entry in chunk { results[entry.index] = found.contains(entry.receipt.providerID) ? 1 : 0 }
        }
        for entry in repeated { results[entry.index] = try await receiptOne(entry.receipt, in: db) }
        for (index, item) in items.enumerated() {
            if case .write(let write) = item { results[index] = try await write(db) }
        }
        return results
    }

    /// The ids of the messages marked sent (the others' claims were lost).
    private static func sentMany(_ marks: [Sent], in db: any SQLDatabase) async throws -> Set<Int64> {
        var update: SQLQueryString = """
            UPDATE outbox SET state = 'sent', sent_at = v.column4, provider_id = v.column3, claimed_until = NULL, last_error = NULL
            FROM (VALUES
            """
        for (index, mark) in marks.enumerated() {
            update += index == 0 ? "(" : ", ("
            update += "\(bind: mark.messageID), \(bind: mark.attempts), \(bind: mark.providerID ?? ""), \(bind: mark.now.unixMicros))"
        }
        update += ") AS v WHERE outbox.id = v.column1 AND outbox.state = 'sending' AND outbox.attempts = v.column2 RETURNING id"
        var marked = Set<Int64>()
        for row in try await db.raw(update).all() { marked.insert(try row.int64("id")) }

        // Meeting rows for the SMS among them: a receipt that overtook its mark is applied now.
        let meetings = marks.filter { $0.expectsReceipt && marked.contains($0.messageID) }
        guard !meetings.isEmpty else { return marked }
        var byProvider: [String: Int64] = [:]
        var insert: SQLQueryString = "INSERT INTO outbox_receipts (provider_id, delivered_at, created_at) VALUES "
        for (index, mark) in meetings.enumerated() {
            let providerID = mark.providerID ?? ""
            byProvider[providerID] = mark.messageID
            insert += index == 0 ? "(" : ", ("
            insert += "\(bind: providerID), NULL, \(bind: mark.now.unixMicros))"
        }
        insert += " ON CONFLICT (provider_id) DO UPDATE SET created_at = outbox_receipts.created_at RETURNING provider_id, delivered_at, failure"
        var settled: [String] = []
        for row in try await db.raw(insert).all() {
            let providerID = try row.string("provider_id")
            guard let messageID = byProvider[providerID] else { continue }
            if let deliveredAt = try row.optional("delivered_at", as: Int64.self) {
                try await db.raw("UPDATE outbox SET delivered_at = \(bind: deliveredAt) WHERE id = \(bind: messageID)").run()
                settled.append(providerID)
            } else if let failure = try row.optional("failure", as: String.self) {
                try await db.raw("UPDATE outbox SET state = 'dead', last_error = \(bind: failure) WHERE id = \(bind: messageID)").run()
                settled.append(providerID)
            }
        }
        if !settled.isEmpty {
            try await db.raw("DELETE FROM outbox_receipts WHERE provider_id IN (\(binds: settled))").run()
        }
        return marked
    }

    /// The provider ids whose sent message took its receipt.
    private static func receiptsMany(_ receipts: [Receipt], in db: any SQLDatabase) async throws -> Set<String> {
        // First the meeting rows: a sent mark storing one of these ids right now (another node) commits first.
        var insert: SQLQueryString = "INSERT INTO outbox_receipts (provider_id, delivered_at, created_at) VALUES "
        var update: SQLQueryString = "UPDATE outbox SET delivered_at = v.column2 FROM (VALUES "
        for (index, receipt) in receipts.enumerated() {
            insert += index == 0 ? "(" : ", ("
            insert += "\(bind: receipt.providerID), \(bind: receipt.deliveredAt.unixMicros), \(bind: receipt.now.unixMicros))"
            update += index == 0 ? "(" : ", ("
            update += "\(bind: receipt.providerID), \(bind: receipt.deliveredAt.unixMicros))"
        }
        insert += " ON CONFLICT (provider_id) DO UPDATE SET delivered_at = excluded.delivered_at"
        update += ") AS v WHERE outbox.provider_id = v.column1 AND outbox.delivered_at IS NULL RETURNING provider_id"
        try await db.raw(insert).run()
        var found = Set<String>()
        for row in try await db.raw(update).all() { found.insert(try row.string("provider_id")) }
        if !found.isEmpty {
            try await db.raw("DELETE FROM outbox_receipts WHERE provider_id IN (\(binds: Array(found)))").run()
        }
        return found
    }

    // MARK: One at a time

    private static func applyOne(_ item: Item, in db: any SQLDatabase) async throws -> Int {
        switch item {
        case .sent(let mark): try await sentOne(mark, in: db)
        case .receipt(let receipt): try await receiptOne(receipt, in: db)
        case .write(let write): try await write(db)
        }
    }

    private static func sentOne(_ mark: Sent, in db: any SQLDatabase) async throws -> Int {
        let updated = try await db.raw("""
            UPDATE outbox SET state = 'sent', sent_at = \(bind: mark.now.unixMicros), provider_id = \(bind: mark.providerID),
                              claimed_until = NULL, last_error = NULL
            WHERE id = \(bind: mark.messageID) AND state = 'sending' AND attempts = \(bind: mark.attempts) RETURNING id
            """).all().count
        guard updated == 1, mark.expectsReceipt, let providerID = mark.providerID else { return updated }
        let meeting = try await db.raw("""
            INSERT INTO outbox_receipts (provider_id, delivered_at, created_at) VALUES (\(bind: providerID), NULL, \(bind: mark.now.unixMicros))
            ON CONFLICT (provider_id) DO UPDATE SET created_at = outbox_receipts.created_at
            RETURNING delivered_at, failure
            """).first()
        if let deliveredAt = try meeting?.optional("delivered_at", as: Int64.self) {
            try await db.raw("UPDATE outbox SET delivered_at = \(bind: deliveredAt) WHERE id = \(bind: mark.messageID)").run()
            try await db.raw("DELETE FROM outbox_receipts WHERE provider_id = \(bind: providerID)").run()
        } else if let failure = try meeting?.optional("failure", as: String.self) {
            try await db.raw("UPDATE outbox SET state = 'dead', last_error = \(bind: failure) WHERE id = \(bind: mark.messageID)").run()
            try await db.raw("DELETE FROM outbox_receipts WHERE provider_id = \(bind: providerID)").run()
        }
        return updated
    }

    private static func receiptOne(_ receipt: Receipt, in db: any SQLDatabase) async throws -> Int {
        // First the meeting row: if markSent is storing this id right now, this waits for it to commit.
        try await db.raw("""
            INSERT INTO outbox_receipts (provider_id, delivered_at, created_at)
            VALUES (\(bind: receipt.providerID), \(bind: receipt.deliveredAt.unixMicros), \(bind: receipt.now.unixMicros))
            ON CONFLICT (provider_id) DO UPDATE SET delivered_at = excluded.delivered_at
            """).run()
        let found = try await db.raw("""
            UPDATE outbox SET delivered_at = \(bind: receipt.deliveredAt.unixMicros)
            WHERE provider_id = \(bind: receipt.providerID) AND delivered_at IS NULL RETURNING id
            """).all().count > 0
        if found {
            try await db.raw("DELETE FROM outbox_receipts WHERE provider_id = \(bind: receipt.providerID)").run()
        }
        return found ? 1 : 0
    }
}
