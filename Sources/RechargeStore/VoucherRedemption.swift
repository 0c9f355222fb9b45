import Foundation
import Logging
import NIOConcurrencyHelpers
import RechargeCore
import SQLKit

/// A redemption as it arrives from a channel (API, web portal, IVR, USSD): the PIN as typed, optionally the
/// serial printed beside it, the line to credit, and who is asking, for the brute-force counters.
public struct VoucherRedemptionAttempt: Sendable, Equatable {
    public let msisdn: MSISDN
    public let pin: String
    public let serial: Int64?
    /// The channel's name (`api`, `portal`, `ivr`, `ussd` …): failures on it feed its breaker.
    public let channel: String
    /// The caller: a portal account, an IP address, an API key.
    public let client: String
    /// An end user (locked out on its own) or a gateway serving many (an API key: bounded by its channel's breaker).
    public let clientKind: VoucherClientKind

    public init(msisdn: MSISDN, pin: String, serial: Int64?, channel: String, client: String, clientKind: VoucherClientKind = .endUser) {
        self.msisdn = msisdn
        self.pin = pin
        self.serial = serial
        self.channel = channel
        self.client = client
        self.clientKind = clientKind
    }

    var guardAttempt: VoucherGuardAttempt {
        VoucherGuardAttempt(channel: channel, line: msisdn.e164, client: client, clientKind: clientKind)
    }
}

/// A voucher redeemed: which card, what it gave, and the ledger operations that gave it.
public struct VoucherRedemption: Sendable, Equatable {
    public let serial: Int64
    public let batchID: Int64
    public let msisdn: MSISDN
    /// The card's value: credited to the main balance, or (for a pack card) paid in and spent on the pack.
    public let credited: Money
    /// The catalog pack granted, for a pack card.
    public let pack: String?
    /// The first operation: the money credited (for a pack: paid in).
    public let operation: LedgerOperation
    /// Every operation: the credit; for a pack also the purchase and one grant per allowance.
    public let operations: [LedgerOperation]
    public let redeemedAt: Date

    public init(serial: Int64, batchID: Int64, msisdn: MSISDN, credited: Money, pack: String?, operation: LedgerOperation,
                operations: [LedgerOperation], redeemedAt: Date) {
        self.serial = serial
        self.batchID = batchID
        self.msisdn = msisdn
        self.credited = credited
        self.pack = pack
        self.operation = operation
        self.operations = operations
        self.redeemedAt = redeemedAt
    }
}

extension VoucherStore {
    /// Redeems the card whose PIN is `attempt.pin` for `attempt.msisdn`, exactly once: the card's change to
    /// `redeemed` is a single conditional `UPDATE … WHERE pin_hmac = ? AND state = 'active' … RETURNING` in the same
    /// transaction as the ledger credit (from the voucher liability account to the line's main balance, with the
    /// idempotency key `voucher:<serial>`). Of any number of concurrent attempts with one PIN, one gets the card.
    ///
    /// Refusals: ``VoucherError/malformedPIN(_:)`` for a typing mistake (not counted); ``VoucherError/invalidPIN``
    /// for a PIN that matches no card (counted against the line, the end-user client and the channel's breaker); the
    /// specific reason only for a PIN that matched a card; ``VoucherError/lockedOut(subject:until:)`` and
    /// ``VoucherError/channelPaused(channel:until:)`` while the counters say so: the counters are read and the failures
    /// written in the transaction that checks the PIN, under the lock, one attempt after the other
    /// (``VoucherGuardTally``), so concurrent guesses cannot all pass a check made before any of them failed.
    /// Every attempt is logged, never its PIN.
    public func redeem(_ attempt: VoucherRedemptionAttempt, now: Date) async throws -> VoucherRedemption {
        var log = logger
        log[metadataKey: "msisdn"] = "\(attempt.msisdn.e164)"
        log[metadataKey: "channel"] = "\(attempt.channel)"
        log[metadataKey: "client"] = "\(attempt.client)"
        do {
            let redemption = try await redeemChecked(attempt, now: now)
            log.info("voucher redeemed", metadata: ["outcome": "redeemed", "serial": "\(redemption.serial)", "credited": "\(redemption.credited)"])
            return redemption
        } catch let error as VoucherError {
            log.notice("voucher redemption refused", metadata: ["outcome": "\(error.code)"])
            throw error
        } catch {
            log.warning("voucher redemption failed", metadata: ["outcome": "error", "error": "\(error)"])
            throw error
        }
    }

