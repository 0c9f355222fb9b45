import Foundation
import RechargeCore
import SQLKit

/// Offline usage: call detail records imported from files, each rated with the catalog's rating table and charged once
/// (docs/cdr.md). Records are charged in chunks, one transaction each: the chunk's lines locked in id order (like a
/// ledger batch), their buckets loaded once, every record decided in memory by ``CreditControl`` (allowances that cover
/// the use first, then money; an offline record is a use that already happened, so what the balance cannot pay is
/// recorded as unpaid instead of refused), then multi-row inserts and one ``Ledger`` call with all the chunk's postings.
///
/// A record's id is claimed in `cdr_records` (unique): a second import of the same record charges nothing. Re-rating
/// (``rerate(from:until:now:)``) prices stored records with the current catalog and posts only the differences.
public final class CDRImportStore: Sendable {
    public let database: Database
    private let catalogs: CatalogStore
    private let systemAccounts: SystemAccountCache

    /// Records per transaction. A chunk's fixed costs grow with the lines it touches (each locked, its buckets loaded
    /// once here and once by the ledger batch), so larger chunks amortize them: with 1,000 lines, 2,000 records a chunk
    /// imported 11,600 rows/s and 5,000 17,800 (bench/README.md). Statements are split to stay under bind limits.
    public static let chunkSize = 5_000

    public init(database: Database, catalogs: CatalogStore) {
        self.database = database
        self.catalogs = catalogs
        self.systemAccounts = SystemAccountCache(database: database)
    }

    /// What an import did, as stored in `cdr_imports` (counts grow chunk by chunk while it runs).
    public struct Summary: Sendable, Equatable, Codable {
        public let importID: Int64
        public let file: String
        /// `running` or `done`.
        public var state: String
        public var rows: Int64
        public var imported: Int64
        public var alreadyImported: Int64
        public var rejected: Int64
        /// Money charged and left unpaid by this import's records, in micro-units of `currency`.
        public var charged: Int64
        public var unpaid: Int64
        public var currency: String?
    }

    /// One rejected row as stored.
    public struct StoredReject: Sendable, Equatable, Codable {
        public let importID: Int64
        public let file: String
        public let lineNumber: Int64
        public let recordID: String?
        public let code: String
        public let reason: String
    }

    // MARK: Importing

    /// Imports a whole file: reads it chunk by chunk, charges each chunk, and reports progress as (bytes read, bytes
    /// in all). Throws ``CDRFileError`` before anything is written when the header is unusable.
    public func importFile(_ data: Data, name: String, now: Date, chunkSize: Int = CDRImportStore.chunkSize,
                           progress: (@Sendable (_ done: Int, _ total: Int) -> Void)? = nil) async throws -> Summary {
        var reader = try CDRReader(data)
        let importID = try await begin(file: name, now: now)
        let context = try await chargeContext(now: now)
        // SQLite: while the chunks are written, the writer connection keeps the tables' index pages in its page cache,
        // its statement journals in memory, and checkpoints every 10,000 pages instead of 1,000, so a chunk's multi-row
        // inserts do not spill and rewrite pages. Checkpoints are not left to the end (as voucher creation does): over a
        // million records the WAL grew to gigabytes and reads through it cost more (106 s against 88 s; bench/README.md).
        let bulk = database.dialect == .sqlite
        if bulk { try await sqlitePragmas(Self.bulkPragmas) }
        do {
            while true {
                let (records, rejects) = reader.next(max(1, chunkSize))
                if records.isEmpty && rejects.isEmpty { break }
                try await charge(records, rejects: rejects, importID: importID, context: context, now: now)
                progress?(reader.bytesRead, reader.byteCount)
            }
        } catch {
            if bulk { try? await sqlitePragmas(Self.defaultPragmas) }
            throw error
        }
        // The records are committed: settings that fail to go back (a connection setting, not data) do not fail the import.
        if bulk { try? await sqlitePragmas(Self.defaultPragmas) }
        return try await finish(importID, rows: Int64(reader.rowsRead), now: now)
    }

    static let bulkPragmas = ["PRAGMA cache_size = -262144", "PRAGMA wal_autocheckpoint = 10000", "PRAGMA temp_store = MEMORY"]
    static let defaultPragmas = ["PRAGMA cache_size = -2000", "PRAGMA wal_autocheckpoint = 1000", "PRAGMA temp_store = DEFAULT"]

