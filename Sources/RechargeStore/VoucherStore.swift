import Crypto
import Foundation
import Logging
import RechargeCore
import SQLKit

/// Scratch-card vouchers: batches created in bulk, exported once to the card printer, stocked, activated by
/// serial range (above a configured value only with a second admin's approval), suspended or blocked, and
/// redeemed exactly once (``redeem(_:now:)``). Every operator step is written to `voucher_audit`.
public final class VoucherStore: Sendable {
    public let database: Database
    /// The key new cards are hashed with.
    public let key: VoucherKey
    /// Keys of earlier batches (after a rotation): redemption looks a PIN up under each.
    public let previousKeys: [VoucherKey]
    public let guessing: VoucherGuessingPolicy
    public let approval: VoucherApprovalPolicy
    let ledger: LedgerStore
    let logger: Logger
    /// Shares transactions among concurrent redemptions.
    let redemptions: VoucherRedemptionWriter

    /// Cards written per transaction when a batch is created: few commits (each rewrites most of the HMAC index's
    /// pages on SQLite), each holding the writer (and the top-ups behind it) for about 3 s on a 2-core machine.
    static let cardsPerTransaction = 200_000
    /// Cards per INSERT statement (one row is five literals, no bound parameters).
    static let cardsPerStatement = 5_000
    /// PINs per sealed export chunk.
    static let pinsPerSealedChunk = 10_000
    /// Writing or exporting hundreds of thousands of cards, or changing a whole batch, takes longer than the
    /// few seconds after which a request's transaction is given up on PostgreSQL.
    static let bulkTimeout: Duration = .seconds(300)

    public init(database: Database, key: VoucherKey, previousKeys: [VoucherKey] = [], ledger: LedgerStore? = nil, guessing: VoucherGuessingPolicy = VoucherGuessingPolicy(),
                approval: VoucherApprovalPolicy = VoucherApprovalPolicy(threshold: VoucherApprovalPolicy.defaultThreshold),
                logger: Logger = Logger(label: "recharge.vouchers")) {
        self.database = database
        self.key = key
        self.previousKeys = previousKeys.filter { $0.id != key.id }
        self.ledger = ledger ?? LedgerStore(database: database)
        self.guessing = guessing
        self.approval = approval
        self.logger = logger
        self.redemptions = VoucherRedemptionWriter(database: database, policy: guessing, logger: logger)
    }

    // MARK: Creating a batch

