import Foundation
import RechargeCore
import SQLKit

/// Another process committed one of this batch's idempotency keys between our check and our insert
/// (possible only with several nodes on PostgreSQL). The batch is rolled back and tried again, and the
/// key is then seen as existing.
struct BatchKeyConflict: Error {}

/// A refusal stored with its idempotency key, answered again to a retry with the same key and body: the same
/// refusal, marked as a replay (the API sends `Idempotent-Replayed: true` with it, as with a replayed success).
/// Only the API's top-ups and debits see it; the store's own callers (orders, refunds, renewals) get the refusal.
public struct ReplayedRefusal: Error, Equatable, CustomStringConvertible {
    public let refusal: RechargeError

    public init(refusal: RechargeError) {
        self.refusal = refusal
    }

    public var description: String { "\(refusal) (replayed)" }
}

/// Applies a batch of top-ups and debits inside one transaction, with a fixed number of statements
/// whatever the batch size: lock the batch's lines (in id order, so two nodes never deadlock), read their
/// buckets and the idempotency keys already used, decide every request in memory in arrival order, then
/// write operations, new accounts and buckets, transfers and account postings as multi-row statements.
struct LedgerBatch {
    private let database: Database
    private let db: any SQLDatabase

    /// A bucket as the batch sees it: loaded, or created by a grant earlier in this batch.
    private enum Ref: Hashable {
        case stored(Int64)
        case new(Int)
    }

    private struct WorkingBucket {
        var bucket: Bucket
        let ref: Ref
        let accountRef: Ref
    }

    private struct PlannedTransfer {
        let operation: Int
        let leg: Int
        let debit: Ref
        let credit: Ref
        let amount: Int64
        let unit: String
        let reason: TransferReason
        let channel: Channel
        let reference: String?
        let lineID: Int64
    }

    private struct PlannedEntry {
        let transfer: Int
        let bucket: Ref
        let kind: BucketKind
        let unit: String
        let amount: Int64
        let remainingAfter: Int64
    }

    private struct PlannedOperation {
        let request: LedgerRequest
        let lineID: Int64
        /// nil: applied with `entries`; else the stored rejection.
        let rejection: RechargeError?
        let entries: [PlannedEntry]
    }

    private struct NewBucket {
        let lineID: Int64
        let grant: BucketGrant
        let unit: String
        let validFrom: Date
        let operation: Int
        let now: Date
    }

    /// What each request gets: decided now (`replayed`: the stored outcome of its key), or the (possibly replayed)
    /// outcome of a planned operation.
    private enum Slot {
        case done(Result<LedgerResult, any Error>, replayed: Bool)
        case planned(Int, replayed: Bool)
    }

    private var slots: [Slot] = []
    private var operations: [PlannedOperation] = []
    private var transfers: [PlannedTransfer] = []
    private var newBuckets: [NewBucket] = []
    private var deltas: [Ref: (debits: Int64, credits: Int64)] = [:]
    private var buckets: [Int64: [WorkingBucket]] = [:]
    /// Barred lines a credit in this batch reaches: their bar is cleared and the network told (``ChargingNotifications``).
    private var restoredLines = Set<Int64>()

    /// `markingReplayedRefusals`: a stored refusal answered to a retry comes back as ``ReplayedRefusal``.
    static func apply(_ requests: [LedgerRequest], in db: any SQLDatabase, database: Database,
                      markingReplayedRefusals: Bool = false) async throws -> [Result<LedgerResult, any Error>] {
        var batch = LedgerBatch(database: database, db: db)
        let results = try await batch.run(requests)
        guard markingReplayedRefusals else { return results.map(\.result) }
        return results.map { outcome in
            if outcome.replayed, case .failure(let error as RechargeError) = outcome.result { return .failure(ReplayedRefusal(refusal: error)) }
            return outcome.result
        }
    }

    private init(database: Database, db: any SQLDatabase) {
        self.database = database
        self.db = db
    }