    /// Settings of the SQLite writer connection (run where the writes run).
    private func sqlitePragmas(_ pragmas: [String]) async throws {
        try await database.transaction { db in
            for pragma in pragmas { try await db.raw(SQLQueryString(pragma)).run() }
        }
    }

    /// Opens an import; its summary is `running` until ``finish(_:rows:now:)``.
    public func begin(file: String, now: Date) async throws -> Int64 {
        let name = String(file.prefix(255))
        return try await database.transaction { db in
            guard let row = try await db.raw("""
                INSERT INTO cdr_imports (file_name, state, created_at) VALUES (\(bind: name), 'running', \(bind: now.unixMicros)) RETURNING id
                """).first()
            else { throw DatabaseError.invariantViolated("INSERT … RETURNING gave no row") }
            return try row.int64("id")
        }
    }

    public func finish(_ importID: Int64, rows: Int64, now: Date) async throws -> Summary {
        try await database.transaction { db in
            try await db.raw("""
                UPDATE cdr_imports SET state = 'done', rows_read = \(bind: rows), finished_at = \(bind: now.unixMicros) WHERE id = \(bind: importID)
                """).run()
        }
        guard let summary = try await summary(importID) else { throw DatabaseError.invariantViolated("import \(importID) vanished") }
        return summary
    }

    /// What every chunk of an import shares: the rating table and the revenue accounts usage is posted to (resolved
    /// before any chunk's transaction: ``SystemAccountCache`` must not run inside one).
    struct ChargeContext: Sendable {
        let catalog: Catalog
        let revenue: [String: Int64]
    }

    func chargeContext(now: Date) async throws -> ChargeContext {
        let catalog = try await catalogs.catalog()
        var revenue: [String: Int64] = [:]
        if let table = catalog.ratingTable {
            for unit in [table.currency.code] + [BucketKind.voice, .data, .sms].map({ $0.unit(currency: table.currency) }) {
                revenue[unit] = try await systemAccounts.id(code: LedgerAccountCode.usageRevenue(unit: unit), kind: .revenue, unit: unit, now: now)
            }
        }
        return ChargeContext(catalog: catalog, revenue: revenue)
    }

    /// Charges one chunk of records and stores the chunk's rejects, in one transaction (retried whole when another
    /// node claimed one of its record ids or ledger keys first: the retry then sees them as imported).
    func charge(_ records: [CallDetailRecord], rejects: [CDRReject], importID: Int64, context: ChargeContext, now: Date) async throws {
        let database = self.database
        var attempt = 0
        while true {
            do {
                try await database.transaction(timeout: .seconds(120)) { db in
                    try await Self.charge(records, rejects: rejects, importID: importID, context: context, now: now, db: db, database: database)
                }
                return
            } catch let error where attempt < Ledger.conflictRetries && (error is BatchKeyConflict || database.isUniqueViolation(error)) {
                attempt += 1
            }
        }
    }

    private struct Charged {
        let record: CallDetailRecord
        let line: Line
        let decision: CreditControlDecision
        /// The posts with the kind of bucket each draws from.
        let posts: [(draw: BucketDraw, kind: BucketKind)]
    }

