import Foundation
import RechargeCore
import SQLKit

/// A row of the outbox: one message for one recipient on one channel, and where its delivery stands.
public struct OutboxMessage: Sendable, Hashable {
    public enum State: String, Sendable, Codable, CaseIterable {
        case pending, sending, sent, dead
    }

    public let id: Int64
    public let eventKey: String
    public let channel: NotificationChannel
    public let recipient: String
    public let language: NotificationLanguage
    public let eventName: String
    /// The event as stored (JSON); nil when it cannot be decoded by this build.
    public let event: NotificationEvent?
    public let state: State
    /// Attempts started so far, counting the current one while `sending`. Also the fencing token of a claim.
    public let attempts: Int
    public let nextAttemptAt: Date
    public let claimedUntil: Date?
    public let lastError: String?
    public let providerID: String?
    public let deliveredAt: Date?
    public let createdAt: Date
    public let sentAt: Date?

    public init(
        id: Int64, eventKey: String, channel: NotificationChannel, recipient: String, language: NotificationLanguage, eventName: String,
        event: NotificationEvent?, state: State, attempts: Int, nextAttemptAt: Date, claimedUntil: Date?, lastError: String?,
        providerID: String?, deliveredAt: Date?, createdAt: Date, sentAt: Date?
    ) {
        self.id = id
        self.eventKey = eventKey
        self.channel = channel
        self.recipient = recipient
        self.language = language
        self.eventName = eventName
        self.event = event
        self.state = state
        self.attempts = attempts
        self.nextAttemptAt = nextAttemptAt
        self.claimedUntil = claimedUntil
        self.lastError = lastError
        self.providerID = providerID
        self.deliveredAt = deliveredAt
        self.createdAt = createdAt
        self.sentAt = sentAt
    }
}

public enum OutboxError: Error, CustomStringConvertible, Equatable {
    /// The row is no longer held by this claim: its lease expired and another worker took it, or it was finished.
    case claimLost(id: Int64)
    case invalidLimit(Int)
    case invalidLease

    public var description: String {
        switch self {
        case .claimLost(let id): "outbox message \(id) is no longer claimed by this worker (its lease expired)"
        case .invalidLimit(let limit): "limit must be between 1 and 1000, not \(limit)"
        case .invalidLease: "the lease must be positive"
        }
    }
}

/// The outbox of notifications: queued in the same transaction as the change they announce, then claimed,
/// sent and finished by ``DeliveryService`` workers on any node.
///
/// A claim marks rows `sending` with a lease and increments `attempts`; the attempt count is the claim's
/// token, so a worker whose lease expired cannot finish a row another worker has since claimed. On
/// PostgreSQL claims use `FOR UPDATE SKIP LOCKED`, so nodes never take the same row; on SQLite the single
/// writer serializes them.
public struct OutboxStore: Sendable {
    public let database: Database
    /// Delivery results ("sent", "failed", "dead") and receipts of concurrent deliveries share transactions.
    private let marks: OutboxMarks

    public init(database: Database) {
        self.database = database
        self.marks = OutboxMarks(database: database)
    }

    /// `event` as it is to be delivered: a sealed one-time code opened (``CodeSeal``).
    public func deliverable(_ event: NotificationEvent) async throws -> NotificationEvent {
        guard case .oneTimeCode = event else { return event }
        return try await database.codeSeal().opening(event)
    }

    static let columns = """
        id, event_key, channel, recipient, language, event, payload, state, attempts, next_attempt_at, claimed_until,
        last_error, provider_id, delivered_at, created_at, sent_at
        """

    // MARK: Queueing

    /// Queues `notifications` inside the caller's transaction with one multi-row insert per 300 rows. A
    /// notification whose (event_key, channel) is already queued is skipped. Returns how many rows were added.
    @discardableResult
    public static func enqueue(_ notifications: [OutgoingNotification], now: Date, in db: any SQLDatabase) async throws -> Int {
        guard !notifications.isEmpty else { return 0 }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        var inserted = 0
        for chunk in notifications.chunked(300) {
            var sql: SQLQueryString = "INSERT INTO outbox (event_key, channel, recipient, language, event, payload, state, attempts, next_attempt_at, created_at) VALUES "
            for (index, notification) in chunk.enumerated() {
                let payload = String(decoding: try encoder.encode(notification.event), as: UTF8.self)
                let row: [any Encodable & Sendable] = [
                    notification.eventKey, notification.channel.rawValue, notification.recipient, notification.language.rawValue,
                    notification.event.name.rawValue, payload, "pending", 0, now.unixMicros, now.unixMicros,
                ]
                sql += index == 0 ? "(" : ", ("
                sql += "\(binds: row))"
            }
            sql += " ON CONFLICT (event_key, channel) DO NOTHING RETURNING id"
            inserted += try await db.raw(sql).all().count
        }
        return inserted
    }

