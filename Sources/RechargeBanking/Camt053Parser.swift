import Foundation
import RechargeCore

/// Reads ISO 20022 camt.053 bank-to-customer statements (BkToCstmrStmt, versions .001.02 to .001.08)
/// into ``BankStatement``s: booked entries only, batch bookings split per transaction, amounts exact.
///
/// Elements are matched by local name, so the version's namespace does not matter; where versions moved
/// an element (`Sts` vs `Sts/Cd`, `Dbtr/Nm` vs `Dbtr/Pty/Nm`) both places are read.
public struct Camt053Parser: Sendable {
    public init() {}

    /// Parses every `Stmt` in the document, in document order.
    public func parse(_ data: Data) throws(BankingError) -> [BankStatement] {
        let document = try XMLElementTree.parse(data)
        guard document.name == "Document", let message = document.child("BkToCstmrStmt") else {
            throw .notCamt053(rootElement: document.name == "Document" ? document.children.first?.name ?? "Document" : document.name)
        }
        return try message.children("Stmt").enumerated().map { (index, statement) throws(BankingError) in
            try parseStatement(statement, position: index + 1)
        }
    }

    private func parseStatement(_ node: XMLElementTree, position: Int) throws(BankingError) -> BankStatement {
        guard let statementID = node.value("Id") else {
            throw .missingElement("Stmt/Id", location: "statement \(position)")
        }
        let location = "statement \(statementID)"
        let account: BankAccount
        if let iban = node.value("Acct/Id/IBAN") {
            account = .iban(iban.replacingOccurrences(of: " ", with: "").uppercased())
        } else if let other = node.value("Acct/Id/Othr/Id") {
            account = .other(other)
        } else {
            throw .missingElement("Stmt/Acct/Id/IBAN or Othr/Id", location: location)
        }
        let currency = try node.value("Acct/Ccy").map { code throws(BankingError) in
            try StatementAmount.currency(code, location: location)
        }
        var entries: [StatementEntry] = []
        var notes: [StatementNote] = []
        var contentOccurrences: [String: Int] = [:]
        for (index, entryNode) in node.children("Ntry").enumerated() {
            try parseEntry(entryNode, statementID: statementID, position: index + 1,
                           into: &entries, notes: &notes, occurrences: &contentOccurrences)
        }
        let entryCurrencies = Set(entries.map(\.amount.currency))
        return BankStatement(
            statementID: statementID, account: account,
            currency: currency ?? (entryCurrencies.count == 1 ? entryCurrencies.first : nil),
            entries: entries, notes: notes
        )
    }

    private func parseEntry(
        _ node: XMLElementTree, statementID: String, position: Int,
        into entries: inout [StatementEntry], notes: inout [StatementNote], occurrences: inout [String: Int]
    ) throws(BankingError) {
        let bankReference = node.value("AcctSvcrRef") ?? node.value("NtryRef")
        let location = "statement \(statementID), entry \(position)" + (bankReference.map { " (\($0))" } ?? "")

        guard let status = node.value("Sts/Cd") ?? node.value("Sts/Prtry") ?? node.value("Sts") else {
            throw .missingElement("Ntry/Sts", location: location)
        }
        let amount = try money(node, "Amt", location: location)
        let direction = try creditDebit(node, location: location)
        // Not-booked entries are reported, not imported: a pending credit can still be returned.
        guard status == "BOOK" else {
            notes.append(StatementNote(entryReference: bankReference ?? "entry \(position)", kind: .notBooked(status: status)))
            return
        }
        guard let bookingText = node.value("BookgDt/Dt") ?? node.value("BookgDt/DtTm") else {
            throw .missingElement("Ntry/BookgDt", location: location)
        }
        guard let bookingDate = BankDate(iso: bookingText) else { throw .invalidDate(bookingText, location: location) }
        var valueDate: BankDate?
        if let valueText = node.value("ValDt/Dt") ?? node.value("ValDt/DtTm") {
            guard let date = BankDate(iso: valueText) else { throw .invalidDate(valueText, location: location) }
            valueDate = date
        }
        let entryInformation = node.value("AddtlNtryInf")
        let details = node.children("NtryDtls").flatMap { $0.children("TxDtls") }

        let base = StatementEntry(
            entryReference: "", bookingDate: bookingDate, valueDate: valueDate, direction: direction,
            amount: amount, additionalInformation: entryInformation,
            isReversal: node.value("RvslInd").map { $0 == "true" || $0 == "1" } ?? false
        )
        let transactionAmounts = try details.enumerated().map { (index, detail) throws(BankingError) -> Money? in
            let detailLocation = "\(location), transaction \(index + 1)"
            if detail.at("Amt") != nil { return try money(detail, "Amt", location: detailLocation) }
            if detail.at("AmtDtls/TxAmt/Amt") != nil { return try money(detail, "AmtDtls/TxAmt/Amt", location: detailLocation) }
            return nil
        }

        if details.count <= 1 || transactionAmounts.contains(where: { $0 == nil }) {
            if details.count > 1 {
                notes.append(StatementNote(entryReference: bankReference ?? "entry \(position)",
                                           kind: .batchWithoutAmounts(transactions: details.count)))
            }
            // A single transaction keeps the entry amount even when its own differs (charges deducted):
            // the entry amount is what reached the account.
            var entry = details.reduce(base) { merged, detail in applying(detail, to: merged) }
            entry.entryReference = bankReference ?? fallbackReference(for: entry, occurrences: &occurrences)
            entries.append(entry)
            return
        }

        var total = Money.zero(amount.currency)
        for (index, detail) in details.enumerated() {
            var entry = applying(detail, to: base)
            entry.amount = transactionAmounts[index]!
            entry.additionalInformation = detail.value("AddtlTxInf") ?? entryInformation
            if let indicator = detail.value("CdtDbtInd") {
                entry.direction = try parseIndicator(indicator, location: "\(location), transaction \(index + 1)")
            }
            if let reference = detail.value("Refs/AcctSvcrRef"), reference != bankReference {
                entry.entryReference = reference
            } else if let bankReference {
                entry.entryReference = "\(bankReference)/\(index + 1)"
            } else {
                entry.entryReference = fallbackReference(for: entry, occurrences: &occurrences)
            }
            if entry.amount.currency == total.currency, let sum = try? total.adding(entry.amount) { total = sum }
            entries.append(entry)
        }
        if total != amount {
            notes.append(StatementNote(entryReference: bankReference ?? "entry \(position)", kind: .batchAmountsDiffer(entryAmount: amount)))
        }
    }

