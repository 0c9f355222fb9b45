import Foundation
import RechargeCore
import SQLKit

/// Validity reminders: finds buckets whose `valid_until` is within seven days or within one day and queues a
/// `validityEnding` notification for each, once per (bucket, notice).
///
/// Which buckets: any with an expiry (packs, and monetary buckets such as bonuses; the main balance has no
/// expiry in this schema, so lines themselves get no reminder) that is valid now, still has something left
/// (remaining > 0), on a line that is not terminated. A bucket ending within one day gets only the one-day
/// reminder, one ending within seven days the seven-day reminder (see ``ValidityNotice/due(validUntil:now:)``).
///
/// Exactly once: each queued reminder writes a `bucket_reminders` row (primary key bucket and notice) in the
/// same transaction as its outbox rows, and only reminders whose row was new are queued; the outbox's
/// `UNIQUE (event_key, channel)` with event keys `bucket:<id>:expiry:7d` is a second guard. Two scanners on one
/// PostgreSQL database split the work: each chunk of candidate buckets is selected `FOR UPDATE OF b SKIP
/// LOCKED`, so a bucket another scanner is working on is skipped, and a scanner that selects a bucket just
/// after the other committed finds its reminder row and queues nothing. On SQLite the single writer serializes
/// the chunks. ``acquireLease(_:holder:now:duration:)`` lets one node do the scans while others stand by.
public struct ReminderStore: Sendable {
    public let database: Database

    public init(database: Database) {
        self.database = database
    }

    /// What one scan did.
    public struct Scan: Sendable, Equatable {
        /// Reminders queued (a bucket and a notice each).
        public var reminders = 0
        /// Outbox rows added for them (one per enabled channel).
        public var messages = 0
        /// Transactions the scan committed.
        public var chunks = 0

        public init(reminders: Int = 0, messages: Int = 0, chunks: Int = 0) {
            self.reminders = reminders
            self.messages = messages
            self.chunks = chunks
        }
    }

    /// Queues every reminder due at `now` that has not been queued yet, `chunkSize` buckets per transaction.
    public func scan(now: Date, chunkSize: Int = 500) async throws -> Scan {
        guard (1...1000).contains(chunkSize) else { throw OutboxError.invalidLimit(chunkSize) }
        var scan = Scan()
        var after: Int64 = 0
        let database = self.database
        while true {
            let start = after
            let (reminders, messages, last) = try await database.transaction { db in
                try await Self.scanChunk(after: start, now: now, limit: chunkSize, dialect: database.dialect, in: db)
            }
            guard let last else { break }
            scan.chunks += 1
            scan.reminders += reminders
            scan.messages += messages
            after = last
        }
        return scan
    }