    private func redeemChecked(_ attempt: VoucherRedemptionAttempt, now: Date) async throws -> VoucherRedemption {
        let pin = try VoucherPIN(parsingAnyLength: attempt.pin)
        // The current key's HMAC, and one per previous key for cards created before a rotation.
        let claim = VoucherClaim(hmacs: ([key] + previousKeys).map { $0.hmacHex(pin) }, attempt: attempt, now: now)
        let outcome = try await redemptions.submit(claim)
        switch outcome {
        case .redeemed(let redemption):
            return redemption
        case .refused(let error):
            throw error
        case .unknown:
            // Already counted, in the transaction that checked the PIN.
            throw VoucherError.invalidPIN
        }
    }

    enum Outcome: Sendable {
        case redeemed(VoucherRedemption)
        case refused(VoucherError)
        case unknown
    }

    /// Redeems a batch of claims in the current transaction, in arrival order: the brute-force counters of every
    /// claim read under the lock, and each claim admitted or refused by them and then settled (its failure counted)
    /// before the next is looked at (``VoucherGuardTally``); one conditional
    /// `UPDATE … WHERE pin_hmac IN (…) AND state = 'active' … RETURNING` (a probe of the HMAC index per PIN; when two
    /// claims carry one PIN only the first contends), then one ledger batch crediting every line, and last the
    /// counters written back before the transaction commits. A claim the ledger would refuse (line unknown or terminated, other
    /// currency) has its card put back and is answered on its own; any other failure throws, and the group-commit
    /// writer retries each claim alone.
    /// `accounts` holds the ids of operator accounts known to be committed (by code); accounts this batch creates
    /// are added to it, for the caller to keep once the transaction has committed.
    static func redeem(_ claims: [VoucherClaim], policy: VoucherGuessingPolicy, accounts: inout [String: Int64], in db: any SQLDatabase,
                       database: Database, logger: Logger) async throws -> [Result<Outcome, any Error>] {
        var results = [Result<Outcome, any Error>?](repeating: nil, count: claims.count)
        var tally = try await lockTally(claims, policy: policy, in: db, database: database)
        // Which PINs name a card (and which), read under the same lock: each claim is then admitted and settled in
        // arrival order, exactly as if the attempts had come one at a time. Admission looks at the counters only
        // (never at the claim's own PIN), and a failure is counted before the next claim is admitted, so a batch
        // lets through no more guesses than the limit; and honest redemptions are never refused for being many at
        // once (holding room for every claim in flight refused two thirds of a 64-connection load).
        let known = try await cardSerials(db, hmacs: Array(Set(claims.flatMap(\.hmacs))))
        var admittedPINs = Set<String>()
        var contenders: [Int] = []
        var contending = Set<String>()
        for (index, claim) in claims.enumerated() {
            // A PIN already admitted in this batch is the same guess again: only a lockout stops it, and it is not counted.
            let repeated = !admittedPINs.isDisjoint(with: claim.hmacs)
            if let refusal = repeated ? tally.lockRefusal(claim.attempt.guardAttempt, now: claim.now) : tally.admit(claim.attempt.guardAttempt, now: claim.now) {
                results[index] = .success(.refused(refusal))
                continue
            }
            if !repeated {
                admittedPINs.formUnion(claim.hmacs)
                // A failure is a PIN that names no card, or another card than the serial given (as the outcome below).
                let serial = claim.hmacs.lazy.compactMap { known[$0] }.first
                let failed = serial == nil || claim.attempt.serial.map { $0 != serial } == true
                tally.settle(claim.attempt.guardAttempt, failed: failed, now: claim.now)
            }
            if contending.isDisjoint(with: claim.hmacs) {
                contending.formUnion(claim.hmacs)
                contenders.append(index)
            }
        }
        var claimed: [(index: Int, serial: Int64, batchID: Int64)] = []
        if let latest = contenders.map({ claims[$0].now }).max() {
            var sql: SQLQueryString = "UPDATE vouchers SET state = 'redeemed', redeemed_at = CASE pin_hmac"
            // Typed out: inside an interpolation, flatMap over nested arrays could bind a list of lists.
            let pairs: [(hmac: String, index: Int)] = contenders.flatMap { index in claims[index].hmacs.map { (hmac: $0, index: index) } }
            for pair in pairs { sql += " WHEN \(bind: pair.hmac) THEN \(bind: claims[pair.index].now.unixMicros)" }
            sql += " END, msisdn = CASE pin_hmac"
            for pair in pairs { sql += " WHEN \(bind: pair.hmac) THEN \(bind: claims[pair.index].attempt.msisdn.e164)" }
            sql += """
                 END, updated_at = \(bind: latest.unixMicros)
                WHERE pin_hmac IN (\(binds: pairs.map(\.hmac))) AND state = 'active'
                  AND batch_id IN (SELECT id FROM voucher_batches WHERE expires_at > \(bind: latest.unixMicros))
                RETURNING serial, batch_id, pin_hmac
                """
            var hits: [String: (serial: Int64, batchID: Int64)] = [:]
            for row in try await db.raw(sql).all() {
                hits[try row.string("pin_hmac")] = (try row.int64("serial"), try row.int64("batch_id"))
            }
            var wrongSerial: [Int64] = []
            for index in contenders {
                guard let hit = claims[index].hmacs.lazy.compactMap({ hits[$0] }).first else { continue }
                if let wanted = claims[index].attempt.serial, wanted != hit.serial {
                    // A PIN with another card's serial is a guess like any other.
                    wrongSerial.append(hit.serial)
                    results[index] = .success(.unknown)
                } else {
                    claimed.append((index, hit.serial, hit.batchID))
                }
            }
            try await putBack(wrongSerial, in: db)
        }
        if !claimed.isEmpty { try await credit(claimed, claims, &results, accounts: &accounts, in: db, database: database) }
        // Last, so that a later claim of a PIN claimed earlier in this batch sees how that ended.
        var matched: [[String]: MatchedCard?] = [:]
        for index in claims.indices where results[index] == nil && !claimed.contains(where: { $0.index == index }) {
            // Many claims of one PIN (a retry storm, or guessing) look the card up once.
            let hmacs = claims[index].hmacs
            if matched[hmacs] == nil { matched[hmacs] = .some(try await matchedCard(db, hmacs: hmacs)) }
            results[index] = .success(try explainRefusal(matched[hmacs]!, serial: claims[index].attempt.serial, now: claims[index].now))
        }
        try await save(tally, in: db, logger: logger)
        return results.map { $0! }
    }