    /// Copies what a transaction detail says about the payer onto the entry; lines from several details
    /// of an unsplittable batch accumulate.
    private func applying(_ detail: XMLElementTree, to entry: StatementEntry) -> StatementEntry {
        var entry = entry
        entry.endToEndID = entry.endToEndID ?? detail.value("Refs/EndToEndId")
        entry.debtorName = entry.debtorName ?? detail.value("RltdPties/Dbtr/Nm") ?? detail.value("RltdPties/Dbtr/Pty/Nm")
        for information in detail.children("RmtInf") {
            entry.remittance.unstructured += information.children("Ustrd").compactMap { line in
                let text = line.text.trimmingCharacters(in: .whitespacesAndNewlines)
                return text.isEmpty ? nil : text
            }
            if entry.remittance.creditorReference == nil {
                entry.remittance.creditorReference = information.children("Strd").lazy
                    .compactMap { $0.value("CdtrRefInf/Ref") }.first
            }
        }
        if let text = detail.value("AddtlTxInf"), entry.additionalInformation == nil { entry.additionalInformation = text }
        return entry
    }

    private func money(_ node: XMLElementTree, _ path: String, location: String) throws(BankingError) -> Money {
        guard let amountNode = node.at(path) else { throw .missingElement("Ntry/\(path)", location: location) }
        guard let code = amountNode.attributes["Ccy"] else { throw .missingElement("\(path)/@Ccy", location: location) }
        let currency = try StatementAmount.currency(code, location: location)
        let text = amountNode.text.trimmingCharacters(in: .whitespacesAndNewlines)
        return try StatementAmount.parse(text, currency: currency, location: location)
    }

    private func creditDebit(_ node: XMLElementTree, location: String) throws(BankingError) -> CreditDebit {
        guard let text = node.value("CdtDbtInd") else { throw .missingElement("Ntry/CdtDbtInd", location: location) }
        return try parseIndicator(text, location: location)
    }

    private func parseIndicator(_ text: String, location: String) throws(BankingError) -> CreditDebit {
        guard let value = CreditDebit(rawValue: text) else { throw .invalidValue(text, field: "CdtDbtInd", location: location) }
        return value
    }

    /// Without a bank reference the entry is identified by its content, so re-importing the same file or
    /// an overlapping one finds the same key. Identical twins in one statement (two equal transfers on one
    /// day) stay distinct through their occurrence number.
    private func fallbackReference(for entry: StatementEntry, occurrences: inout [String: Int]) -> String {
        let content = [
            entry.bookingDate.description, entry.valueDate?.description ?? "", entry.direction.rawValue,
            entry.amount.description, entry.endToEndID ?? "", entry.debtorName ?? "",
            entry.remittance.creditorReference ?? "", entry.remittance.unstructured.joined(separator: "\n"),
            entry.additionalInformation ?? "",
        ].joined(separator: "\u{1F}")
        let digest = fnv1a64(content)
        let occurrence = occurrences[digest, default: 0] + 1
        occurrences[digest] = occurrence
        return "hash:\(digest)-\(occurrence)"
    }

    /// FNV-1a: stable across runs and platforms, unlike Swift's seeded `Hasher`.
    private func fnv1a64(_ text: String) -> String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in text.utf8 {
            hash ^= UInt64(byte)
            hash &*= 0x0000_0100_0000_01B3
        }
        let hex = String(hash, radix: 16)
        return String(repeating: "0", count: 16 - hex.count) + hex
    }
}
