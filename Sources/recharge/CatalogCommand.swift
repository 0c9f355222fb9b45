import ArgumentParser
import Foundation
import RechargeCore
import RechargeServer
import RechargeStore

struct CatalogCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "catalog", abstract: "Import, list and print the product catalog.",
        subcommands: [Import.self, List.self, Demo.self])

    struct Import: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Make FILE (YAML or JSON) the catalog: its products are added or replaced; products not in it stop being sold.")
        @OptionGroup var database: DatabaseOptions
        @Argument(help: "The catalog file; `recharge catalog demo` prints an example.") var file: String

        func run() async throws {
            try await reportingErrors {
                guard let data = FileManager.default.contents(atPath: file) else { throw CLIError("cannot read '\(file)'") }
                let catalog = try CatalogFile.parse(String(decoding: data, as: UTF8.self))
                let db = try await database.open()
                let summary: CatalogStore.ImportSummary
                do {
                    summary = try await CatalogStore(database: db).importCatalog(catalog, now: Date())
                } catch {
                    await db.close()
                    throw error
                }
                await db.close()
                print("Imported \(catalog.products.count) products: \(summary.added) added, \(summary.updated) updated, \(summary.deactivated) no longer sold.")
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List products with their prices and what they give, and the promotions with their dates in the catalog's time zone.")
        @OptionGroup var database: DatabaseOptions

        func run() async throws {
            try await reportingErrors {
                let db = try await database.open()
                let catalog: Catalog
                do {
                    catalog = try await CatalogStore(database: db).catalog()
                } catch {
                    await db.close()
                    throw error
                }
                await db.close()
                print("CODE\tKIND\tSTATUS\tPRICES\tGIVES\tVALIDITY\tCOVERAGE\tNAME")
                for product in catalog.products {
                    let prices = product.prices.values.sorted { $0.currency.code < $1.currency.code }.map(\.description).joined(separator: ", ")
                    var gives = product.allowances.map { "\(Quantity.format($0.amount, kind: $0.kind)) \($0.kind.rawValue)" }
                    if let credit = product.credit { gives.insert(credit.description, at: 0) }
                    print([product.code, product.kind.rawValue, product.active ? "active" : "inactive", prices, gives.joined(separator: " + "),
                           product.validityDays.map { "\($0) days" } ?? "-", product.coverage?.name ?? "-", product.name(language: "en")]
                        .joined(separator: "\t"))
                }
                if !catalog.promotions.isEmpty {
                    // Dates in the operator's time zone, as the offers page shows them.
                    print("\nPROMOTION\tGIVES\tCODE\tLISTED\tFROM\tUNTIL (\(catalog.timeZone.identifier))\tNAME")
                    for promotion in catalog.promotions {
                        let money = { (micros: Int64) in Money(micros: micros, currency: promotion.currency).description }
                        let gives: String
                        switch promotion.benefit {
                        case .topUpBonus(let tiers, let days):
                            gives = tiers.map { "\(money($0.minimum)) → +\(money($0.bonus))" }.joined(separator: ", ") + " (\(days) days)"
                        case .bucketBonus(let minimum, let grants):
                            gives = "from \(money(minimum)): " + grants.map { "\(Quantity.format($0.amount, kind: $0.kind)) \($0.kind.rawValue) (\($0.validityDays) days)" }
                                .joined(separator: " + ")
                        case .percentOff(let percent): gives = "\(percent)% off \(promotion.discountOn == .topUp ? "top-ups" : "packs")"
                        case .amountOff(let amount): gives = "\(money(amount)) off \(promotion.discountOn == .topUp ? "top-ups" : "packs")"
                        }
                        let local = { (date: Date?) in date.map { CatalogTime.localText($0, in: catalog.timeZone) } ?? "-" }
                        print([promotion.code, gives, promotion.discountCode ?? "-", promotion.isListed ? "yes" : "no", local(promotion.startsAt),
                               local(promotion.endsAt), promotion.name(language: "en")].joined(separator: "\t"))
                    }
                }
                for (currency, range) in catalog.customTopUp.sorted(by: { $0.key.code < $1.key.code }) {
                    print("custom top-up in \(currency.code): \(Money(micros: range.lowerBound, currency: currency).decimalString) to \(Money(micros: range.upperBound, currency: currency).decimalString)")
                }
            }
        }
    }

    struct Demo: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print the demo catalog (a starting point for your own file).")
        func run() async throws {
            try await reportingErrors { print(try CatalogFile.demoText(), terminator: "") }
        }
    }
}
