import Foundation
import RechargeCore
import SQLKit

/// Applies a batch of credit-control requests inside one transaction with a fixed number of statements whatever the
/// batch size, the way ``LedgerBatch`` applies top-ups: claim every (session id, request number), lock the batch's
/// lines (in id order), read their buckets, sessions and reservations, decide every request in memory in arrival
/// order (``CreditControl``), then write reservations, sessions, usage records and answers as multi-row statements and
/// post every used unit through ONE ``Ledger`` call.
///
/// The order of the writes keeps every posting within what its bucket holds: this batch's settled reservations come
/// off `debits_pending` first, then the debits are posted, then the new reservations are added. In memory each
/// decision saw the pending amounts of the reservations made before it in the batch, so no bucket ends below its
/// floor, and the sum of pending never exceeds what a bucket holds.
struct ChargingBatch {
    private let db: any SQLDatabase
    private let database: Database
    private let catalog: Catalog

    /// A reservation as the batch sees it: stored, or made earlier in this batch (not yet inserted).
    private enum ReservationRef: Hashable {
        case stored(Int64)
        case new(Int)
    }

    private struct Held {
        let ref: ReservationRef
        let bucketID: Int64
        let accountID: Int64
        let amount: Int64
    }

    /// One service of a session: as read, then as each request leaves it.
    private struct SessionState {
        var id: Int64
        let sessionID: String
        let key: String
        let lineID: Int64
        let interface: String
        let peer: String?
        let use: ChargedUse
        var totals: SessionTotals
        var state: String
        var lastRequestNumber: Int64
        var finalUnit: Bool
        var expiresAt: Date
        var held: [Held]
        var rated: RatedUsage?
        var changedAt: Date?
        let isNew: Bool
    }

    private struct NewReservation {
        let sessionKey: String
        let lineID: Int64
        let bucketID: Int64
        let accountID: Int64
        let amount: Int64
        let expiresAt: Date
        let now: Date
        var voided = false
    }

    private var lines: [Int64: Line] = [:]
    private var lineByMSISDN: [String: Int64] = [:]
    private var buckets: [Int64: [Bucket]] = [:]
    /// By session id + "\0" + service key.
    private var sessions: [String: SessionState] = [:]
    private var newReservations: [NewReservation] = []
    private var settled: [Int64] = []
    private var settledPending: [Int64: Int64] = [:]
    private var posts: [LedgerRequest] = []
    private var answers: [(claim: Int64, answer: ChargingAnswer)] = []
    private var barred: [(lineID: Int64, now: Date)] = []
    private var sessionIDsToAllocate: [Int64] = []
    private var revenue: [String: Int64] = [:]
    /// The latest request time in the batch: what the batch's own rows (settlements, accounts) are stamped with.
    private var now = Date(timeIntervalSince1970: 0)

    init(db: any SQLDatabase, database: Database, catalog: Catalog) {
        self.db = db
        self.database = database
        self.catalog = catalog
    }

    private static func key(_ sessionID: String, _ service: String) -> String { sessionID + "\u{0}" + service }

    mutating func run(_ batch: [ChargingStore.Submitted]) async throws -> [Result<ChargingAnswer, any Error>] {
        now = batch.map(\.request.now).max() ?? now
        // Repeats inside the batch take the first one's answer.
        var unique: [ChargingStore.Submitted] = []
        var slot: [Int] = []
        var firstIndex: [String: Int] = [:]
        for item in batch {
            let key = item.request.sessionID + "\u{0}" + String(item.request.requestNumber)
            if let index = firstIndex[key] {
                slot.append(unique[index].fingerprint == item.fingerprint ? index : -1 - index)
            } else {
                firstIndex[key] = unique.count
                slot.append(unique.count)
                unique.append(item)
            }
        }

        // 1. The claims: new rows for new requests; the stored answer for a retransmission.
        var claims: [String: Int64] = [:]
        for chunk in unique.chunked(150) {
            let sql: SQLQueryString = "INSERT INTO charging_requests (session_id, request_number, fingerprint, answer, created_at) VALUES "
                + SQLQueryString.rows(chunk.map { [$0.request.sessionID, $0.request.requestNumber, $0.fingerprint, "", $0.request.now.unixMicros] })
                + " ON CONFLICT (session_id, request_number) DO NOTHING RETURNING id, session_id, request_number"
            for row in try await db.raw(sql).all() {
                claims[try row.string("session_id") + "\u{0}" + String(try row.int64("request_number"))] = try row.int64("id")
            }
        }
        var outcomes: [Result<ChargingAnswer, any Error>?] = Array(repeating: nil, count: unique.count)
        var fresh: [(index: Int, claim: Int64)] = []
        for (index, item) in unique.enumerated() {
            if let claim = claims[item.request.sessionID + "\u{0}" + String(item.request.requestNumber)] {
                fresh.append((index, claim))
            } else {
                outcomes[index] = try await stored(item)
            }
        }

        if !fresh.isEmpty {
            let requests = fresh.map { unique[$0.index].request }
            try await load(requests)
            for (index, claim) in fresh {
                let answer = try decide(unique[index].request, claim: claim)
                answers.append((claim, answer))
                outcomes[index] = .success(answer)
            }
            try await write()
        }

        return slot.enumerated().map { offset, position in
            guard position >= 0 else {
                let index = -1 - position
                return .failure(RechargeError.idempotencyKeyReused("\(unique[index].request.sessionID)#\(unique[index].request.requestNumber)"))
            }
            // A repeat inside the batch is a replay of the first.
            let result = outcomes[position]!
            return slot[..<offset].contains(position) ? result.map { var answer = $0; answer.replayed = true; return answer } : result
        }
    }