    private mutating func run(_ requests: [LedgerRequest]) async throws -> [(result: Result<LedgerResult, any Error>, replayed: Bool)] {
        let lines = try await lockLines(Set(requests.map(\.msisdn.e164)).sorted())
        try await loadBuckets(lineIDs: lines.values.map(\.id))
        let existing = try await existingOperations(keys: Array(Set(requests.map(\.key.value))))
        var settled: [String: (fingerprint: String, operation: Int)] = [:]

        for request in requests {
            let key = request.key.value
            if let earlier = settled[key] {
                slots.append(earlier.fingerprint == request.fingerprint
                    ? .planned(earlier.operation, replayed: true)
                    : .done(.failure(RechargeError.idempotencyKeyReused(key)), replayed: false))
                continue
            }
            if let stored = existing[key] {
                slots.append(stored.fingerprint == request.fingerprint
                    ? .done(stored.outcome, replayed: true)
                    : .done(.failure(RechargeError.idempotencyKeyReused(key)), replayed: false))
                continue
            }
            guard let line = lines[request.msisdn.e164] else {
                slots.append(.done(.failure(RechargeError.lineNotFound(request.msisdn.e164)), replayed: false))
                continue
            }
            do {
                let index = try plan(request, line: line)
                settled[key] = (request.fingerprint, index)
                slots.append(.planned(index, replayed: false))
            } catch {
                // Validation that depends on the line (currency) is not stored: the key stays usable.
                slots.append(.done(.failure(error), replayed: false))
            }
        }
        return try await write()
    }

    // MARK: Deciding, in memory

    /// Plans one request against the batch's working state; returns its operation index. Throws only
    /// errors that are not stored with the key.
    private mutating func plan(_ request: LedgerRequest, line: Line) throws -> Int {
        let index = operations.count
        let counterparty = request.counterparty
        switch request.command {
        case .topUp(let command):
            guard line.status.acceptsTopUps else {
                return reject(request, line: line, .lineNotActive(msisdn: line.msisdn.e164, status: line.status))
            }
            var target: Int
            let amount: Int64
            let reason: TransferReason
            switch command.value {
            case .money(let money):
                guard money.currency == line.currency else {
                    throw RechargeError.currencyMismatch(expected: line.currency.code, got: money.currency.code)
                }
                guard let main = buckets[line.id]?.firstIndex(where: { $0.bucket.isMain && $0.bucket.unit == money.currency.code }) else {
                    throw DatabaseError.invariantViolated("line \(line.msisdn) has no main balance")
                }
                target = main
                amount = money.micros
                reason = .topUp
            case .bucket(let grant, let currency):
                if let currency, grant.kind == .monetary, currency != line.currency {
                    throw RechargeError.currencyMismatch(expected: line.currency.code, got: currency.code)
                }
                target = addBucket(line: line, grant: grant, operation: index, now: request.now)
                amount = grant.amount
                reason = .bucketGrant
            }
            var working = buckets[line.id]![target]
            working.bucket.remaining += amount
            buckets[line.id]![target] = working
            let transfer = addTransfer(PlannedTransfer(
                operation: index, leg: 1, debit: .stored(counterparty), credit: working.accountRef, amount: amount,
                unit: working.bucket.unit, reason: reason, channel: command.channel, reference: command.reference, lineID: line.id))
            operations.append(PlannedOperation(request: request, lineID: line.id, rejection: nil, entries: [
                PlannedEntry(transfer: transfer, bucket: working.ref, kind: working.bucket.kind, unit: working.bucket.unit,
                             amount: amount, remainingAfter: working.bucket.remaining),
            ]))
            if line.barredAt != nil { restoredLines.insert(line.id) }
        case .debit(let command):
            if let currency = command.currency, currency != line.currency {
                throw RechargeError.currencyMismatch(expected: line.currency.code, got: currency.code)
            }
            guard line.status.acceptsDebits || request.purpose.chargesGrantedUse else {
                return reject(request, line: line, .lineNotActive(msisdn: line.msisdn.e164, status: line.status))
            }
            let unit = command.kind.unit(currency: line.currency)
            let working = buckets[line.id] ?? []
            let draws: [BucketDraw]
            do {
                // Not into credit: the main balance's (or the named bucket's) floor is zero for such a debit.
                func floored(_ bucket: Bucket) -> Bucket { bucket.withFloor(0) }
                let candidates: [Bucket]
                if let bucketID = command.bucketID {
                    candidates = working.map(\.bucket).filter { $0.id == bucketID }.map(floored)
                } else if command.mainBalanceOnly {
                    candidates = working.map(\.bucket).filter(\.isMain).map(floored)
                } else {
                    candidates = working.map(\.bucket)
                }
                draws = try ConsumptionOrder.plan(debit: command.amount, unit: unit, from: candidates, at: request.now, msisdn: line.msisdn)
            } catch {
                return reject(request, line: line, error)
            }
            var entries: [PlannedEntry] = []
            for (leg, draw) in draws.enumerated() {
                guard let position = working.firstIndex(where: { $0.bucket.id == draw.bucketID }) else { continue }
                var bucket = buckets[line.id]![position]
                bucket.bucket.remaining -= draw.amount
                buckets[line.id]![position] = bucket
                let transfer = addTransfer(PlannedTransfer(
                    operation: index, leg: leg + 1, debit: bucket.accountRef, credit: .stored(counterparty), amount: draw.amount,
                    unit: unit, reason: .debit, channel: command.channel, reference: command.reference, lineID: line.id))
                entries.append(PlannedEntry(transfer: transfer, bucket: bucket.ref, kind: bucket.bucket.kind, unit: unit,
                                            amount: -draw.amount, remainingAfter: bucket.bucket.remaining))
            }
            operations.append(PlannedOperation(request: request, lineID: line.id, rejection: nil, entries: entries))
        }
        return index
    }

