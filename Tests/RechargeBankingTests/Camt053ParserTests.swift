import Foundation
import Testing
import RechargeCore
@testable import RechargeBanking

@Suite("Camt053Parser: ISO 20022 bank-to-customer statements")
struct Camt053ParserTests {
    let parser = Camt053Parser()

    @Test func readsVersion02Statement() throws {
        let statements = try parser.parse(Fixture.data("camt053-v02.xml"))
        #expect(statements.count == 1)
        let statement = try #require(statements.first)
        #expect(statement.statementID == "STMT-2024-03-05-001")
        #expect(statement.account == .iban("DE89370400440532013000"))
        #expect(statement.currency == eur)
        #expect(statement.entries.count == 8)
        #expect(statement.notes == [StatementNote(entryReference: "2024030500004", kind: .notBooked(status: "PDNG"))])

        let single = statement.entries[0]
        #expect(single.entryReference == "2024030500001")
        #expect(single.bookingDate == date("2024-03-05"))
        #expect(single.valueDate == date("2024-03-05"))
        #expect(single.direction == .credit)
        #expect(single.amount == money("25.00", eur))
        #expect(single.debtorName == "王小明")
        #expect(single.endToEndID == "E2E-WANG-0001")
        #expect(single.remittance == RemittanceInformation(unstructured: ["手机充值 Aufladung"], creditorReference: "RF18539007547034"))

        let typed = statement.entries[1]
        #expect(typed.entryReference == "2024030500002")
        #expect(typed.valueDate == date("2024-03-06"))
        #expect(typed.debtorName == "陈静 (Chen Jing)")
        #expect(typed.endToEndID == "NOTPROVIDED")
        #expect(typed.remittance.unstructured == ["Payment rf46 ord7 k2m9 q4xp a thanks"])
        #expect(typed.remittance.creditorReference == nil)

        // The batch booking of 60.00 becomes its two transfers.
        let batch = Array(statement.entries[2...3])
        #expect(batch.map(\.entryReference) == ["2024030500003-A", "2024030500003/2"])
        #expect(batch.map(\.amount) == [money("20", eur), money("40", eur)])
        #expect(batch.map(\.debtorName) == ["刘洋", "Maria Schmidt"])
        #expect(batch.map(\.endToEndID) == ["BATCH-1", "BATCH-2"])
        #expect(batch[0].remittance.creditorReference == "RF66ORDBATCH1X")
        #expect(batch[1].remittance.unstructured == ["RF55 ORDB ATCH 2Y"])

        let fee = statement.entries[4]
        #expect(fee.direction == .debit)
        #expect(fee.amount == money("12.50", eur))
        #expect(fee.additionalInformation == "Kontoführungsgebühr März")

        let entryRefOnly = statement.entries[5]
        #expect(entryRefOnly.entryReference == "NR-0006")
        #expect(entryRefOnly.valueDate == nil)
        #expect(entryRefOnly.additionalInformation == "SEPA Gutschrift RF06ORD3B8N5W2ZTC Zhang Wei")

        // Two identical transfers without any bank reference stay two entries with stable keys.
        let twins = Array(statement.entries[6...7])
        #expect(twins[0].entryReference.hasPrefix("hash:") && twins[0].entryReference.hasSuffix("-1"))
        #expect(twins[1].entryReference == String(twins[0].entryReference.dropLast()) + "2")
        let again = try parser.parse(Fixture.data("camt053-v02.xml"))
        #expect(again == statements)
    }

