import Foundation
import NIOConcurrencyHelpers
import RechargeCore
import SQLKit

/// What a top-up or debit returns: the operation, and whether it was applied by an earlier request with the
/// same idempotency key (then nothing changed now).
public struct LedgerResult: Sendable, Equatable {
    public let operation: LedgerOperation
    public let replayed: Bool
}

/// Lines, buckets and the double-entry ledger. Top-ups and debits go through a group-commit writer
/// (``GroupCommitWriter``, ``LedgerBatch``): each batch runs in one transaction that locks its lines, checks
/// the idempotency keys, applies the transfers and stores every result with its key, so a retry returns that
/// result and a concurrent duplicate gets it too.
public final class LedgerStore: Sendable {
    public let database: Database
    /// Ids of operator-side accounts (clearing, revenue, allowance). They are created once and never
    /// deleted, so an id once seen committed stays valid.
    private let systemAccounts: SystemAccountCache

    /// Priority of a line's main balance: consumed after every granted bucket.
    public static let mainBucketPriority = 1000

    /// Gathers concurrent top-ups and debits into shared transactions (group commit).
    private let writer: GroupCommitWriter<LedgerRequest, LedgerResult>

    /// Batches and requests the group-commit writer has handled (for metrics and tests).
    public var groupCommitStatistics: GroupCommitStatistics { writer.statistics }

    /// Coalesced balance queries run, and the inquiries they answered.
    public var balanceReadStatistics: (queries: Int, inquiries: Int) {
        let statistics = balanceReader.statistics
        return (statistics.batches, statistics.lookups)
    }

    /// Coalesces concurrent balance inquiries into shared queries, one batch per reader connection at a time.
    private let balanceReader: ReadCoalescer<String, LineSnapshot>

    public init(database: Database) {
        self.database = database
        self.systemAccounts = SystemAccountCache(database: database)
        self.balanceReader = ReadCoalescer(executors: database.readLanes, missing: { RechargeError.lineNotFound($0) }) { msisdns, lane in
            try await LedgerStore.snapshots(msisdns, lane: lane, database: database)
        }
        self.writer = GroupCommitWriter(executor: database.writerExecutor) { requests in
            // The API's top-ups and debits: the only path that answers a replayed refusal as such.
            try await Ledger.apply(requests, database: database, markingReplayedRefusals: true)
        }
    }

    // MARK: Lines

    public func openLine(_ command: OpenLineCommand, now: Date) async throws -> Line {
        let database = self.database
        do {
            return try await database.transaction { db in
                if try await db.raw("SELECT id FROM lines WHERE msisdn = \(bind: command.msisdn.e164)").first() != nil {
                    throw RechargeError.lineAlreadyExists(command.msisdn.e164)
                }
                if let iccid = command.iccid,
                   try await db.raw("SELECT id FROM lines WHERE iccid = \(bind: iccid.digits)").first() != nil {
                    throw RechargeError.iccidInUse(iccid.digits)
                }
                var subscriberID: Int64?
                if let subscriber = command.subscriber {
                    subscriberID = try await db.raw("""
                        INSERT INTO subscribers (name, email, language, created_at)
                        VALUES (\(bind: subscriber.name), \(bind: subscriber.email), \(bind: subscriber.language), \(bind: now.unixMicros))
                        RETURNING id
                        """).first()?.int64("id")
                }
                guard let lineRow = try await db.raw("""
                    INSERT INTO lines (msisdn, iccid, type, status, currency, credit_limit, subscriber_id, created_at, updated_at)
                    VALUES (\(bind: command.msisdn.e164), \(bind: command.iccid?.digits), \(bind: command.type.rawValue),
                            'active', \(bind: command.currency.code), \(bind: command.creditLimit.micros), \(bind: subscriberID),
                            \(bind: now.unixMicros), \(bind: now.unixMicros))
                    RETURNING \(unsafeRaw: LineRow.columns)
                    """).first()
                else { throw DatabaseError.invariantViolated("INSERT … RETURNING gave no row") }
                let line = try LineRow.decode(lineRow)
                let unit = BucketKind.monetary.unit(currency: line.currency)
                let accountID = try await Self.insertAccount(
                    db, code: LedgerAccountCode.mainBalance(lineID: line.id, unit: unit), kind: .subscriberBucket,
                    unit: unit, lineID: line.id, now: now)
                try await db.raw("""
                    INSERT INTO buckets (line_id, account_id, kind, unit, name, initial_amount, floor, valid_from, valid_until, priority, is_main, created_at)
                    VALUES (\(bind: line.id), \(bind: accountID), 'monetary', \(bind: unit), NULL, 0, \(bind: -line.creditLimit.micros),
                            \(bind: now.unixMicros), NULL, \(bind: Self.mainBucketPriority), 1, \(bind: now.unixMicros))
                    """).run()
                return line
            }
        } catch let error where database.isUniqueViolation(error) {
            // Lost a race with a concurrent open of the same number or ICCID (PostgreSQL).
            if let existing = try? await line(command.msisdn), existing.msisdn == command.msisdn {
                throw RechargeError.lineAlreadyExists(command.msisdn.e164)
            }
            throw RechargeError.iccidInUse(command.iccid?.digits ?? "")
        }
    }