    private mutating func reject(_ request: LedgerRequest, line: Line, _ error: RechargeError) -> Int {
        operations.append(PlannedOperation(request: request, lineID: line.id, rejection: error, entries: []))
        return operations.count - 1
    }

    /// A bucket granted by this batch: its bucket and account ids are allocated at write time. Buckets
    /// created here get negative provisional ids so the consumption order can tell them apart.
    private mutating func addBucket(line: Line, grant: BucketGrant, operation: Int, now: Date) -> Int {
        let number = newBuckets.count
        let unit = grant.kind.unit(currency: line.currency)
        let validFrom = grant.validFrom ?? now
        newBuckets.append(NewBucket(lineID: line.id, grant: grant, unit: unit, validFrom: validFrom, operation: operation, now: now))
        let bucket = Bucket(
            id: -Int64(number) - 1, lineID: line.id, accountID: -Int64(number) - 1, kind: grant.kind, unit: unit, name: grant.name,
            remaining: 0, floor: 0, validFrom: validFrom, validUntil: grant.validUntil, priority: grant.priority, isMain: false,
            coverage: grant.coverage)
        buckets[line.id, default: []].append(WorkingBucket(bucket: bucket, ref: .new(number), accountRef: .new(number)))
        return buckets[line.id]!.count - 1
    }

    private mutating func addTransfer(_ transfer: PlannedTransfer) -> Int {
        transfers.append(transfer)
        deltas[transfer.debit, default: (0, 0)].debits += transfer.amount
        deltas[transfer.credit, default: (0, 0)].credits += transfer.amount
        return transfers.count - 1
    }

    // MARK: Reading

    private func lockLines(_ msisdns: [String]) async throws -> [String: Line] {
        guard !msisdns.isEmpty else { return [:] }
        let rows = try await db.raw("""
            SELECT \(unsafeRaw: LineRow.columns) FROM lines WHERE msisdn IN (\(binds: msisdns)) ORDER BY id\(unsafeRaw: database.forUpdate)
            """).all()
        var lines: [String: Line] = [:]
        for row in rows {
            let line = try LineRow.decode(row)
            lines[line.msisdn.e164] = line
        }
        return lines
    }

    private mutating func loadBuckets(lineIDs: [Int64]) async throws {
        guard !lineIDs.isEmpty else { return }
        let rows = try await db.raw("\(unsafeRaw: BucketRow.select) WHERE b.line_id IN (\(binds: lineIDs)) ORDER BY b.id").all()
        for row in rows {
            let bucket = try BucketRow.decode(row)
            buckets[bucket.lineID, default: []].append(WorkingBucket(bucket: bucket, ref: .stored(bucket.id), accountRef: .stored(bucket.accountID)))
        }
    }

