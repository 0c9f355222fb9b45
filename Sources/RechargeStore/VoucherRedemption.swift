import Foundation
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
    /// The caller: an API key prefix, an IP address, a USSD gateway.
    public let client: String

    public init(msisdn: MSISDN, pin: String, serial: Int64?, channel: String, client: String) {
        self.msisdn = msisdn
        self.pin = pin
        self.serial = serial
        self.channel = channel
        self.client = client
    }
}

/// A voucher redeemed: which card, what it gave, and the ledger operation that gave it.
public struct VoucherRedemption: Sendable, Equatable {
    public let serial: Int64
    public let batchID: Int64
    public let msisdn: MSISDN
    public let credited: Money
    public let operation: LedgerOperation
    public let redeemedAt: Date
}

extension VoucherStore {
    /// Redeems the card whose PIN is `attempt.pin` for `attempt.msisdn`, exactly once: the card's change to
    /// `redeemed` is a single conditional `UPDATE … WHERE pin_hmac = ? AND state = 'active' … RETURNING` in the same
    /// transaction as the ledger credit (from the voucher liability account to the line's main balance, with the
    /// idempotency key `voucher:<serial>`). Of any number of concurrent attempts with one PIN, one gets the card.
    ///
    /// Refusals: ``VoucherError/malformedPIN(_:)`` for a typing mistake (not counted); ``VoucherError/invalidPIN``
    /// for a PIN that matches no card (counted against the line, the client and the channel); the specific
    /// reason only for a PIN that matched a card; ``VoucherError/lockedOut(subject:until:)`` and
    /// ``VoucherError/channelPaused(channel:until:)`` while the counters say so. Every attempt is logged, never its PIN.
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
        let subjects: [VoucherGuardSubject] = [.channel(attempt.channel), .line(attempt.msisdn.e164), .client(attempt.client)]
        try await checkGuard(subjects, now: now)
        let hmac = key.hmacHex(pin)
        let outcome = try await redeem(hmac: hmac, attempt: attempt, now: now)
        switch outcome {
        case .redeemed(let redemption):
            return redemption
        case .refused(let error):
            throw error
        case .unknown:
            try await recordFailure(subjects, now: now)
            throw VoucherError.invalidPIN
        }
    }

    private enum Outcome: Sendable {
        case redeemed(VoucherRedemption)
        case refused(VoucherError)
        case unknown
    }

    private func redeem(hmac: String, attempt: VoucherRedemptionAttempt, now: Date) async throws -> Outcome {
        let database = self.database
        return try await database.transaction { db -> Outcome in
            let serialCondition: SQLQueryString = attempt.serial.map { "AND serial = \(bind: $0)" } ?? ""
            let claimed = try await db.raw("""
                UPDATE vouchers SET state = 'redeemed', redeemed_at = \(bind: now.unixMicros), msisdn = \(bind: attempt.msisdn.e164),
                    updated_at = \(bind: now.unixMicros)
                WHERE pin_hmac = \(bind: hmac) AND state = 'active' \(serialCondition)
                  AND batch_id IN (SELECT id FROM voucher_batches WHERE expires_at > \(bind: now.unixMicros))
                RETURNING serial, batch_id
                """).first()
            guard let claimed else {
                return try await Self.explainRefusal(db, hmac: hmac, serial: attempt.serial, now: now)
            }
            let serial = try claimed.int64("serial")
            let batch = try await Self.loadBatch(db, try claimed.int64("batch_id"), lock: nil)
            guard case .money(let value) = batch.denomination else {
                throw VoucherError.invalidBatch("batch \(batch.id) is a pack batch, which this server cannot redeem yet")
            }
            let line = try await LedgerStore.loadLine(db, attempt.msisdn, lock: nil)
            guard line.currency == value.currency else {
                throw VoucherError.currencyMismatch(voucher: value.description, line: line.currency.code)
            }
            let unit = value.currency.code
            let source = try await LedgerStore.upsertAccount(db, code: LedgerAccountCode.voucherLiability(unit: unit), kind: .voucherLiability, unit: unit, now: now)
            let request = try LedgerRequest(
                .topUp(try TopUpCommand(msisdn: attempt.msisdn, value: .money(value), channel: .voucher, reference: "voucher:\(serial)")),
                key: "voucher:\(serial)", now: now, counterparty: source)
            // A refusal by the ledger (line suspended, …) rolls the card's change back with it.
            guard let result = try await LedgerBatch.apply([request], in: db, database: database).first else {
                throw DatabaseError.invariantViolated("the ledger gave no result for voucher \(serial)")
            }
            let applied = try result.get()
            try await db.raw("""
                UPDATE vouchers SET line_id = \(bind: line.id), operation_id = \(bind: applied.operation.id) WHERE serial = \(bind: serial)
                """).run()
            return .redeemed(VoucherRedemption(serial: serial, batchID: batch.id, msisdn: attempt.msisdn, credited: value,
                                               operation: applied.operation, redeemedAt: now))
        }
    }

    /// Why a PIN could not be redeemed: a matched card tells its state; anything else is just unknown.
    private static func explainRefusal(_ db: any SQLDatabase, hmac: String, serial: Int64?, now: Date) async throws -> Outcome {
        guard let row = try await db.raw("""
            SELECT v.serial, v.state, v.redeemed_at, v.msisdn, b.expires_at FROM vouchers v JOIN voucher_batches b ON b.id = v.batch_id
            WHERE v.pin_hmac = \(bind: hmac)
            """).first()
        else { return .unknown }
        // A PIN with another card's serial is a guess like any other.
        if let serial, try row.int64("serial") != serial { return .unknown }
        guard let state = VoucherState(rawValue: try row.string("state")) else { return .unknown }
        let expiresAt = try row.date("expires_at")
        if VoucherAction.expire.transition.from.contains(state), now >= expiresAt { return .refused(.expired(at: expiresAt)) }
        let redeemedAt = try row.optional("redeemed_at", as: Int64.self).map(Date.init(unixMicros:))
        let masked = try row.optional("msisdn", as: String.self).map(maskedMSISDN)
        guard let refusal = state.redemptionRefusal(redeemedAt: redeemedAt, maskedMSISDN: masked, expiresAt: expiresAt) else {
            throw DatabaseError.invariantViolated("an active, unexpired card was not claimed")
        }
        return .refused(refusal)
    }

    // MARK: Brute-force counters

    /// Refuses at once while the channel is paused or the line or client is locked out.
    func checkGuard(_ subjects: [VoucherGuardSubject], now: Date) async throws {
        let counters = try await database.read { db in try await Self.loadCounters(db, subjects.map(\.key)) }
        for subject in subjects {
            guard let until = guessing.lockedUntil(counters[subject.key], now: now) else { continue }
            if case .channel(let channel) = subject { throw VoucherError.channelPaused(channel: channel, until: until) }
            throw VoucherError.lockedOut(subject: subject.key, until: until)
        }
    }

    /// Counts one failure against each subject, in one transaction (rows locked on PostgreSQL).
    func recordFailure(_ subjects: [VoucherGuardSubject], now: Date) async throws {
        let policy = guessing
        let forUpdate = database.forUpdate
        let log = logger
        try await database.transaction { db in
            for subject in subjects {
                try await db.raw("""
                    INSERT INTO voucher_guard (subject, failures, window_start, lockouts, locked_until, last_failure)
                    VALUES (\(bind: subject.key), 0, \(bind: now.unixMicros), 0, NULL, \(bind: now.unixMicros))
                    ON CONFLICT (subject) DO NOTHING
                    """).run()
                let current = try await Self.loadCounters(db, [subject.key], lock: forUpdate)[subject.key]
                let next = policy.recordingFailure(current, subject: subject, now: now)
                try await db.raw("""
                    UPDATE voucher_guard SET failures = \(bind: next.failures), window_start = \(bind: next.windowStart.unixMicros),
                        lockouts = \(bind: next.lockouts), locked_until = \(bind: next.lockedUntil?.unixMicros), last_failure = \(bind: next.lastFailure.unixMicros)
                    WHERE subject = \(bind: subject.key)
                    """).run()
                if let until = next.lockedUntil, until > now, current?.lockedUntil != next.lockedUntil {
                    log.warning(subject.isChannel ? "voucher redemption paused on a channel: guessing spike" : "voucher redemption locked out",
                                metadata: ["subject": "\(subject.key)", "until": "\(Self.iso(until))", "lockouts": "\(next.lockouts)"])
                }
            }
        }
    }

    static func loadCounters(_ db: any SQLDatabase, _ keys: [String], lock: String = "") async throws -> [String: VoucherGuardCounter] {
        var counters: [String: VoucherGuardCounter] = [:]
        for row in try await db.raw("""
            SELECT subject, failures, window_start, lockouts, locked_until, last_failure FROM voucher_guard WHERE subject IN (\(binds: keys))\(unsafeRaw: lock)
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
