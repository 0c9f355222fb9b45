import ArgumentParser
import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Logging
import RechargeCore
import RechargeStore

/// `recharge voucher batch …`: the operator's side of scratch cards (docs/vouchers.md).
struct VoucherCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "voucher", abstract: "Scratch-card vouchers: create, export, stock, activate, suspend, block and report batches.",
        subcommands: [Batch.self])

    /// The voucher key the CLI uses: `RECHARGE_VOUCHER_KEY`, or for SQLite the development key beside the database.
    static func key(_ database: DatabaseOptions) throws -> VoucherKey {
        do {
            return try VoucherKey.configured(environment: ProcessInfo.processInfo.environment, location: try database.location)
        } catch let error as VoucherKeyError {
            throw CLIError(error.description)
        }
    }

    /// The server's key, or nil (vouchers off, with a notice) when PostgreSQL is used without one.
    static func serverKey(environment: [String: String], location: DatabaseLocation, logger: Logger) throws -> VoucherKey? {
        do {
            return try VoucherKey.configured(environment: environment, location: location)
        } catch let error as VoucherKeyError {
            if case .postgres = location, environment["RECHARGE_VOUCHER_KEY"] == nil {
                logger.notice("Vouchers are off: set RECHARGE_VOUCHER_KEY to redeem vouchers with PostgreSQL")
                return nil
            }
            throw CLIError(error.description)
        }
    }

    static func previousKeys(environment: [String: String]) throws -> [VoucherKey] {
        do {
            return try VoucherKey.previousFromEnvironment(environment)
        } catch let error as VoucherKeyError {
            throw CLIError(error.description)
        }
    }

    /// `RECHARGE_VOUCHER_APPROVAL_ABOVE` (e.g. `10000USD`): activations worth more need a second admin.
    static func approvalPolicy(environment: [String: String]) throws -> VoucherApprovalPolicy {
        guard let text = environment["RECHARGE_VOUCHER_APPROVAL_ABOVE"] else { return VoucherApprovalPolicy(threshold: VoucherApprovalPolicy.defaultThreshold) }
        do {
            return VoucherApprovalPolicy(threshold: try Money.parseCLI(text, defaultCurrency: .usd))
        } catch {
            throw CLIError("RECHARGE_VOUCHER_APPROVAL_ABOVE '\(text)' is not an amount such as 10000USD")
        }
    }

    /// The brute-force limits (docs/vouchers.md), each from its variable when set: whole numbers, durations in seconds.
    static func guessingPolicy(environment: [String: String]) throws -> VoucherGuessingPolicy {
        var policy = VoucherGuessingPolicy()
        func read(_ name: String, _ value: inout Int) throws {
            guard let text = environment[name] else { return }
            guard let number = Int(text), number > 0 else { throw CLIError("\(name) '\(text)' is not a positive whole number") }
            value = number
        }
        func read(_ name: String, _ value: inout TimeInterval) throws {
            var seconds = Int(value)
            try read(name, &seconds)
            value = TimeInterval(seconds)
        }
        try read("RECHARGE_VOUCHER_MAX_FAILURES", &policy.maxFailures)
        try read("RECHARGE_VOUCHER_FAILURE_WINDOW", &policy.failureWindow)
        try read("RECHARGE_VOUCHER_FIRST_LOCKOUT", &policy.firstLockout)
        try read("RECHARGE_VOUCHER_MAX_LOCKOUT", &policy.maximumLockout)
        try read("RECHARGE_VOUCHER_CHANNEL_SOURCES", &policy.channelThreshold)
        try read("RECHARGE_VOUCHER_CHANNEL_WINDOW", &policy.channelWindow)
        try read("RECHARGE_VOUCHER_CHANNEL_PAUSE", &policy.channelPause)
        return policy
    }

    static func store(_ database: DatabaseOptions) async throws -> (Database, VoucherStore) {
        let key = try key(database)
        let policy = try approvalPolicy(environment: ProcessInfo.processInfo.environment)
        let db = try await database.open()
        var logger = Logger(label: "recharge.vouchers")
        logger.logLevel = .warning
        return (db, VoucherStore(database: db, key: key, previousKeys: try previousKeys(environment: ProcessInfo.processInfo.environment),
                                 approval: policy, logger: logger))
    }

    /// Runs `body` with the store, closing the database whatever happens.
    static func withStore<T>(_ database: DatabaseOptions, _ body: (VoucherStore) async throws -> T) async throws -> T {
        let (db, store) = try await store(database)
        do {
            let result = try await body(store)
            await db.close()
            return result
        } catch {
            await db.close()
            throw error
        }
    }

    /// Who is acting, for the audit log: `--by`, else the login name.
    struct Actor: ParsableArguments {
        @Option(name: .customLong("by"), help: "Who does this, for the audit log (default: $USER).")
        var by: String?

        var name: String {
            get throws {
                let name = (by ?? ProcessInfo.processInfo.environment["USER"] ?? "").trimmingCharacters(in: .whitespaces)
                guard !name.isEmpty else { throw CLIError("say who you are with --by NAME (it goes in the audit log)") }
                return name
            }
        }

        /// The name, and the OS user the command runs as: `--by` is only what someone typed, so dual approval also
        /// compares the OS user (one user cannot approve its own request under another name).
        var voucherOperator: VoucherOperator {
            get throws { VoucherOperator(name: try name, osUser: Self.osUser()) }
        }

        /// The user of the process's effective user id, from the password database (`$USER` can be set to anything);
        /// `uid:<n>` for a user id with no entry.
        static func osUser() -> String {
            let uid = geteuid()
            if let entry = getpwuid(uid), let name = entry.pointee.pw_name { return String(cString: name) }
            return "uid:\(uid)"
        }
    }

    struct Batch: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Batches of scratch cards.",
            subcommands: [Create.self, Export.self, Receive.self, Activate.self, Approve.self, Suspend.self, Block.self, Show.self, Report.self])
    }
}

