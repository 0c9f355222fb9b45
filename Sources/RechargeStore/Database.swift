import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import NIOSSL
import PostgresKit
import PostgresNIO
import SQLiteKit
import SQLKit

/// Where the data lives: an SQLite file (the embedded default) or a PostgreSQL server.
public enum DatabaseLocation: Sendable, Equatable, CustomStringConvertible {
    case sqlite(path: String)
    case postgres(url: String)

    /// Parses `--database-url`: `postgres://…`/`postgresql://…`, `sqlite:///abs/path`, `sqlite:relative/path`,
    /// or a plain file path for SQLite.
    public init(url: String) throws {
        if url.hasPrefix("postgres://") || url.hasPrefix("postgresql://") {
            self = .postgres(url: url)
        } else if url.hasPrefix("sqlite://") {
            self = .sqlite(path: String(url.dropFirst("sqlite://".count)))
        } else if url.hasPrefix("sqlite:") {
            self = .sqlite(path: String(url.dropFirst("sqlite:".count)))
        } else if url.contains("://") {
            throw DatabaseError.unsupportedURL(url)
        } else {
            self = .sqlite(path: url)
        }
    }

    public var description: String {
        switch self {
        case .sqlite(let path): "sqlite:\(path)"
        case .postgres(let url): Self.redacted(url)
        }
    }

    /// The URL with its password replaced, for logs.
    static func redacted(_ url: String) -> String {
        guard var components = URLComponents(string: url), components.password != nil else { return url }
        components.password = "***"
        return components.string ?? url
    }
}

public enum DatabaseError: Error, CustomStringConvertible, Equatable {
    case unsupportedURL(String)
    case invalidPostgresURL(String)
    case migrationFailed(version: Int, reason: String)
    case invariantViolated(String)
    /// The database cannot be reached (PostgreSQL down or unreachable): nothing was applied; retry later.
    case unavailable(String)

    /// Whether `error` says the database cannot be reached (an outage, not a fault of the request).
    public static func isUnavailable(_ error: any Error) -> Bool {
        if case DatabaseError.unavailable = error { return true }
        return false
    }

    public var description: String {
        switch self {
        case .unsupportedURL(let url): "unsupported database URL '\(DatabaseLocation.redacted(url))': use postgres://… or an SQLite file path"
        case .invalidPostgresURL(let url): "invalid PostgreSQL URL '\(DatabaseLocation.redacted(url))'"
        case .migrationFailed(let version, let reason): "migration \(version) failed: \(reason)"
        case .invariantViolated(let what): "ledger invariant violated: \(what)"
        case .unavailable(let why): "the database is unavailable: \(why)"
        }
    }
}

/// The SQL engine behind the store. All SQL is written once against SQLKit; the few places the two
/// engines differ (identity columns, how a write transaction starts, row locks) ask ``Database/dialect``.
public final class Database: Sendable {
    public enum Dialect: Sendable { case sqlite, postgres }

    public let dialect: Dialect
    public let location: DatabaseLocation
    private let backend: Backend
    let logger: Logger
    private let codeSeals = CodeSealSource()
    private let serverSecrets = ServerSecretSource()
    private let retries = NIOLockedValueBox(Retries())

    /// Transactions PostgreSQL aborted and ``transaction(timeout:_:)`` ran again (`/metrics`).
    public struct Retries: Sendable, Equatable {
        /// `40P01`: PostgreSQL broke a deadlock. Zero unless some path locks rows out of the documented order.
        public var deadlocks = 0
        /// `40001`: serialization failures.
        public var serializationFailures = 0
    }

    public var retryStatistics: Retries { retries.withLockedValue { $0 } }

    /// Seals one-time codes with `seal` (the operator's `RECHARGE_CODE_SEAL_KEY`) instead of the database's own key.
    public func useCodeSeal(_ seal: CodeSeal) {
        codeSeals.use(seal)
    }

    /// The seal of one-time codes in the outbox (``CodeSeal``).
    public func codeSeal() async throws -> CodeSeal {
        try await codeSeals.seal(self)
    }