    /// Cards claimed and then refused before the ledger was asked: back as they were.
    private static func putBack(_ serials: [Int64], in db: any SQLDatabase) async throws {
        guard !serials.isEmpty else { return }
        try await db.raw("""
            UPDATE vouchers SET state = 'active', redeemed_at = NULL, msisdn = NULL WHERE serial IN (\(binds: serials))
            """).run()
    }

    /// The ledger credits of the claimed cards, in one ledger batch.
    private static func credit(_ claimed: [(index: Int, serial: Int64, batchID: Int64)], _ claims: [VoucherClaim],
                               _ results: inout [Result<Outcome, any Error>?], accounts: inout [String: Int64], in db: any SQLDatabase,
                               database: Database) async throws {
        var batches: [Int64: VoucherBatch] = [:]
        for row in try await db.raw("SELECT \(unsafeRaw: batchColumns) FROM voucher_batches WHERE id IN (\(binds: Array(Set(claimed.map(\.batchID)))))").all() {
            let batch = try decodeBatch(row)
            batches[batch.id] = batch
        }
        var lines: [String: Line] = [:]
        for row in try await db.raw("SELECT \(unsafeRaw: LineRow.columns) FROM lines WHERE msisdn IN (\(binds: Array(Set(claimed.map { claims[$0.index].attempt.msisdn.e164 }))))").all() {
            let line = try LineRow.decode(row)
            lines[line.msisdn.e164] = line
        }
        var catalog: Catalog?
        if claimed.contains(where: { if case .pack = batches[$0.batchID]?.denomination { true } else { false } }) {
            catalog = try await CatalogStore.load(db)
        }
        func account(_ code: String, _ kind: LedgerAccountKind, _ unit: String, now: Date) async throws -> Int64 {
            if let id = accounts[code] { return id }
            let id = try await LedgerStore.upsertAccount(db, code: code, kind: kind, unit: unit, now: now)
            accounts[code] = id
            return id
        }
        var requests: [LedgerRequest] = []
        var credited: [(index: Int, serial: Int64, batch: VoucherBatch, value: Money, requests: Range<Int>)] = []
        var refused: [Int64] = []
        for item in claimed {
            let claim = claims[item.index]
            guard let batch = batches[item.batchID] else { throw DatabaseError.invariantViolated("voucher \(item.serial) has no batch") }
            guard let line = lines[claim.attempt.msisdn.e164] else {
                refused.append(item.serial)
                results[item.index] = .failure(RechargeError.lineNotFound(claim.attempt.msisdn.e164))
                continue
            }
            let value = batch.denomination.faceValue
            var refusal: (any Error)?
            var product: Product?
            if line.currency != value.currency {
                refusal = VoucherError.currencyMismatch(voucher: batch.denomination.description, line: line.currency.code)
            } else if case .pack(let code, _) = batch.denomination {
                product = catalog?.product(code)
                // A pack is paid in and spent at once, so the line must accept debits as well (like a paid order).
                if product == nil { refusal = RechargeError.productNotFound(code) }
                else if !line.status.acceptsDebits { refusal = RechargeError.lineNotActive(msisdn: line.msisdn.e164, status: line.status) }
            } else if !line.status.acceptsTopUps {
                refusal = RechargeError.lineNotActive(msisdn: line.msisdn.e164, status: line.status)
            }
            if let refusal {
                refused.append(item.serial)
                results[item.index] = .failure(refusal)
                continue
            }
            let unit = value.currency.code
            let liability = try await account(LedgerAccountCode.voucherLiability(unit: unit), .voucherLiability, unit, now: claim.now)
            let reference = "voucher:\(item.serial)"
            let first = requests.count
            if let product {
                // Like a paid pack order: the card's value paid in and spent, then one bucket per allowance.
                let revenue = try await account(LedgerAccountCode.packRevenue(unit: unit), .revenue, unit, now: claim.now)
                requests.append(try LedgerRequest(.topUp(try TopUpCommand(msisdn: line.msisdn, value: .money(value), channel: .voucher, reference: reference)),
                                                  purpose: .voucherPayment(serial: item.serial), now: claim.now, counterparty: liability))
                requests.append(try LedgerRequest(.debit(try DebitCommand(msisdn: line.msisdn, kind: .monetary, amount: value.micros, currency: value.currency,
                                                                          channel: .voucher, reference: reference)),
                                                  purpose: .voucherPurchase(serial: item.serial), now: claim.now, counterparty: revenue))
                let validUntil = product.validityDays.map { claim.now.addingTimeInterval(TimeInterval($0) * 86_400) }
                for (position, allowance) in product.allowances.enumerated() {
                    let allowanceUnit = allowance.kind.unit(currency: line.currency)
                    let grant = try BucketGrant(kind: allowance.kind, amount: allowance.amount, name: product.name(language: "en"), validFrom: claim.now,
                                                validUntil: validUntil, priority: BucketGrant.defaultPriority, coverage: product.coverage.map { Set($0.countries) })
                    requests.append(try LedgerRequest(
                        .topUp(try TopUpCommand(msisdn: line.msisdn, value: .bucket(grant, currency: line.currency), channel: .voucher, reference: reference)),
                        purpose: .voucherGrant(serial: item.serial, number: position + 1), now: claim.now,
                        counterparty: try await account(LedgerAccountCode.allowance(unit: allowanceUnit), .allowance, allowanceUnit, now: claim.now)))
                }
            } else {
                requests.append(try LedgerRequest(.topUp(try TopUpCommand(msisdn: line.msisdn, value: .money(value), channel: .voucher, reference: reference)),
                                                  purpose: .voucherRedemption(serial: item.serial), now: claim.now, counterparty: liability))
            }
            credited.append((item.index, item.serial, batch, value, first..<requests.count))
        }
        try await putBack(refused, in: db)
        guard !requests.isEmpty else { return }
        let outcomes = try await Ledger.apply(requests, in: db, database: database)
        guard outcomes.count == requests.count else { throw DatabaseError.invariantViolated("the ledger answered \(outcomes.count) of \(requests.count) voucher credits") }
        var links: SQLQueryString = "UPDATE vouchers SET operation_id = CASE serial"
        for item in credited {
            // A refusal now (the line changed under us on another node) rolls the whole batch back; each claim is then retried alone.
            var operations: [LedgerOperation] = []
            for outcome in outcomes[item.requests] {
                let applied = try outcome.get()
                guard !applied.replayed else { throw DatabaseError.invariantViolated("voucher \(item.serial) was credited before it was claimed") }
                operations.append(applied.operation)
            }
            let claim = claims[item.index]
            links += " WHEN \(literal: item.serial) THEN \(literal: operations[0].id)"
            var pack: String?
            if case .pack(let code, _) = item.batch.denomination { pack = code }
            results[item.index] = .success(.redeemed(VoucherRedemption(
                serial: item.serial, batchID: item.batch.id, msisdn: claim.attempt.msisdn, credited: item.value, pack: pack,
                operation: operations[0], operations: operations, redeemedAt: claim.now)))
        }
        links += " END, line_id = (SELECT id FROM lines WHERE lines.msisdn = vouchers.msisdn) WHERE serial IN (\(binds: credited.map(\.serial)))"
        try await db.raw(links).run()
    }