    @Test func readsVersion08Statement() throws {
        let statement = try #require(try parser.parse(Fixture.data("camt053-v08.xml")).first)
        #expect(statement.statementID == "77-20241112")
        #expect(statement.account == .other("000123456789"))
        #expect(statement.currency == usd)
        #expect(statement.notes == [StatementNote(entryReference: "WIRE-20241112-0003", kind: .notBooked(status: "PDNG"))])
        #expect(statement.entries.map(\.entryReference) == [
            "WIRE-20241112-0001", "ACH-20241112-0002-1", "ACH-20241112-0002-2", "ACH-20241112-0002-3",
            "FEE-20241112", "WIRE-20241112-0004",
        ])
        let wire = statement.entries[0]
        #expect(wire.bookingDate == date("2024-11-12"))        // the bank's day, from a DtTm with offset
        #expect(wire.debtorName == "李娜")
        #expect(wire.remittance.creditorReference == "RF48 LINA 2024")
        #expect(wire.endToEndID == "LINA-TOPUP-11")
        #expect(statement.entries[1...3].map(\.amount) == [money("10", usd), money("15", usd), money("20", usd)])
        #expect(statement.entries[1...3].map(\.debtorName) == ["张伟", "John Smith", "黄美玲"])
        #expect(statement.entries[2].remittance.unstructured == ["Top-up for order RF67 SPLI", "T0001 - phone +1 415 555 0100"])
        #expect(statement.entries[4].direction == .debit)
        #expect(statement.entries[4].additionalInformation == "Monthly service fee")
        #expect(statement.entries[5].debtorName == "王芳")
    }

    @Test(arguments: 2...8)
    func acceptsEveryVersionNamespace(_ version: Int) throws {
        let xml = Camt.document(version: version, entries: Camt.entry(amount: "7.00"))
        let statement = try #require(try parser.parse(Data(xml.utf8)).first)
        #expect(statement.entries.map(\.amount) == [money("7", eur)])
    }

    @Test func readsSeveralStatementsAndSeveralRemittanceLines() throws {
        let entry = Camt.entry(amount: "1.00", details: """
            <NtryDtls><TxDtls><RmtInf><Ustrd>line one</Ustrd><Ustrd> line two </Ustrd><Ustrd></Ustrd></RmtInf></TxDtls></NtryDtls>
            """)
        let xml = Camt.document(statements: [Camt.statement(id: "A", entries: entry), Camt.statement(id: "B", entries: "")])
        let statements = try parser.parse(Data(xml.utf8))
        #expect(statements.map(\.statementID) == ["A", "B"])
        #expect(statements[0].entries[0].remittance.unstructured == ["line one", "line two"])
        #expect(statements[1].entries.isEmpty)
        #expect(statements[1].currency == eur)  // from Acct/Ccy
    }

    @Test func respectsMinorUnitsOfTheCurrency() throws {
        let jpy = try Currency(code: "JPY")
        let kwd = try Currency(code: "KWD")
        let xml = Camt.document(entries: Camt.entry(amount: "1500", currency: "JPY") + Camt.entry(amount: "1.234", currency: "KWD"))
        let entries = try #require(try parser.parse(Data(xml.utf8)).first).entries
        #expect(entries.map(\.amount) == [money("1500", jpy), money("1.234", kwd)])
        #expect(entries[1].amount.micros == 1_234_000)
    }

    @Test func batchWithoutTransactionAmountsStaysOneEntry() throws {
        let details = """
            <NtryDtls>
              <TxDtls><RmtInf><Ustrd>RF18539007547034</Ustrd></RmtInf></TxDtls>
              <TxDtls><RmtInf><Ustrd>second</Ustrd></RmtInf></TxDtls>
            </NtryDtls>
            """
        let statement = try #require(try parser.parse(Data(Camt.document(entries: Camt.entry(amount: "9.00", reference: "B1", details: details)).utf8)).first)
        #expect(statement.entries.count == 1)
        #expect(statement.entries[0].amount == money("9", eur))
        #expect(statement.entries[0].remittance.unstructured == ["RF18539007547034", "second"])
        #expect(statement.notes == [StatementNote(entryReference: "B1", kind: .batchWithoutAmounts(transactions: 2))])
    }

    @Test func batchWhoseAmountsDoNotAddUpIsNoted() throws {
        let details = """
            <NtryDtls>
              <TxDtls><Amt Ccy="EUR">4.00</Amt></TxDtls>
              <TxDtls><Amt Ccy="EUR">4.00</Amt></TxDtls>
            </NtryDtls>
            """
        let statement = try #require(try parser.parse(Data(Camt.document(entries: Camt.entry(amount: "9.00", reference: "B2", details: details)).utf8)).first)
        #expect(statement.entries.map(\.amount) == [money("4", eur), money("4", eur)])
        #expect(statement.entries.map(\.entryReference) == ["B2/1", "B2/2"])
        #expect(statement.notes == [StatementNote(entryReference: "B2", kind: .batchAmountsDiffer(entryAmount: money("9", eur)))])
    }

    @Test func readsTheReversalIndicator() throws {
        let reversal = Camt.entry(amount: "25.00", indicator: "DBIT", reference: "R1")
            .replacingOccurrences(of: "<CdtDbtInd>DBIT</CdtDbtInd>", with: "<CdtDbtInd>DBIT</CdtDbtInd><RvslInd>true</RvslInd>")
        let statement = try #require(try parser.parse(Data(Camt.document(entries: reversal + Camt.entry(amount: "1.00")).utf8)).first)
        #expect(statement.entries.map(\.isReversal) == [true, false])
        #expect(statement.entries[0].direction == .debit)
    }

    @Test func otherNotBookedStatusesAreNoted() throws {
        let xml = Camt.document(entries: Camt.entry(amount: "1.00", status: "<Sts><Cd>INFO</Cd></Sts>", reference: "I1")
                                + Camt.entry(amount: "1.00", status: "<Sts>FUTR</Sts>", reference: "F1"))
        let statement = try #require(try parser.parse(Data(xml.utf8)).first)
        #expect(statement.entries.isEmpty)
        #expect(statement.notes.map(\.kind) == [.notBooked(status: "INFO"), .notBooked(status: "FUTR")])
        #expect(statement.notes[0].description.contains("I1"))
    }

    // MARK: Rejected input

    @Test func rejectsMalformedXML() {
        let error = #expect(throws: BankingError.self) {
            try parser.parse(Data("<Document><BkToCstmrStmt><Stmt></BkToCstmrStmt>".utf8))
        }
        guard case .malformedXML(let line, _, _) = error else { Issue.record("got \(String(describing: error))"); return }
        #expect(line >= 1)
        #expect(throws: BankingError.self) { try parser.parse(Data()) }
    }

    @Test func rejectsOtherISO20022Messages() {
        let pain = #"<Document xmlns="urn:iso:std:iso:20022:tech:xsd:pain.001.001.03"><CstmrCdtTrfInitn/></Document>"#
        #expect(throws: BankingError.notCamt053(rootElement: "CstmrCdtTrfInitn")) { try parser.parse(Data(pain.utf8)) }
        #expect(throws: BankingError.notCamt053(rootElement: "html")) { try parser.parse(Data("<html/>".utf8)) }
    }

    @Test func rejectsMissingStatementFields() {
        let noID = Camt.document(statements: [Camt.statement(id: nil, entries: "")])
        #expect(throws: BankingError.missingElement("Stmt/Id", location: "statement 1")) { try parser.parse(Data(noID.utf8)) }
        let noAccount = Camt.document(statements: [Camt.statement(id: "S", account: "<Acct><Ccy>EUR</Ccy></Acct>", entries: "")])
        #expect(throws: BankingError.missingElement("Stmt/Acct/Id/IBAN or Othr/Id", location: "statement S")) {
            try parser.parse(Data(noAccount.utf8))
        }
    }

    @Test(arguments: [
        ("-5.00", "negative"), ("1.005", "2 decimal places"), ("12,50", "not a decimal"), ("", "not a decimal"),
        ("1e3", "not a decimal"), ("+5.00", "not a decimal"), ("99999999999999999.00", "too large"), ("5.", "not a decimal"),
    ])
    func rejectsBadAmountsNamingTheEntry(_ amount: String, _ reasonFragment: String) {
        let xml = Camt.document(entries: Camt.entry(amount: "1.00", reference: "OK1") + Camt.entry(amount: amount, reference: "BAD2"))
        let error = #expect(throws: BankingError.self) { try parser.parse(Data(xml.utf8)) }
        guard case .invalidAmount(let text, let location, let reason) = error else { Issue.record("got \(String(describing: error))"); return }
        #expect(text == amount)
        #expect(location == "statement STMT-1, entry 2 (BAD2)")
        #expect(reason.contains(reasonFragment), "\(reason)")
    }

    @Test func rejectsBadBatchTransactionAmounts() {
        let details = #"<NtryDtls><TxDtls><Amt Ccy="EUR">1.00</Amt></TxDtls><TxDtls><Amt Ccy="EUR">-1.00</Amt></TxDtls></NtryDtls>"#
        let xml = Camt.document(entries: Camt.entry(amount: "0.00", reference: "B3", details: details))
        #expect(throws: BankingError.invalidAmount("-1.00", location: "statement STMT-1, entry 1 (B3), transaction 2",
                                                   reason: "negative amounts are not allowed here")) {
            try parser.parse(Data(xml.utf8))
        }
    }

    @Test func rejectsOtherBadEntries() {
        func parse(_ entry: String) throws { _ = try parser.parse(Data(Camt.document(entries: entry).utf8)) }
        let location = "statement STMT-1, entry 1 (E1)"
        #expect(throws: BankingError.unknownCurrency("XYZ", location: location)) {
            try parse(Camt.entry(amount: "1.00", currency: "XYZ", reference: "E1"))
        }
        #expect(throws: BankingError.missingElement("Amt/@Ccy", location: location)) {
            try parse(Camt.entry(amount: "1.00", currency: nil, reference: "E1"))
        }
        #expect(throws: BankingError.invalidValue("CRED", field: "CdtDbtInd", location: location)) {
            try parse(Camt.entry(amount: "1.00", indicator: "CRED", reference: "E1"))
        }
        #expect(throws: BankingError.missingElement("Ntry/BookgDt", location: location)) {
            try parse(Camt.entry(amount: "1.00", booking: "", reference: "E1"))
        }
        #expect(throws: BankingError.invalidDate("2024-02-30", location: location)) {
            try parse(Camt.entry(amount: "1.00", booking: "<BookgDt><Dt>2024-02-30</Dt></BookgDt>", reference: "E1"))
        }
        #expect(throws: BankingError.missingElement("Ntry/Sts", location: location)) {
            try parse(Camt.entry(amount: "1.00", status: "", reference: "E1"))
        }
        #expect(throws: BankingError.missingElement("Ntry/Amt", location: "statement STMT-1, entry 1")) {
            try parse("<Ntry><CdtDbtInd>CRDT</CdtDbtInd><Sts>BOOK</Sts></Ntry>")
        }
    }

    @Test func neverExpandsExternalEntities() throws {
        let xml = """
            <?xml version="1.0"?>
            <!DOCTYPE Document [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
            """ + Camt.document(entries: Camt.entry(amount: "1.00", details: "<NtryDtls><TxDtls><RmtInf><Ustrd>x&secret;</Ustrd></RmtInf></TxDtls></NtryDtls>"))
                .replacingOccurrences(of: #"<?xml version="1.0" encoding="UTF-8"?>"#, with: "")
        do {
            let statements = try parser.parse(Data(xml.utf8))
            #expect(!statements.flatMap(\.entries).flatMap(\.remittance.unstructured).joined().contains("root:"))
        } catch {
            // Refusing the document is just as good.
        }
    }
}

