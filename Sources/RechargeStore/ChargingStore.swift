import Foundation
import RechargeCore
import SQLKit

/// Which interface a charging session came in on: Diameter Gy (the peer's Origin-Host, where a re-auth goes) or HTTP
/// (an optional callback URL told when service may resume).
public enum ChargingInterface: Sendable, Equatable {
    case diameter(peer: String)
    case http(callback: String?)

    var column: String {
        switch self {
        case .diameter: "diameter"
        case .http: "http"
        }
    }

    var peer: String? {
        switch self {
        case .diameter(let peer): peer
        case .http(let callback): callback
        }
    }
}

/// One service inside a credit-control request (a Diameter Multiple-Services-Credit-Control, or the HTTP body).
public struct ServiceCreditRequest: Sendable, Equatable {
    /// Tells the services of one session apart: the rating group (and service identifier), "" when there is one.
    public let key: String
    public let use: ChargedUse
    /// Units used since the last report; for an event, the units to charge.
    public let used: Int64
    /// Units asked for; nil: the quota; 0: none.
    public let requested: Int64?

    public init(key: String, use: ChargedUse, used: Int64, requested: Int64?) throws(RechargeError) {
        guard key.utf8.count <= 64 else { throw .invalidRequest("service key must be at most 64 bytes") }
        guard used >= 0, (requested ?? 0) >= 0 else { throw .invalidRequest("used and requested units must not be negative") }
        self.key = key
        self.use = use
        self.used = used
        self.requested = requested
    }
}

/// A credit-control request, as both interfaces hand it to the store.
public struct ChargingRequest: Sendable {
    public let sessionID: String
    /// CC-Request-Number: 0 for the initial (or event) request, then one more per request.
    public let requestNumber: Int64
    public let type: CreditControlRequestType
    /// The subscriber; may be left out of an update or termination (the session knows its line).
    public let msisdn: MSISDN?
    public let interface: ChargingInterface
    public let services: [ServiceCreditRequest]
    public let now: Date

    public init(sessionID: String, requestNumber: Int64, type: CreditControlRequestType, msisdn: MSISDN?, interface: ChargingInterface,
                services: [ServiceCreditRequest], now: Date) throws(RechargeError) {
        if msisdn == nil, type == .initial || type == .event { throw .invalidRequest("an initial or event request names the subscriber") }
        guard (1...256).contains(sessionID.utf8.count) else { throw .invalidRequest("session id must be 1 to 256 bytes") }
        guard requestNumber >= 0, requestNumber <= Int64(UInt32.max) else { throw .invalidRequest("request number must be 0 to 4294967295") }
        guard !services.isEmpty || type == .termination else { throw .invalidRequest("a credit-control request names at least one service") }
        guard services.count <= 16 else { throw .invalidRequest("at most 16 services per request") }
        guard Set(services.map(\.key)).count == services.count else { throw .invalidRequest("each service of a request has its own key") }
        self.sessionID = sessionID
        self.requestNumber = requestNumber
        self.type = type
        self.msisdn = msisdn
        self.interface = interface
        self.services = services
        self.now = now
    }

    /// What makes a retransmission the same request.
    var fingerprint: String {
        var parts = [type.rawValue, msisdn?.e164 ?? "", String(requestNumber)]
        for service in services {
            parts += [service.key, service.use.service.id, service.use.destination ?? "", service.use.visitedCountry ?? "",
                      service.use.visitedNetwork ?? "", String(service.used), service.requested.map(String.init) ?? "-"]
        }
        return sha256Hex(parts.joined(separator: "|"))
    }
}

/// The answer to a credit-control request: stored with (session id, request number) and given again to a retry.
public struct ChargingAnswer: Sendable, Equatable, Codable {
    public enum Result: String, Sendable, Codable {
        /// 2001.
        case success
        /// 4012: no service could be granted for lack of credit.
        case creditLimitReached = "credit-limit-reached"
        /// 4010: the line is suspended or terminated.
        case serviceDenied = "service-denied"
        /// 5031.
        case ratingFailed = "rating-failed"
        /// 5030: no line has this number.
        case userUnknown = "user-unknown"
        /// 5002: the session is not open (never was, ended, or expired after its validity).
        case unknownSession = "unknown-session"
    }

    public struct Service: Sendable, Equatable, Codable {
        public let key: String
        public let result: Result
        public let grantedUnits: Int64
        public let validitySeconds: Int64
        public let finalUnit: Bool
        /// Money this request charged for the service (micro-units of `currency`).
        public let charged: Int64
        /// The session's running money total for the service, rated, with the explanation people read.
        public let sessionCharge: Int64
        public let explanation: String?
        public let detail: String?
    }