    /// Why a PIN could not be redeemed: a matched card tells its state; anything else is just unknown.
    /// The card a PIN matched, as far as a refusal needs it.
    struct MatchedCard: Sendable {
        let serial: Int64
        let state: VoucherState?
        let redeemedAt: Date?
        let msisdn: String?
        let expiresAt: Date
    }

    /// The serial of the card each of `hmacs` names, for those that name one (in any state: cards are never deleted).
    static func cardSerials(_ db: any SQLDatabase, hmacs: [String]) async throws -> [String: Int64] {
        guard !hmacs.isEmpty else { return [:] }
        var serials: [String: Int64] = [:]
        for row in try await db.raw("SELECT pin_hmac, serial FROM vouchers WHERE pin_hmac IN (\(binds: hmacs))").all() {
            serials[try row.string("pin_hmac")] = try row.int64("serial")
        }
        return serials
    }

    static func matchedCard(_ db: any SQLDatabase, hmacs: [String]) async throws -> MatchedCard? {
        guard let row = try await db.raw("""
            SELECT v.serial, v.state, v.redeemed_at, v.msisdn, b.expires_at FROM vouchers v JOIN voucher_batches b ON b.id = v.batch_id
            WHERE v.pin_hmac IN (\(binds: hmacs))
            """).first()
        else { return nil }
        return MatchedCard(serial: try row.int64("serial"), state: VoucherState(rawValue: try row.string("state")),
                           redeemedAt: try row.optional("redeemed_at", as: Int64.self).map(Date.init(unixMicros:)),
                           msisdn: try row.optional("msisdn", as: String.self), expiresAt: try row.date("expires_at"))
    }