    /// The stored answer of a request already handled (its number was claimed before this batch).
    private func stored(_ item: ChargingStore.Submitted) async throws -> Result<ChargingAnswer, any Error> {
        guard let row = try await db.raw("""
            SELECT fingerprint, answer FROM charging_requests
            WHERE session_id = \(bind: item.request.sessionID) AND request_number = \(bind: item.request.requestNumber)
            """).first()
        else { throw DatabaseError.invariantViolated("a charging request neither inserted nor found") }
        guard try row.string("fingerprint") == item.fingerprint else {
            return .failure(RechargeError.idempotencyKeyReused("\(item.request.sessionID)#\(item.request.requestNumber)"))
        }
        var answer = try LedgerStore.decodeResult(try row.string("answer"), as: ChargingAnswer.self)
        answer.replayed = true
        return .success(answer)
    }

    // MARK: Reading

    private mutating func load(_ requests: [ChargingRequest]) async throws {
        let msisdns = Array(Set(requests.compactMap { $0.msisdn?.e164 })).sorted()
        let sessionIDs = Array(Set(requests.map(\.sessionID))).sorted()
        // Lines first, locked in id order: the ones named, and the ones their sessions are on.
        for row in try await db.raw("""
            SELECT \(unsafeRaw: LineRow.columns) FROM lines
            WHERE msisdn IN (\(binds: msisdns.isEmpty ? [""] : msisdns))
               OR id IN (SELECT line_id FROM charging_sessions WHERE session_id IN (\(binds: sessionIDs)))
            ORDER BY id\(unsafeRaw: database.forUpdate)
            """).all() {
            let line = try LineRow.decode(row)
            lines[line.id] = line
            lineByMSISDN[line.msisdn.e164] = line.id
        }
        // Then, under the locks, the sessions, buckets and held reservations.
        var sessionRows: [Int64: String] = [:]
        for row in try await db.raw("""
            SELECT id, session_id, service_key, line_id, interface, peer, service, destination, visited_country, visited_network, started_at, state,
                   used_units, bucket_units, money_units, charged, unpaid, last_request_number, final_unit, expires_at
            FROM charging_sessions WHERE session_id IN (\(binds: sessionIDs))
            """).all() {
            var totals = SessionTotals()
            totals.usedUnits = try row.int64("used_units")
            totals.bucketUnits = try row.int64("bucket_units")
            totals.moneyUnits = try row.int64("money_units")
            totals.charged = try row.int64("charged")
            totals.unpaid = try row.int64("unpaid")
            let use = ChargedUse(service: try ChargedService(try row.string("service")), destination: try row.optional("destination"),
                                 visitedCountry: try row.optional("visited_country"), visitedNetwork: try row.optional("visited_network"),
                                 start: try row.date("started_at"))
            let key = Self.key(try row.string("session_id"), try row.string("service_key"))
            let id = try row.int64("id")
            sessions[key] = SessionState(
                id: id, sessionID: try row.string("session_id"), key: try row.string("service_key"), lineID: try row.int64("line_id"),
                interface: try row.string("interface"), peer: try row.optional("peer"), use: use, totals: totals, state: try row.string("state"),
                lastRequestNumber: try row.int64("last_request_number"), finalUnit: try row.decode(column: "final_unit", as: Int.self) == 1,
                expiresAt: try row.date("expires_at"), held: [], rated: nil, changedAt: nil, isNew: false)
            sessionRows[id] = key
        }
        if !lines.isEmpty {
            for row in try await db.raw("\(unsafeRaw: BucketRow.select) WHERE b.line_id IN (\(binds: Array(lines.keys).sorted())) ORDER BY b.id").all() {
                let bucket = try BucketRow.decode(row)
                buckets[bucket.lineID, default: []].append(bucket)
            }
        }
        if !sessionRows.isEmpty {
            for row in try await db.raw("""
                SELECT id, charging_session_id, bucket_id, account_id, amount FROM reservations
                WHERE charging_session_id IN (\(binds: Array(sessionRows.keys).sorted())) AND state = 'pending' ORDER BY id
                """).all() {
                guard let key = sessionRows[try row.int64("charging_session_id")] else { continue }
                sessions[key]?.held.append(Held(ref: .stored(try row.int64("id")), bucketID: try row.int64("bucket_id"),
                                                accountID: try row.int64("account_id"), amount: try row.int64("amount")))
            }
        }
    }

