import ArgumentParser
import Foundation
import RechargeCore
import RechargeServer
import RechargeStore

struct Migrate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Apply pending database migrations.")
    @OptionGroup var database: DatabaseOptions

    func run() async throws {
        try await reportingErrors {
            let db = try await Database.open(try database.location)
            defer { Task { await db.close() } }
            let applied = try await MigrationRunner(database: db).migrate()
            print(applied.isEmpty ? "Schema already at version \(Migrations.latestVersion)." : "Applied migrations \(applied.map(String.init).joined(separator: ", ")); schema at version \(Migrations.latestVersion).")
            await db.close()
        }
    }
}

extension APIKeyScope: ExpressibleByArgument {}
extension LineType: ExpressibleByArgument {}
extension Channel: ExpressibleByArgument {}
extension VoucherChannel: ExpressibleByArgument {}

struct APIKeyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "apikey", abstract: "Create, list and revoke operator API keys.",
        subcommands: [Create.self, List.self, Revoke.self])

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create a key; the secret is printed once.")
        @OptionGroup var database: DatabaseOptions
        @Option(help: "Who or what the key is for.") var name: String
        @Option(help: "read, write or admin (each includes the ones before it).") var scope: APIKeyScope = .read
        @Option(help: ArgumentHelp("The voucher redemption channel the key is issued for: api (default), ivr, ussd, retail or customer_service.",
                                   discussion: "Its callers redeem on this channel only and share its breaker (docs/vouchers.md)."))
        var channel: VoucherChannel?

        func run() async throws {
            try await reportingErrors {
                let db = try await database.open()
                let created: (record: APIKeyRecord, secret: String)
                do {
                    created = try await APIKeyStore(database: db).create(name: name, scope: scope, channel: channel, now: Date())
                } catch {
                    await db.close()
                    throw error
                }
                await db.close()
                let record = created.record
                print(created.secret)
                FileHandle.standardError.write(Data("created key \(record.id) (\(record.prefix), scope \(record.scope.rawValue), channel \(record.voucherChannel.rawValue)); the secret above is not stored and cannot be shown again\n".utf8))
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List keys (never their secrets).")
        @OptionGroup var database: DatabaseOptions

        func run() async throws {
            try await reportingErrors {
                let db = try await database.open()
                let keys = try await APIKeyStore(database: db).list()
                await db.close()
                print("ID\tPREFIX\tSCOPE\tCHANNEL\tSTATUS\tCREATED\tNAME")
                for key in keys {
                    let status = key.revokedAt.map { "revoked \($0.formatted(.iso8601))" } ?? "active"
                    print("\(key.id)\t\(key.prefix)\t\(key.scope.rawValue)\t\(key.voucherChannel.rawValue)\t\(status)\t\(key.createdAt.formatted(.iso8601))\t\(key.name)")
                }
            }
        }
    }

    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Revoke a key by id or prefix; it stops working within a second.")
        @OptionGroup var database: DatabaseOptions
        @Argument(help: "The key's id or prefix (from 'apikey list').") var key: String

        func run() async throws {
            try await reportingErrors {
                let db = try await database.open()
                let revoked = try await APIKeyStore(database: db).revoke(key, now: Date())
                await db.close()
                guard let revoked else { throw CLIError("no API key with id or prefix '\(key)'") }
                print("revoked key \(revoked.id) (\(revoked.prefix), \(revoked.name))")
            }
        }
    }
}

struct LineCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "line", abstract: "Manage lines.", subcommands: [Open.self])

    struct Open: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Open a line on a phone number.")
        @OptionGroup var database: DatabaseOptions
        @Argument(help: "The phone number, E.164 (+14155550100) or a US number as typed ((415) 555-0100).") var msisdn: String
        @Option(help: "The SIM's ICCID (19 or 20 digits, Luhn-checked).") var iccid: String?
        @Option(help: "prepaid or postpaid.") var type: LineType = .prepaid
        @Option(help: "ISO 4217 currency of the balance.") var currency: String = "USD"
        @Option(help: "How far the main balance may go below zero, e.g. 50.00.") var creditLimit: String?

        func run() async throws {
            try await reportingErrors {
                let currency = try Currency(code: currency)
                let command = try OpenLineCommand(
                    msisdn: try MSISDN(msisdn), iccid: try iccid.map { text throws(RechargeError) in try ICCID(text) }, type: type,
                    currency: currency, creditLimit: try creditLimit.map { text throws(RechargeError) in try Money.parseCLI(text, defaultCurrency: currency) },
                    subscriber: nil)
                let db = try await database.open()
                defer { Task { await db.close() } }
                let line = try await LedgerStore(database: db).openLine(command, now: Date())
                print("opened \(line.type.rawValue) line \(line.msisdn) in \(line.currency) (id \(line.id))")
            }
        }
    }
}

