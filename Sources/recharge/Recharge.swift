import ArgumentParser
import Foundation
import RechargeCore
import RechargeStore

@main
struct Recharge: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "recharge",
        abstract: "Recharge: balances, top-ups and the ledger for a mobile operator, MVNO or travel-eSIM reseller.",
        subcommands: [Serve.self, Migrate.self, APIKeyCommand.self, LineCommand.self, TopUp.self, Balance.self, Audit.self, NotifyCommand.self, CatalogCommand.self, BankCommand.self, VoucherCommand.self, QRCommand.self, RateCommand.self, DiameterCommand.self, CDRCommand.self],
        defaultSubcommand: Serve.self
    )
}

/// `--database-url`, falling back to `RECHARGE_DATABASE_URL`, then to the SQLite file `./data/recharge.sqlite`.
struct DatabaseOptions: ParsableArguments {
    @Option(name: .customLong("database-url"), help: ArgumentHelp(
        "postgres://user:pass@host:5432/db, or an SQLite file path. Env: RECHARGE_DATABASE_URL.",
        valueName: "url"))
    var databaseURL: String?

    static let defaultSQLitePath = "data/recharge.sqlite"

    var location: DatabaseLocation {
        get throws {
            let url = databaseURL ?? ProcessInfo.processInfo.environment["RECHARGE_DATABASE_URL"] ?? Self.defaultSQLitePath
            do { return try DatabaseLocation(url: url) } catch { throw CLIError(String(describing: error)) }
        }
    }

    /// Opens the database. SQLite is migrated on the spot (a fresh clone needs no set-up); PostgreSQL
    /// must be migrated explicitly with `recharge migrate` unless `migrate` is set.
    func open(migrate: Bool = false) async throws -> Database {
        let database = try await connect()
        do {
            try await Self.prepareSchema(database, migrate: migrate)
        } catch {
            await database.close()
            throw error
        }
        return database
    }

    /// Opens the database without using it yet: PostgreSQL is not contacted until the first query, so a node can
    /// start while it is down (``prepareSchema(_:migrate:)`` then waits for it).
    func connect() async throws -> Database {
        let location = try location
        // The operator's key for one-time codes in the outbox; without it the database's own (CodeSeal).
        let seal = try ProcessInfo.processInfo.environment["RECHARGE_CODE_SEAL_KEY"].map { text in
            do { return try CodeSeal(base64: text) } catch { throw CLIError(String(describing: error)) }
        }
        let database = try await Database.open(location)
        if let seal { database.useCodeSeal(seal) }
        return database
    }

    /// Brings the schema to this build's version: SQLite always, PostgreSQL with `migrate` (each migration in its own
    /// transaction); otherwise PostgreSQL's schema must already be at this build's version. Throws
    /// `DatabaseError.unavailable` while PostgreSQL cannot be reached.
    static func prepareSchema(_ database: Database, migrate: Bool) async throws {
        let runner = MigrationRunner(database: database)
        if case .sqlite = database.location {
            try await runner.migrate()
        } else if migrate {
            try await runner.migrate()
        } else {
            let applied = try await runner.appliedVersions()
            guard applied.last == Migrations.latestVersion else {
                throw CLIError("the PostgreSQL schema is at version \(applied.last ?? 0), this build needs \(Migrations.latestVersion): run 'recharge migrate' first")
            }
        }
    }
}

/// A failure the CLI reports as one line on stderr with exit status 1.
struct CLIError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// Runs a command body, turning any failure into `error: <reason>` and a non-zero exit.
func reportingErrors(_ body: () async throws -> Void) async throws {
    do {
        try await body()
    } catch let error as ExitCode {
        throw error
    } catch let error as RechargeError {
        FileHandle.standardError.write(Data("error: \(error.detail)\n".utf8))
        throw ExitCode.failure
    } catch {
        FileHandle.standardError.write(Data("error: \(error)\n".utf8))
        throw ExitCode.failure
    }
}

extension Money {
    /// Parses CLI input such as `10`, `10.50` or `10.50USD`; the currency suffix wins over `defaultCurrency`.
    static func parseCLI(_ text: String, defaultCurrency: Currency) throws(RechargeError) -> Money {
        let letters = text.reversed().prefix { $0.isLetter }
        if letters.count == 3 {
            return try Money(decimal: String(text.dropLast(3)).trimmingCharacters(in: .whitespaces), currency: try Currency(code: String(letters.reversed())))
        }
        return try Money(decimal: text, currency: defaultCurrency)
    }
}