    public func line(_ msisdn: MSISDN) async throws -> Line {
        try await database.read { db in try await Self.loadLine(db, msisdn, lock: nil) }
    }

    public func changeStatus(_ msisdn: MSISDN, to target: LineStatus, now: Date) async throws -> Line {
        let forUpdate = database.forUpdate
        return try await database.transaction { db in
            var line = try await Self.loadLine(db, msisdn, lock: forUpdate)
            let next = try line.status.transition(to: target, msisdn: msisdn)
            if next != line.status {
                try await db.raw("UPDATE lines SET status = \(bind: next.rawValue), updated_at = \(bind: now.unixMicros) WHERE id = \(bind: line.id)").run()
                line.status = next
            }
            return line
        }
    }

    /// Every bucket of the line with what remains, in consumption order, and totals per unit: one query,
    /// shared with the other balance inquiries arriving at the same moment (``ReadCoalescer``).
    public func balance(_ msisdn: MSISDN, at instant: Date) async throws -> BalanceSummary {
        let snapshot = try await balanceReader.get(msisdn.e164)
        return BalanceSummary(line: snapshot.line, buckets: snapshot.buckets, at: instant)
    }

    /// A line and its buckets as read, before totals are taken at an instant.
    struct LineSnapshot: Sendable {
        let line: Line
        var buckets: [Bucket]
    }

    /// Lines and buckets of up to a few hundred numbers, in one query.
    static func snapshots(_ msisdns: [String], lane: Int, database: Database) async throws -> [String: LineSnapshot] {
        try await database.read(lane: lane) { db in
            let rows = try await db.raw("""
                SELECT \(unsafeRaw: LineRow.qualifiedColumns), \(unsafeRaw: BucketRow.columns)
                FROM lines l
                LEFT JOIN buckets b ON b.line_id = l.id
                LEFT JOIN ledger_accounts a ON a.id = b.account_id
                WHERE l.msisdn IN (\(binds: msisdns))
                ORDER BY l.id, b.id
                """).all()
            var snapshots: [String: LineSnapshot] = [:]
            for row in rows {
                let msisdn = try row.string("msisdn")
                if snapshots[msisdn] == nil { snapshots[msisdn] = LineSnapshot(line: try LineRow.decode(row), buckets: []) }
                if try !row.decodeNil(column: "bucket_id") { snapshots[msisdn]!.buckets.append(try BucketRow.decode(row)) }
            }
            return snapshots
        }
    }

    // MARK: Moving value