    /// The database's own 32-byte key called `name` (``ServerSecretSource``), e.g. the one signing guests' order links.
    public func serverSecret(_ name: String) async throws -> [UInt8] {
        try await serverSecrets.secret(name, database: self)
    }

    private enum Backend: Sendable {
        case sqlite(SQLiteBackend)
        case postgres(PostgresBackend)
    }

    private init(dialect: Dialect, location: DatabaseLocation, backend: Backend, logger: Logger) {
        self.dialect = dialect
        self.location = location
        self.backend = backend
        self.logger = logger
    }

    /// Opens (creating if needed) the database. For SQLite the parent folder is created and WAL mode set.
    public static func open(_ location: DatabaseLocation, logger: Logger = Logger(label: "recharge.db")) async throws -> Database {
        switch location {
        case .sqlite(let path):
            return Database(dialect: .sqlite, location: location, backend: .sqlite(try await SQLiteBackend.open(path: path, logger: logger)), logger: logger)
        case .postgres(let url):
            let backend = try await PostgresBackend(url: url, logger: logger)
            return Database(dialect: .postgres, location: location, backend: .postgres(backend), logger: logger)
        }
    }

    /// Runs `body` outside any explicit transaction (each statement on its own). On PostgreSQL, work that
    /// has not finished within `timeout` is answered with ``DatabaseError/unavailable(_:)``.
    public func read<T: Sendable>(timeout: Duration = .seconds(5), _ body: @escaping @Sendable (any SQLDatabase) async throws -> T) async throws -> T {
        switch backend {
        case .sqlite(let sqlite): try await sqlite.read(body)
        case .postgres(let postgres): try await postgres.withConnection(timeout: timeout) { try await body($0) }
        }
    }

    /// Runs `body` in one write transaction: committed if it returns, rolled back if it throws.
    /// SQLite: `BEGIN IMMEDIATE` behind the one writer. PostgreSQL: `BEGIN` on a pooled connection, retried
    /// on serialization failures and deadlocks.
    public func transaction<T: Sendable>(timeout: Duration = .seconds(5), _ body: @escaping @Sendable (any SQLDatabase) async throws -> T) async throws -> T {
        switch backend {
        case .sqlite(let sqlite):
            return try await sqlite.write { db in try await Database.run(in: db, begin: "BEGIN IMMEDIATE", body) }
        case .postgres(let postgres):
            var attempt = 0
            while true {
                do {
                    return try await postgres.withConnection(timeout: timeout) { db in try await Database.run(in: db, begin: "BEGIN", body) }
                } catch let error as PSQLError where attempt < 5 && PostgresBackend.isRetryable(error) {
                    // A deadlock means two transactions locked rows in different orders: a bug in the lock order
                    // (docs/architecture.md, "Locks"), retried here but counted and logged so it is seen.
                    let deadlock = error.serverInfo?[.sqlState] == "40P01"
                    retries.withLockedValue { deadlock ? ($0.deadlocks += 1) : ($0.serializationFailures += 1) }
                    if deadlock { logger.warning("PostgreSQL broke a deadlock; the transaction is retried", metadata: ["attempt": "\(attempt + 1)"]) }
                    attempt += 1
                    try await Task.sleep(for: .milliseconds(Int.random(in: 1...(5 << attempt))))
                }
            }
        }
    }

    private static func run<T>(in db: any SQLDatabase, begin: String, _ body: (any SQLDatabase) async throws -> T) async throws -> T {
        try await db.raw(SQLQueryString(begin)).run()
        let result: T
        do {
            result = try await body(db)
        } catch {
            try? await db.raw("ROLLBACK").run()
            throw error
        }
        do {
            try await db.raw("COMMIT").run()
        } catch {
            try? await db.raw("ROLLBACK").run()
            throw error
        }
        return result
    }

    /// Where the group-commit leader runs: on SQLite the writer connection's own thread (no hand-offs
    /// between the leader and its statements); on PostgreSQL a thread of its own, off the shared pool.
    var writerExecutor: any TaskExecutor {
        switch backend {
        case .sqlite(let sqlite): sqlite.writerExecutor
        case .postgres: Database.postgresWriterExecutor
        }
    }
    private static let postgresWriterExecutor = DedicatedExecutor(name: "recharge-writer")