    /// Generates `request.count` cards: PINs from the system's secure random generator, their HMACs, and the
    /// sealed PINs for the one export. `progress` is called with the number of cards written so far.
    public func createBatch(_ request: VoucherBatchRequest, now: Date, progress: @Sendable (Int64) -> Void = { _ in }) async throws -> VoucherBatch {
        if case .pack(let code, let price) = request.denomination {
            // The card's face value must be what the catalog sells the pack for, in that currency.
            let product = try await CatalogStore(database: database).product(code)
            guard product.kind == .pack else { throw VoucherError.invalidBatch("'\(code)' is a \(product.kind.rawValue), not a pack") }
            guard product.price(in: price.currency) == price else {
                throw VoucherError.invalidBatch("pack '\(code)' costs \(product.price(in: price.currency)?.description ?? "nothing in \(price.currency.code)"), not \(price)")
            }
        }
        let key = self.key
        let count = request.count
        let batch = try await database.transaction { db -> VoucherBatch in
            guard let row = try await db.raw("""
                UPDATE voucher_serials SET next_serial = next_serial + \(bind: count) WHERE name = 'vouchers' RETURNING next_serial
                """).first()
            else { throw DatabaseError.invariantViolated("voucher_serials has no row") }
            let last = try row.int64("next_serial") - 1
            let serials = try VoucherSerialRange(first: last - count + 1, last: last)
            let face = request.denomination.faceValue
            var packCode: String?
            if case .pack(let code, _) = request.denomination { packCode = code }
            guard let idRow = try await db.raw("""
                INSERT INTO voucher_batches (denomination, value_micros, currency, product_code, first_serial, last_serial, pin_length, key_id,
                                             expires_at, state, created_by, created_at, updated_at)
                VALUES (\(bind: packCode == nil ? "money" : "pack"), \(bind: face.micros), \(bind: face.currency.code), \(bind: packCode), \(bind: serials.first), \(bind: serials.last),
                        \(bind: request.pinLength), \(bind: key.id), \(bind: request.expiresAt.unixMicros), 'generating', \(bind: request.createdBy),
                        \(bind: now.unixMicros), \(bind: now.unixMicros))
                RETURNING id
                """).first()
            else { throw DatabaseError.invariantViolated("INSERT … RETURNING gave no row") }
            return VoucherBatch(id: try idRow.int64("id"), denomination: request.denomination, serials: serials, expiresAt: request.expiresAt,
                                pinLength: request.pinLength, createdBy: request.createdBy, createdAt: now, state: .generating,
                                exportedAt: nil, exportedBy: nil)
        }
        // SQLite: while the cards are written, the writer connection keeps the whole HMAC index in its page cache
        // and leaves checkpoints to the end, so each commit writes every index page once instead of evicting and
        // rewriting pages all through the chunk.
        let bulk = database.dialect == .sqlite
        if bulk { try await sqlitePragmas(["PRAGMA cache_size = -262144", "PRAGMA wal_autocheckpoint = 0"]) }
        do {
            try await writeCards(batch, count: count, progress: progress)
        } catch {
            if bulk { try? await sqlitePragmas(Self.defaultPragmas) }
            throw error
        }
        if bulk { try await sqlitePragmas(Self.defaultPragmas) }
        return try await database.transaction { db in
            var finished = batch
            finished.state = try batch.state.applying(.finishGeneration, batch: batch.id)
            try await db.raw("""
                UPDATE voucher_batches SET state = \(bind: finished.state.rawValue), updated_at = \(bind: now.unixMicros)
                WHERE id = \(bind: batch.id) AND state = 'generating'
                """).run()
            try await Self.audit(db, batch: batch.id, action: "create", serials: batch.serials, affected: count, actor: request.createdBy,
                                 detail: "\(count) × \(request.denomination), expires \(Self.iso(request.expiresAt)), key \(key.id)", now: now)
            return finished
        }
    }

    static let defaultPragmas = ["PRAGMA cache_size = -2000", "PRAGMA wal_autocheckpoint = 1000"]

    /// Settings of the SQLite writer connection (run where the writes run).
    private func sqlitePragmas(_ pragmas: [String]) async throws {
        try await database.transaction { db in
            for pragma in pragmas { try await db.raw(SQLQueryString(pragma)).run() }
        }
    }

    private func writeCards(_ batch: VoucherBatch, count: Int64, progress: @Sendable (Int64) -> Void) async throws {
        let key = self.key
        var written: Int64 = 0
        var chunkIndex = 0
        // The next chunk's PINs are drawn and hashed while this one is written.
        var next: Task<GeneratedChunk, Never>? = Self.generate(batch: batch, from: batch.serials.first, count: Int(min(Int64(Self.cardsPerTransaction), count)), key: key)
        while let pending = next {
            let chunk = await pending.value
            let after = chunk.firstSerial + Int64(chunk.count)
            next = after <= batch.serials.last
                ? Self.generate(batch: batch, from: after, count: Int(min(Int64(Self.cardsPerTransaction), batch.serials.last - after + 1)), key: key)
                : nil
            try await write(chunk, batch: batch, chunkIndex: chunkIndex)
            chunkIndex += (chunk.count + Self.pinsPerSealedChunk - 1) / Self.pinsPerSealedChunk
            written += Int64(chunk.count)
            progress(written)
        }
    }

