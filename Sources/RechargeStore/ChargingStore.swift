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

    /// Applies a batch in one transaction (``ChargingBatch``): a fixed number of statements whatever its size. A database
    /// error fails the batch, which the writer then retries one request at a time.
    static func apply(_ batch: [Submitted], database: Database, catalogs: CatalogStore) async throws -> [Result<ChargingAnswer, any Error>] {
        try await Ledger.transaction(database) { db in
            var run = ChargingBatch(db: db, database: database, catalog: try await catalogs.current(in: db))
            return try await run.run(batch)
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