    /// One executor per lane of coalesced reads: on SQLite each reader connection's own thread (the leader
    /// runs beside its statements); on PostgreSQL four lanes on the shared pool, leaving most of the
    /// connection pool to the writer and other work.
    var readLanes: [(any TaskExecutor)?] {
        switch backend {
        case .sqlite(let sqlite): sqlite.readerExecutors
        case .postgres: [nil, nil, nil, nil]
        }
    }

    /// Runs `body` like ``read(timeout:_:)``, on SQLite on the reader connection of `lane`.
    func read<T: Sendable>(lane: Int, _ body: @escaping @Sendable (any SQLDatabase) async throws -> T) async throws -> T {
        switch backend {
        case .sqlite(let sqlite): try await sqlite.read(lane: lane, body)
        case .postgres: try await read(body)
        }
    }

    /// The row lock a writer takes before changing a row: `FOR NO KEY UPDATE` on PostgreSQL; nothing on SQLite,
    /// whose single writer already excludes other writers.
    ///
    /// Not `FOR UPDATE`: that one also conflicts with the `FOR KEY SHARE` lock PostgreSQL takes on a referenced row
    /// whenever a row pointing at it is inserted (a transfer at its accounts, an operation at its line). A batch
    /// inserts its transfers before it locks the accounts it posts to, so with `FOR UPDATE` two batches sharing an
    /// operator account each waited for the other's key-share lock: the deadlock two nodes saw under ordinary load
    /// (issue 24). `FOR NO KEY UPDATE` excludes every other writer of the row just the same (it is the lock an
    /// `UPDATE` of non-key columns takes) and lets foreign-key checks through. No writer here changes a key column.
    var forUpdate: String { dialect == .postgres ? " FOR NO KEY UPDATE" : "" }

    /// The column definition of an auto-assigned 64-bit primary key.
    var identityColumn: String {
        switch dialect {
        case .sqlite: "INTEGER PRIMARY KEY AUTOINCREMENT"
        case .postgres: "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY"
        }
    }

    /// `count` fresh ids for `table`, ascending, inside the current write transaction. SQLite: past the
    /// largest id ever used (the single writer makes that safe); PostgreSQL: from the identity column's
    /// sequence, so several nodes never collide.
    func allocateIDs(_ table: String, count: Int, _ db: any SQLDatabase) async throws -> [Int64] {
        guard count > 0 else { return [] }
        switch dialect {
        case .sqlite:
            let row = try await db.raw("""
                SELECT MAX(COALESCE((SELECT MAX(id) FROM \(ident: table)), 0),
                           COALESCE((SELECT seq FROM sqlite_sequence WHERE name = \(bind: table)), 0)) AS id
                """).first()
            let last = try row?.int64("id") ?? 0
            return (1...Int64(count)).map { last + $0 }
        case .postgres:
            return try await db.raw("""
                SELECT nextval(pg_get_serial_sequence(\(bind: table), 'id')) AS id FROM generate_series(1, \(bind: count))
                """).all().map { try $0.int64("id") }.sorted()
        }
    }

    /// Fresh ids for several tables at once, in the order asked, each list ascending. On PostgreSQL one
    /// statement (one round trip) serves every table: the group-commit batch needs ids for operations and
    /// transfers, and for accounts and buckets when it grants buckets.
    func allocateIDs(_ requests: [(table: String, count: Int)], _ db: any SQLDatabase) async throws -> [[Int64]] {
        let wanted = requests.enumerated().filter { $0.element.count > 0 }
        guard dialect == .postgres, wanted.count > 1 else {
            var lists: [[Int64]] = []
            for request in requests { lists.append(try await allocateIDs(request.table, count: request.count, db)) }
            return lists
        }
        var sql: SQLQueryString = ""
        for (position, (index, request)) in wanted.enumerated() {
            if position > 0 { sql += " UNION ALL " }
            sql += "SELECT \(literal: index) AS request, nextval(pg_get_serial_sequence(\(bind: request.table), 'id')) AS id FROM generate_series(1, \(bind: request.count))"
        }
        var lists = Array(repeating: [Int64](), count: requests.count)
        for row in try await db.raw(sql).all() {
            lists[try row.decode(column: "request", as: Int.self)].append(try row.int64("id"))
        }
        for (index, request) in wanted {
            guard lists[index].count == request.count else { throw DatabaseError.invariantViolated("allocated \(lists[index].count) ids for \(request.table), wanted \(request.count)") }
            lists[index].sort()
        }
        return lists
    }