    /// One chunk: the next `limit` candidate buckets with an id above `after`. Returns the reminders and outbox
    /// rows it queued, and the last bucket id it looked at (nil: nothing left).
    static func scanChunk(after: Int64, now: Date, limit: Int, dialect: Database.Dialect, in db: any SQLDatabase) async throws -> (Int, Int, Int64?) {
        let nowMicros = now.unixMicros
        let oneDay = now.addingTimeInterval(ValidityNotice.oneDay.seconds).unixMicros
        let sevenDays = now.addingTimeInterval(ValidityNotice.sevenDays.seconds).unixMicros
        let lock = dialect == .postgres ? " FOR UPDATE OF b SKIP LOCKED" : ""
        let candidates = try await db.raw("""
            SELECT b.id, b.line_id, b.kind, b.name, b.valid_until, a.credits_posted - a.debits_posted AS remaining
            FROM buckets b
            JOIN ledger_accounts a ON a.id = b.account_id
            JOIN lines l ON l.id = b.line_id
            WHERE b.id > \(bind: after) AND b.valid_until > \(bind: nowMicros) AND b.valid_until <= \(bind: sevenDays)
              AND b.valid_from <= \(bind: nowMicros) AND a.credits_posted - a.debits_posted > 0 AND l.status <> 'terminated'
              AND NOT EXISTS (
                  SELECT 1 FROM bucket_reminders r
                  WHERE r.bucket_id = b.id AND r.notice_days = CASE WHEN b.valid_until <= \(bind: oneDay) THEN 1 ELSE 7 END)
            ORDER BY b.id
            LIMIT \(bind: limit)\(unsafeRaw: lock)
            """).all()
        guard let lastRow = candidates.last else { return (0, 0, nil) }
        let last = try lastRow.int64("id")

        struct Candidate {
            let bucketID: Int64
            let lineID: Int64
            let notice: ValidityNotice
            let validUntil: Date
            let bucket: ExpiringBucket
        }
        var due: [Candidate] = []
        for row in candidates {
            let validUntil = try row.date("valid_until")
            guard let notice = ValidityNotice.due(validUntil: validUntil, now: now),
                  let kind = BucketKind(rawValue: try row.string("kind")) else { continue }
            due.append(Candidate(
                bucketID: try row.int64("id"), lineID: try row.int64("line_id"), notice: notice, validUntil: validUntil,
                bucket: ExpiringBucket(kind: kind, name: try row.optional("name", as: String.self), remaining: try row.int64("remaining"))))
        }
        guard !due.isEmpty else { return (0, 0, last) }

        // Claim the reminders: only those whose row is new here are queued (another scanner may have committed
        // the same reminder since this chunk was selected).
        var claim: SQLQueryString = "INSERT INTO bucket_reminders (bucket_id, notice_days, created_at) VALUES "
        for (index, candidate) in due.enumerated() {
            claim += index == 0 ? "(" : ", ("
            claim += "\(bind: candidate.bucketID), \(bind: candidate.notice.rawValue), \(bind: nowMicros))"
        }
        claim += " ON CONFLICT (bucket_id, notice_days) DO NOTHING RETURNING bucket_id, notice_days"
        var claimed = Set<String>()
        for row in try await db.raw(claim).all() {
            claimed.insert("\(try row.int64("bucket_id")):\(try row.decode(column: "notice_days", as: Int.self))")
        }
        due.removeAll { !claimed.contains("\($0.bucketID):\($0.notice.rawValue)") }
        guard !due.isEmpty else { return (0, 0, last) }

        let lineIDs = Array(Set(due.map(\.lineID))).sorted()
        let contacts = try await NotificationContactRow.load(lineIDs: lineIDs, in: db)
        let balances = try await NotificationContactRow.monetaryBalances(lineIDs: lineIDs, at: now, in: db)
        var notifications: [OutgoingNotification] = []
        for candidate in due {
            guard let line = contacts[candidate.lineID] else { continue }
            let balance = Money(micros: balances[candidate.lineID] ?? 0, currency: line.currency)
            let event = NotificationEvent.validityEnding(notice: candidate.notice, validUntil: candidate.validUntil, balance: balance, bucket: candidate.bucket)
            notifications += line.contact.notifications(
                for: event, eventKey: OutgoingNotification.expiryKey(bucketID: candidate.bucketID, notice: candidate.notice))
        }
        let messages = try await OutboxStore.enqueue(notifications, now: now, in: db)
        return (due.count, messages, last)
    }

    // MARK: Leases

    /// Takes or renews the lease `name` for `holder` until `now + duration`. True when `holder` holds it now:
    /// it was free, expired, or already this holder's. On both engines one upsert decides it.
    public func acquireLease(_ name: String, holder: String, now: Date, duration: Duration) async throws -> Bool {
        guard duration > .zero else { throw OutboxError.invalidLease }
        let until = now.unixMicros + duration.micros
        return try await database.transaction { db in
            try await db.raw("""
                INSERT INTO service_leases (name, holder, expires_at) VALUES (\(bind: name), \(bind: holder), \(bind: until))
                ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
                WHERE service_leases.holder = excluded.holder OR service_leases.expires_at <= \(bind: now.unixMicros)
                RETURNING holder
                """).first() != nil
        }
    }

    /// Gives the lease up if `holder` has it, so another node may take it at once.
    public func releaseLease(_ name: String, holder: String) async throws {
        try await database.transaction { db in
            try await db.raw("DELETE FROM service_leases WHERE name = \(bind: name) AND holder = \(bind: holder)").run()
        }
    }
}

