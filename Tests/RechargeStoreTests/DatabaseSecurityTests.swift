import Foundation
import RechargeStore
import RechargeTestSupport
import SQLKit
import Testing

/// How the database is reached and kept: an SQLite file nobody else on the host can read, and PostgreSQL over TLS
/// with libpq's `sslmode` meanings (docs/security.md).
@Suite struct DatabaseSecurityTests {
    /// A new SQLite database gets a 0700 folder and a 0600 file (and WAL/SHM files of the same mode): the ledger,
    /// password hashes and session tokens are not world-readable on a shared host.
    @Test func sqliteFolderAndFileArePrivate() async throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("recharge-perm-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        let path = root.appendingPathComponent("data/recharge.sqlite").path
        let database = try await Database.open(.sqlite(path: path))
        try await MigrationRunner(database: database).migrate()
        await database.close()
        func mode(_ path: String) throws -> Int {
            (try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? NSNumber)?.intValue ?? -1
        }
        #expect(try mode(root.appendingPathComponent("data").path) == 0o700)
        #expect(try mode(path) == 0o600)
        for suffix in ["-wal", "-shm"] where FileManager.default.fileExists(atPath: path + suffix) {
            #expect(try mode(path + suffix) & 0o077 == 0, "\(suffix) must not be readable by group or others")
        }
    }

    static var postgresCA: String? { ProcessInfo.processInfo.environment["RECHARGE_TEST_POSTGRES_CA"] }

    /// Whether the connection `url` opens is encrypted, from the server's own view (`pg_stat_ssl`).
    static func encrypted(_ url: String) async throws -> Bool {
        let database = try await Database.open(.postgres(url: url))
        do {
            let row = try await database.read { db in
                try await db.raw("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()").first()
            }
            await database.close()
            return try row?.decode(column: "ssl", as: Bool.self) ?? false
        } catch {
            await database.close()
            throw error
        }
    }

    /// The default (`prefer`) encrypts when the server offers TLS; `disable` does not; `require` insists;
    /// `verify-full` refuses a certificate that does not chain to `sslrootcert` and accepts one that does.
    @Test(.enabled(if: TestDatabase.postgresAvailable && postgresCA != nil,
                   "set by scripts/start-postgres: RECHARGE_TEST_POSTGRES_URL and RECHARGE_TEST_POSTGRES_CA (a TLS cluster)"))
    func postgresSSLModes() async throws {
        let url = try #require(TestDatabase.postgresURL)
        let ca = try #require(Self.postgresCA)
        let separator = url.contains("?") ? "&" : "?"
        #expect(try await Self.encrypted(url))
        #expect(try await !Self.encrypted(url + separator + "sslmode=disable"))
        #expect(try await Self.encrypted(url + separator + "sslmode=require"))
        #expect(try await Self.encrypted(url + separator + "sslmode=verify-full&sslrootcert=" + ca))
        // The test cluster's certificate is self-signed: without its CA as a root, verification must fail.
        await #expect(throws: (any Error).self) { _ = try await Self.encrypted(url + separator + "sslmode=verify-full&connect_timeout=3") }
        await #expect(throws: DatabaseError.self) { _ = try await Database.open(.postgres(url: url + separator + "sslmode=sometimes")) }
    }
}