/// Builders for small camt.053 documents, so each rejection test shows only what it changes.
enum Camt {
    static func document(version: Int = 2, statements: [String]) -> String {
        """
        <?xml version="1.0" encoding="UTF-8"?>
        <Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.0\(version)">
        <BkToCstmrStmt><GrpHdr><MsgId>M1</MsgId><CreDtTm>2024-03-05T18:00:00Z</CreDtTm></GrpHdr>
        \(statements.joined(separator: "\n"))
        </BkToCstmrStmt></Document>
        """
    }

    static func document(version: Int = 2, entries: String) -> String {
        document(version: version, statements: [statement(id: "STMT-1", entries: entries)])
    }

    static func statement(
        id: String?, account: String = "<Acct><Id><IBAN>DE89 3704 0044 0532 0130 00</IBAN></Id><Ccy>EUR</Ccy></Acct>",
        entries: String
    ) -> String {
        "<Stmt>\(id.map { "<Id>\($0)</Id>" } ?? "")<CreDtTm>2024-03-05T18:00:00Z</CreDtTm>\(account)\(entries)</Stmt>"
    }

    static func entry(
        amount: String, currency: String? = "EUR", indicator: String = "CRDT", status: String = "<Sts>BOOK</Sts>",
        booking: String = "<BookgDt><Dt>2024-03-05</Dt></BookgDt>", reference: String? = nil, details: String = ""
    ) -> String {
        let ccy = currency.map { " Ccy=\"\($0)\"" } ?? ""
        return "<Ntry><Amt\(ccy)>\(amount)</Amt><CdtDbtInd>\(indicator)</CdtDbtInd>\(status)\(booking)"
            + (reference.map { "<AcctSvcrRef>\($0)</AcctSvcrRef>" } ?? "") + "\(details)</Ntry>\n"
    }
}