    public let sessionID: String
    public let requestNumber: Int64
    public let type: CreditControlRequestType
    public let result: Result
    public let msisdn: String
    public let currency: String
    public let services: [Service]
    /// The line is barred for chargeable use after this request.
    public let barred: Bool
    /// Set when a retry got the stored answer (not stored itself).
    public var replayed: Bool? = nil
}

/// The online charging system's store: executes ``CreditControl`` decisions as SQL, one request per transaction, the
/// line locked (`FOR NO KEY UPDATE` on PostgreSQL, the one writer on SQLite) so two sessions of a line never spend
/// the same money. Used units are posted as ledger debits through ``Ledger`` (the one path to the ledger), one per
/// bucket drawn, keyed by the request's stored row.
public final class ChargingStore: Sendable {
    public let database: Database
    /// Gathers concurrent requests into shared transactions, on the database's writer executor.
    private let writer: GroupCommitWriter<Submitted, ChargingAnswer>

    public init(database: Database, catalogs: CatalogStore) {
        self.database = database
        self.writer = GroupCommitWriter(executor: database.writerExecutor) { batch in
            try await ChargingStore.apply(batch, database: database, catalogs: catalogs)
        }
    }

    /// Handles one credit-control request: a retransmission (same session id and request number) gets the stored
    /// answer and changes nothing. Concurrent requests share transactions (group commit, like the ledger's top-ups):
    /// one commit and one fsync for a whole batch.
    public func handle(_ request: ChargingRequest) async throws -> ChargingAnswer {
        try await writer.submit(Submitted(request: request, fingerprint: request.fingerprint))
    }

    /// Batches and requests the charging writer has handled.
    public var groupCommitStatistics: GroupCommitStatistics { writer.statistics }

    /// A request with its fingerprint, computed off the writer.
    struct Submitted: Sendable {
        let request: ChargingRequest
        let fingerprint: String
    }

    /// Applies a batch in one transaction, each request in arrival order. On PostgreSQL the batch's lines are locked
    /// first, in id order, so two nodes' batches never wait on each other in a cycle. A repeat of a request already in
    /// the batch gets its answer. A database error fails the batch, which the writer then retries one request at a time.
    static func apply(_ batch: [Submitted], database: Database, catalogs: CatalogStore) async throws -> [Result<ChargingAnswer, any Error>] {
        try await Ledger.transaction(database) { db in
            let catalog = try await catalogs.current(in: db)
            if database.dialect == .postgres {
                let msisdns = Array(Set(batch.compactMap { $0.request.msisdn?.e164 })).sorted()
                let sessions = Array(Set(batch.filter { $0.request.msisdn == nil }.map(\.request.sessionID))).sorted()
                try await db.raw("""
                    SELECT id FROM lines
                    WHERE msisdn IN (\(binds: msisdns.isEmpty ? [""] : msisdns))
                       OR id IN (SELECT line_id FROM charging_sessions WHERE session_id IN (\(binds: sessions.isEmpty ? [""] : sessions)))
                    ORDER BY id\(unsafeRaw: database.forUpdate)
                    """).run()
            }
            let revenue = RevenueAccounts()
            var results: [Result<ChargingAnswer, any Error>] = []
            var first: [String: (fingerprint: String, index: Int)] = [:]
            for item in batch {
                let key = item.request.sessionID + "\u{0}" + String(item.request.requestNumber)
                if let earlier = first[key] {
                    results.append(earlier.fingerprint == item.fingerprint
                        ? results[earlier.index].map { var answer = $0; answer.replayed = true; return answer }
                        : .failure(RechargeError.idempotencyKeyReused("\(item.request.sessionID)#\(item.request.requestNumber)")))
                    continue
                }
                first[key] = (item.fingerprint, results.count)
                results.append(try await Self.apply(item.request, fingerprint: item.fingerprint, catalog: catalog, revenue: revenue, db: db, database: database))
            }
            return results
        }
    }

    /// The usage revenue accounts a batch posts to, by unit: got or made in the batch's transaction, once per unit.
    final class RevenueAccounts: @unchecked Sendable {
        private var ids: [String: Int64] = [:]