    /// Whether `error` is a unique-constraint violation, on either engine.
    func isUniqueViolation(_ error: any Error) -> Bool {
        if let error = error as? PSQLError { return error.serverInfo?[.sqlState] == "23505" }
        if let error = error as? SQLiteError { return error.reason == .constraintUniqueFailed || error.reason == .constraintPrimaryKeyFailed || error.message.contains("UNIQUE constraint failed") }
        return false
    }

    public func close() async {
        switch backend {
        case .sqlite(let sqlite): await sqlite.close()
        case .postgres(let postgres): await postgres.close()
        }
    }
}

/// One writer connection and a few reader connections on a WAL-mode SQLite file.
final class SQLiteBackend: Sendable {
    private let writer: SQLiteConnection
    private let readers: [SQLiteConnection]
    /// Each reader connection's own thread (used by the coalesced balance reads; other reads share them).
    let readerExecutors: [(any TaskExecutor)?]
    private let readerPools: [ThreadPoolExecutor]
    private let gate = AsyncGate()
    private let nextReader = NIOLockedValueBox(0)
    /// The writer connection's own thread, also the executor the group-commit leader runs on.
    let writerExecutor: ThreadPoolExecutor

    private init(writer: SQLiteConnection, readers: [SQLiteConnection], readerPools: [ThreadPoolExecutor], writerExecutor: ThreadPoolExecutor) {
        self.writer = writer
        self.readers = readers
        self.readerPools = readerPools
        self.readerExecutors = readerPools.map { $0 }
        self.writerExecutor = writerExecutor
    }

    static func open(path: String, logger: Logger) async throws -> SQLiteBackend {
        try createPrivately(path: path)
        func connect(threadPool: NIOThreadPool) async throws -> SQLiteConnection {
            let connection = try await SQLiteConnection.open(
                storage: .file(path: path), threadPool: threadPool, logger: logger, on: MultiThreadedEventLoopGroup.singleton.any())
            // WAL lets readers run beside the writer; synchronous=FULL makes an acknowledged commit durable.
            for pragma in ["PRAGMA journal_mode=WAL", "PRAGMA synchronous=FULL", "PRAGMA foreign_keys=ON", "PRAGMA busy_timeout=10000"] {
                try await connection.sql().raw(SQLQueryString(pragma)).run()
            }
            return connection
        }
        let writerExecutor = ThreadPoolExecutor()
        let writer = try await connect(threadPool: writerExecutor.pool)
        let readerPools = [ThreadPoolExecutor(), ThreadPoolExecutor()]
        var readers: [SQLiteConnection] = []
        for pool in readerPools { readers.append(try await connect(threadPool: pool.pool)) }
        return SQLiteBackend(writer: writer, readers: readers, readerPools: readerPools, writerExecutor: writerExecutor)
    }

    /// Creates the database's folder (0700) and file (0600) when they do not exist yet, before SQLite opens the
    /// file: the ledger, password hashes and sessions are nobody else's to read on a shared host. SQLite gives its
    /// `-wal` and `-shm` files the mode of the database file. Existing folders and files keep their mode (the
    /// folder may be the working directory, which is not ours to change).
    static func createPrivately(path: String) throws {
        let manager = FileManager.default
        let directory = URL(fileURLWithPath: path).deletingLastPathComponent().path
        if !manager.fileExists(atPath: directory) {
            try manager.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        }
        if !manager.fileExists(atPath: path) {
            guard manager.createFile(atPath: path, contents: nil, attributes: [.posixPermissions: 0o600]) else {
                throw DatabaseError.unavailable("cannot create the SQLite file '\(path)'")
            }
        }
    }

    func read<T: Sendable>(lane: Int, _ body: (any SQLDatabase) async throws -> T) async throws -> T {
        try await body(readers[lane % readers.count].sql(queryLogLevel: nil))
    }

