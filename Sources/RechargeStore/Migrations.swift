import Foundation
import SQLKit

/// One ordered schema change. `statements` receives the database so the few engine-specific spellings
/// (the identity column) come from one place; everything else is the same SQL on both engines.
struct Migration: Sendable {
    let version: Int
    let name: String
    let statements: @Sendable (Database) -> [String]
}

/// The schema, as an ordered list of migrations applied once each and recorded in `schema_migrations`.
/// Add a migration at the end; never edit one that has shipped.
public enum Migrations {
    static let all: [Migration] = [
        Migration(version: 1, name: "ledger") { db in
            let id = db.identityColumn
            return [
                """
                CREATE TABLE subscribers (
                    id \(id),
                    name TEXT,
                    email TEXT,
                    language TEXT NOT NULL DEFAULT 'en',
                    created_at BIGINT NOT NULL
                )
                """,
                """
                CREATE TABLE lines (
                    id \(id),
                    msisdn TEXT NOT NULL UNIQUE,
                    iccid TEXT UNIQUE,
                    type TEXT NOT NULL CHECK (type IN ('prepaid', 'postpaid')),
                    status TEXT NOT NULL CHECK (status IN ('active', 'suspended', 'terminated')),
                    currency TEXT NOT NULL,
                    credit_limit BIGINT NOT NULL DEFAULT 0 CHECK (credit_limit >= 0),
                    subscriber_id BIGINT REFERENCES subscribers (id),
                    created_at BIGINT NOT NULL,
                    updated_at BIGINT NOT NULL
                )
                """,
                """
                CREATE TABLE ledger_accounts (
                    id \(id),
                    code TEXT NOT NULL UNIQUE,
                    kind TEXT NOT NULL,
                    unit TEXT NOT NULL,
                    line_id BIGINT REFERENCES lines (id),
                    debits_posted BIGINT NOT NULL DEFAULT 0 CHECK (debits_posted >= 0),
                    credits_posted BIGINT NOT NULL DEFAULT 0 CHECK (credits_posted >= 0),
                    created_at BIGINT NOT NULL
                )
                """,
                """
                CREATE TABLE buckets (
                    id \(id),
                    line_id BIGINT NOT NULL REFERENCES lines (id),
                    account_id BIGINT NOT NULL UNIQUE REFERENCES ledger_accounts (id),
                    kind TEXT NOT NULL CHECK (kind IN ('monetary', 'data', 'voice', 'sms')),
                    unit TEXT NOT NULL,
                    name TEXT,
                    initial_amount BIGINT NOT NULL,
                    floor BIGINT NOT NULL DEFAULT 0 CHECK (floor <= 0),
                    valid_from BIGINT NOT NULL,
                    valid_until BIGINT,
                    priority INTEGER NOT NULL,
                    is_main INTEGER NOT NULL DEFAULT 0 CHECK (is_main IN (0, 1)),
                    created_at BIGINT NOT NULL
                )
                """,
                "CREATE INDEX buckets_by_line ON buckets (line_id)",
                """
                CREATE TABLE operations (
                    id \(id),
                    idempotency_key TEXT NOT NULL UNIQUE,
                    fingerprint TEXT NOT NULL,
                    kind TEXT NOT NULL,
                    line_id BIGINT REFERENCES lines (id),
                    outcome TEXT NOT NULL CHECK (outcome IN ('pending', 'applied', 'rejected')),
                    result TEXT,
                    created_at BIGINT NOT NULL
                )
                """,
                "CREATE INDEX operations_by_line ON operations (line_id, id)",
                """
                CREATE TABLE transfers (
                    id \(id),
                    operation_id BIGINT NOT NULL REFERENCES operations (id),
                    leg INTEGER NOT NULL,
                    debit_account_id BIGINT NOT NULL REFERENCES ledger_accounts (id),
                    credit_account_id BIGINT NOT NULL REFERENCES ledger_accounts (id),
                    amount BIGINT NOT NULL CHECK (amount > 0),
                    unit TEXT NOT NULL,
                    reason TEXT NOT NULL,
                    channel TEXT NOT NULL,
                    reference TEXT,
                    line_id BIGINT REFERENCES lines (id),
                    created_at BIGINT NOT NULL,
                    UNIQUE (operation_id, leg),
                    CHECK (debit_account_id <> credit_account_id)
                )
                """,
                "CREATE INDEX transfers_by_line ON transfers (line_id, id)",
                """
                CREATE TABLE api_keys (
                    id \(id),
                    name TEXT NOT NULL,
                    prefix TEXT NOT NULL UNIQUE,
                    secret_hash TEXT NOT NULL UNIQUE,
                    scope TEXT NOT NULL CHECK (scope IN ('read', 'write', 'admin')),
                    created_at BIGINT NOT NULL,
                    revoked_at BIGINT
                )
                """,
            ]
        },
    ]

    /// The highest version this build knows.
    public static var latestVersion: Int { all.last?.version ?? 0 }
}

/// Applies pending migrations in order, each in its own transaction together with its
/// `schema_migrations` row, so a crash leaves the schema at a known version.
public struct MigrationRunner: Sendable {
    let database: Database

    public init(database: Database) {
        self.database = database
    }

    /// Versions already applied, ascending.
    public func appliedVersions() async throws -> [Int] {
        try await ensureTable()
        return try await database.read { db in
            try await db.raw("SELECT version FROM schema_migrations ORDER BY version").all().map { try $0.decode(column: "version", as: Int.self) }
        }
    }

    /// Applies every migration not yet applied; returns the versions it applied.
    @discardableResult
    public func migrate(now: Date = Date()) async throws -> [Int] {
        try await ensureTable()
        var applied: [Int] = []
        for migration in Migrations.all {
            let database = self.database
            let didApply = try await database.transaction { db -> Bool in
                // Re-checked inside the write transaction: two processes starting at once apply it once.
                let existing = try await db.raw("SELECT version FROM schema_migrations WHERE version = \(bind: migration.version)").first()
                if existing != nil { return false }
                for statement in migration.statements(database) {
                    do {
                        try await db.raw(SQLQueryString(statement)).run()
                    } catch {
                        throw DatabaseError.migrationFailed(version: migration.version, reason: String(describing: error))
                    }
                }
                try await db.raw("""
                    INSERT INTO schema_migrations (version, name, applied_at)
                    VALUES (\(bind: migration.version), \(bind: migration.name), \(bind: now.unixMicros))
                    """).run()
                return true
            }
            if didApply { applied.append(migration.version) }
        }
        return applied
    }

    private func ensureTable() async throws {
        try await database.transaction { db in
            try await db.raw("""
                CREATE TABLE IF NOT EXISTS schema_migrations (
                    version INTEGER PRIMARY KEY,
                    name TEXT NOT NULL,
                    applied_at BIGINT NOT NULL
                )
                """).run()
        }
    }
}

extension Date {
    /// Microseconds since 1970, how every timestamp is stored (the same BIGINT on both engines).
    var unixMicros: Int64 { Int64((timeIntervalSince1970 * 1_000_000).rounded()) }

    init(unixMicros: Int64) {
        self.init(timeIntervalSince1970: Double(unixMicros) / 1_000_000)
    }
}