    static func explainRefusal(_ card: MatchedCard?, serial: Int64?, now: Date) throws -> Outcome {
        guard let card else { return .unknown }
        // A PIN with another card's serial is a guess like any other.
        if let serial, card.serial != serial { return .unknown }
        guard let state = card.state else { return .unknown }
        if VoucherAction.expire.transition.from.contains(state), now >= card.expiresAt { return .refused(.expired(at: card.expiresAt)) }
        guard let refusal = state.redemptionRefusal(redeemedAt: card.redeemedAt, maskedMSISDN: card.msisdn.map(maskedMSISDN), expiresAt: card.expiresAt) else {
            // Only when an earlier claim in the same batch took the card and then put it back (its line refused it):
            // throwing makes the writer retry every claim of the batch alone, where this one gets its own chance.
            throw DatabaseError.invariantViolated("an active, unexpired card was not claimed")
        }
        return .refused(refusal)
    }

    // MARK: Brute-force counters

    /// The counters of every subject of `claims`, locked until the transaction ends: on SQLite the transaction is the
    /// one writer's (`BEGIN IMMEDIATE`); on PostgreSQL every row is first made to exist (so that there is a row to lock
    /// for a line or client that never failed) and then read `FOR UPDATE`, in key order so that two nodes cannot
    /// deadlock. The breaker's sources are read after the lock on their channel's row, which every writer of them holds.
    static func lockTally(_ claims: [VoucherClaim], policy: VoucherGuessingPolicy, in db: any SQLDatabase, database: Database) async throws -> VoucherGuardTally {
        let keys = Set(claims.flatMap { $0.attempt.guardAttempt.subjects.map(\.key) }).sorted()
        let now = claims.map(\.now).min() ?? Date()
        // SQLite's one writer is the lock already; rows are made only on PostgreSQL, where a row is what `FOR UPDATE`
        // locks (on SQLite they would only be another write per redemption, and a row per line that ever redeemed).
        if database.dialect == .postgres {
            var insert: SQLQueryString = "INSERT INTO voucher_guard (subject, failures, window_start, lockouts, locked_until, last_failure) VALUES "
            for (position, key) in keys.enumerated() {
                insert += "\(unsafeRaw: position == 0 ? "" : ", ")(\(bind: key), 0, \(bind: now.unixMicros), 0, NULL, \(bind: now.unixMicros))"
            }
            insert += " ON CONFLICT (subject) DO NOTHING"
            try await db.raw(insert).run()
        }
        let counters = try await loadCounters(db, keys, lock: database.forUpdate)
        var sources: [String: [String: Date]] = [:]
        let channels = Set(claims.map(\.attempt.channel)).sorted()
        let wanted = Set(claims.map(\.attempt.guardAttempt.breakerSource)).sorted()
        for row in try await db.raw("""
            SELECT channel, source, last_failure FROM voucher_guard_sources WHERE channel IN (\(binds: channels)) AND source IN (\(binds: wanted))
            """).all() {
            sources[try row.string("channel"), default: [:]][try row.string("source")] = try row.date("last_failure")
        }
        return VoucherGuardTally(policy: policy, counters: counters, sources: sources)
    }

