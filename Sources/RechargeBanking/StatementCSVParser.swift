import Foundation
import RechargeCore

/// Reads the plain CSV statement accepted from banks that cannot export camt.053:
/// header `date,amount,currency,reference,payer,entry_id` (columns in any order, extra columns ignored),
/// RFC 4180 quoting, UTF-8 with or without BOM, CRLF or LF. A negative amount is a debit.
public struct StatementCSVParser: Sendable {
    public static let requiredColumns = ["date", "amount", "currency", "reference", "payer", "entry_id"]

    public init() {}

    /// Parses `data` into one statement; CSV files carry no statement id or account, so the caller names them.
    public func parse(_ data: Data, statementID: String, account: BankAccount) throws(BankingError) -> BankStatement {
        var bytes = data
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { bytes = bytes.dropFirst(3) }
        guard let text = String(data: bytes, encoding: .utf8) else { throw .csvNotUTF8 }
        let records = try CSVRecords.split(text)
        guard let header = records.first else { throw .invalidCSV(line: 1, reason: "the file is empty; expected a header") }

        let names = header.fields.map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
        var column: [String: Int] = [:]
        for (index, name) in names.enumerated() {
            if column[name] != nil, Self.requiredColumns.contains(name) {
                throw .invalidCSV(line: header.line, reason: "column '\(name)' appears twice")
            }
            column[name] = column[name] ?? index
        }
        let missing = Self.requiredColumns.filter { column[$0] == nil }
        guard missing.isEmpty else {
            throw .invalidCSV(line: header.line, reason: "missing column(s) \(missing.joined(separator: ", ")); expected header \(Self.requiredColumns.joined(separator: ","))")
        }

        var entries: [StatementEntry] = []
        var seenEntryIDs: [String: Int] = [:]
        for record in records.dropFirst() {
            if record.fields.count == 1, record.fields[0].isEmpty { continue }   // blank line
            guard record.fields.count == names.count else {
                throw .invalidCSV(line: record.line, reason: "\(record.fields.count) fields, the header has \(names.count)")
            }
            func field(_ name: String) -> String { record.fields[column[name]!].trimmingCharacters(in: .whitespaces) }
            let entry = try entry(record.line, date: field("date"), amount: field("amount"), currency: field("currency"),
                                  reference: field("reference"), payer: field("payer"), entryID: field("entry_id"))
            if let first = seenEntryIDs[entry.entryReference] {
                throw .invalidCSV(line: record.line, reason: "entry_id '\(entry.entryReference)' already used on line \(first)")
            }
            seenEntryIDs[entry.entryReference] = record.line
            entries.append(entry)
        }
        let currencies = Set(entries.map(\.amount.currency))
        return BankStatement(statementID: statementID, account: account,
                             currency: currencies.count == 1 ? currencies.first : nil, entries: entries)
    }

    private func entry(
        _ line: Int, date: String, amount: String, currency: String, reference: String, payer: String, entryID: String
    ) throws(BankingError) -> StatementEntry {
        let location = "CSV line \(line)"
        guard !entryID.isEmpty else { throw .invalidCSV(line: line, reason: "entry_id is empty") }
        guard let bookingDate = BankDate(iso: date), date.utf8.count == 10 else {
            throw .invalidCSV(line: line, reason: "date '\(date)' is not YYYY-MM-DD")
        }
        let code: Currency
        do { code = try StatementAmount.currency(currency, location: location) } catch {
            throw .invalidCSV(line: line, reason: "'\(currency)' is not a supported ISO 4217 currency code")
        }
        let isDebit = amount.hasPrefix("-")
        let magnitude: Money
        do { magnitude = try StatementAmount.parse(isDebit ? String(amount.dropFirst()) : amount, currency: code, location: location) } catch {
            if case .invalidAmount(_, _, let reason) = error {
                throw .invalidCSV(line: line, reason: "amount '\(amount)' is invalid: \(reason)")
            }
            throw .invalidCSV(line: line, reason: "amount '\(amount)' is invalid")
        }
        return StatementEntry(
            entryReference: entryID, bookingDate: bookingDate, direction: isDebit ? .debit : .credit, amount: magnitude,
            remittance: RemittanceInformation(unstructured: reference.isEmpty ? [] : [reference]),
            debtorName: payer.isEmpty ? nil : payer
        )
    }
}