    private static func charge(_ records: [CallDetailRecord], rejects parseRejects: [CDRReject], importID: Int64, context: ChargeContext, now: Date,
                               db: any SQLDatabase, database: Database) async throws {
        var rejects = parseRejects
        var charged: [Charged] = []
        var already = 0
        if !records.isEmpty {
            let msisdns = Array(Set(records.map(\.msisdn.e164))).sorted()
            var lines: [String: Line] = [:]
            for row in try await db.raw("""
                SELECT \(unsafeRaw: LineRow.columns) FROM lines WHERE msisdn IN (\(binds: msisdns)) ORDER BY id\(unsafeRaw: database.forUpdate)
                """).all() {
                let line = try LineRow.decode(row)
                lines[line.msisdn.e164] = line
            }
            // Read after the lines are locked: a concurrent import of the same records has committed by now.
            let existing = Set(try await db.raw("""
                SELECT record_id FROM cdr_records WHERE record_id IN (\(binds: records.map(\.recordID)))
                """).all().map { try $0.string("record_id") })
            var buckets: [Int64: [Bucket]] = [:]
            if !lines.isEmpty {
                for row in try await db.raw("\(unsafeRaw: BucketRow.select) WHERE b.line_id IN (\(binds: lines.values.map(\.id))) ORDER BY b.id").all() {
                    let bucket = try BucketRow.decode(row)
                    buckets[bucket.lineID, default: []].append(bucket)
                }
            }
            let quota = context.catalog.chargingQuota
            for record in records {
                if existing.contains(record.recordID) {
                    already += 1
                    continue
                }
                guard let line = lines[record.msisdn.e164] else {
                    rejects.append(CDRReject(lineNumber: record.lineNumber, recordID: record.recordID, reason: .unknownNumber(record.msisdn.e164)))
                    continue
                }
                guard let table = context.catalog.ratingTable else {
                    rejects.append(CDRReject(lineNumber: record.lineNumber, recordID: record.recordID,
                                             reason: .notRated("the catalog has no rating section: usage cannot be priced")))
                    continue
                }
                let free = record.use.service != .data && table.isFree(record.use.destination)
                if !line.status.acceptsDebits, !free {
                    rejects.append(CDRReject(lineNumber: record.lineNumber, recordID: record.recordID,
                                             reason: .lineNotActive(msisdn: line.msisdn.e164, status: line.status.rawValue)))
                    continue
                }
                // A termination with everything used and nothing asked: allowances, then money, and what the balance
                // cannot pay recorded as unpaid (the use happened; nothing is refused, nothing is reserved).
                let decision = CreditControl.decide(CreditControlInput(
                    type: .termination, line: line, buckets: buckets[line.id] ?? [], held: [], totals: SessionTotals(), use: record.use,
                    used: record.quantity, requested: 0, table: table, quota: quota, now: now))
                if case .ratingFailed(let reason) = decision.outcome {
                    rejects.append(CDRReject(lineNumber: record.lineNumber, recordID: record.recordID, reason: .notRated(reason)))
                    continue
                }
                var posts: [(draw: BucketDraw, kind: BucketKind)] = []
                for draw in decision.posts {
                    guard let index = buckets[line.id]?.firstIndex(where: { $0.id == draw.bucketID }) else { continue }
                    buckets[line.id]![index].remaining -= draw.amount
                    posts.append((draw, buckets[line.id]![index].kind))
                }
                charged.append(Charged(record: record, line: line, decision: decision, posts: posts))
            }
        }

        var totalCharged: Int64 = 0
        var totalUnpaid: Int64 = 0
        var currency: String?
        if !charged.isEmpty {
            let ids = try await database.allocateIDs("cdr_records", count: charged.count, db)
            for part in Array(zip(ids, charged)).chunked(500) {
                let sql: SQLQueryString = """
                    INSERT INTO cdr_records (id, record_id, import_id, line_id, line_number, started_at, money_units, bucket_units, due, charged, unpaid,
                        revision, created_at, updated_at) VALUES
                    """ + " " + SQLQueryString.rows(part.map { id, item -> [any Encodable & Sendable] in
                    let totals = item.decision.totals
                    return [id, item.record.recordID, importID, item.line.id, Int64(item.record.lineNumber), item.record.use.start.unixMicros,
                            totals.moneyUnits, totals.bucketUnits, totals.charged + totals.unpaid, totals.charged, totals.unpaid, 0, now.unixMicros,
                            now.unixMicros]
                })
                try await db.raw(sql).run()
            }

            var requests: [LedgerRequest] = []
            for (id, item) in zip(ids, charged) {
                totalCharged += item.decision.totals.charged
                totalUnpaid += item.decision.totals.unpaid
                currency = item.line.currency.code
                for (number, post) in item.posts.enumerated() {
                    let unit = post.kind.unit(currency: item.line.currency)
                    guard let counterparty = context.revenue[unit] else { throw DatabaseError.invariantViolated("no revenue account for \(unit)") }
                    let command = try DebitCommand(msisdn: item.line.msisdn, kind: post.kind, amount: post.draw.amount,
                                                   currency: post.kind == .monetary ? item.line.currency : nil, channel: .network,
                                                   reference: "cdr " + item.record.recordID, bucketID: post.draw.bucketID)
                    requests.append(try LedgerRequest(.debit(command), purpose: .cdrCharge(recordID: id, revision: 0, number: number + 1), now: now,
                                                      counterparty: counterparty))
                }
            }
            if !requests.isEmpty {
                for result in try await Ledger.apply(requests, in: db, database: database) {
                    // Each draw was decided under the line lock from what was available: a refusal is a bug, and rolls back.
                    if case .failure(let error) = result { throw DatabaseError.invariantViolated("a CDR debit was refused: \(error)") }
                }
            }

            for part in charged.chunked(500) {
                let sql = UsageRecordRow.insert + " " + SQLQueryString.rows(part.map { item in
                    UsageRecordRow(lineID: item.line.id, source: "cdr", sourceID: item.record.recordID, use: item.record.use, units: item.record.quantity,
                                   bucketUnits: item.decision.totals.bucketUnits, rated: item.decision.rated, charge: item.decision.totals.charged,
                                   unpaid: item.decision.totals.unpaid, currency: item.line.currency.code, updatedAt: now).values
                })
                try await db.raw(sql).run()
            }
        }

        for part in rejects.sorted(by: { $0.lineNumber < $1.lineNumber }).chunked(1_000) {
            let sql: SQLQueryString = "INSERT INTO cdr_rejects (import_id, line_number, record_id, code, reason) VALUES " + SQLQueryString.rows(part.map {
                [importID, Int64($0.lineNumber), $0.recordID, $0.reason.code, String($0.reason.detail.prefix(500))]
            })
            try await db.raw(sql).run()
        }
        try await db.raw("""
            UPDATE cdr_imports SET imported = imported + \(bind: Int64(charged.count)), already_imported = already_imported + \(bind: Int64(already)),
                rejected = rejected + \(bind: Int64(rejects.count)), charged = charged + \(bind: totalCharged), unpaid = unpaid + \(bind: totalUnpaid),
                currency = COALESCE(currency, \(bind: currency))
            WHERE id = \(bind: importID)
            """).run()
    }