        func id(_ unit: String, now: Date, db: any SQLDatabase) async throws -> Int64 {
            if let id = ids[unit] { return id }
            let id = try await LedgerStore.upsertAccount(db, code: LedgerAccountCode.usageRevenue(unit: unit), kind: .revenue, unit: unit, now: now)
            ids[unit] = id
            return id
        }
    }

    private struct SessionRow {
        let id: Int64
        let lineID: Int64
        let use: ChargedUse
        let totals: SessionTotals
        let state: String
        let lastRequestNumber: Int64
        let expiresAt: Date
    }

    /// One request inside the batch's transaction. Returns a failure only before writing anything (a request number
    /// reused with another body); anything thrown fails the batch.
    private static func apply(_ request: ChargingRequest, fingerprint: String, catalog: Catalog, revenue: RevenueAccounts,
                              db: any SQLDatabase, database: Database) async throws -> Result<ChargingAnswer, any Error> {
        let now = request.now
        let quota = catalog.chargingQuota
        // The claim. A retransmission finds the stored answer; a concurrent duplicate on another node waits on the unique
        // key, then finds it too.
        guard let claim = try await db.raw("""
            INSERT INTO charging_requests (session_id, request_number, fingerprint, answer, created_at)
            VALUES (\(bind: request.sessionID), \(bind: request.requestNumber), \(bind: fingerprint), '', \(bind: now.unixMicros))
            ON CONFLICT (session_id, request_number) DO NOTHING
            RETURNING id
            """).first()
        else {
            guard let row = try await db.raw("""
                SELECT fingerprint, answer FROM charging_requests
                WHERE session_id = \(bind: request.sessionID) AND request_number = \(bind: request.requestNumber)
                """).first()
            else { throw DatabaseError.invariantViolated("a charging request neither inserted nor found") }
            guard try row.string("fingerprint") == fingerprint else {
                return .failure(RechargeError.idempotencyKeyReused("\(request.sessionID)#\(request.requestNumber)"))
            }
            var answer = try LedgerStore.decodeResult(try row.string("answer"), as: ChargingAnswer.self)
            answer.replayed = true
            return .success(answer)
        }
        let requestRowID = try claim.int64("id")

        func finish(_ answer: ChargingAnswer) async throws -> Result<ChargingAnswer, any Error> {
            try await db.raw("UPDATE charging_requests SET answer = \(bind: try LedgerStore.encodeResult(answer)) WHERE id = \(bind: requestRowID)").run()
            return .success(answer)
        }
        func refusal(_ result: ChargingAnswer.Result, currency: String, barred: Bool, detail: String) -> ChargingAnswer {
            ChargingAnswer(sessionID: request.sessionID, requestNumber: request.requestNumber, type: request.type, result: result,
                           msisdn: request.msisdn?.e164 ?? "", currency: currency, services: request.services.map {
                               .init(key: $0.key, result: result, grantedUnits: 0, validitySeconds: 0, finalUnit: false, charged: 0, sessionCharge: 0,
                                     explanation: nil, detail: detail)
                           }, barred: barred)
        }

        // The session's services as stored, read under the line's lock (a concurrent request of the session waits for it).
        func loadSessions() async throws -> [String: SessionRow] {
            var sessions: [String: SessionRow] = [:]
            for row in try await db.raw("""
                SELECT id, service_key, line_id, service, destination, visited_country, visited_network, started_at, state, used_units, bucket_units,
                       money_units, charged, unpaid, last_request_number, expires_at
                FROM charging_sessions WHERE session_id = \(bind: request.sessionID)
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
                sessions[try row.string("service_key")] = SessionRow(
                    id: try row.int64("id"), lineID: try row.int64("line_id"), use: use, totals: totals, state: try row.string("state"),
                    lastRequestNumber: try row.int64("last_request_number"), expiresAt: try row.date("expires_at"))
            }
            return sessions
        }

        // The line: named by the request, or the session's own when an update leaves it out. Locked for the request.
        var line: Line
        if let msisdn = request.msisdn {
            guard let found = try? await LedgerStore.loadLine(db, msisdn, lock: database.forUpdate) else {
                return try await finish(refusal(.userUnknown, currency: "", barred: false, detail: "no line has the number \(msisdn.e164)"))
            }
            line = found
        } else if let lineID = try await loadSessions().values.first?.lineID,
                  let row = try await db.raw("SELECT \(unsafeRaw: LineRow.columns) FROM lines WHERE id = \(bind: lineID)\(unsafeRaw: database.forUpdate)").first() {
            line = try LineRow.decode(row)
        } else {
            return try await finish(refusal(.unknownSession, currency: "", barred: false, detail: "session \(request.sessionID) is not open"))
        }
        let sessions = try await loadSessions()
        let currency = line.currency.code
        guard let table = catalog.ratingTable else {
            return try await finish(refusal(.ratingFailed, currency: currency, barred: line.barredAt != nil,
                                            detail: "the catalog has no rating section: usage cannot be priced"))
        }
        switch request.type {
        case .initial, .event:
            if !sessions.isEmpty {
                return try await finish(refusal(.unknownSession, currency: currency, barred: line.barredAt != nil,
                                                detail: "session \(request.sessionID) already exists: an initial request opens a new session id"))
            }
        case .update, .termination:
            let open = sessions.values.filter { $0.state == "open" }
            guard !open.isEmpty, open.allSatisfy({ $0.lineID == line.id }) else {
                return try await finish(refusal(.unknownSession, currency: currency, barred: line.barredAt != nil,
                                                detail: "session \(request.sessionID) is not open on \(line.msisdn.e164)"))
            }
            if let last = open.map(\.lastRequestNumber).max(), request.requestNumber <= last {
                return try await finish(refusal(.unknownSession, currency: currency, barred: line.barredAt != nil,
                                                detail: "request number \(request.requestNumber) is not after \(last)"))
            }
        }

        var buckets = try await db.raw("\(unsafeRaw: BucketRow.select) WHERE b.line_id = \(bind: line.id) ORDER BY b.id").all().map(BucketRow.decode)
        // This session's pending reservations, per service.
        var held: [Int64: [HeldReservation]] = [:]
        let sessionIDs = sessions.values.map(\.id)
        if !sessionIDs.isEmpty {
            for row in try await db.raw("""
                SELECT id, charging_session_id, bucket_id, amount FROM reservations
                WHERE charging_session_id IN (\(binds: sessionIDs)) AND state = 'pending'
                """).all() {
                held[try row.int64("charging_session_id"), default: []].append(
                    HeldReservation(id: try row.int64("id"), bucketID: try row.int64("bucket_id"), amount: try row.int64("amount")))
            }
        }

        // A termination settles every open service of the session, reported or not.
        var services = request.services
        if request.type == .termination {
            for (key, session) in sessions where session.state == "open" && !services.contains(where: { $0.key == key }) {
                services.append(try ServiceCreditRequest(key: key, use: session.use, used: 0, requested: 0))
            }
        }

        var answers: [ChargingAnswer.Service] = []
        var settled: [HeldReservation] = []
        var posts: [(draw: BucketDraw, unit: String, kind: BucketKind)] = []
        var newReservations: [(sessionKey: String, draw: BucketDraw)] = []
        var sessionWrites: [(key: String, use: ChargedUse, decision: CreditControlDecision)] = []
        var bar = false
        for service in services {
            let stored = sessions[service.key]
            if request.type == .update || request.type == .termination, stored == nil || stored?.state != "open" {
                answers.append(.init(key: service.key, result: .unknownSession, grantedUnits: 0, validitySeconds: 0, finalUnit: false, charged: 0,
                                     sessionCharge: 0, explanation: nil, detail: "no open service '\(service.key)' in this session"))
                continue
            }
            // The use is fixed when the service opens: its destination, place and start price the whole session.
            let use = stored?.use ?? service.use
            let mine = stored.map { held[$0.id] ?? [] } ?? []
            let decision = CreditControl.decide(CreditControlInput(
                type: request.type, line: line, buckets: buckets, held: mine, totals: stored?.totals ?? SessionTotals(), use: use,
                used: service.used, requested: service.requested, table: table, quota: quota, now: now))
            if case .ratingFailed(let reason) = decision.outcome {
                answers.append(.init(key: service.key, result: .ratingFailed, grantedUnits: 0, validitySeconds: 0, finalUnit: false, charged: 0,
                                     sessionCharge: stored?.totals.charged ?? 0, explanation: nil, detail: reason))
                continue
            }
            // The working buckets after this service: its old reservations released, used units posted, new ones held.
            for reservation in mine {
                if let index = buckets.firstIndex(where: { $0.id == reservation.bucketID }) { buckets[index].pending -= reservation.amount }
            }
            settled += mine
            for draw in decision.posts {
                guard let index = buckets.firstIndex(where: { $0.id == draw.bucketID }) else { continue }
                buckets[index].remaining -= draw.amount
                posts.append((draw, buckets[index].unit, buckets[index].kind))
            }
            for draw in decision.reserve {
                if let index = buckets.firstIndex(where: { $0.id == draw.bucketID }) { buckets[index].pending += draw.amount }
                newReservations.append((service.key, draw))
            }
            bar = bar || decision.bar
            sessionWrites.append((service.key, use, decision))
            let result: ChargingAnswer.Result
            var detail: String?
            switch decision.outcome {
            case .success: result = .success
            case .creditLimitReached: result = .creditLimitReached; detail = "no credit left for this use: recharge to continue"
            case .serviceDenied(let status): result = .serviceDenied; detail = "the line is \(status.rawValue)"
            case .ratingFailed(let reason): result = .ratingFailed; detail = reason
            }
            let charged = decision.posts.filter { draw in buckets.first { $0.id == draw.bucketID }?.kind == .monetary }.reduce(0) { $0 + $1.amount }
            answers.append(.init(key: service.key, result: result, grantedUnits: decision.granted,
                                 validitySeconds: decision.granted > 0 ? quota.validitySeconds : 0, finalUnit: decision.finalUnit, charged: charged,
                                 sessionCharge: decision.totals.charged, explanation: decision.rated?.explanation, detail: detail))
        }

        // Execute: release what this session held, post what it used, hold what it was granted.
        if !settled.isEmpty {
            try await db.raw("""
                UPDATE reservations SET state = 'settled', resolved_at = \(bind: now.unixMicros) WHERE id IN (\(binds: settled.map(\.id)))
                """).run()
            try await Self.movePending(settled.map { ($0.bucketID, -$0.amount) }, buckets: buckets, db: db)
        }
        if !posts.isEmpty {
            var ledgerRequests: [LedgerRequest] = []
            for (number, post) in posts.enumerated() {
                let counterparty = try await revenue.id(post.unit, now: now, db: db)
                let command = try DebitCommand(msisdn: line.msisdn, kind: post.kind, amount: post.draw.amount,
                                               currency: post.kind == .monetary ? line.currency : nil, channel: .network,
                                               reference: String("session \(request.sessionID)".prefix(200)), bucketID: post.draw.bucketID)
                ledgerRequests.append(try LedgerRequest(.debit(command), purpose: .usageCharge(requestID: requestRowID, number: number + 1), now: now,
                                                        counterparty: counterparty))
            }
            for result in try await Ledger.apply(ledgerRequests, in: db, database: database) {
                // The decision drew only what was available under the line lock: a refusal here is a bug, and rolls back.
                if case .failure(let error) = result { throw DatabaseError.invariantViolated("a usage debit was refused: \(error)") }
            }
        }

        let expiresAt = now.addingTimeInterval(TimeInterval(quota.validitySeconds + quota.graceSeconds))
        var sessionRowIDs: [String: Int64] = sessions.mapValues(\.id)
        for write in sessionWrites {
            let totals = write.decision.totals
            // A final unit leaves the session open: with a redirect the network keeps it, and a credit's re-auth brings it back.
            let state = request.type == .termination || request.type == .event ? "closed" : "open"
            if let id = sessionRowIDs[write.key] {
                try await db.raw("""
                    UPDATE charging_sessions SET used_units = \(bind: totals.usedUnits), bucket_units = \(bind: totals.bucketUnits),
                        money_units = \(bind: totals.moneyUnits), charged = \(bind: totals.charged), unpaid = \(bind: totals.unpaid),
                        last_request_number = \(bind: request.requestNumber), final_unit = \(bind: write.decision.finalUnit ? 1 : 0),
                        state = \(bind: state), expires_at = \(bind: expiresAt.unixMicros), updated_at = \(bind: now.unixMicros)
                    WHERE id = \(bind: id)
                    """).run()
            } else {
                let initialState = request.type == .event || write.decision.granted == 0 ? "closed" : "open"
                guard let row = try await db.raw("""
                    INSERT INTO charging_sessions (session_id, service_key, line_id, interface, peer, service, destination, visited_country,
                        visited_network, started_at, state, used_units, bucket_units, money_units, charged, unpaid, last_request_number, final_unit,
                        expires_at, created_at, updated_at)
                    VALUES (\(bind: request.sessionID), \(bind: write.key), \(bind: line.id), \(bind: request.interface.column),
                        \(bind: request.interface.peer), \(bind: write.use.service.id), \(bind: write.use.destination), \(bind: write.use.visitedCountry),
                        \(bind: write.use.visitedNetwork), \(bind: write.use.start.unixMicros), \(bind: initialState), \(bind: totals.usedUnits),
                        \(bind: totals.bucketUnits), \(bind: totals.moneyUnits), \(bind: totals.charged), \(bind: totals.unpaid),
                        \(bind: request.requestNumber), \(bind: write.decision.finalUnit ? 1 : 0), \(bind: expiresAt.unixMicros),
                        \(bind: now.unixMicros), \(bind: now.unixMicros))
                    RETURNING id
                    """).first()
                else { throw DatabaseError.invariantViolated("INSERT … RETURNING gave no row") }
                sessionRowIDs[write.key] = try row.int64("id")
            }
            // The itemized record: one per session service, its totals rewritten on every request.
            let rated = write.decision.rated
            if let sessionRowID = sessionRowIDs[write.key], totals.usedUnits > 0 || rated?.free == true {
                try await db.raw("""
                    INSERT INTO usage_records (line_id, source, source_id, service, destination, visited_country, visited_network, started_at, units,
                        bucket_units, billed_units, charge, unpaid, currency, tariff, free, explanation, updated_at)
                    VALUES (\(bind: line.id), 'session', \(bind: String(sessionRowID)), \(bind: write.use.service.id), \(bind: write.use.destination),
                        \(bind: write.use.visitedCountry), \(bind: write.use.visitedNetwork), \(bind: write.use.start.unixMicros), \(bind: totals.usedUnits),
                        \(bind: totals.bucketUnits), \(bind: rated?.billedUnits ?? 0), \(bind: totals.charged), \(bind: totals.unpaid), \(bind: currency),
                        \(bind: rated?.tariff), \(bind: rated?.free == true ? 1 : 0), \(bind: rated?.explanation), \(bind: now.unixMicros))
                    ON CONFLICT (source, source_id) DO UPDATE SET units = excluded.units, bucket_units = excluded.bucket_units,
                        billed_units = excluded.billed_units, charge = excluded.charge, unpaid = excluded.unpaid, tariff = excluded.tariff,
                        explanation = excluded.explanation, updated_at = excluded.updated_at
                    """).run()
            }
        }
        if !newReservations.isEmpty {
            var sql: SQLQueryString = "INSERT INTO reservations (charging_session_id, line_id, bucket_id, account_id, amount, state, expires_at, created_at) VALUES "
            for (index, reservation) in newReservations.enumerated() {
                guard let sessionRowID = sessionRowIDs[reservation.sessionKey] else { continue }
                sql += index == 0 ? "(" : ", ("
                sql += "\(bind: sessionRowID), \(bind: line.id), \(bind: reservation.draw.bucketID), \(bind: reservation.draw.accountID), "
                sql += "\(bind: reservation.draw.amount), 'pending', \(bind: expiresAt.unixMicros), \(bind: now.unixMicros))"
            }
            try await db.raw(sql).run()
            try await Self.movePending(newReservations.map { ($0.draw.bucketID, $0.draw.amount) }, buckets: buckets, db: db)
        }
        if bar, line.barredAt == nil {
            try await db.raw("UPDATE lines SET barred_at = \(bind: now.unixMicros), updated_at = \(bind: now.unixMicros) WHERE id = \(bind: line.id)").run()
            line.barredAt = now
            try await ChargingNotifications.enqueue(.serviceSuspended, lineID: line.id, key: "barred:\(line.id):\(now.unixMicros)", now: now, in: db)
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
        return try await finish(ChargingAnswer(sessionID: request.sessionID, requestNumber: request.requestNumber, type: request.type, result: overall,
                                               msisdn: line.msisdn.e164, currency: currency, services: answers, barred: line.barredAt != nil))
    }

    /// Adds `delta` to the pending debits of each bucket's account (one statement per account, in id order so two
    /// nodes lock accounts in the same order).
    private static func movePending(_ changes: [(bucketID: Int64, delta: Int64)], buckets: [Bucket], db: any SQLDatabase) async throws {
        var byAccount: [Int64: Int64] = [:]
        for change in changes {
            guard let account = buckets.first(where: { $0.id == change.bucketID })?.accountID else { continue }
            byAccount[account, default: 0] += change.delta
        }
        for (account, delta) in byAccount.sorted(by: { $0.key < $1.key }) where delta != 0 {
            try await db.raw("""
                UPDATE ledger_accounts SET debits_pending = debits_pending + \(bind: delta) WHERE id = \(bind: account)
                """).run()
        }
    }

    // MARK: Expiry

    /// Voids the reservations of sessions the network stopped reporting on (validity plus grace passed) and marks
    /// those sessions expired: nothing stays held for a session that will never send its termination. Returns how
    /// many sessions expired. Runs in batches of `limit`, each line locked like a request's.
    @discardableResult
    public func expireSessions(now: Date, limit: Int = 200) async throws -> Int {
        let database = self.database
        return try await database.transaction { db in
            let rows = try await db.raw("""
                SELECT id, line_id FROM charging_sessions WHERE state = 'open' AND expires_at < \(bind: now.unixMicros)
                ORDER BY id LIMIT \(bind: limit)
                """).all()
            guard !rows.isEmpty else { return 0 }
            let lineIDs = Array(Set(try rows.map { try $0.int64("line_id") })).sorted()
            try await db.raw("SELECT id FROM lines WHERE id IN (\(binds: lineIDs)) ORDER BY id\(unsafeRaw: database.forUpdate)").run()
            // Re-read under the locks: a request may have renewed a session meanwhile.
            let expired = try await db.raw("""
                SELECT id FROM charging_sessions WHERE id IN (\(binds: try rows.map { try $0.int64("id") })) AND state = 'open'
                  AND expires_at < \(bind: now.unixMicros)
                """).all().map { try $0.int64("id") }
            guard !expired.isEmpty else { return 0 }
            let reservations = try await db.raw("""
                SELECT r.id, r.account_id, r.amount FROM reservations r
                WHERE r.charging_session_id IN (\(binds: expired)) AND r.state = 'pending'
                """).all()
            var byAccount: [Int64: Int64] = [:]
            for row in reservations { byAccount[try row.int64("account_id"), default: 0] += try row.int64("amount") }
            if !reservations.isEmpty {
                try await db.raw("""
                    UPDATE reservations SET state = 'expired', resolved_at = \(bind: now.unixMicros)
                    WHERE id IN (\(binds: try reservations.map { try $0.int64("id") }))
                    """).run()
            }
            for (account, amount) in byAccount.sorted(by: { $0.key < $1.key }) {
                try await db.raw("UPDATE ledger_accounts SET debits_pending = debits_pending - \(bind: amount) WHERE id = \(bind: account)").run()
            }
            try await db.raw("""
                UPDATE charging_sessions SET state = 'expired', updated_at = \(bind: now.unixMicros) WHERE id IN (\(binds: expired))
                """).run()
            return expired.count
        }
    }

    // MARK: Reading

    /// A session as stored: its services with their totals and what they hold reserved.
    public struct SessionState: Sendable, Equatable, Codable {
        public struct Service: Sendable, Equatable, Codable {
            public let key: String
            public let service: String
            public let destination: String?
            public let visitedCountry: String?
            public let state: String
            public let usedUnits: Int64
            public let bucketUnits: Int64
            public let charged: Int64
            public let unpaid: Int64
            public let reserved: Int64
            public let lastRequestNumber: Int64
            public let expiresAt: Date
        }
        public let sessionID: String
        public let msisdn: String
        public let currency: String
        public let services: [Service]
    }

    public func session(_ sessionID: String) async throws -> SessionState? {
        try await database.read { db in
            let rows = try await db.raw("""
                SELECT s.id, s.service_key, s.service, s.destination, s.visited_country, s.state, s.used_units, s.bucket_units, s.charged, s.unpaid,
                       s.last_request_number, s.expires_at, l.msisdn, l.currency,
                       (SELECT COALESCE(CAST(SUM(r.amount) AS BIGINT), 0) FROM reservations r WHERE r.charging_session_id = s.id AND r.state = 'pending') AS reserved
                FROM charging_sessions s JOIN lines l ON l.id = s.line_id
                WHERE s.session_id = \(bind: sessionID) ORDER BY s.id
                """).all()
            guard let first = rows.first else { return nil }
            return SessionState(sessionID: sessionID, msisdn: try first.string("msisdn"), currency: try first.string("currency"), services: try rows.map { row in
                .init(key: try row.string("service_key"), service: try row.string("service"), destination: try row.optional("destination"),
                      visitedCountry: try row.optional("visited_country"), state: try row.string("state"), usedUnits: try row.int64("used_units"),
                      bucketUnits: try row.int64("bucket_units"), charged: try row.int64("charged"), unpaid: try row.int64("unpaid"),
                      reserved: try row.int64("reserved"), lastRequestNumber: try row.int64("last_request_number"), expiresAt: try row.date("expires_at"))
            })
        }
    }

    /// One itemized use: a call, a message, a data session, or an imported record.
    public struct UsageItem: Sendable, Equatable, Codable {
        public let id: Int64
        public let source: String
        public let service: String
        public let destination: String?
        public let visitedCountry: String?
        public let startedAt: Date
        public let units: Int64
        public let bucketUnits: Int64
        public let billedUnits: Int64
        public let charge: Int64
        public let unpaid: Int64
        public let currency: String
        public let tariff: String?
        public let free: Bool
        public let explanation: String?
    }

    /// A line's rated usage, newest first: `before` is the previous page's last id.
    public func usage(_ msisdn: MSISDN, from: Date?, until: Date?, before cursor: Int64?, limit: Int) async throws -> (items: [UsageItem], nextCursor: Int64?) {
        let limit = max(1, min(limit, 500))
        return try await database.read { db in
            let line = try await LedgerStore.loadLine(db, msisdn, lock: nil)
            let rows = try await db.raw("""
                SELECT id, source, service, destination, visited_country, started_at, units, bucket_units, billed_units, charge, unpaid, currency,
                       tariff, free, explanation
                FROM usage_records
                WHERE line_id = \(bind: line.id) AND id < \(bind: cursor ?? Int64.max)
                  AND started_at >= \(bind: from?.unixMicros ?? Int64.min) AND started_at < \(bind: until?.unixMicros ?? Int64.max)
                ORDER BY id DESC LIMIT \(bind: limit + 1)
                """).all()
            let items = try rows.prefix(limit).map { row in
                UsageItem(id: try row.int64("id"), source: try row.string("source"), service: try row.string("service"),
                          destination: try row.optional("destination"), visitedCountry: try row.optional("visited_country"),
                          startedAt: try row.date("started_at"), units: try row.int64("units"), bucketUnits: try row.int64("bucket_units"),
                          billedUnits: try row.int64("billed_units"), charge: try row.int64("charge"), unpaid: try row.int64("unpaid"),
                          currency: try row.string("currency"), tariff: try row.optional("tariff"), free: try row.decode(column: "free", as: Int.self) == 1,
                          explanation: try row.optional("explanation"))
            }
            return (items, rows.count > limit ? items.last?.id : nil)
        }
    }
}

// MARK: Re-auth after a restore

extension ChargingStore {
    /// A session to tell that service may resume (queued when a credit cleared its line's bar).
    public struct PendingReAuth: Sendable, Equatable {
        public let id: Int64
        /// `diameter` or `http`.
        public let interface: String
        /// The Diameter peer's Origin-Host, or the HTTP callback URL.
        public let peer: String?
        public let sessionID: String
        public let attempts: Int
    }

    /// Takes up to `limit` re-auths due now: each is leased for `lease` (its attempt counted), so another node takes
    /// it only after that — one that holds the peer's connection, when this one does not.
    public func claimReAuths(now: Date, lease: TimeInterval = 5, limit: Int = 50) async throws -> [PendingReAuth] {
        let cutoff = now.addingTimeInterval(-lease).unixMicros
        return try await database.transaction { db in
            try await db.raw("""
                UPDATE charging_reauths SET attempts = attempts + 1, updated_at = \(bind: now.unixMicros)
                WHERE id IN (SELECT id FROM charging_reauths WHERE state = 'pending' AND (attempts = 0 OR updated_at <= \(bind: cutoff))
                             ORDER BY id LIMIT \(bind: limit))
                  AND state = 'pending' AND (attempts = 0 OR updated_at <= \(bind: cutoff))
                RETURNING id, interface, peer, session_id, attempts
                """).all().map { row in
                PendingReAuth(id: try row.int64("id"), interface: try row.string("interface"), peer: try row.optional("peer"),
                              sessionID: try row.string("session_id"), attempts: try row.decode(column: "attempts", as: Int.self))
            }.sorted { $0.id < $1.id }
        }
    }

    /// Records how a re-auth went: `sent` (the peer acknowledged), or `failed` for good with the reason; nil leaves it
    /// pending for another attempt after its lease.
    public func finishReAuth(_ id: Int64, outcome: (sent: Bool, result: String)?, now: Date) async throws {
        guard let outcome else { return }
        try await database.transaction { db in
            try await db.raw("""
                UPDATE charging_reauths SET state = \(bind: outcome.sent ? "sent" : "failed"), result = \(bind: String(outcome.result.prefix(500))),
                    updated_at = \(bind: now.unixMicros)
                WHERE id = \(bind: id)
                """).run()
        }
    }
}