/// How a line is notified, read from `lines`, `subscribers` and `notification_preferences` (see
/// ``NotificationContact`` for the defaults), and its low-balance alarm.
struct NotificationContactRow {
    let lineID: Int64
    let msisdn: String
    let currency: Currency
    let contact: NotificationContact
    let threshold: Int64
    let armed: Bool
    /// Where SMS notices go instead of the line itself (its account's notification phone); nil: the line.
    let smsPhone: String?

    static let select = """
        SELECT l.id, l.msisdn, l.currency, s.email AS subscriber_email, s.language AS subscriber_language,
               p.sms_enabled, p.email_enabled, p.email AS preferred_email, p.language AS preferred_language,
               p.low_balance_threshold, p.low_balance_armed, p.sms_phone
        FROM lines l
        LEFT JOIN subscribers s ON s.id = l.subscriber_id
        LEFT JOIN notification_preferences p ON p.line_id = l.id
        """

    init(_ row: any SQLRow) throws {
        let currency = try Currency(code: try row.string("currency"))
        let msisdn = try row.string("msisdn")
        self.lineID = try row.int64("id")
        self.msisdn = msisdn
        self.currency = currency
        self.armed = (try row.optional("low_balance_armed", as: Int.self) ?? 1) == 1
        self.threshold = try row.optional("low_balance_threshold", as: Int64.self) ?? LowBalanceAlarm.defaultThreshold(for: currency).micros
        let smsPhone = try row.optional("sms_phone", as: String.self)
        self.smsPhone = smsPhone
        self.contact = NotificationContact(
            msisdn: smsPhone ?? msisdn,
            email: try row.optional("preferred_email", as: String.self) ?? row.optional("subscriber_email", as: String.self),
            language: NotificationLanguage(tag: try row.optional("preferred_language", as: String.self) ?? row.optional("subscriber_language", as: String.self)),
            smsEnabled: (try row.optional("sms_enabled", as: Int.self) ?? 1) == 1,
            emailEnabled: (try row.optional("email_enabled", as: Int.self) ?? 1) == 1)
    }

    static func load(lineIDs: [Int64], in db: any SQLDatabase) async throws -> [Int64: NotificationContactRow] {
        guard !lineIDs.isEmpty else { return [:] }
        var result: [Int64: NotificationContactRow] = [:]
        for row in try await db.raw("\(unsafeRaw: select) WHERE l.id IN (\(binds: lineIDs))").all() {
            let line = try NotificationContactRow(row)
            result[line.lineID] = line
        }
        return result
    }

    static func load(msisdns: [String], in db: any SQLDatabase) async throws -> [String: NotificationContactRow] {
        guard !msisdns.isEmpty else { return [:] }
        var result: [String: NotificationContactRow] = [:]
        for row in try await db.raw("\(unsafeRaw: select) WHERE l.msisdn IN (\(binds: msisdns))").all() {
            let line = try NotificationContactRow(row)
            result[line.msisdn] = line
        }
        return result
    }

    /// Monetary balance per line at `instant`: the valid monetary buckets in the line's currency.
    static func monetaryBalances(lineIDs: [Int64], at instant: Date, in db: any SQLDatabase) async throws -> [Int64: Int64] {
        guard !lineIDs.isEmpty else { return [:] }
        let rows = try await db.raw("""
            SELECT l.id, CAST(COALESCE(SUM(a.credits_posted - a.debits_posted), 0) AS BIGINT) AS balance
            FROM lines l
            JOIN buckets b ON b.line_id = l.id AND b.kind = 'monetary' AND b.unit = l.currency
            JOIN ledger_accounts a ON a.id = b.account_id
            WHERE l.id IN (\(binds: lineIDs)) AND b.valid_from <= \(bind: instant.unixMicros)
              AND (b.valid_until IS NULL OR b.valid_until > \(bind: instant.unixMicros))
            GROUP BY l.id
            """).all()
        var result: [Int64: Int64] = [:]
        for row in rows { result[try row.int64("id")] = try row.int64("balance") }
        return result
    }
}