    /// Adds money to the line's main balance or grants it a new bucket.
    public func topUp(_ command: TopUpCommand, key: IdempotencyKey, now: Date) async throws -> LedgerResult {
        let source: (code: String, kind: LedgerAccountKind, unit: String)
        switch command.value {
        case .money(let money):
            source = (LedgerAccountCode.clearing(command.channel, unit: money.currency.code), .clearing, money.currency.code)
        case .bucket(let grant, let currency):
            if grant.kind == .monetary, let currency {
                // Money with its own validity is funded by the channel that sold it, like any top-up.
                source = (LedgerAccountCode.clearing(command.channel, unit: currency.code), .clearing, currency.code)
            } else {
                let unit = grant.kind.unit(currency: currency ?? .usd)
                source = (LedgerAccountCode.allowance(unit: unit), .allowance, unit)
            }
        }
        let counterparty = try await systemAccount(code: source.code, kind: source.kind, unit: source.unit, now: now)
        return try await writer.submit(LedgerRequest(
            command: .topUp(command), key: key, fingerprint: sha256Hex(command.fingerprint), now: now, counterparty: counterparty, purpose: .topUp))
    }

    /// Charges the line: draws the amount from its valid buckets of that unit in consumption order, never
    /// below a bucket's floor (zero, or the credit limit on the main balance).
    public func debit(_ command: DebitCommand, key: IdempotencyKey, now: Date) async throws -> LedgerResult {
        let unit = command.currency?.code ?? command.kind.unit(currency: .usd)
        let counterparty = try await systemAccount(code: LedgerAccountCode.usageRevenue(unit: unit), kind: .revenue, unit: unit, now: now)
        return try await writer.submit(LedgerRequest(
            command: .debit(command), key: key, fingerprint: sha256Hex(command.fingerprint), now: now, counterparty: counterparty, purpose: .debit))
    }

    // MARK: History

    /// One page of a line's applied operations, newest first. `before` is the cursor returned with the
    /// previous page; `from`/`until` bound `createdAt` (inclusive, exclusive).
    public func history(_ msisdn: MSISDN, from: Date?, until: Date?, before cursor: Int64?, limit: Int) async throws -> (operations: [LedgerOperation], nextCursor: Int64?) {
        let limit = max(1, min(limit, 200))
        return try await database.read { db in
            let line = try await Self.loadLine(db, msisdn, lock: nil)
            let rows = try await db.raw("""
                SELECT id, result FROM operations
                WHERE line_id = \(bind: line.id) AND outcome = 'applied' AND id < \(bind: cursor ?? Int64.max)
                  AND created_at >= \(bind: from?.unixMicros ?? Int64.min) AND created_at < \(bind: until?.unixMicros ?? Int64.max)
                ORDER BY id DESC LIMIT \(bind: limit + 1)
                """).all()
            let operations = try rows.prefix(limit).map { row in try Self.decodeResult(try row.string("result"), as: LedgerOperation.self) }
            return (operations, rows.count > limit ? operations.last?.id : nil)
        }
    }

    /// What each of the line's buckets was given in all (its ledger account's credits), by bucket id: the whole
    /// a portal's progress bar measures `remaining` against.
    public func grantedAmounts(_ msisdn: MSISDN) async throws -> [Int64: Int64] {
        try await database.read { db in
            var granted: [Int64: Int64] = [:]
            for row in try await db.raw("""
                SELECT b.id, a.credits_posted FROM buckets b
                JOIN lines l ON l.id = b.line_id
                JOIN ledger_accounts a ON a.id = b.account_id
                WHERE l.msisdn = \(bind: msisdn.e164)
                """).all() {
                granted[try row.int64("id")] = try row.int64("credits_posted")
            }
            return granted
        }
    }

    // MARK: Building blocks (inside a transaction)

    static func loadLine(_ db: any SQLDatabase, _ msisdn: MSISDN, lock: String?) async throws -> Line {
        guard let row = try await db.raw("""
            SELECT \(unsafeRaw: LineRow.columns) FROM lines WHERE msisdn = \(bind: msisdn.e164)\(unsafeRaw: lock ?? "")
            """).first()
        else { throw RechargeError.lineNotFound(msisdn.e164) }
        return try LineRow.decode(row)
    }

