import ArgumentParser
import Foundation
import RechargeBanking
import RechargeCore
import RechargeStore

struct BankCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bank", abstract: "Import bank statements (pays bank-transfer orders) and list what needs review.",
        subcommands: [Import.self, Review.self])

    struct Import: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Apply an ISO 20022 camt.053 statement (.xml) or a CSV (date,amount,currency,reference,payer,entry_id). Safe to repeat.")
        @OptionGroup var database: DatabaseOptions
        @Argument(help: "The statement file.") var file: String
        @Option(help: "For CSV: the account the statement is for (camt.053 names its own).") var account: String?

        func run() async throws {
            try await reportingErrors {
                guard let data = FileManager.default.contents(atPath: file) else { throw CLIError("cannot read '\(file)'") }
                let statements: [BankStatement]
                do {
                    if file.lowercased().hasSuffix(".csv") {
                        guard let account else { throw CLIError("a CSV statement needs --account (the account it is for)") }
                        statements = [try StatementCSVParser().parse(data, statementID: (file as NSString).lastPathComponent, account: .other(account))]
                    } else {
                        statements = try Camt053Parser().parse(data)
                    }
                } catch let error as BankingError {
                    throw CLIError("\(file): \(error.detail)")
                }
                let db = try await database.open()
                let total: BankStatementImport.Summary
                do {
                    total = try await BankStatementImport(orders: OrderStore(database: db)).apply(statements, now: Date())
                } catch {
                    await db.close()
                    throw error
                }
                await db.close()
                print("\(statements.count) statement(s), \(total.credits) credits: \(total.paid) orders paid, \(total.alreadyApplied) already applied, \(total.toReview) to review; \(total.debitsIgnored) debits ignored.")
            }
        }
    }

    struct Review: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List statement credits that matched no order (or not its amount).")
        @OptionGroup var database: DatabaseOptions

        func run() async throws {
            try await reportingErrors {
                let db = try await database.open()
                let items: [BankReviewItem]
                do {
                    items = try await OrderStore(database: db).bankReview()
                } catch {
                    await db.close()
                    throw error
                }
                await db.close()
                print("ID\tBOOKED\tAMOUNT\tOUTCOME\tORDER\tPAYER\tREMITTANCE\tENTRY")
                for item in items {
                    print([String(item.id), item.bookingDate, item.amount.description, item.outcome, item.orderID ?? "-", item.debtor ?? "-",
                           item.remittance, item.entryReference].joined(separator: "\t"))
                }
            }
        }
    }
}