    /// Queues `notifications` in a transaction of their own.
    @discardableResult
    public func enqueue(_ notifications: [OutgoingNotification], now: Date) async throws -> Int {
        try await database.transaction { db in try await Self.enqueue(notifications, now: now, in: db) }
    }

    // MARK: Claiming and finishing

    /// Takes up to `limit` messages that are due (pending with `next_attempt_at <= now`, or sending with an
    /// expired lease), marks them `sending` until `now + lease` and counts the attempt.
    public func claim(limit: Int, now: Date, lease: Duration) async throws -> [OutboxMessage] {
        guard (1...1000).contains(limit) else { throw OutboxError.invalidLimit(limit) }
        guard lease > .zero else { throw OutboxError.invalidLease }
        let database = self.database
        let until = now.unixMicros + lease.micros
        let skipLocked = database.dialect == .postgres ? " FOR UPDATE SKIP LOCKED" : ""
        let rows = try await database.transaction { db in
            try await db.raw("""
                UPDATE outbox SET state = 'sending', attempts = attempts + 1, claimed_until = \(bind: until)
                WHERE id IN (
                    SELECT id FROM outbox
                    WHERE (state = 'pending' AND next_attempt_at <= \(bind: now.unixMicros))
                       OR (state = 'sending' AND claimed_until <= \(bind: now.unixMicros))
                    ORDER BY next_attempt_at, id
                    LIMIT \(bind: limit)\(unsafeRaw: skipLocked)
                )
                RETURNING \(unsafeRaw: Self.columns)
                """).all().map(Self.decode)
        }
        return rows.sorted { ($0.nextAttemptAt, $0.id) < ($1.nextAttemptAt, $1.id) }
    }

    /// Finishes a claimed message as sent. Throws ``OutboxError/claimLost(id:)`` if the claim expired and
    /// another worker holds the row now. For SMS (whose provider id a delivery receipt will name), a receipt
    /// that arrived before this mark is applied now.
    public func markSent(_ message: OutboxMessage, providerID: String?, now: Date) async throws {
        let updated = try await marks.sent(.init(messageID: message.id, attempts: message.attempts, providerID: providerID,
                                                 expectsReceipt: message.channel == .sms, now: now))
        guard updated == 1 else { throw OutboxError.claimLost(id: message.id) }
    }

    /// Puts a claimed message back to `pending`, to be tried again at `retryAt`.
    public func markFailed(_ message: OutboxMessage, error: String, retryAt: Date) async throws {
        try await finish(message, """
            UPDATE outbox SET state = 'pending', next_attempt_at = \(bind: retryAt.unixMicros), claimed_until = NULL,
                              last_error = \(bind: String(error.prefix(1000)))
            WHERE id = \(bind: message.id) AND state = 'sending' AND attempts = \(bind: message.attempts) RETURNING id
            """)
    }

    /// Gives up on a claimed message: a permanent error, or too many attempts. It stays for the operator to see.
    public func markDead(_ message: OutboxMessage, error: String, now: Date) async throws {
        try await finish(message, """
            UPDATE outbox SET state = 'dead', claimed_until = NULL, last_error = \(bind: String(error.prefix(1000))),
                              next_attempt_at = \(bind: now.unixMicros)
            WHERE id = \(bind: message.id) AND state = 'sending' AND attempts = \(bind: message.attempts) RETURNING id
            """)
    }

    private func finish(_ message: OutboxMessage, _ sql: SQLQueryString) async throws {
        let updated = try await marks.run { db in try await db.raw(sql).all().count }
        guard updated == 1 else { throw OutboxError.claimLost(id: message.id) }
    }

    /// Records an SMPP delivery receipt for the message whose `provider_id` is `providerID`. Returns whether a
    /// sent message was found. A receipt for an id no message carries yet is kept (`outbox_receipts`) and
    /// applied by ``markSent(_:providerID:now:)``: the SMSC may send it before that mark is committed.
    @discardableResult
    public func recordReceipt(providerID: String, deliveredAt: Date, now: Date = Date()) async throws -> Bool {
        // Through the marks' group commit: a burst of receipts (one per SMS sent) shares transactions, and
        // multi-row statements, with the sent marks.
        try await marks.receipt(.init(providerID: providerID, deliveredAt: deliveredAt, now: now)) == 1
    }