    func read<T: Sendable>(_ body: (any SQLDatabase) async throws -> T) async throws -> T {
        let index = nextReader.withLockedValue { value -> Int in
            value = (value + 1) % readers.count
            return value
        }
        return try await body(readers[index].sql(queryLogLevel: nil))
    }

    func write<T: Sendable>(_ body: (any SQLDatabase) async throws -> T) async throws -> T {
        try await gate.withLock { try await body(writer.sql(queryLogLevel: nil)) }
    }

    func close() async {
        for connection in readers + [writer] { try? await connection.close() }
        await writerExecutor.shutDown()
        for pool in readerPools { await pool.shutDown() }
    }
}

/// A PostgreSQL connection pool (PostgresNIO's `PostgresClient`), run for as long as the backend lives.
///
/// It fails fast when the server is down instead of letting requests queue for a connection: waiting for a
/// connection is bounded (`leaseTimeout`, 2 s by default; a query that has started is never cut short),
/// connectivity errors become ``DatabaseError/unavailable(_:)``, and after one the backend stays "down" and
/// answers at once until a background probe (`SELECT 1` every half second) gets through again.
final class PostgresBackend: Sendable {
    /// A `PostgresClient` and the task running it.
    private struct Pool: Sendable {
        let client: PostgresClient
        let runTask: Task<Void, Never>

        /// A new pool, returned once its `run()` has started: a lease before that is served late and logged by
        /// PostgresNIO as a misuse ("PostgresClient.run() hasn't been called yet"), which a pool swapped in by the
        /// probe after an outage used to hit. `run()` marks itself running before its first suspension, and the
        /// task signals just before calling it.
        static func start(_ configuration: PostgresClient.Configuration, logger: Logger) async -> Pool {
            let client = PostgresClient(configuration: configuration, backgroundLogger: logger)
            let (started, signal) = AsyncStream<Void>.makeStream()
            let runTask = Task {
                signal.finish()
                await client.run()
            }
            for await _ in started {}
            return Pool(client: client, runTask: runTask)
        }

        func shutDown() async {
            runTask.cancel()
            await runTask.value
        }
    }

    private let configuration: PostgresClient.Configuration
    private let pool: NIOLockedValueBox<Pool>
    private let logger: Logger
    private let leaseTimeout: Duration
    private let health = NIOLockedValueBox(Health())

    /// The circuit breaker, and the requests in flight that give up when it opens (one lock: opening it and taking
    /// the list of requests to answer is one step, so no request registers in between).
    private struct Health {
        var down = false
        var probing = false
        var closed = false
        var nextTicket = 0
        var abandon: [Int: @Sendable () -> Void] = [:]
    }

    init(url: String, logger: Logger, leaseTimeout: Duration = .seconds(2)) async throws {
        self.configuration = try Self.configuration(url: url)
        self.pool = NIOLockedValueBox(await Pool.start(configuration, logger: logger))
        self.logger = logger
        self.leaseTimeout = leaseTimeout
    }