    // MARK: Deciding, in memory

    private func refusal(_ request: ChargingRequest, _ result: ChargingAnswer.Result, line: Line?, detail: String) -> ChargingAnswer {
        ChargingAnswer(sessionID: request.sessionID, requestNumber: request.requestNumber, type: request.type, result: result,
                       msisdn: line?.msisdn.e164 ?? request.msisdn?.e164 ?? "", currency: line?.currency.code ?? "", services: request.services.map {
                           .init(key: $0.key, result: result, grantedUnits: 0, validitySeconds: 0, finalUnit: false, charged: 0, sessionCharge: 0,
                                 explanation: nil, detail: detail)
                       }, barred: line?.barredAt != nil)
    }

    private mutating func decide(_ request: ChargingRequest, claim: Int64) throws -> ChargingAnswer {
        let now = request.now
        let quota = catalog.chargingQuota
        let mine = sessions.filter { $0.value.sessionID == request.sessionID }
        let lineID: Int64
        if let msisdn = request.msisdn {
            guard let id = lineByMSISDN[msisdn.e164] else {
                return refusal(request, .userUnknown, line: nil, detail: "no line has the number \(msisdn.e164)")
            }
            lineID = id
        } else if let id = mine.values.first?.lineID {
            lineID = id
        } else {
            return refusal(request, .unknownSession, line: nil, detail: "session \(request.sessionID) is not open")
        }
        guard var line = lines[lineID] else { return refusal(request, .unknownSession, line: nil, detail: "session \(request.sessionID) is not open") }
        guard let table = catalog.ratingTable else {
            return refusal(request, .ratingFailed, line: line, detail: "the catalog has no rating section: usage cannot be priced")
        }
        switch request.type {
        case .initial, .event:
            if !mine.isEmpty {
                return refusal(request, .unknownSession, line: line, detail: "session \(request.sessionID) already exists: an initial request opens a new session id")
            }
        case .update, .termination:
            let open = mine.values.filter { $0.state == "open" }
            guard !open.isEmpty, open.allSatisfy({ $0.lineID == line.id }) else {
                return refusal(request, .unknownSession, line: line, detail: "session \(request.sessionID) is not open on \(line.msisdn.e164)")
            }
            if let last = open.map(\.lastRequestNumber).max(), request.requestNumber <= last {
                return refusal(request, .unknownSession, line: line, detail: "request number \(request.requestNumber) is not after \(last)")
            }
        }

        // A termination settles every open service of the session, reported or not.
        var services = request.services
        if request.type == .termination {
            for session in mine.values.sorted(by: { $0.key < $1.key }) where session.state == "open" && !services.contains(where: { $0.key == session.key }) {
                services.append(try ServiceCreditRequest(key: session.key, use: session.use, used: 0, requested: 0))
            }
        }
        let expiresAt = now.addingTimeInterval(TimeInterval(quota.validitySeconds + quota.graceSeconds))
        var answers: [ChargingAnswer.Service] = []
        var postNumber = 0
        for service in services {
            let key = Self.key(request.sessionID, service.key)
            let stored = sessions[key]
            if request.type == .update || request.type == .termination, stored == nil || stored?.state != "open" {
                answers.append(.init(key: service.key, result: .unknownSession, grantedUnits: 0, validitySeconds: 0, finalUnit: false, charged: 0,
                                     sessionCharge: 0, explanation: nil, detail: "no open service '\(service.key)' in this session"))
                continue
            }
            // The use is fixed when the service opens: its destination, place and start price the whole session.
            let use = stored?.use ?? service.use
            let held = stored?.held ?? []
            let decision = CreditControl.decide(CreditControlInput(
                type: request.type, line: line, buckets: buckets[line.id] ?? [],
                held: held.map { HeldReservation(id: 0, bucketID: $0.bucketID, amount: $0.amount) },
                totals: stored?.totals ?? SessionTotals(), use: use, used: service.used, requested: service.requested, table: table, quota: quota, now: now))
            if case .ratingFailed(let reason) = decision.outcome {
                answers.append(.init(key: service.key, result: .ratingFailed, grantedUnits: 0, validitySeconds: 0, finalUnit: false, charged: 0,
                                     sessionCharge: stored?.totals.charged ?? 0, explanation: nil, detail: reason))
                continue
            }

            // The working state after this service: its old reservations released, used units posted, new ones held.
            for reservation in held {
                adjust(line: line.id, bucket: reservation.bucketID) { $0.pending -= reservation.amount }
                switch reservation.ref {
                case .stored(let id):
                    settled.append(id)
                    settledPending[reservation.accountID, default: 0] += reservation.amount
                case .new(let number):
                    newReservations[number].voided = true
                }
            }
            var charged: Int64 = 0
            for draw in decision.posts {
                guard let bucket = buckets[line.id]?.first(where: { $0.id == draw.bucketID }) else { continue }
                adjust(line: line.id, bucket: draw.bucketID) { $0.remaining -= draw.amount }
                if bucket.kind == .monetary { charged += draw.amount }
                postNumber += 1
                let command = try DebitCommand(msisdn: line.msisdn, kind: bucket.kind, amount: draw.amount,
                                               currency: bucket.kind == .monetary ? line.currency : nil, channel: .network,
                                               reference: String("session \(request.sessionID)".prefix(200)), bucketID: draw.bucketID)
                posts.append(try LedgerRequest(.debit(command), purpose: .usageCharge(requestID: claim, number: postNumber), now: now,
                                               counterparty: revenueAccount(bucket.unit)))
            }
            var newHeld: [Held] = []
            for draw in decision.reserve {
                adjust(line: line.id, bucket: draw.bucketID) { $0.pending += draw.amount }
                newHeld.append(Held(ref: .new(newReservations.count), bucketID: draw.bucketID, accountID: draw.accountID, amount: draw.amount))
                newReservations.append(NewReservation(sessionKey: key, lineID: line.id, bucketID: draw.bucketID, accountID: draw.accountID,
                                                      amount: draw.amount, expiresAt: expiresAt, now: now))
            }
            let state = request.type == .termination || request.type == .event || (stored == nil && decision.granted == 0) ? "closed" : "open"
            if var session = stored {
                session.totals = decision.totals
                session.state = state
                session.lastRequestNumber = request.requestNumber
                session.finalUnit = decision.finalUnit
                session.expiresAt = expiresAt
                session.held = newHeld
                session.rated = decision.rated
                session.changedAt = now
                sessions[key] = session
            } else {
                sessions[key] = SessionState(
                    id: 0, sessionID: request.sessionID, key: service.key, lineID: line.id, interface: request.interface.column, peer: request.interface.peer,
                    use: use, totals: decision.totals, state: state, lastRequestNumber: request.requestNumber, finalUnit: decision.finalUnit,
                    expiresAt: expiresAt, held: newHeld, rated: decision.rated, changedAt: now, isNew: true)
            }
            if decision.bar, line.barredAt == nil {
                line.barredAt = now
                lines[line.id] = line
                barred.append((line.id, now))
            }
            let result: ChargingAnswer.Result
            var detail: String?
            switch decision.outcome {
            case .success: result = .success
            case .creditLimitReached: result = .creditLimitReached; detail = "no credit left for this use: recharge to continue"
            case .serviceDenied(let status): result = .serviceDenied; detail = "the line is \(status.rawValue)"
            case .ratingFailed(let reason): result = .ratingFailed; detail = reason
            }
            answers.append(.init(key: service.key, result: result, grantedUnits: decision.granted,
                                 validitySeconds: decision.granted > 0 && request.type != .event ? quota.validitySeconds : 0, finalUnit: decision.finalUnit,
                                 charged: charged,
                                 sessionCharge: decision.totals.charged, explanation: decision.rated?.explanation, detail: detail))
        }

        let results = answers.map(\.result)
        let overall: ChargingAnswer.Result
        if results.contains(.success) || results.isEmpty {
            overall = .success
        } else if let first = results.first, results.allSatisfy({ $0 == first }) {
            overall = first
        } else {
            overall = results.first { $0 != .unknownSession } ?? .unknownSession
        }
        return ChargingAnswer(sessionID: request.sessionID, requestNumber: request.requestNumber, type: request.type, result: overall,
                              msisdn: line.msisdn.e164, currency: line.currency.code, services: answers, barred: line.barredAt != nil)
    }