    /// PINs and HMACs for consecutive serials, computed on every core.
    struct GeneratedChunk: Sendable {
        let firstSerial: Int64
        let count: Int
        /// PIN digits, `pinLength` bytes per card, in serial order.
        var pins: [UInt8]
        /// 64 hex digits per card, in serial order.
        var hmacs: [UInt8]
    }

    static func generate(batch: VoucherBatch, from first: Int64, count: Int, key: VoucherKey) -> Task<GeneratedChunk, Never> {
        let length = batch.pinLength
        return Task.detached(priority: .userInitiated) {
            let parts = max(1, min(ProcessInfo.processInfo.activeProcessorCount, 8))
            let per = (count + parts - 1) / parts
            let pieces = await withTaskGroup(of: (Int, [UInt8], [UInt8]).self) { group in
                for part in 0..<parts {
                    let start = part * per
                    let size = max(0, min(per, count - start))
                    group.addTask {
                        var generator = SystemRandomNumberGenerator()
                        let hasher = key.hasher()
                        var pins = [UInt8]()
                        pins.reserveCapacity(size * length)
                        var hmacs = [UInt8](repeating: 0, count: size * 64)
                        for index in 0..<size {
                            var digits = VoucherPIN.generate(length: length, using: &generator).digits
                            digits.withUTF8 { utf8 in
                                pins.append(contentsOf: utf8)
                                hasher.write(digits: UnsafeRawBufferPointer(utf8), into: &hmacs, at: index * 64)
                            }
                        }
                        return (part, pins, hmacs)
                    }
                }
                var pieces: [(Int, [UInt8], [UInt8])] = []
                for await piece in group { pieces.append(piece) }
                return pieces.sorted { $0.0 < $1.0 }
            }
            var chunk = GeneratedChunk(firstSerial: first, count: count, pins: [], hmacs: [])
            chunk.pins.reserveCapacity(count * length)
            chunk.hmacs.reserveCapacity(count * 64)
            for piece in pieces {
                chunk.pins += piece.1
                chunk.hmacs += piece.2
            }
            return chunk
        }
    }

    /// Writes one chunk of cards and its sealed PINs in one transaction. Two cards with the same PIN (in this
    /// chunk, or an older card anywhere: about one chance in a thousand for a million cards among a million) would
    /// break the unique index: the chunk is then rolled back and drawn again.
    private func write(_ generated: GeneratedChunk, batch: VoucherBatch, chunkIndex: Int) async throws {
        var chunk = generated
        var attempt = 0
        while true {
            let statements = Self.insertStatements(chunk, batch: batch, keyID: key.id)
            let sealed = try Self.seal(chunk, batch: batch, firstChunkIndex: chunkIndex, key: key)
            do {
                try await database.transaction(timeout: Self.bulkTimeout) { db in
                    for statement in statements { try await db.raw(SQLQueryString(statement)).run() }
                    for (index, piece) in sealed.enumerated() {
                        try await db.raw("""
                            INSERT INTO voucher_export_staging (batch_id, chunk, first_serial, sealed)
                            VALUES (\(bind: batch.id), \(bind: chunkIndex + index), \(bind: piece.firstSerial), \(bind: piece.text))
                            """).run()
                    }
                }
                return
            } catch let error where database.isUniqueViolation(error) && attempt < 3 {
                attempt += 1
                logger.notice("A drawn voucher PIN was already taken; drawing the chunk again", metadata: ["batch": "\(batch.id)", "chunk": "\(chunkIndex)"])
                chunk = await Self.generate(batch: batch, from: chunk.firstSerial, count: chunk.count, key: key).value
            }
        }
    }