    /// Reads host, port, user, password, database and `sslmode` from a libpq-style URL; `search_path` and
    /// `application_name` query items are passed to the server.
    ///
    /// `sslmode` means what it means to libpq: `disable` (plain text), `prefer` (the default, as in libpq: TLS
    /// when the server offers it, without checking its certificate), `require` (TLS or no connection, certificate
    /// not checked), `verify-ca` (TLS, the certificate chains to a trusted root) and `verify-full` (and names the
    /// host). `sslrootcert` names a PEM file of trusted roots for the two `verify-` modes (default: the system's).
    static func configuration(url: String) throws -> PostgresClient.Configuration {
        guard let components = URLComponents(string: url), let host = components.host, !host.isEmpty else {
            throw DatabaseError.invalidPostgresURL(url)
        }
        let items = Dictionary((components.queryItems ?? []).map { ($0.name, $0.value ?? "") }, uniquingKeysWith: { $1 })
        let tls: PostgresClient.Configuration.TLS
        var unchecked = TLSConfiguration.makeClientConfiguration()
        unchecked.certificateVerification = .none
        var verified = TLSConfiguration.makeClientConfiguration()
        if let roots = items["sslrootcert"] { verified.trustRoots = .file(roots) }
        switch items["sslmode"] ?? "prefer" {
        case "disable": tls = .disable
        case "prefer", "allow": tls = .prefer(unchecked)
        case "require": tls = .require(unchecked)
        case "verify-ca":
            verified.certificateVerification = .noHostnameVerification
            tls = .require(verified)
        case "verify-full":
            verified.certificateVerification = .fullVerification
            tls = .require(verified)
        default: throw DatabaseError.invalidPostgresURL(url)
        }
        let database = components.path.hasPrefix("/") ? String(components.path.dropFirst()) : components.path
        var configuration = PostgresClient.Configuration(
            host: host, port: components.port ?? 5432,
            username: components.user?.removingPercentEncoding ?? "postgres",
            password: components.password?.removingPercentEncoding,
            database: database.isEmpty ? nil : database, tls: tls
        )
        configuration.options.maximumConnections = Int(items["pool_max"] ?? "") ?? 16
        // How long opening a connection may take before the server counts as unreachable (seconds).
        configuration.options.connectTimeout = .seconds(Int64(items["connect_timeout"] ?? "") ?? 2)
        for name in ["search_path", "application_name"] {
            if let value = items[name] { configuration.options.additionalStartupParameters.append((name, value)) }
        }
        return configuration
    }

    func withConnection<T: Sendable>(timeout: Duration, _ body: @escaping @Sendable (any SQLDatabase) async throws -> T) async throws -> T {
        if health.withLockedValue({ $0.down }) { throw DatabaseError.unavailable("PostgreSQL is not reachable") }
        do {
            return try await leasing(from: pool.withLockedValue { $0.client }, timeout: timeout, abandonedWhenDown: true, body)
        } catch {
            guard let reason = Self.connectivityFailure(error) else { throw error }
            markDown(reason)
            throw DatabaseError.unavailable(reason)
        }
    }

    /// Runs `body` on a pooled connection. Gives up if no connection is leased within `leaseTimeout`, or if
    /// the work has not finished within `timeout`. The work runs in a task of its own rather than a child
    /// task: a query on a connection caught by a server shutdown can hang without honouring cancellation,
    /// and a task group would wait for it forever. Such a task is abandoned (and its pool replaced when the
    /// probe finds the server again); the caller gets an answer in time either way.
    ///
    /// `abandonedWhenDown`: when another request finds the server gone (the breaker opens), this one is answered at
    /// once too, instead of waiting out its own deadline on a connection that is as dead. A write answered so may
    /// still have committed (as after a deadline): its retry with the same key gets the stored result.
    private func leasing<T: Sendable>(
        from client: PostgresClient, timeout: Duration, abandonedWhenDown: Bool = false, _ body: @escaping @Sendable (any SQLDatabase) async throws -> T
    ) async throws -> T {
        let state = NIOLockedValueBox((finished: false, leased: false))
        let ticket = abandonedWhenDown ? health.withLockedValue { health -> Int in
            defer { health.nextTicket += 1 }
            return health.nextTicket
        } : nil
        defer { if let ticket { _ = health.withLockedValue { $0.abandon.removeValue(forKey: ticket) } } }
        let timer = NIOLockedValueBox<Task<Void, Never>?>(nil)
        let leaseTimeout = self.leaseTimeout
        /// Claims the right to answer; true for exactly one caller.
        @Sendable func claim() -> Bool {
            state.withLockedValue { state in
                if state.finished { return false }
                state.finished = true
                return true
            }
        }
        return try await withCheckedThrowingContinuation { continuation in
            let work = NIOLockedValueBox<Task<Void, Never>?>(nil)
            /// Answers `error` unless the work answered first, and lets go of the work and the timer.
            @Sendable func giveUp(_ error: any Error) {
                guard claim() else { return }
                timer.withLockedValue { $0?.cancel() }
                work.withLockedValue { $0?.cancel() }
                continuation.resume(throwing: error)
            }
            work.withLockedValue { $0 = Task {
                let result: Result<T, any Error>
                do {
                    result = .success(try await client.withConnection { connection in
                        state.withLockedValue { $0.leased = true }
                        return try await body(EventLoopQueries(connection))
                    })
                } catch {
                    result = .failure(error)
                }
                if claim() {
                    timer.withLockedValue { $0?.cancel() }
                    continuation.resume(with: result)
                }
            } }
            if let ticket {
                let registered = health.withLockedValue { health -> Bool in
                    guard !health.down else { return false }
                    health.abandon[ticket] = { giveUp(ServerWentAway()) }
                    return true
                }
                if !registered {
                    giveUp(ServerWentAway())
                    return
                }
            }
            timer.withLockedValue {
                $0 = Task {
                    do { try await Task.sleep(for: leaseTimeout) } catch { return }
                    if !state.withLockedValue({ $0.leased }) {
                        giveUp(LeaseTimeout())
                        return
                    }
                    do { try await Task.sleep(for: timeout - leaseTimeout) } catch { return }
                    giveUp(OperationTimeout(limit: timeout))
                }
            }
        }
    }