struct TopUp: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "topup", abstract: "Add money to a line's main balance.")
    @OptionGroup var database: DatabaseOptions
    @Argument(help: "The line's phone number.") var msisdn: String
    @Argument(help: "The amount, e.g. 10 or 10.50 or 10.50USD (default: the line's currency).") var amount: String
    @Option(help: "Channel the money came through.") var channel: Channel = .customerService
    @Option(help: "External reference (receipt or payment id).") var reference: String?
    @Option(help: "Makes the command safe to repeat; default: a new random key.") var idempotencyKey: String?

    func run() async throws {
        try await reportingErrors {
            let msisdn = try MSISDN(msisdn)
            let key = try IdempotencyKey(idempotencyKey ?? "cli-\(UUID().uuidString.lowercased())")
            let db = try await database.open()
            defer { Task { await db.close() } }
            let ledger = LedgerStore(database: db)
            let line = try await ledger.line(msisdn)
            let money = try Money.parseCLI(amount, defaultCurrency: line.currency)
            let result = try await ledger.topUp(try TopUpCommand(msisdn: msisdn, value: .money(money), channel: channel, reference: reference), key: key, now: Date())
            let after = result.operation.entries.last.map { Money(micros: $0.remainingAfter, currency: line.currency) }
            print("\(result.replayed ? "already applied" : "topped up") \(money) on \(msisdn) (operation \(result.operation.id), key \(key)); main balance now \(after?.description ?? "?")")
        }
    }
}

struct Balance: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Show a line's buckets and totals.")
    @OptionGroup var database: DatabaseOptions
    @Argument(help: "The line's phone number.") var msisdn: String

    func run() async throws {
        try await reportingErrors {
            let msisdn = try MSISDN(msisdn)
            let db = try await database.open()
            defer { Task { await db.close() } }
            let summary = try await LedgerStore(database: db).balance(msisdn, at: Date())
            print("\(summary.line.msisdn)  \(summary.line.type.rawValue)  \(summary.line.status.rawValue)  \(summary.line.currency)")
            for total in summary.totals {
                print("  total \(total.kind.rawValue): \(BalanceFormat.quantity(total.remaining, unit: total.unit)) (available \(BalanceFormat.quantity(total.available, unit: total.unit)))")
            }
            for bucket in summary.buckets {
                let until = bucket.validUntil.map { "until \($0.formatted(.iso8601))" } ?? "no expiry"
                print("  bucket \(bucket.id) \(bucket.kind.rawValue) \(bucket.name ?? (bucket.isMain ? "main balance" : "")): \(BalanceFormat.quantity(bucket.remaining, unit: bucket.unit)), \(until), priority \(bucket.priority)")
            }
        }
    }
}

enum BalanceFormat {
    static func quantity(_ amount: Int64, unit: String) -> String {
        if let currency = try? Currency(code: unit) { return Money(micros: amount, currency: currency).description }
        switch unit {
        case "BYTES": return amount >= 1 << 20 ? "\(amount / (1 << 20)) MiB (\(amount) bytes)" : "\(amount) bytes"
        case "SECONDS": return "\(amount / 60) min \(amount % 60) s"
        default: return "\(amount) \(unit)"
        }
    }
}

struct Audit: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Recompute every account from the transfers and check the ledger; exits non-zero on any discrepancy.")
    @OptionGroup var database: DatabaseOptions

    func run() async throws {
        try await reportingErrors {
            let db = try await database.open()
            let started = ContinuousClock.now
            let report = try await LedgerAudit(database: db).run()
            await db.close()
            print("audited \(report.accounts) accounts, \(report.transfers) transfers, \(report.operations) operations in \(ContinuousClock.now - started)")
            for discrepancy in report.discrepancies { print("DISCREPANCY \(discrepancy)") }
            guard report.isBalanced else { throw CLIError("\(report.discrepancies.count) discrepancies: the ledger does not balance") }
            print("ledger balanced")
        }
    }
}