    /// Multi-row INSERTs written as literals: every value is an integer or hex made here, so the statements
    /// carry no bound parameters (SQLite allows 32766 of them per statement) and nothing typed by anyone.
    static func insertStatements(_ chunk: GeneratedChunk, batch: VoucherBatch, keyID: String) -> [String] {
        var statements: [String] = []
        var start = 0
        let fixed = ", \(batch.id), '"
        let tail = "', '\(keyID)', 'inactive')"
        while start < chunk.count {
            let end = min(start + cardsPerStatement, chunk.count)
            var sql = "INSERT INTO vouchers (serial, batch_id, pin_hmac, key_id, state) VALUES "
            sql.reserveCapacity(80 + (end - start) * 110)
            for index in start..<end {
                if index > start { sql += "," }
                sql += "("
                sql += String(chunk.firstSerial + Int64(index))
                sql += fixed
                sql += String(decoding: chunk.hmacs[(index * 64)..<(index * 64 + 64)], as: UTF8.self)
                sql += tail
            }
            statements.append(sql)
            start = end
        }
        return statements
    }

    static func seal(_ chunk: GeneratedChunk, batch: VoucherBatch, firstChunkIndex: Int, key: VoucherKey) throws -> [(firstSerial: Int64, text: String)] {
        var pieces: [(Int64, String)] = []
        var start = 0
        var index = firstChunkIndex
        while start < chunk.count {
            let end = min(start + pinsPerSealedChunk, chunk.count)
            let firstSerial = chunk.firstSerial + Int64(start)
            let plaintext = chunk.pins[(start * batch.pinLength)..<(end * batch.pinLength)]
            let box = try AES.GCM.seal(Array(plaintext), using: key.sealingKey, authenticating: Array(sealingContext(batch: batch.id, chunk: index, firstSerial: firstSerial).utf8))
            guard let combined = box.combined else { throw DatabaseError.invariantViolated("AES-GCM gave no combined box") }
            pieces.append((firstSerial, combined.base64EncodedString()))
            start = end
            index += 1
        }
        return pieces
    }

    /// Bound into each sealed chunk, so a chunk cannot be passed off as another batch's or another range's.
    static func sealingContext(batch: Int64, chunk: Int, firstSerial: Int64) -> String { "voucher-batch:\(batch):chunk:\(chunk):serial:\(firstSerial)" }

    // MARK: Export

    /// Writes the batch's serials and PINs as CSV (`serial,pin`) to a new file at `path`, readable by its owner
    /// only, and forgets the PINs: a batch is exported once. Fails, changing nothing, if `path` exists or the batch
    /// was already exported.
    public func export(batch id: Int64, to path: String, actor: String, now: Date) async throws -> Int64 {
        let key = self.key
        let forUpdate = database.forUpdate
        return try await database.transaction(timeout: Self.bulkTimeout) { db in
            let batch = try await Self.loadBatch(db, id, lock: forUpdate)
            if let at = batch.exportedAt { throw VoucherError.alreadyExported(batch: id, at: at, by: batch.exportedBy ?? "?") }
            let next = try batch.state.applying(.export, batch: id)
            let rows = try await db.raw("""
                SELECT chunk, first_serial, sealed FROM voucher_export_staging WHERE batch_id = \(bind: id) ORDER BY chunk
                """).all()
            let handle = try OwnerOnlyFile.open(path)
            var written: Int64 = 0
            do {
                defer { try? handle.close() }
                try handle.write(contentsOf: Data("serial,pin\n".utf8))
                for row in rows {
                    let chunk = try row.decode(column: "chunk", as: Int.self)
                    let firstSerial = try row.int64("first_serial")
                    guard let combined = Data(base64Encoded: try row.string("sealed")) else { throw DatabaseError.invariantViolated("sealed chunk \(chunk) is not base64") }
                    let pins = try AES.GCM.open(try AES.GCM.SealedBox(combined: combined), using: key.sealingKey,
                                                authenticating: Array(Self.sealingContext(batch: id, chunk: chunk, firstSerial: firstSerial).utf8))
                    let cards = pins.count / batch.pinLength
                    var text = ""
                    text.reserveCapacity(cards * (batch.pinLength + 13))
                    pins.withUnsafeBytes { bytes in
                        for card in 0..<cards {
                            text += String(firstSerial + Int64(card))
                            text += ","
                            text += String(decoding: UnsafeRawBufferPointer(rebasing: bytes[(card * batch.pinLength)..<((card + 1) * batch.pinLength)]), as: UTF8.self)
                            text += "\n"
                        }
                    }
                    try handle.write(contentsOf: Data(text.utf8))
                    written += Int64(cards)
                }
                try handle.synchronize()
                guard written == batch.count else { throw DatabaseError.invariantViolated("batch \(id) has \(batch.count) cards but \(written) sealed PINs") }
            } catch {
                try? FileManager.default.removeItem(atPath: path)
                throw error
            }
            do {
                try await db.raw("DELETE FROM voucher_export_staging WHERE batch_id = \(bind: id)").run()
                try await db.raw("""
                    UPDATE voucher_batches SET state = \(bind: next.rawValue), exported_at = \(bind: now.unixMicros), exported_by = \(bind: actor),
                        updated_at = \(bind: now.unixMicros)
                    WHERE id = \(bind: id)
                    """).run()
                try await Self.audit(db, batch: id, action: "export", serials: batch.serials, affected: written, actor: actor, detail: path, now: now)
            } catch {
                try? FileManager.default.removeItem(atPath: path)
                throw error
            }
            return written
        }
    }

