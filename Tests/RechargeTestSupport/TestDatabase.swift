import Foundation
import RechargeStore
import SQLKit

/// Which engine a test runs on.
public enum Backend: String, Sendable, CustomStringConvertible {
    case sqlite
    case postgres

    public var description: String { rawValue }
}

/// A migrated, empty database for one test: a new SQLite file in a temporary folder, or a new schema on
/// the PostgreSQL server named by `RECHARGE_TEST_POSTGRES_URL`. Every test gets its own; nothing is shared.
public enum TestDatabase {
    /// Set by scripts/test, which starts a throwaway PostgreSQL cluster.
    public static var postgresURL: String? {
        ProcessInfo.processInfo.environment["RECHARGE_TEST_POSTGRES_URL"].flatMap { $0.isEmpty ? nil : $0 }
    }

    public static var postgresAvailable: Bool { postgresURL != nil }

    /// A fixed instant tests start from, so dates in assertions are exact.
    public static let epoch = Date(timeIntervalSince1970: 1_795_000_000)

    /// Runs `body` with a fresh migrated database and removes it afterwards.
    public static func with<T>(_ backend: Backend, _ body: (Database) async throws -> T) async throws -> T {
        switch backend {
        case .sqlite:
            let folder = FileManager.default.temporaryDirectory.appendingPathComponent("recharge-test-\(UUID().uuidString)")
            let database = try await Database.open(.sqlite(path: folder.appendingPathComponent("test.sqlite").path))
            defer { try? FileManager.default.removeItem(at: folder) }
            do {
                try await MigrationRunner(database: database).migrate()
                let result = try await body(database)
                await database.close()
                return result
            } catch {
                await database.close()
                throw error
            }
        case .postgres:
            guard let url = postgresURL else { throw TestDatabaseError.postgresNotConfigured }
            let schema = "t_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased().prefix(16)
            let admin = try await Database.open(.postgres(url: url))
            try await admin.read { db in try await db.raw("CREATE SCHEMA \(unsafeRaw: schema)").run() }
            let separator = url.contains("?") ? "&" : "?"
            // A generous connect timeout: the whole suite runs its PostgreSQL tests in parallel on two cores.
            let database = try await Database.open(.postgres(url: "\(url)\(separator)search_path=\(schema)&connect_timeout=10"))
            func cleanUp() async {
                await database.close()
                try? await admin.read { db in try await db.raw("DROP SCHEMA \(unsafeRaw: schema) CASCADE").run() }
                await admin.close()
            }
            do {
                try await MigrationRunner(database: database).migrate()
                let result = try await body(database)
                await cleanUp()
                return result
            } catch {
                await cleanUp()
                throw error
            }
        }
    }
}

public enum TestDatabaseError: Error {
    case postgresNotConfigured
}