    /// Writes back what `tally` changed, and forgets the breaker's sources older than its window.
    static func save(_ tally: VoucherGuardTally, in db: any SQLDatabase, logger: Logger) async throws {
        for key in tally.changed.sorted() {
            guard let next = tally.counters[key] else { continue }
            // An upsert: on SQLite a subject's first failure has no row yet.
            try await db.raw("""
                INSERT INTO voucher_guard (subject, failures, window_start, lockouts, locked_until, last_failure)
                VALUES (\(bind: key), \(bind: next.failures), \(bind: next.windowStart.unixMicros), \(bind: next.lockouts),
                        \(bind: next.lockedUntil?.unixMicros), \(bind: next.lastFailure.unixMicros))
                ON CONFLICT (subject) DO UPDATE SET failures = excluded.failures, window_start = excluded.window_start,
                    lockouts = excluded.lockouts, locked_until = excluded.locked_until, last_failure = excluded.last_failure
                """).run()
        }
        for counted in tally.countedSources {
            try await db.raw("""
                INSERT INTO voucher_guard_sources (channel, source, last_failure) VALUES (\(bind: counted.channel), \(bind: counted.source), \(bind: counted.at.unixMicros))
                ON CONFLICT (channel, source) DO UPDATE SET last_failure = excluded.last_failure
                """).run()
        }
        if let latest = tally.countedSources.map(\.at).max() {
            let cutoff = latest.addingTimeInterval(-tally.policy.channelWindow)
            try await db.raw("""
                DELETE FROM voucher_guard_sources WHERE channel IN (\(binds: Set(tally.countedSources.map(\.channel)).sorted())) AND last_failure < \(bind: cutoff.unixMicros)
                """).run()
        }
        for lock in tally.started {
            logger.warning(lock.subject.isChannel ? "voucher redemption paused on a channel: guessing spike" : "voucher redemption locked out",
                           metadata: ["subject": "\(lock.subject.key)", "until": "\(iso(lock.until))", "lockouts": "\(lock.lockouts)"])
        }
    }