    // MARK: Reading

    public func batch(_ id: Int64) async throws -> VoucherBatch {
        try await database.read { db in try await Self.loadBatch(db, id, lock: nil) }
    }

    public func batches() async throws -> [VoucherBatch] {
        try await database.read { db in
            try await db.raw("SELECT \(unsafeRaw: Self.batchColumns) FROM voucher_batches ORDER BY id").all().map(Self.decodeBatch)
        }
    }

    static let batchColumns = """
        id, denomination, value_micros, currency, product_code, first_serial, last_serial, pin_length, expires_at, state, created_by, \
        created_at, exported_at, exported_by
        """

    static func loadBatch(_ db: any SQLDatabase, _ id: Int64, lock: String?) async throws -> VoucherBatch {
        guard let row = try await db.raw("SELECT \(unsafeRaw: batchColumns) FROM voucher_batches WHERE id = \(bind: id)\(unsafeRaw: lock ?? "")").first()
        else { throw VoucherError.batchNotFound(id) }
        return try decodeBatch(row)
    }

    static func decodeBatch(_ row: any SQLRow) throws -> VoucherBatch {
        let currency = try Currency(code: try row.string("currency"))
        let value = Money(micros: try row.int64("value_micros"), currency: currency)
        let denomination: VoucherDenomination = try row.string("denomination") == "pack"
            ? .pack(code: try row.optional("product_code", as: String.self) ?? "", price: value)
            : .money(value)
        let stateText = try row.string("state")
        guard let state = VoucherBatchState(rawValue: stateText) else { throw DatabaseError.invariantViolated("batch state '\(stateText)'") }
        return VoucherBatch(
            id: try row.int64("id"), denomination: denomination,
            serials: try VoucherSerialRange(first: try row.int64("first_serial"), last: try row.int64("last_serial")),
            expiresAt: try row.date("expires_at"), pinLength: try row.decode(column: "pin_length", as: Int.self),
            createdBy: try row.string("created_by"), createdAt: try row.date("created_at"), state: state,
            exportedAt: try row.optional("exported_at", as: Int64.self).map(Date.init(unixMicros:)),
            exportedBy: try row.optional("exported_by", as: String.self))
    }

    static func audit(_ db: any SQLDatabase, batch: Int64, action: String, serials: VoucherSerialRange, affected: Int64, actor: String,
                      detail: String?, now: Date) async throws {
        try await db.raw("""
            INSERT INTO voucher_audit (batch_id, action, first_serial, last_serial, affected, actor, detail, created_at)
            VALUES (\(bind: batch), \(bind: action), \(bind: serials.first), \(bind: serials.last), \(bind: affected), \(bind: actor),
                    \(bind: detail), \(bind: now.unixMicros))
            """).run()
    }

    static func iso(_ date: Date) -> String { date.formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: false)) }
}