    // MARK: Reading

    public func summary(_ importID: Int64) async throws -> Summary? {
        try await database.read { db in
            guard let row = try await db.raw("""
                SELECT id, file_name, state, rows_read, imported, already_imported, rejected, charged, unpaid, currency FROM cdr_imports
                WHERE id = \(bind: importID)
                """).first()
            else { return nil }
            return Summary(importID: try row.int64("id"), file: try row.string("file_name"), state: try row.string("state"), rows: try row.int64("rows_read"),
                           imported: try row.int64("imported"), alreadyImported: try row.int64("already_imported"), rejected: try row.int64("rejected"),
                           charged: try row.int64("charged"), unpaid: try row.int64("unpaid"), currency: try row.optional("currency"))
        }
    }

    /// Rejected rows, of one import or of every import (newest import first, then by line), `limit` at most.
    public func rejects(importID: Int64?, limit: Int = 1_000) async throws -> [StoredReject] {
        let limit = max(1, min(limit, 100_000))
        return try await database.read { db in
            var filter: SQLQueryString = ""
            if let importID { filter = "WHERE r.import_id = \(bind: importID)" }
            return try await db.raw("""
                SELECT r.import_id, i.file_name, r.line_number, r.record_id, r.code, r.reason FROM cdr_rejects r JOIN cdr_imports i ON i.id = r.import_id
                \(filter) ORDER BY r.import_id DESC, r.line_number, r.id LIMIT \(bind: limit)
                """).all().map { row in
                StoredReject(importID: try row.int64("import_id"), file: try row.string("file_name"), lineNumber: try row.int64("line_number"),
                             recordID: try row.optional("record_id"), code: try row.string("code"), reason: try row.string("reason"))
            }
        }
    }
}

// MARK: Re-rating

extension CDRImportStore {
    /// What a re-rating did. Money only: allowance units drawn by a record stay as they were.
    public struct RerateSummary: Sendable, Equatable, Codable {
        /// Records of the period looked at.
        public var examined: Int64 = 0
        /// Records whose price changed, settled again.
        public var rerated: Int64 = 0
        public var unchanged: Int64 = 0
        /// Records the current catalog cannot price (left as they were).
        public var unrated: Int64 = 0
        /// Records whose refund cannot be credited (a terminated line), left as they were.
        public var skipped: Int64 = 0
        /// Further money debited, and money refunded to balances (micro-units).
        public var debited: Int64 = 0
        public var refunded: Int64 = 0
        /// Unpaid amounts added (a higher price the balance could not pay) and written off (a lower price cancels
        /// what was still unpaid first).
        public var unpaidAdded: Int64 = 0
        public var unpaidCancelled: Int64 = 0
        public var currency: String?

        public init() {}
    }