extension VoucherCommand.Batch {
    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Generate a batch: PINs from the secure random generator, only their HMACs stored.")
        @OptionGroup var database: DatabaseOptions
        @OptionGroup var actor: VoucherCommand.Actor
        @Option(help: "How many cards.") var count: Int64
        @Option(help: "Face value of each card, e.g. 20USD or 100CNY …") var value: String?
        @Option(help: "… or a pack from the catalog (`recharge catalog list`): the card grants it, and is worth its price.") var pack: String?
        @Option(help: "With --pack: the currency of the price (default USD).") var currency: String = "USD"
        @Option(help: "Unused cards are void after this date (YYYY-MM-DD, UTC) …") var expires: String?
        @Option(help: "… or after this many days (default 365).") var expiresInDays: Int?
        @Option(help: "Digits per PIN, the last a check digit (10 to 20).") var pinLength: Int = VoucherPIN.defaultLength
        @Flag(help: "No progress line on stderr.") var quiet = false

        func run() async throws {
            try await reportingErrors {
                let now = Date()
                let expiresAt: Date
                if let expires {
                    guard let date = ISO8601DateFormatter().date(from: expires + "T00:00:00Z") else { throw CLIError("--expires '\(expires)' is not a date such as 2027-12-31") }
                    expiresAt = date
                } else {
                    expiresAt = now.addingTimeInterval(TimeInterval(expiresInDays ?? 365) * 86_400)
                }
                let denomination: VoucherDenomination
                switch (value, pack) {
                case (let value?, nil):
                    denomination = .money(try Money.parseCLI(value, defaultCurrency: .usd))
                case (nil, let pack?):
                    let currency = try Currency(code: currency)
                    let product = try await VoucherCommand.withStore(database) { store in try await CatalogStore(database: store.database).product(pack) }
                    guard let price = product.price(in: currency) else { throw CLIError("pack '\(pack)' has no price in \(currency.code)") }
                    denomination = .pack(code: pack, price: price)
                default:
                    throw CLIError("give either --value (money cards) or --pack (pack cards)")
                }
                let request = try VoucherBatchRequest(denomination: denomination, count: count,
                                                      expiresAt: expiresAt, pinLength: pinLength, createdBy: try actor.name, now: now)
                let quiet = self.quiet
                let started = ContinuousClock.now
                let batch = try await VoucherCommand.withStore(database) { store in
                    try await store.createBatch(request, now: now) { written in
                        guard !quiet else { return }
                        let seconds = max(0.001, Double((ContinuousClock.now - started).components.attoseconds) / 1e18 + Double((ContinuousClock.now - started).components.seconds))
                        let width = 30
                        let filled = Int(Double(width) * Double(written) / Double(request.count))
                        let bar = String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled)
                        FileHandle.standardError.write(Data("\r[\(bar)] \(written)/\(request.count) cards, \(Int(Double(written) / seconds))/s   ".utf8))
                    }
                }
                let elapsed = ContinuousClock.now - started
                let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
                if !quiet { FileHandle.standardError.write(Data("\n".utf8)) }
                print("Created batch \(batch.id): \(batch.count) × \(batch.denomination), serials \(batch.serials), expires \(VoucherCommand.day(batch.expiresAt)), in \(String(format: "%.1f", seconds)) s (\(Int(Double(batch.count) / max(seconds, 0.001))) cards/s).")
                print("Next: recharge voucher batch export \(batch.id) --output batch-\(batch.id).csv  (once: the PINs are then forgotten)")
            }
        }
    }

    struct Export: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Write serials and PINs for the card printer to a new file (mode 0600), once per batch.")
        @OptionGroup var database: DatabaseOptions
        @OptionGroup var actor: VoucherCommand.Actor
        @Argument(help: "The batch id.") var batch: Int64
        @Option(name: .shortAndLong, help: "The CSV file to create (must not exist).") var output: String

        func run() async throws {
            try await reportingErrors {
                let name = try actor.name
                let written = try await VoucherCommand.withStore(database) { store in try await store.export(batch: batch, to: output, actor: name, now: Date()) }
                print("Exported \(written) cards of batch \(batch) to \(output) (readable by you only). The PINs are no longer kept anywhere else.")
            }
        }
    }

    struct Receive: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Record that the printed cards are in stock (then they can be activated).")
        @OptionGroup var database: DatabaseOptions
        @OptionGroup var actor: VoucherCommand.Actor
        @Argument(help: "The batch id.") var batch: Int64

        func run() async throws {
            try await reportingErrors {
                let name = try actor.name
                let received = try await VoucherCommand.withStore(database) { store in try await store.receive(batch: batch, actor: name, now: Date()) }
                print("Batch \(batch) is \(received.state.rawValue).")
            }
        }
    }

    struct Activate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Activate a batch or a range of its serials (a box sold to a shop).")
        @OptionGroup var database: DatabaseOptions
        @OptionGroup var actor: VoucherCommand.Actor
        @Argument(help: "The batch id.") var batch: Int64
        @Option(help: "A serial or range FIRST-LAST inside the batch (default: the whole batch).") var serials: String?

        func run() async throws {
            try await reportingErrors {
                let requester = try actor.voucherOperator
                let range = try serials.map { text throws(VoucherError) in try VoucherSerialRange(parsing: text) }
                let outcome = try await VoucherCommand.withStore(database) { store in try await store.activate(batch: batch, range: range, by: requester, now: Date()) }
                switch outcome {
                case .activated(let count):
                    print("Activated \(count) cards of batch \(batch).")
                case .pendingApproval(let id, let count, let value):
                    print("Activation of \(count) cards worth \(value) needs a second admin: approval \(id).")
                    print("Next (another admin, as another OS user or through the API with another admin key): recharge voucher batch approve \(id) --by NAME")
                }
            }
        }
    }

    struct Approve: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Approve a pending activation as a second admin (not the one who asked); with no id, list pending ones.")
        @OptionGroup var database: DatabaseOptions
        @OptionGroup var actor: VoucherCommand.Actor
        @Argument(help: "The approval id printed by activate.") var approval: Int64?

        func run() async throws {
            try await reportingErrors {
                guard let approval else {
                    let pending = try await VoucherCommand.withStore(database) { store in try await store.pendingApprovals() }
                    print("APPROVAL\tBATCH\tSERIALS\tVALUE\tREQUESTED BY")
                    for item in pending { print("\(item.id)\t\(item.batchID)\t\(item.serials)\t\(item.value)\t\(item.requestedBy)") }
                    return
                }
                let approver = try actor.voucherOperator
                let count = try await VoucherCommand.withStore(database) { store in try await store.approve(approval, by: approver, now: Date()) }
                print("Approved: \(count) cards activated.")
            }
        }
    }

    struct Suspend: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Suspend the active cards of a batch or range (activate them again later).")
        @OptionGroup var database: DatabaseOptions
        @OptionGroup var actor: VoucherCommand.Actor
        @Argument(help: "The batch id.") var batch: Int64
        @Option(help: "A serial or range FIRST-LAST inside the batch (default: the whole batch).") var serials: String?

        func run() async throws {
            try await reportingErrors {
                let name = try actor.name
                let range = try serials.map { text throws(VoucherError) in try VoucherSerialRange(parsing: text) }
                let count = try await VoucherCommand.withStore(database) { store in try await store.suspend(batch: batch, range: range, actor: name, now: Date()) }
                print("Suspended \(count) cards of batch \(batch).")
            }
        }
    }

    struct Block: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Block the unused cards of a batch or range for good (lost or stolen).")
        @OptionGroup var database: DatabaseOptions
        @OptionGroup var actor: VoucherCommand.Actor
        @Argument(help: "The batch id.") var batch: Int64
        @Option(help: "A serial or range FIRST-LAST inside the batch (default: the whole batch).") var serials: String?

        func run() async throws {
            try await reportingErrors {
                let name = try actor.name
                let range = try serials.map { text throws(VoucherError) in try VoucherSerialRange(parsing: text) }
                let count = try await VoucherCommand.withStore(database) { store in try await store.block(batch: batch, range: range, actor: name, now: Date()) }
                print("Blocked \(count) cards of batch \(batch).")
            }
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "A batch: what it is, its cards per state and its audit log.")
        @OptionGroup var database: DatabaseOptions
        @Argument(help: "The batch id.") var batch: Int64

        func run() async throws {
            try await reportingErrors {
                let (report, log) = try await VoucherCommand.withStore(database) { store in
                    (try await store.report(batch: batch, now: Date()).first, try await store.auditLog(batch: batch))
                }
                guard let report else { throw CLIError("no voucher batch \(batch)") }
                let b = report.batch
                print("Batch \(b.id): \(b.count) × \(b.denomination), serials \(b.serials), \(b.pinLength)-digit PINs")
                print("State: \(report.effectiveState.rawValue); expires \(VoucherCommand.day(b.expiresAt)); created by \(b.createdBy) on \(VoucherCommand.day(b.createdAt))"
                      + (b.exportedAt.map { "; exported by \(b.exportedBy ?? "?") on \(VoucherCommand.day($0))" } ?? "; not exported"))
                for state in VoucherState.allCases where report.counts[state] != nil {
                    print("  \(state.rawValue)\t\(report.counts[state] ?? 0)\t\(report.value(state))")
                }
                print("Audit log:")
                for entry in log {
                    print("  \(entry.at.formatted(.iso8601))\t\(entry.action)\t\(entry.serials)\t\(entry.affected)\t\(entry.actor)\(entry.detail.map { "\t\($0)" } ?? "")")
                }
            }
        }
    }

    struct Report: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Every batch: cards and value per state.")
        @OptionGroup var database: DatabaseOptions

        func run() async throws {
            try await reportingErrors {
                let reports = try await VoucherCommand.withStore(database) { store in try await store.report(now: Date()) }
                let states = VoucherState.allCases
                print((["BATCH", "FACE", "STATE"] + states.map { $0.rawValue.uppercased() } + ["UNUSED VALUE"]).joined(separator: "\t"))
                for report in reports {
                    let unused = [VoucherState.inactive, .active, .suspended].reduce(Int64(0)) { $0 + (report.counts[$1] ?? 0) }
                    let value = report.batch.value(of: unused).map(\.description) ?? "?"
                    print(([String(report.batch.id), report.batch.denomination.description, report.effectiveState.rawValue]
                           + states.map { String(report.counts[$0] ?? 0) } + [value]).joined(separator: "\t"))
                }
            }
        }
    }
}

extension VoucherCommand {
    static func day(_ date: Date) -> String { String(date.formatted(.iso8601).prefix(10)) }
}
