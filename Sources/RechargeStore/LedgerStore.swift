import Crypto
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

/// Lines, buckets and the double-entry ledger. Every method that moves value runs in one database
/// transaction that claims the idempotency key first, locks the line, applies the transfers and stores the
/// result with the key, so a retry returns that result and a concurrent duplicate waits and then does too.
public final class LedgerStore: Sendable {
    public let database: Database
    /// Ids of operator-side accounts (clearing, revenue, allowance). They are created once and never
    /// deleted, so an id once seen committed stays valid.
    private let systemAccounts = NIOLockedValueBox<[String: Int64]>([:])

    /// Priority of a line's main balance: consumed after every granted bucket.
    public static let mainBucketPriority = 1000

    public init(database: Database) {
        self.database = database
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

    /// Lines ordered by number, for listings and the CLI.
    public func lines(limit: Int = 100, after: MSISDN? = nil) async throws -> [Line] {
        try await database.read { db in
            try await db.raw("""
                SELECT \(unsafeRaw: LineRow.columns) FROM lines WHERE msisdn > \(bind: after?.e164 ?? "")
                ORDER BY msisdn LIMIT \(bind: limit)
                """).all().map(LineRow.decode)
        }
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

    /// Every bucket of the line with what remains, in consumption order, and totals per unit: one query
    /// for the line and one for its buckets.
    public func balance(_ msisdn: MSISDN, at instant: Date) async throws -> BalanceSummary {
        try await database.read { db in
            let line = try await Self.loadLine(db, msisdn, lock: nil)
            let buckets = try await Self.loadBuckets(db, lineID: line.id, lock: nil)
            return BalanceSummary(line: line, buckets: buckets, at: instant)
        }
    }

    // MARK: Moving value

    /// Adds money to the line's main balance or grants it a new bucket.
    public func topUp(_ command: TopUpCommand, key: IdempotencyKey, now: Date) async throws -> LedgerResult {
        let fingerprint = Self.hash(command.fingerprint)
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
        let sourceAccountID = try await systemAccount(code: source.code, kind: source.kind, unit: source.unit, now: now)
        let forUpdate = database.forUpdate
        let outcome = try await database.transaction { db -> Outcome in
            let operationID: Int64
            switch try await Self.claim(db, key: key, fingerprint: fingerprint, kind: .topUp, now: now) {
            case .replay(let outcome): return outcome
            case .claimed(let id): operationID = id
            }
            let line = try await Self.loadLine(db, command.msisdn, lock: forUpdate)
            guard line.status.acceptsTopUps else {
                return try await Self.reject(db, operationID: operationID, lineID: line.id, .lineNotActive(msisdn: line.msisdn.e164, status: line.status))
            }
            let bucket: Bucket
            let amount: Int64
            let reason: TransferReason
            switch command.value {
            case .money(let money):
                guard money.currency == line.currency else {
                    throw RechargeError.currencyMismatch(expected: line.currency.code, got: money.currency.code)
                }
                guard let main = try await Self.loadBuckets(db, lineID: line.id, lock: nil).first(where: { $0.isMain && $0.unit == money.currency.code }) else {
                    throw DatabaseError.invariantViolated("line \(line.msisdn) has no main balance")
                }
                bucket = main
                amount = money.micros
                reason = .topUp
            case .bucket(let grant, let currency):
                if let currency, grant.kind == .monetary, currency != line.currency {
                    throw RechargeError.currencyMismatch(expected: line.currency.code, got: currency.code)
                }
                bucket = try await Self.insertBucket(db, line: line, grant: grant, operationID: operationID, now: now)
                amount = grant.amount
                reason = .bucketGrant
            }
            let transferID = try await Self.insertTransfer(
                db, operationID: operationID, leg: 1, debit: sourceAccountID, credit: bucket.accountID, amount: amount,
                unit: bucket.unit, reason: reason, channel: command.channel, reference: command.reference, lineID: line.id, now: now)
            try await Self.post(db, accountID: sourceAccountID, debit: amount)
            let remaining = try await Self.post(db, accountID: bucket.accountID, credit: amount)
            let operation = LedgerOperation(
                id: operationID, kind: .topUp, msisdn: line.msisdn.e164, idempotencyKey: key.value,
                channel: command.channel, reference: command.reference, createdAt: Date(unixMicros: now.unixMicros),
                entries: [.init(transferID: transferID, bucketID: bucket.id, bucketKind: bucket.kind, unit: bucket.unit, amount: amount, remainingAfter: remaining)])
            try await Self.complete(db, operationID: operationID, lineID: line.id, operation: operation)
            return .applied(operation, replayed: false)
        }
        return try outcome.get()
    }

    /// Charges the line: draws the amount from its valid buckets of that unit in consumption order, never
    /// below a bucket's floor (zero, or the credit limit on the main balance).
    public func debit(_ command: DebitCommand, key: IdempotencyKey, now: Date) async throws -> LedgerResult {
        let fingerprint = Self.hash(command.fingerprint)
        let forUpdate = database.forUpdate
        let revenueUnit = command.currency?.code ?? command.kind.unit(currency: .usd)
        let revenueID = try await systemAccount(
            code: LedgerAccountCode.usageRevenue(unit: revenueUnit), kind: .revenue, unit: revenueUnit, now: now)
        let outcome = try await database.transaction { db -> Outcome in
            let operationID: Int64
            switch try await Self.claim(db, key: key, fingerprint: fingerprint, kind: .debit, now: now) {
            case .replay(let outcome): return outcome
            case .claimed(let id): operationID = id
            }
            let line = try await Self.loadLine(db, command.msisdn, lock: forUpdate)
            if let currency = command.currency, currency != line.currency {
                throw RechargeError.currencyMismatch(expected: line.currency.code, got: currency.code)
            }
            guard line.status.acceptsDebits else {
                return try await Self.reject(db, operationID: operationID, lineID: line.id, .lineNotActive(msisdn: line.msisdn.e164, status: line.status))
            }
            let unit = command.kind.unit(currency: line.currency)
            let buckets = try await Self.loadBuckets(db, lineID: line.id, lock: nil)
            let draws: [BucketDraw]
            do {
                draws = try ConsumptionOrder.plan(debit: command.amount, unit: unit, from: buckets, at: now, msisdn: line.msisdn)
            } catch let error as RechargeError {
                return try await Self.reject(db, operationID: operationID, lineID: line.id, error)
            }
            var entries: [LedgerOperation.Entry] = []
            for (index, draw) in draws.enumerated() {
                guard let bucket = buckets.first(where: { $0.id == draw.bucketID }) else { continue }
                let transferID = try await Self.insertTransfer(
                    db, operationID: operationID, leg: index + 1, debit: draw.accountID, credit: revenueID, amount: draw.amount,
                    unit: unit, reason: .debit, channel: command.channel, reference: command.reference, lineID: line.id, now: now)
                let remaining = try await Self.post(db, accountID: draw.accountID, debit: draw.amount)
                // The line lock (or SQLite's single writer) makes the plan exact; this is the belt to its braces.
                guard remaining >= bucket.floor else {
                    throw DatabaseError.invariantViolated("bucket \(bucket.id) would fall to \(remaining), below its floor \(bucket.floor)")
                }
                entries.append(.init(transferID: transferID, bucketID: bucket.id, bucketKind: bucket.kind, unit: unit, amount: -draw.amount, remainingAfter: remaining))
            }
            try await Self.post(db, accountID: revenueID, credit: command.amount)
            let operation = LedgerOperation(
                id: operationID, kind: .debit, msisdn: line.msisdn.e164, idempotencyKey: key.value, channel: command.channel,
                reference: command.reference, createdAt: Date(unixMicros: now.unixMicros), entries: entries)
            try await Self.complete(db, operationID: operationID, lineID: line.id, operation: operation)
            return .applied(operation, replayed: false)
        }
        return try outcome.get()
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

    // MARK: Building blocks (inside a transaction)

    /// What a transaction decided: applied, or a business rejection that is stored with the key and
    /// returned again on every retry.
    enum Outcome: Sendable {
        case applied(LedgerOperation, replayed: Bool)
        case rejected(RechargeError)

        func get() throws -> LedgerResult {
            switch self {
            case .applied(let operation, let replayed): return LedgerResult(operation: operation, replayed: replayed)
            case .rejected(let error): throw error
            }
        }
    }

    enum Claim {
        case claimed(Int64)
        case replay(Outcome)
    }

    /// Claims the idempotency key by inserting its operation row. If the key exists (or a concurrent
    /// transaction holding it commits first, which the unique index makes us wait for), the stored outcome
    /// is returned instead, or ``RechargeError/idempotencyKeyReused(_:)`` if the request differs.
    static func claim(_ db: any SQLDatabase, key: IdempotencyKey, fingerprint: String, kind: LedgerOperation.Kind, now: Date) async throws -> Claim {
        if let row = try await db.raw("""
            INSERT INTO operations (idempotency_key, fingerprint, kind, outcome, created_at)
            VALUES (\(bind: key.value), \(bind: fingerprint), \(bind: kind.rawValue), 'pending', \(bind: now.unixMicros))
            ON CONFLICT (idempotency_key) DO NOTHING
            RETURNING id
            """).first() {
            return .claimed(try row.int64("id"))
        }
        guard let existing = try await db.raw("""
            SELECT fingerprint, outcome, result FROM operations WHERE idempotency_key = \(bind: key.value)
            """).first()
        else { throw DatabaseError.invariantViolated("idempotency key \(key) neither inserted nor found") }
        guard try existing.string("fingerprint") == fingerprint else { throw RechargeError.idempotencyKeyReused(key.value) }
        let result = try existing.optional("result", as: String.self) ?? ""
        switch try existing.string("outcome") {
        case "applied": return .replay(.applied(try decodeResult(result, as: LedgerOperation.self), replayed: true))
        case "rejected": return .replay(.rejected(try decodeResult(result, as: RechargeError.self)))
        default: throw DatabaseError.invariantViolated("operation for key \(key) is still pending after its transaction")
        }
    }

    static func reject(_ db: any SQLDatabase, operationID: Int64, lineID: Int64, _ error: RechargeError) async throws -> Outcome {
        try await db.raw("""
            UPDATE operations SET outcome = 'rejected', line_id = \(bind: lineID), result = \(bind: try encodeResult(error))
            WHERE id = \(bind: operationID)
            """).run()
        return .rejected(error)
    }

    static func complete(_ db: any SQLDatabase, operationID: Int64, lineID: Int64, operation: LedgerOperation) async throws {
        try await db.raw("""
            UPDATE operations SET outcome = 'applied', line_id = \(bind: lineID), result = \(bind: try encodeResult(operation))
            WHERE id = \(bind: operationID)
            """).run()
    }

    static func loadLine(_ db: any SQLDatabase, _ msisdn: MSISDN, lock: String?) async throws -> Line {
        guard let row = try await db.raw("""
            SELECT \(unsafeRaw: LineRow.columns) FROM lines WHERE msisdn = \(bind: msisdn.e164)\(unsafeRaw: lock ?? "")
            """).first()
        else { throw RechargeError.lineNotFound(msisdn.e164) }
        return try LineRow.decode(row)
    }

    static func loadBuckets(_ db: any SQLDatabase, lineID: Int64, lock: String?) async throws -> [Bucket] {
        try await db.raw("\(unsafeRaw: BucketRow.select) WHERE b.line_id = \(bind: lineID) ORDER BY b.id\(unsafeRaw: lock ?? "")")
            .all().map(BucketRow.decode)
    }

    static func insertBucket(_ db: any SQLDatabase, line: Line, grant: BucketGrant, operationID: Int64, now: Date) async throws -> Bucket {
        let unit = grant.kind.unit(currency: line.currency)
        let accountID = try await insertAccount(
            db, code: LedgerAccountCode.grantedBucket(lineID: line.id, operationID: operationID), kind: .subscriberBucket,
            unit: unit, lineID: line.id, now: now)
        let validFrom = grant.validFrom ?? now
        guard let row = try await db.raw("""
            INSERT INTO buckets (line_id, account_id, kind, unit, name, initial_amount, floor, valid_from, valid_until, priority, is_main, created_at)
            VALUES (\(bind: line.id), \(bind: accountID), \(bind: grant.kind.rawValue), \(bind: unit), \(bind: grant.name), \(bind: grant.amount), 0,
                    \(bind: validFrom.unixMicros), \(bind: grant.validUntil?.unixMicros), \(bind: grant.priority), 0, \(bind: now.unixMicros))
            RETURNING id
            """).first()
        else { throw DatabaseError.invariantViolated("INSERT … RETURNING gave no row") }
        return Bucket(
            id: try row.int64("id"), lineID: line.id, accountID: accountID, kind: grant.kind, unit: unit, name: grant.name,
            remaining: 0, floor: 0, validFrom: validFrom, validUntil: grant.validUntil, priority: grant.priority, isMain: false)
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
        if let id = systemAccounts.withLockedValue({ $0[code] }) { return id }
        let id = try await database.transaction { db in try await Self.upsertAccount(db, code: code, kind: kind, unit: unit, now: now) }
        systemAccounts.withLockedValue { $0[code] = id }
        return id
    }

    static func insertTransfer(
        _ db: any SQLDatabase, operationID: Int64, leg: Int, debit: Int64, credit: Int64, amount: Int64, unit: String,
        reason: TransferReason, channel: Channel, reference: String?, lineID: Int64, now: Date
    ) async throws -> Int64 {
        guard let row = try await db.raw("""
            INSERT INTO transfers (operation_id, leg, debit_account_id, credit_account_id, amount, unit, reason, channel, reference, line_id, created_at)
            VALUES (\(bind: operationID), \(bind: leg), \(bind: debit), \(bind: credit), \(bind: amount), \(bind: unit),
                    \(bind: reason.rawValue), \(bind: channel.rawValue), \(bind: reference), \(bind: lineID), \(bind: now.unixMicros))
            RETURNING id
            """).first()
        else { throw DatabaseError.invariantViolated("INSERT … RETURNING gave no row") }
        return try row.int64("id")
    }

    /// Posts one side of a transfer to an account; returns its balance (credits − debits) afterwards.
    @discardableResult
    static func post(_ db: any SQLDatabase, accountID: Int64, debit: Int64 = 0, credit: Int64 = 0) async throws -> Int64 {
        guard let row = try await db.raw("""
            UPDATE ledger_accounts SET debits_posted = debits_posted + \(bind: debit), credits_posted = credits_posted + \(bind: credit)
            WHERE id = \(bind: accountID)
            RETURNING credits_posted - debits_posted AS balance
            """).first()
        else { throw DatabaseError.invariantViolated("ledger account \(accountID) not found") }
        return try row.int64("balance")
    }

    static func hash(_ text: String) -> String {
        SHA256.hash(data: Data(text.utf8)).map { String(format: "%02x", $0) }.joined()
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

    static func decodeResult<T: Decodable>(_ text: String, as type: T.Type) throws -> T {
        try resultDecoder.decode(T.self, from: Data(text.utf8))
    }
}