    /// Prices the records whose use started in `[from, until)` with the current catalog, and posts the difference from
    /// the price each was last settled at: a higher price is debited (what the balance cannot pay is added to unpaid),
    /// a lower one first cancels what was unpaid, then credits the rest back to the main balance. Each settlement is
    /// stored with the record in the postings' transaction and names them by its revision, so a run repeated, or
    /// resumed after a crash, posts nothing twice.
    public func rerate(from: Date, until: Date, now: Date, chunkSize: Int = CDRImportStore.chunkSize) async throws -> RerateSummary {
        let context = try await chargeContext(now: now)
        guard let table = context.catalog.ratingTable else {
            throw RechargeError.invalidRequest("The catalog has no rating section: records cannot be re-rated. Add one (docs/charging.md).")
        }
        var summary = RerateSummary()
        var cursor: Int64 = 0
        let database = self.database
        while true {
            let after = cursor
            let ids = try await database.read { db in
                try await db.raw("""
                    SELECT id FROM cdr_records WHERE started_at >= \(bind: from.unixMicros) AND started_at < \(bind: until.unixMicros) AND id > \(bind: after)
                    ORDER BY id LIMIT \(bind: max(1, chunkSize))
                    """).all().map { try $0.int64("id") }
            }
            guard let last = ids.last else { break }
            cursor = last
            var attempt = 0
            while true {
                do {
                    let part = try await database.transaction(timeout: .seconds(120)) { db in
                        try await Self.rerate(ids, table: table, context: context, now: now, db: db, database: database)
                    }
                    summary.add(part)
                    break
                } catch is BatchKeyConflict where attempt < Ledger.conflictRetries {
                    attempt += 1
                }
            }
        }
        summary.currency = summary.currency ?? table.currency.code
        return summary
    }