    static func loadCounters(_ db: any SQLDatabase, _ keys: [String], lock: String = "") async throws -> [String: VoucherGuardCounter] {
        var counters: [String: VoucherGuardCounter] = [:]
        for row in try await db.raw("""
            SELECT subject, failures, window_start, lockouts, locked_until, last_failure FROM voucher_guard WHERE subject IN (\(binds: keys))
            ORDER BY subject\(unsafeRaw: lock)
            """).all() {
            counters[try row.string("subject")] = VoucherGuardCounter(
                failures: try row.decode(column: "failures", as: Int.self), windowStart: try row.date("window_start"),
                lockouts: try row.decode(column: "lockouts", as: Int.self),
                lockedUntil: try row.optional("locked_until", as: Int64.self).map(Date.init(unixMicros:)), lastFailure: try row.date("last_failure"))
        }
        return counters
    }

    /// The brute-force counters of a subject, for operators and tests.
    public func guardCounter(_ subject: VoucherGuardSubject) async throws -> VoucherGuardCounter? {
        try await database.read { db in try await Self.loadCounters(db, [subject.key])[subject.key] }
    }
}

/// One redemption waiting for the group commit.
struct VoucherClaim: Sendable {
    /// HMACs of the PIN under the current key and each previous one (the card was hashed with one of them).
    let hmacs: [String]
    let attempt: VoucherRedemptionAttempt
    let now: Date
}

/// Group commit for redemptions, like the ledger's: concurrent redemptions queue here and a leader redeems
/// everything queued so far in one transaction (one commit, one fsync), in arrival order. Both go through
/// ``Ledger/transaction(_:_:)``, so a key conflict with another node reruns the transaction under the ledger's one
/// retry policy. If that transaction fails, its claims are retried one per transaction, so one bad claim cannot fail
/// its neighbours.
final class VoucherRedemptionWriter: Sendable {
    private struct Pending {
        let claim: VoucherClaim
        let continuation: CheckedContinuation<VoucherStore.Outcome, any Error>
    }

    private let database: Database
    private let policy: VoucherGuessingPolicy
    private let logger: Logger
    private let queue: LeaderQueue<Pending>
    /// Ids of the voucher liability, pack revenue and allowance accounts, once committed (they are never deleted).
    private let accounts = NIOLockedValueBox([String: Int64]())

    init(database: Database, policy: VoucherGuessingPolicy, logger: Logger, maxBatch: Int = 256) {
        self.database = database
        self.policy = policy
        self.logger = logger
        self.queue = LeaderQueue(maxBatch: maxBatch)
    }

    func submit(_ claim: VoucherClaim) async throws -> VoucherStore.Outcome {
        try await withCheckedThrowingContinuation { continuation in
            let lead = queue.append(Pending(claim: claim, continuation: continuation))
            // On SQLite the leader runs on the writer connection's own thread; on PostgreSQL on the shared pool, leaving the
            // one writer thread to the ledger's group commit.
            if lead { Task(executorPreference: database.dialect == .sqlite ? database.writerExecutor : nil) { await self.lead() } }
        }
    }

    private func lead() async {
        let database = self.database
        let policy = self.policy
        let logger = self.logger
        while let batch = queue.nextBatch() {
            let claims = batch.map(\.claim)
            do {
                let known = accounts.withLockedValue { $0 }
                let (results, created) = try await Ledger.transaction(database) { db in
                    var accounts = known
                    let results = try await VoucherStore.redeem(claims, policy: policy, accounts: &accounts, in: db, database: database, logger: logger)
                    return (results, accounts)
                }
                // Committed now: later batches need not look these accounts up again.
                accounts.withLockedValue { $0.merge(created) { old, _ in old } }
                for (pending, result) in zip(batch, results) { pending.continuation.resume(with: result) }
            } catch {
                for pending in batch {
                    do {
                        let known = accounts.withLockedValue { $0 }
                        let result = try await Ledger.transaction(database) { db in
                            var accounts = known
                            return try await VoucherStore.redeem([pending.claim], policy: policy, accounts: &accounts, in: db, database: database, logger: logger)
                        }
                        pending.continuation.resume(with: result[0])
                    } catch {
                        pending.continuation.resume(throwing: error)
                    }
                }
            }
        }
    }
}