    private func existingOperations(keys: [String]) async throws -> [String: (fingerprint: String, outcome: Result<LedgerResult, any Error>)] {
        var found: [String: (fingerprint: String, outcome: Result<LedgerResult, any Error>)] = [:]
        for chunk in keys.chunked(500) {
            let rows = try await db.raw("""
                SELECT idempotency_key, fingerprint, outcome, result FROM operations WHERE idempotency_key IN (\(binds: Array(chunk)))
                """).all()
            for row in rows {
                let result = try row.optional("result", as: String.self) ?? ""
                let outcome: Result<LedgerResult, any Error>
                switch try row.string("outcome") {
                case "applied": outcome = .success(LedgerResult(operation: try LedgerStore.decodeResult(result, as: LedgerOperation.self), replayed: true))
                case "rejected": outcome = .failure(try LedgerStore.decodeResult(result, as: RechargeError.self))
                default: throw DatabaseError.invariantViolated("operation \(try row.string("idempotency_key")) is pending outside its transaction")
                }
                found[try row.string("idempotency_key")] = (try row.string("fingerprint"), outcome)
            }
        }
        return found
    }

    // MARK: Writing

    private func write() async throws -> [(result: Result<LedgerResult, any Error>, replayed: Bool)] {
        let ids = try await database.allocateIDs([
            ("operations", operations.count), ("transfers", transfers.count),
            ("ledger_accounts", newBuckets.count), ("buckets", newBuckets.count),
        ], db)
        let (operationIDs, transferIDs, accountIDs, bucketIDs) = (ids[0], ids[1], ids[2], ids[3])
        func account(_ ref: Ref) -> Int64 {
            switch ref {
            case .stored(let id): id
            case .new(let number): accountIDs[number]
            }
        }
        func bucket(_ ref: Ref) -> Int64 {
            switch ref {
            case .stored(let id): id
            case .new(let number): bucketIDs[number]
            }
        }

        // Operations first: their unique keys are the claim, and a conflict aborts before anything else is written.
        var outcomes: [Result<LedgerResult, any Error>] = []
        var operationRows: [[any Encodable & Sendable]] = []
        for (index, operation) in operations.enumerated() {
            let request = operation.request
            let outcome: Result<LedgerResult, any Error>
            let stored: String
            if let rejection = operation.rejection {
                outcome = .failure(rejection)
                stored = try LedgerStore.encodeResult(rejection)
            } else {
                let channel: Channel
                let reference: String?
                switch request.command {
                case .topUp(let command): (channel, reference) = (command.channel, command.reference)
                case .debit(let command): (channel, reference) = (command.channel, command.reference)
                }
                let result = LedgerOperation(
                    id: operationIDs[index], kind: request.kind, msisdn: request.msisdn.e164, idempotencyKey: request.key.value,
                    channel: channel, reference: reference, createdAt: Date(unixMicros: request.now.unixMicros),
                    entries: operation.entries.map {
                        LedgerOperation.Entry(transferID: transferIDs[$0.transfer], bucketID: bucket($0.bucket), bucketKind: $0.kind,
                                              unit: $0.unit, amount: $0.amount, remainingAfter: $0.remainingAfter)
                    })
                outcome = .success(LedgerResult(operation: result, replayed: false))
                stored = LedgerStore.encodeResult(result)
            }
            outcomes.append(outcome)
            operationRows.append([
                operationIDs[index], request.key.value, request.fingerprint, request.kind.rawValue, operation.lineID,
                operation.rejection == nil ? "applied" : "rejected", stored, request.now.unixMicros,
                request.purpose.name.rawValue, request.purpose.orderID, request.purpose.refundID, request.purpose.subjectID,
                request.purpose.grantNumber,
            ])
        }
        var inserted = 0
        for chunk in operationRows.chunked(400) {
            inserted += try await db.raw(
                "INSERT INTO operations (id, idempotency_key, fingerprint, kind, line_id, outcome, result, created_at, "
                    + "purpose, order_id, refund_id, subject_id, grant_number) VALUES "
                    + SQLQueryString.rows(chunk) + " ON CONFLICT (idempotency_key) DO NOTHING RETURNING id"
            ).all().count
        }
        guard inserted == operationRows.count else { throw BatchKeyConflict() }

        if !newBuckets.isEmpty {
            let accountRows: [[any Encodable & Sendable]] = newBuckets.enumerated().map { number, new in
                [accountIDs[number], LedgerAccountCode.grantedBucket(lineID: new.lineID, operationID: operationIDs[new.operation]),
                 LedgerAccountKind.subscriberBucket.rawValue, new.unit, new.lineID, new.now.unixMicros]
            }
            for chunk in accountRows.chunked(500) {
                try await db.raw("INSERT INTO ledger_accounts (id, code, kind, unit, line_id, created_at) VALUES " + SQLQueryString.rows(chunk)).run()
            }
            let bucketRows: [[any Encodable & Sendable]] = newBuckets.enumerated().map { number, new in
                [bucketIDs[number], new.lineID, accountIDs[number], new.grant.kind.rawValue, new.unit, new.grant.name, new.grant.amount,
                 Int64(0), new.validFrom.unixMicros, new.grant.validUntil?.unixMicros, new.grant.priority, 0, new.now.unixMicros,
                 BucketRow.column(new.grant.coverage)]
            }
            for chunk in bucketRows.chunked(200) {
                try await db.raw("""
                    INSERT INTO buckets (id, line_id, account_id, kind, unit, name, initial_amount, floor, valid_from, valid_until, priority, is_main, created_at, coverage) VALUES
                    """ + SQLQueryString.rows(chunk)).run()
            }
        }

        if !transfers.isEmpty {
            let rows: [[any Encodable & Sendable]] = transfers.enumerated().map { index, transfer in
                [transferIDs[index], operationIDs[transfer.operation], transfer.leg, account(transfer.debit), account(transfer.credit),
                 transfer.amount, transfer.unit, transfer.reason.rawValue, transfer.channel.rawValue, transfer.reference,
                 transfer.lineID, operations[transfer.operation].request.now.unixMicros]
            }
            for chunk in rows.chunked(400) {
                try await db.raw("""
                    INSERT INTO transfers (id, operation_id, leg, debit_account_id, credit_account_id, amount, unit, reason, channel, reference, line_id, created_at) VALUES
                    """ + SQLQueryString.rows(chunk)).run()
            }
            // One posting per account for the whole batch. On PostgreSQL the accounts are locked in id order
            // first, so two nodes posting to the same operator accounts cannot deadlock, and with `FOR NO KEY
            // UPDATE` (``Database/forUpdate``), which the key-share locks the transfer insert above took on these
            // accounts, here and in any other batch, do not block.
            let postings = deltas.map { (id: account($0.key), debits: $0.value.debits, credits: $0.value.credits) }.sorted { $0.id < $1.id }
            if database.dialect == .postgres {
                try await db.raw("SELECT id FROM ledger_accounts WHERE id IN (\(binds: postings.map(\.id))) ORDER BY id\(unsafeRaw: database.forUpdate)").run()
            }
            for chunk in postings.chunked(500) {
                let values = SQLQueryString.rows(chunk.map { [$0.id, $0.debits, $0.credits] as [any Encodable & Sendable] })
                // The guard keeps a total from passing Int64: PostgreSQL would fail the statement, but SQLite
                // would quietly turn the sum into a float. A posting that would overflow is not applied, the
                // row count comes up short, and the batch fails.
                let updated = try await db.raw("WITH posting (id, debits, credits) AS (VALUES " + values + """
                    )
                    UPDATE ledger_accounts SET debits_posted = ledger_accounts.debits_posted + posting.debits,
                                               credits_posted = ledger_accounts.credits_posted + posting.credits
                    FROM posting
                    WHERE ledger_accounts.id = posting.id
                      AND ledger_accounts.debits_posted <= 9223372036854775807 - posting.debits
                      AND ledger_accounts.credits_posted <= 9223372036854775807 - posting.credits
                    RETURNING ledger_accounts.id
                    """).all().count
                guard updated == chunk.count else {
                    throw DatabaseError.invariantViolated("a posting would overflow an account total, or an account is missing")
                }
            }
        }

        if !restoredLines.isEmpty, let now = operations.map(\.request.now).max() {
            try await ChargingNotifications.restore(lineIDs: restoredLines.sorted(), now: now, in: db)
        }

        // What was applied now (not replays) announces itself in this same transaction: one outbox insert per batch.
        try await LedgerNotifications.enqueue(for: outcomes.indices.compactMap { index in
            (try? outcomes[index].get()).map { ($0.operation, operations[index].request.purpose) }
        }, in: db)

        return slots.map { slot in
            switch slot {
            case .done(let result, let replayed): (result, replayed)
            case .planned(let index, let replayed):
                (replayed ? outcomes[index].map { LedgerResult(operation: $0.operation, replayed: true) } : outcomes[index], replayed)
            }
        }
    }
}

extension Array {
    func chunked(_ size: Int) -> [ArraySlice<Element>] {
        stride(from: 0, to: count, by: size).map { self[$0..<Swift.min($0 + size, count)] }
    }
}