    private static func rerate(_ ids: [Int64], table: RatingTable, context: ChargeContext, now: Date, db: any SQLDatabase,
                               database: Database) async throws -> RerateSummary {
        var summary = RerateSummary()
        let lineIDs = try await db.raw("SELECT DISTINCT line_id FROM cdr_records WHERE id IN (\(binds: ids))").all().map { try $0.int64("line_id") }.sorted()
        var lines: [Int64: Line] = [:]
        for row in try await db.raw("""
            SELECT \(unsafeRaw: LineRow.columns) FROM lines WHERE id IN (\(binds: lineIDs)) ORDER BY id\(unsafeRaw: database.forUpdate)
            """).all() {
            let line = try LineRow.decode(row)
            lines[line.id] = line
        }
        var buckets: [Int64: [Bucket]] = [:]
        for row in try await db.raw("\(unsafeRaw: BucketRow.select) WHERE b.line_id IN (\(binds: lineIDs)) ORDER BY b.id").all() {
            let bucket = try BucketRow.decode(row)
            buckets[bucket.lineID, default: []].append(bucket)
        }
        // Read under the lines' locks: every writer of a record holds its line's lock, so this is the latest settlement.
        let rows = try await db.raw("""
            SELECT c.id, c.record_id, c.line_id, c.money_units, c.due, c.charged, c.unpaid, c.revision, u.service, u.destination, u.visited_country,
                   u.visited_network, u.started_at
            FROM cdr_records c JOIN usage_records u ON u.source = 'cdr' AND u.source_id = c.record_id
            WHERE c.id IN (\(binds: ids)) ORDER BY c.id
            """).all()

        struct Settlement {
            let id: Int64
            let recordID: String
            let revision: Int
            let due: Int64
            let charged: Int64
            let unpaid: Int64
            let rated: RatedUsage?
        }
        var settlements: [Settlement] = []
        var requests: [LedgerRequest] = []
        guard let revenue = context.revenue[table.currency.code] else { throw DatabaseError.invariantViolated("no revenue account for \(table.currency.code)") }
        for row in rows {
            summary.examined += 1
            let id = try row.int64("id")
            let recordID = try row.string("record_id")
            guard let line = lines[try row.int64("line_id")] else { continue }
            let moneyUnits = try row.int64("money_units")
            let oldDue = try row.int64("due")
            var charged = try row.int64("charged")
            var unpaid = try row.int64("unpaid")
            let revision = try row.decode(column: "revision", as: Int.self) + 1
            let use = ChargedUse(service: try ChargedService(try row.string("service")), destination: try row.optional("destination"),
                                 visitedCountry: try row.optional("visited_country"), visitedNetwork: try row.optional("visited_network"),
                                 start: try row.date("started_at"))
            guard table.currency == line.currency, let price = try? table.price(try use.event(units: 0)), let newDue = price.charge(moneyUnits) else {
                summary.unrated += 1
                continue
            }
            let difference = newDue - oldDue
            guard difference != 0 else {
                summary.unchanged += 1
                continue
            }
            var number = 0
            if difference > 0 {
                // A further debit, from money buckets in consumption order, up to what they have; the rest is unpaid.
                var left = difference
                if line.status.acceptsDebits {
                    let candidates = ConsumptionOrder.sorted((buckets[line.id] ?? []).filter {
                        $0.kind == .monetary && $0.unit == line.currency.code && $0.available(at: now) > 0
                    })
                    for candidate in candidates where left > 0 {
                        guard let index = buckets[line.id]?.firstIndex(where: { $0.id == candidate.id }) else { continue }
                        let amount = min(left, buckets[line.id]![index].available(at: now))
                        guard amount > 0 else { continue }
                        buckets[line.id]![index].remaining -= amount
                        left -= amount
                        number += 1
                        let command = try DebitCommand(msisdn: line.msisdn, kind: .monetary, amount: amount, currency: line.currency, channel: .network,
                                                       reference: "cdr " + recordID + " re-rated", bucketID: candidate.id)
                        requests.append(try LedgerRequest(.debit(command), purpose: .cdrCharge(recordID: id, revision: revision, number: number), now: now,
                                                          counterparty: revenue))
                    }
                }
                summary.debited += difference - left
                summary.unpaidAdded += left
                charged += difference - left
                unpaid += left
            } else {
                // A lower price: what was unpaid is cancelled first, then the rest of the money goes back to the main balance.
                let back = -difference
                let cancelled = min(unpaid, back)
                let refund = back - cancelled
                if refund > 0 {
                    guard line.status.acceptsTopUps, let main = buckets[line.id]?.firstIndex(where: { $0.isMain && $0.unit == line.currency.code }) else {
                        summary.skipped += 1
                        continue
                    }
                    buckets[line.id]![main].remaining += refund
                    number += 1
                    let command = try TopUpCommand(msisdn: line.msisdn, value: .money(Money(micros: refund, currency: line.currency)), channel: .network,
                                                   reference: "cdr " + recordID + " re-rated")
                    requests.append(try LedgerRequest(.topUp(command), purpose: .cdrCharge(recordID: id, revision: revision, number: number), now: now,
                                                      counterparty: revenue))
                }
                summary.unpaidCancelled += cancelled
                summary.refunded += refund
                unpaid -= cancelled
                charged -= refund
            }
            summary.rerated += 1
            summary.currency = line.currency.code
            settlements.append(Settlement(id: id, recordID: recordID, revision: revision, due: newDue, charged: charged, unpaid: unpaid,
                                          rated: try? price.rated(moneyUnits)))
        }
        if !requests.isEmpty {
            for result in try await Ledger.apply(requests, in: db, database: database) {
                if case .failure(let error) = result { throw DatabaseError.invariantViolated("a re-rating posting was refused: \(error)") }
            }
        }
        for settlement in settlements {
            try await db.raw("""
                UPDATE cdr_records SET due = \(bind: settlement.due), charged = \(bind: settlement.charged), unpaid = \(bind: settlement.unpaid),
                    revision = \(bind: settlement.revision), updated_at = \(bind: now.unixMicros)
                WHERE id = \(bind: settlement.id) AND revision = \(bind: settlement.revision - 1)
                """).run()
            try await db.raw("""
                UPDATE usage_records SET charge = \(bind: settlement.charged), unpaid = \(bind: settlement.unpaid),
                    billed_units = \(bind: settlement.rated?.billedUnits ?? 0), tariff = \(bind: settlement.rated?.tariff),
                    explanation = \(bind: settlement.rated?.explanation), updated_at = \(bind: now.unixMicros)
                WHERE source = 'cdr' AND source_id = \(bind: settlement.recordID)
                """).run()
        }
        return summary
    }
}

extension CDRImportStore.RerateSummary {
    mutating func add(_ other: Self) {
        examined += other.examined
        rerated += other.rerated
        unchanged += other.unchanged
        unrated += other.unrated
        skipped += other.skipped
        debited += other.debited
        refunded += other.refunded
        unpaidAdded += other.unpaidAdded
        unpaidCancelled += other.unpaidCancelled
        currency = currency ?? other.currency
    }
}