    static func insertAccount(_ db: any SQLDatabase, code: String, kind: LedgerAccountKind, unit: String, lineID: Int64?, now: Date) async throws -> Int64 {
        guard let row = try await db.raw("""
            INSERT INTO ledger_accounts (code, kind, unit, line_id, created_at)
            VALUES (\(bind: code), \(bind: kind.rawValue), \(bind: unit), \(bind: lineID), \(bind: now.unixMicros))
            RETURNING id
            """).first()
        else { throw DatabaseError.invariantViolated("INSERT … RETURNING gave no row") }
        return try row.int64("id")
    }

    /// Get-or-create of an operator-side account by its code.
    static func upsertAccount(_ db: any SQLDatabase, code: String, kind: LedgerAccountKind, unit: String, now: Date) async throws -> Int64 {
        try await db.raw("""
            INSERT INTO ledger_accounts (code, kind, unit, created_at)
            VALUES (\(bind: code), \(bind: kind.rawValue), \(bind: unit), \(bind: now.unixMicros))
            ON CONFLICT (code) DO NOTHING
            """).run()
        guard let row = try await db.raw("SELECT id FROM ledger_accounts WHERE code = \(bind: code)").first() else {
            throw DatabaseError.invariantViolated("account \(code) neither inserted nor found")
        }
        return try row.int64("id")
    }

    /// The id of an operator-side account, created in a transaction of its own (and cached) so that the
    /// id is committed before any operation refers to it.
    func systemAccount(code: String, kind: LedgerAccountKind, unit: String, now: Date) async throws -> Int64 {
        try await systemAccounts.id(code: code, kind: kind, unit: unit, now: now)
    }


    private static let resultEncoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .custom { date, encoder in
            var container = encoder.singleValueContainer()
            try container.encode(date.unixMicros)
        }
        encoder.outputFormatting = .sortedKeys
        return encoder
    }()

    private static let resultDecoder: JSONDecoder = {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .custom { decoder in
            Date(unixMicros: try decoder.singleValueContainer().decode(Int64.self))
        }
        return decoder
    }()

    static func encodeResult(_ value: some Encodable) throws -> String {
        String(decoding: try resultEncoder.encode(value), as: UTF8.self)
    }

    /// An applied operation's stored result, written by hand: this runs for every operation inside the
    /// group-commit writer, the one serial section. The same bytes as `encodeResult` (the tests check).
    static func encodeResult(_ operation: LedgerOperation) -> String {
        var json = JSONWriter(capacity: 384, escapingSlashes: true)
        json.object { json in
            json.field("channel", operation.channel.rawValue)
            json.field("createdAt", operation.createdAt.unixMicros)
            json.key("entries")
            json.array(operation.entries) { json, entry in
                json.object { json in
                    json.field("amount", entry.amount)
                    json.field("bucketID", entry.bucketID)
                    json.field("bucketKind", entry.bucketKind.rawValue)
                    json.field("remainingAfter", entry.remainingAfter)
                    json.field("transferID", entry.transferID)
                    json.field("unit", entry.unit)
                }
            }
            json.field("id", operation.id)
            json.field("idempotencyKey", operation.idempotencyKey)
            json.field("kind", operation.kind.rawValue)
            json.field("msisdn", operation.msisdn)
            json.field("reference", operation.reference)
        }
        return json.text
    }

    /// The reference encoding of ``encodeResult(_:)-(LedgerOperation)``, for tests.
    static func encodeResultWithEncoder(_ operation: LedgerOperation) throws -> String {
        String(decoding: try resultEncoder.encode(operation), as: UTF8.self)
    }

    static func decodeResult<T: Decodable>(_ text: String, as type: T.Type) throws -> T {
        try resultDecoder.decode(T.self, from: Data(text.utf8))
    }
}