    private struct OperationTimeout: Error {
        let limit: Duration
    }

    private struct LeaseTimeout: Error {}

    /// Another request found the server unreachable while this one was in flight.
    private struct ServerWentAway: Error {}

    /// A description of why the server is unreachable, or nil for any other error (a constraint, a
    /// syntax error …), which must surface as it is.
    static func connectivityFailure(_ error: any Error) -> String? {
        switch error {
        case is LeaseTimeout:
            return "no connection within the lease timeout"
        case is EventLoopQueries.ConnectionClosed:
            return "the connection was closed"
        case is ServerWentAway:
            return "the server went away during the request"
        case let timeout as OperationTimeout:
            return "no answer within \(timeout.limit)"
        case let error as PSQLError:
            switch error.code {
            case .connectionError, .serverClosedConnection, .uncleanShutdown, .clientClosedConnection, .poolClosed:
                return "\(error.code)"
            case .server:
                // Class 08 (connection exception) and 57P (operator intervention: shutdown, cannot connect now).
                let state = error.serverInfo?[.sqlState] ?? ""
                return state.hasPrefix("08") || state.hasPrefix("57P") ? "server says \(state)" : nil
            default:
                return nil
            }
        case is IOError, is ChannelError:
            return "\(error)"
        default:
            return nil
        }
    }

    private func markDown(_ reason: String) {
        // Requests in flight on the same server are answered now, not at their own deadlines.
        let (startProbe, abandoned) = health.withLockedValue { health -> (Bool, [@Sendable () -> Void]) in
            health.down = true
            defer { health.abandon = [:] }
            let abandoned = Array(health.abandon.values)
            if health.probing { return (false, abandoned) }
            health.probing = true
            return (true, abandoned)
        }
        for abandon in abandoned { abandon() }
        guard startProbe else { return }
        logger.error("PostgreSQL unreachable; answering 503 until it is back", metadata: ["reason": "\(reason)", "abandoned": "\(abandoned.count)"])
        Task { await self.probeUntilUp() }
    }

    /// Every half second, tries a fresh pool (the old one may sit in a long reconnection back-off); the
    /// first that answers `SELECT 1` replaces the old pool, and requests are served again.
    private func probeUntilUp() async {
        while !health.withLockedValue({ $0.closed }) {
            try? await Task.sleep(for: .milliseconds(500))
            let candidate = await Pool.start(configuration, logger: logger)
            do {
                _ = try await leasing(from: candidate.client, timeout: .seconds(5)) { db in try await db.raw("SELECT 1 AS ok").first() }
            } catch {
                await candidate.shutDown()
                continue
            }
            let old = pool.withLockedValue { pool in
                defer { pool = candidate }
                return pool
            }
            health.withLockedValue { $0.down = false; $0.probing = false }
            logger.notice("PostgreSQL reachable again")
            await old.shutDown()
            return
        }
    }

    static func isRetryable(_ error: PSQLError) -> Bool {
        let state = error.serverInfo?[.sqlState]
        return state == "40001" || state == "40P01"
    }

    func close() async {
        health.withLockedValue { $0.closed = true }
        await pool.withLockedValue { $0 }.shutDown()
    }
}
