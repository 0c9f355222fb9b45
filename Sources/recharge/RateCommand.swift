import ArgumentParser
import Foundation
import RechargeCore
import RechargeServer
import RechargeStore

/// `recharge rate`: what a use costs under the catalog's tariffs, and why ("+8613800138000, voice, 125 s, roaming JP →
/// 3 × 60 s at 0.25 = 0.75 USD"). Reads the catalog in the database, or a catalog file with `--catalog`.
struct RateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rate", abstract: "Price a call, message or data use with the catalog's tariffs, and explain the price.")

    @OptionGroup var database: DatabaseOptions
    @Option(help: "A catalog file (YAML or JSON) to rate with, instead of the catalog in the database.") var catalog: String?
    @Option(help: "voice, sms, data, or an operator's service id.") var service: String
    @Option(help: "The number called or texted (E.164 or a short code); none for data.") var destination: String?
    @Option(help: "Seconds (voice), messages (SMS), bytes (data; 1.5MB, 500KB and 2GB are read too) or units.") var units: String
    @Option(help: "Where the subscriber is: an ISO 3166 country (JP) or a network's MCC+MNC (44010); home when left out.") var visited: String?
    @Option(help: "When the use starts, RFC 3339 (time bands); now when left out.") var at: String?
    @Flag(help: "Print the result as JSON.") var json = false

    func run() async throws {
        try await reportingErrors {
            let table = try await ratingTable()
            let service = try ChargedService(service)
            var start = Date()
            if let at {
                guard let parsed = ISO8601DateFormatter().date(from: at) else { throw CLIError("--at must be an RFC 3339 date-time such as 2026-12-04T21:30:00+08:00") }
                start = parsed
            }
            let amount: Int64
            if let whole = Int64(units) {
                amount = whole
            } else if service == .data, let bytes = try? Quantity.parse(units, kind: .data) {
                amount = bytes
            } else {
                throw CLIError("--units '\(units)' is not a whole number\(service == .data ? " or a data amount such as 500KB, 20MB, 2GB" : "")")
            }
            let isNetwork = visited.map { $0.allSatisfy(\.isNumber) } ?? false
            let use = ChargedUse(service: service, destination: nil, visitedCountry: isNetwork ? nil : visited, visitedNetwork: isNetwork ? visited : nil,
                                 start: start)
            let event = try UsageEvent(service: service, destination: destination, amount: amount, start: start, visitedCountry: use.visitedCountry,
                                       visitedNetwork: use.visitedNetwork)
            let rated = try table.rate(event)
            if json {
                let object: [String: Any] = [
                    "tariff": rated.tariff as Any, "free": rated.free, "zone": rated.zone as Any, "billedUnits": rated.billedUnits,
                    "charge": rated.charge.decimalString, "currency": rated.charge.currency.code, "explanation": rated.explanation,
                ]
                print(String(decoding: try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]), as: UTF8.self))
            } else {
                print(rated.explanation + (rated.tariff.map { "  [tariff \($0)]" } ?? ""))
            }
        }
    }

    private func ratingTable() async throws -> RatingTable {
        let parsed: Catalog
        if let catalog {
            guard let data = FileManager.default.contents(atPath: catalog) else { throw CLIError("cannot read '\(catalog)'") }
            parsed = try CatalogFile.parse(String(decoding: data, as: UTF8.self))
        } else {
            let db = try await database.open()
            do {
                parsed = try await CatalogStore(database: db).catalog()
            } catch {
                await db.close()
                throw error
            }
            await db.close()
        }
        guard let table = parsed.ratingTable else {
            throw CLIError("the catalog has no rating section: nothing is priced (see docs/charging.md; `recharge catalog demo` prints an example)")
        }
        return table
    }
}