    /// Records a delivery receipt whose final state is a failure (the SMSC could not deliver, rejected, expired
    /// or deleted the message): the sent message whose `provider_id` is `providerID` becomes `dead` with
    /// `failure` as its `last_error`, for the operator to see; it is not sent again (the SMSC already tried).
    /// Returns whether a sent, undelivered message was found; as with ``recordReceipt(providerID:deliveredAt:now:)``
    /// a receipt that overtook the sent mark is kept and applied by that mark.
    @discardableResult
    public func recordReceiptFailure(providerID: String, failure: String, now: Date = Date()) async throws -> Bool {
        let failure = String(failure.prefix(1000))
        return try await marks.run { db in
            try await db.raw("""
                INSERT INTO outbox_receipts (provider_id, delivered_at, failure, created_at)
                VALUES (\(bind: providerID), NULL, \(bind: failure), \(bind: now.unixMicros))
                ON CONFLICT (provider_id) DO UPDATE SET failure = excluded.failure
                """).run()
            let found = try await db.raw("""
                UPDATE outbox SET state = 'dead', last_error = \(bind: failure)
                WHERE provider_id = \(bind: providerID) AND state = 'sent' AND delivered_at IS NULL RETURNING id
                """).all().count > 0
            // Applied, or about a message whose sent mark has committed and that is finished already (delivered,
            // or dead): nothing is waiting for the meeting row.
            let finished = try await db.raw("SELECT id FROM outbox WHERE provider_id = \(bind: providerID)").first() != nil
            if found || finished {
                try await db.raw("DELETE FROM outbox_receipts WHERE provider_id = \(bind: providerID)").run()
            }
            return found ? 1 : 0
        } == 1
    }

    // MARK: Reading

    /// The newest `limit` messages, optionally only those in `state`.
    public func list(state: OutboxMessage.State? = nil, limit: Int = 100) async throws -> [OutboxMessage] {
        guard (1...1000).contains(limit) else { throw OutboxError.invalidLimit(limit) }
        return try await database.read { db in
            if let state {
                try await db.raw("SELECT \(unsafeRaw: Self.columns) FROM outbox WHERE state = \(bind: state.rawValue) ORDER BY id DESC LIMIT \(bind: limit)").all().map(Self.decode)
            } else {
                try await db.raw("SELECT \(unsafeRaw: Self.columns) FROM outbox ORDER BY id DESC LIMIT \(bind: limit)").all().map(Self.decode)
            }
        }
    }

    /// How many messages are in each state.
    public func counts() async throws -> [OutboxMessage.State: Int] {
        try await database.read { db in
            var counts: [OutboxMessage.State: Int] = [:]
            for row in try await db.raw("SELECT state, COUNT(*) AS n FROM outbox GROUP BY state").all() {
                if let state = OutboxMessage.State(rawValue: try row.string("state")) { counts[state] = try row.decode(column: "n", as: Int.self) }
            }
            return counts
        }
    }

    static func decode(_ row: any SQLRow) throws -> OutboxMessage {
        let payload = try row.string("payload")
        return OutboxMessage(
            id: try row.int64("id"),
            eventKey: try row.string("event_key"),
            channel: NotificationChannel(rawValue: try row.string("channel")) ?? .dev,
            recipient: try row.string("recipient"),
            language: NotificationLanguage(tag: try row.string("language")),
            eventName: try row.string("event"),
            event: try? JSONDecoder().decode(NotificationEvent.self, from: Data(payload.utf8)),
            state: OutboxMessage.State(rawValue: try row.string("state")) ?? .dead,
            attempts: try row.decode(column: "attempts", as: Int.self),
            nextAttemptAt: try row.date("next_attempt_at"),
            claimedUntil: try row.optional("claimed_until", as: Int64.self).map(Date.init(unixMicros:)),
            lastError: try row.optional("last_error", as: String.self),
            providerID: try row.optional("provider_id", as: String.self),
            deliveredAt: try row.optional("delivered_at", as: Int64.self).map(Date.init(unixMicros:)),
            createdAt: try row.date("created_at"),
            sentAt: try row.optional("sent_at", as: Int64.self).map(Date.init(unixMicros:))
        )
    }
}

extension Duration {
    /// Whole microseconds.
    var micros: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1_000_000 + attoseconds / 1_000_000_000_000
    }
}
