import ArgumentParser
import Foundation
import RechargeCore
import RechargeStore

/// `recharge cdr`: offline usage from call detail record files (docs/cdr.md). `import` rates and charges each record
/// once (a progress bar on stderr when it is a terminal, a one-line JSON summary on stdout), `rejects` lists the rows
/// an import did not charge, `rerate` prices a period again after a tariff fix and posts only the differences.
struct CDRCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cdr", abstract: "Import call detail records (CSV), list rejected rows, re-rate a period.",
        subcommands: [Import.self, Rejects.self, Rerate.self])

    struct Import: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Rate and charge each record of a CDR file once (record_id is the key). Safe to repeat: records already imported charge nothing.")
        @OptionGroup var database: DatabaseOptions
        @Argument(help: "The CSV file (header: record_id,msisdn,service,start,quantity,destination,visited).") var file: String
        @Option(help: "Records per transaction.") var chunk: Int = CDRImportStore.chunkSize

        func run() async throws {
            try await reportingErrors {
                guard let data = FileManager.default.contents(atPath: file) else { throw CLIError("cannot read '\(file)'") }
                guard (1...50_000).contains(chunk) else { throw CLIError("--chunk must be 1 to 50000") }
                let db = try await database.open()
                let started = Date()
                let bar = isatty(STDERR_FILENO) == 1 ? ProgressBar() : nil
                let summary: CDRImportStore.Summary
                do {
                    summary = try await CDRImportStore(database: db, catalogs: CatalogStore(database: db))
                        .importFile(data, name: (file as NSString).lastPathComponent, now: Date(), chunkSize: chunk) { done, total in bar?.show(done, of: total) }
                } catch let error as CDRFileError {
                    await db.close()
                    throw CLIError("\(file): \(error.detail)")
                } catch {
                    await db.close()
                    throw error
                }
                await db.close()
                bar?.finish()
                let seconds = Date().timeIntervalSince(started)
                let currency = try summary.currency.map { try Currency(code: $0) }
                func money(_ micros: Int64) -> String { currency.map { Money(micros: micros, currency: $0).decimalString } ?? "0" }
                let object: [String: Any] = [
                    "import": summary.importID, "file": summary.file, "rows": summary.rows, "imported": summary.imported,
                    "alreadyImported": summary.alreadyImported, "rejected": summary.rejected, "charged": money(summary.charged),
                    "unpaid": money(summary.unpaid), "currency": summary.currency as Any, "seconds": (seconds * 1000).rounded() / 1000,
                    "rowsPerSecond": seconds > 0 ? Int(Double(summary.rows) / seconds) : 0,
                ]
                print(String(decoding: try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]), as: UTF8.self))
            }
        }
    }

    struct Rejects: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the rows imports did not charge, with line numbers and reasons.")
        @OptionGroup var database: DatabaseOptions
        @Option(name: .customLong("import"), help: "Only this import's rejects (its id, from the import's summary).") var importID: Int64?
        @Option(help: "At most this many rows.") var limit: Int = 1_000

        func run() async throws {
            try await reportingErrors {
                let db = try await database.open()
                let rejects: [CDRImportStore.StoredReject]
                do {
                    if let importID, try await CDRImportStore(database: db, catalogs: CatalogStore(database: db)).summary(importID) == nil {
                        throw CLIError("no CDR import has the id \(importID)")
                    }
                    rejects = try await CDRImportStore(database: db, catalogs: CatalogStore(database: db)).rejects(importID: importID, limit: limit)
                } catch {
                    await db.close()
                    throw error
                }
                await db.close()
                print("IMPORT\tFILE\tLINE\tRECORD\tCODE\tREASON")
                for reject in rejects {
                    print([String(reject.importID), reject.file, String(reject.lineNumber), reject.recordID ?? "-", reject.code, reject.reason]
                        .joined(separator: "\t"))
                }
            }
        }
    }

    struct Rerate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Price the records of a period with the current catalog and post only the differences (money). Safe to repeat.")
        @OptionGroup var database: DatabaseOptions
        @Option(help: "First instant (RFC 3339, or a date YYYY-MM-DD read as 00:00 UTC).") var from: String
        @Option(help: "Instant after the period (exclusive), as --from.") var until: String

        func run() async throws {
            try await reportingErrors {
                let start = try Self.instant(from, "--from")
                let end = try Self.instant(until, "--until")
                guard start < end else { throw CLIError("--from must be before --until") }
                let db = try await database.open()
                let summary: CDRImportStore.RerateSummary
                do {
                    summary = try await CDRImportStore(database: db, catalogs: CatalogStore(database: db)).rerate(from: start, until: end, now: Date())
                } catch {
                    await db.close()
                    throw error
                }
                await db.close()
                let currency = try summary.currency.map { try Currency(code: $0) }
                func money(_ micros: Int64) -> String { currency.map { Money(micros: micros, currency: $0).decimalString } ?? "0" }
                let object: [String: Any] = [
                    "examined": summary.examined, "rerated": summary.rerated, "unchanged": summary.unchanged, "unrated": summary.unrated,
                    "skipped": summary.skipped, "debited": money(summary.debited), "refunded": money(summary.refunded),
                    "unpaidAdded": money(summary.unpaidAdded), "unpaidCancelled": money(summary.unpaidCancelled), "currency": summary.currency as Any,
                ]
                print(String(decoding: try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]), as: UTF8.self))
            }
        }

        static func instant(_ text: String, _ option: String) throws -> Date {
            if let date = CDRTimestamp.date(text) { return date }
            if text.utf8.count == 10, let date = CDRTimestamp.date(text + "T00:00:00Z") { return date }
            throw CLIError("\(option) must be an RFC 3339 date-time (2026-12-01T00:00:00+08:00) or a date (2026-12-01)")
        }
    }
}

/// A one-line progress bar on stderr, redrawn at most ten times a second.
final class ProgressBar: @unchecked Sendable {
    private let lock = NSLock()
    private var last = Date.distantPast

    func show(_ done: Int, of total: Int) {
        lock.lock()
        defer { lock.unlock() }
        let now = Date()
        guard now.timeIntervalSince(last) >= 0.1 || done >= total else { return }
        last = now
        let fraction = total > 0 ? min(1, Double(done) / Double(total)) : 1
        let width = 30
        let filled = Int(fraction * Double(width))
        let line = "\r[" + String(repeating: "#", count: filled) + String(repeating: " ", count: width - filled) + "] "
            + String(format: "%3d%%", Int(fraction * 100)) + "  \(done / 1_048_576) of \(max(1, total / 1_048_576)) MB"
        FileHandle.standardError.write(Data(line.utf8))
    }

    func finish() {
        FileHandle.standardError.write(Data("\n".utf8))
    }
}