    private mutating func adjust(line: Int64, bucket: Int64, _ change: (inout Bucket) -> Void) {
        guard let index = buckets[line]?.firstIndex(where: { $0.id == bucket }) else { return }
        change(&buckets[line]![index])
    }

    /// The usage revenue account of `unit`, as a placeholder (negative) that `write()` resolves, once per unit, before
    /// the posts that name it are applied.
    private mutating func revenueAccount(_ unit: String) -> Int64 {
        if let id = revenue[unit] { return id }
        revenue[unit] = -Int64(revenue.count) - 1
        return revenue[unit]!
    }

    // MARK: Writing

    private mutating func write() async throws {
        // The revenue accounts the posts name (placeholders until now).
        var resolved: [Int64: Int64] = [:]
        for (unit, placeholder) in revenue {
            resolved[placeholder] = try await LedgerStore.upsertAccount(db, code: LedgerAccountCode.usageRevenue(unit: unit), kind: .revenue, unit: unit, now: now)
        }
        posts = posts.map { post in
            LedgerRequest(command: post.command, key: post.key, fingerprint: post.fingerprint, now: post.now,
                          counterparty: resolved[post.counterparty] ?? post.counterparty, purpose: post.purpose)
        }

        // New sessions' ids.
        let newSessionKeys = sessions.filter { $0.value.isNew }.map(\.key).sorted()
        let ids = try await database.allocateIDs("charging_sessions", count: newSessionKeys.count, db)
        for (key, id) in zip(newSessionKeys, ids) { sessions[key]?.id = id }

        // Sessions, as the batch leaves them: one upsert.
        let changed = sessions.values.filter { $0.changedAt != nil }.sorted { $0.id < $1.id }
        for chunk in changed.chunked(40) {
            var sql: SQLQueryString = """
                INSERT INTO charging_sessions (id, session_id, service_key, line_id, interface, peer, service, destination, visited_country,
                    visited_network, started_at, state, used_units, bucket_units, money_units, charged, unpaid, last_request_number, final_unit,
                    expires_at, created_at, updated_at) VALUES
                """ + " " + SQLQueryString.rows(chunk.map { session -> [any Encodable & Sendable] in
                    let stamp = session.changedAt!.unixMicros
                    return [session.id, session.sessionID, session.key, session.lineID, session.interface, session.peer, session.use.service.id,
                            session.use.destination, session.use.visitedCountry, session.use.visitedNetwork, session.use.start.unixMicros, session.state,
                            session.totals.usedUnits, session.totals.bucketUnits, session.totals.moneyUnits, session.totals.charged, session.totals.unpaid,
                            session.lastRequestNumber, session.finalUnit ? 1 : 0, session.expiresAt.unixMicros, stamp, stamp]
                })
            sql += """
                 ON CONFLICT (session_id, service_key) DO UPDATE SET used_units = excluded.used_units, bucket_units = excluded.bucket_units,
                    money_units = excluded.money_units, charged = excluded.charged, unpaid = excluded.unpaid,
                    last_request_number = excluded.last_request_number, final_unit = excluded.final_unit, state = excluded.state,
                    expires_at = excluded.expires_at, updated_at = excluded.updated_at
                """
            try await db.raw(sql).run()
        }

        // Settled reservations come off the pending debits before the posts; new ones go on after them.
        if !settled.isEmpty {
            for chunk in settled.chunked(500) {
                try await db.raw("""
                    UPDATE reservations SET state = 'settled', resolved_at = \(bind: now.unixMicros) WHERE id IN (\(binds: Array(chunk)))
                    """).run()
            }
            try await movePending(settledPending.mapValues { -$0 })
        }
        if !posts.isEmpty {
            for result in try await Ledger.apply(posts, in: db, database: database) {
                // The decisions drew only what was available under the line locks: a refusal here is a bug, and rolls back.
                if case .failure(let error) = result { throw DatabaseError.invariantViolated("a usage debit was refused: \(error)") }
            }
        }
        let live = newReservations.filter { !$0.voided }
        if !live.isEmpty {
            for chunk in live.chunked(120) {
                let rows = try chunk.map { reservation -> [any Encodable & Sendable] in
                    guard let sessionRowID = sessions[reservation.sessionKey]?.id else { throw DatabaseError.invariantViolated("a reservation without its session") }
                    return [sessionRowID, reservation.lineID, reservation.bucketID, reservation.accountID, reservation.amount, "pending",
                            reservation.expiresAt.unixMicros, reservation.now.unixMicros]
                }
                let sql: SQLQueryString = "INSERT INTO reservations (charging_session_id, line_id, bucket_id, account_id, amount, state, expires_at, created_at) VALUES "
                    + SQLQueryString.rows(rows)
                try await db.raw(sql).run()
            }
            var added: [Int64: Int64] = [:]
            for reservation in live { added[reservation.accountID, default: 0] += reservation.amount }
            try await movePending(added)
        }

        // The itemized records: one per session service with any use (or a free one), its totals rewritten.
        let records = changed.filter { $0.totals.usedUnits > 0 || $0.rated?.free == true }
        for chunk in records.chunked(40) {
            var sql = UsageRecordRow.insert + " " + SQLQueryString.rows(chunk.map { session in
                UsageRecordRow(lineID: session.lineID, source: "session", sourceID: String(session.id), use: session.use, units: session.totals.usedUnits,
                               bucketUnits: session.totals.bucketUnits, rated: session.rated, charge: session.totals.charged, unpaid: session.totals.unpaid,
                               currency: lines[session.lineID]?.currency.code ?? "", updatedAt: session.changedAt!).values
            })
            sql += """
                 ON CONFLICT (source, source_id) DO UPDATE SET units = excluded.units, bucket_units = excluded.bucket_units,
                    billed_units = excluded.billed_units, charge = excluded.charge, unpaid = excluded.unpaid, tariff = excluded.tariff,
                    explanation = excluded.explanation, updated_at = excluded.updated_at
                """
            try await db.raw(sql).run()
        }

        // Lines money ran out on: barred, and told.
        for (lineID, stamp) in barred {
            try await db.raw("UPDATE lines SET barred_at = \(bind: stamp.unixMicros), updated_at = \(bind: stamp.unixMicros) WHERE id = \(bind: lineID) AND barred_at IS NULL").run()
            try await ChargingNotifications.enqueue(.serviceSuspended, lineID: lineID, key: "barred:\(lineID):\(stamp.unixMicros)", now: stamp, in: db)
        }

        // The answers, stored with their claims.
        for chunk in answers.chunked(200) {
            let values = SQLQueryString.rows(chunk.map { [$0.claim, $0.answer.storedJSON] })
            let updated = try await db.raw("WITH answer (id, text) AS (VALUES " + values + """
                )
                UPDATE charging_requests SET answer = answer.text FROM answer WHERE charging_requests.id = answer.id RETURNING charging_requests.id
                """).all().count
            guard updated == chunk.count else { throw DatabaseError.invariantViolated("an answer's claim is missing") }
        }
    }

    /// Adds each account's delta to its pending debits: one statement, accounts in id order.
    private func movePending(_ deltas: [Int64: Int64]) async throws {
        let rows = deltas.filter { $0.value != 0 }.sorted { $0.key < $1.key }
        guard !rows.isEmpty else { return }
        for chunk in rows.chunked(400) {
            let values = SQLQueryString.rows(chunk.map { [$0.key, $0.value] })
            let updated = try await db.raw("WITH delta (id, amount) AS (VALUES " + values + """
                )
                UPDATE ledger_accounts SET debits_pending = ledger_accounts.debits_pending + delta.amount FROM delta
                WHERE ledger_accounts.id = delta.id RETURNING ledger_accounts.id
                """).all().count
            guard updated == chunk.count else { throw DatabaseError.invariantViolated("a reserved bucket's account is missing") }
        }
    }
}
