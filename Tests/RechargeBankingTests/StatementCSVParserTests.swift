import Foundation
import Testing
import RechargeCore
@testable import RechargeBanking

@Suite("StatementCSVParser: the plain CSV statement")
struct StatementCSVParserTests {
    let parser = StatementCSVParser()
    let account = BankAccount.other("chase-0001")

    func parse(_ text: String) throws -> BankStatement {
        try parser.parse(Data(text.utf8), statementID: "upload-1", account: account)
    }

    func csvError(_ text: String) -> (line: Int, reason: String)? {
        let error = #expect(throws: BankingError.self) { try parse(text) }
        guard case .invalidCSV(let line, let reason) = error else {
            Issue.record("expected invalidCSV, got \(String(describing: error))")
            return nil
        }
        return (line, reason)
    }

    @Test func readsASimpleFile() throws {
        let statement = try parse("""
            date,amount,currency,reference,payer,entry_id
            2024-03-05,12.34,USD,RF18 5390 0754 7034,李娜,TX-1
            2024-03-06,-4.95,USD,Monthly fee,,TX-2

            """)
        #expect(statement.statementID == "upload-1")
        #expect(statement.account == account)
        #expect(statement.currency == usd)
        #expect(statement.notes.isEmpty)
        #expect(statement.entries == [
            StatementEntry(entryReference: "TX-1", bookingDate: date("2024-03-05"), direction: .credit, amount: money("12.34", usd),
                           remittance: RemittanceInformation(unstructured: ["RF18 5390 0754 7034"]), debtorName: "李娜"),
            StatementEntry(entryReference: "TX-2", bookingDate: date("2024-03-06"), direction: .debit, amount: money("4.95", usd),
                           remittance: RemittanceInformation(unstructured: ["Monthly fee"])),
        ])
    }

    @Test func acceptsBOMAndCRLF() throws {
        let text = "\u{FEFF}date,amount,currency,reference,payer,entry_id\r\n2024-03-05,1.00,USD,r,p,A\r\n2024-03-05,2,USD,r,p,B\r\n"
        let statement = try parse(text)
        #expect(statement.entries.map(\.entryReference) == ["A", "B"])
        #expect(statement.entries.map(\.amount) == [money("1", usd), money("2", usd)])
        // A file without a final line end, and with old Mac CR line ends.
        #expect(try parse("date,amount,currency,reference,payer,entry_id\r2024-03-05,1.00,USD,r,p,A").entries.count == 1)
    }

    @Test func honoursRFC4180Quoting() throws {
        let statement = try parse("""
            date,amount,currency,reference,payer,entry_id
            2024-03-05,10.00,USD,"Top-up, RF18539007547034","Wang ""Tom"" Xiaoming",A
            2024-03-05,"20.00",USD,"line one
            line two",张伟,B
            2024-03-05,30.00,USD,"",,"C"
            """)
        #expect(statement.entries.map(\.remittance.unstructured) == [["Top-up, RF18539007547034"], ["line one\nline two"], []])
        #expect(statement.entries.map(\.debtorName) == ["Wang \"Tom\" Xiaoming", "张伟", nil])
        #expect(statement.entries.map(\.entryReference) == ["A", "B", "C"])
    }

    @Test func acceptsColumnsInAnyOrderAndIgnoresExtraOnes() throws {
        let statement = try parse("""
            Entry_ID,Payer,Reference,Currency,Amount,Date,Balance
            X1,Li,ref,cny,88.80,2024-03-05,1000.00
            """)
        #expect(statement.entries.first?.amount == money("88.80", .cny))
        #expect(statement.entries.first?.entryReference == "X1")
        #expect(statement.currency == .cny)
    }

    @Test func mixedCurrenciesLeaveTheStatementCurrencyOpen() throws {
        let statement = try parse("""
            date,amount,currency,reference,payer,entry_id
            2024-03-05,1.00,USD,,,A
            2024-03-05,1500,JPY,,,B
            """)
        #expect(statement.currency == nil)
        #expect(statement.entries[1].amount.micros == 1_500_000_000)
    }

    @Test func headerOnlyIsAnEmptyStatement() throws {
        #expect(try parse("date,amount,currency,reference,payer,entry_id\n").entries.isEmpty)
    }

    // MARK: Rejected input

    @Test func rejectsEmptyFileAndBadHeaders() {
        #expect(csvError("")?.line == 1)
        let missing = csvError("date,amount,currency,reference,payer\n2024-03-05,1,USD,r,p\n")
        #expect(missing?.line == 1)
        #expect(missing?.reason.contains("entry_id") == true)
        #expect(csvError("date,amount,amount,currency,reference,payer,entry_id\n")?.reason.contains("twice") == true)
    }

    @Test(arguments: [
        ("12.345", "2 decimal places"), ("12,34", "not a decimal"), ("abc", "not a decimal"), ("--5", "negative"),
        ("", "not a decimal"), ("1e2", "not a decimal"), ("99999999999999999", "too large"),
    ])
    func rejectsBadAmountsWithTheLine(_ amount: String, _ reasonFragment: String) {
        let error = csvError("date,amount,currency,reference,payer,entry_id\n2024-03-05,1.00,USD,,,A\n2024-03-05,\"\(amount)\",USD,,,B\n")
        #expect(error?.line == 3)
        #expect(error?.reason.contains(reasonFragment) == true, "\(error?.reason ?? "")")
    }

    @Test func rejectsBadRowsWithTheLine() {
        let header = "date,amount,currency,reference,payer,entry_id\n"
        let cases: [(String, Int, String)] = [
            (header + "05/03/2024,1.00,USD,,,A\n", 2, "YYYY-MM-DD"),
            (header + "2024-02-30,1.00,USD,,,A\n", 2, "YYYY-MM-DD"),
            (header + "2024-03-05T10:00:00,1.00,USD,,,A\n", 2, "YYYY-MM-DD"),
            (header + "2024-03-05,1.00,XYZ,,,A\n", 2, "XYZ"),
            (header + "2024-03-05,1.00,USD,,,\n", 2, "entry_id is empty"),
            (header + "2024-03-05,1.00,USD,,,A\n2024-03-05,1.00,USD,,,A\n", 3, "already used on line 2"),
            (header + "2024-03-05,1.00,USD,,A\n", 2, "5 fields"),
            (header + "2024-03-05,1.00,USD,,,A,extra\n", 2, "7 fields"),
            (header + "2024-03-05,1.00,USD,\"multi\nline\",,A\n2024-03-05,1.00,USD,,B\n", 4, "5 fields"),
            (header + "2024-03-05,1.00,USD,ab\"c,,A\n", 2, "quote inside"),
            (header + "2024-03-05,1.00,USD,\"abc\"d,,A\n", 2, "after a closing quote"),
            (header + "2024-03-05,1.00,USD,,,A\n2024-03-05,1.00,USD,\"never closed,,B\n", 3, "never closed"),
        ]
        for (text, line, fragment) in cases {
            let error = csvError(text)
            #expect(error?.line == line, "\(text)")
            #expect(error?.reason.contains(fragment) == true, "\(error?.reason ?? "") for \(text)")
        }
    }

    @Test func rejectsTextThatIsNotUTF8() {
        var bytes = Data("date,amount,currency,reference,payer,entry_id\n2024-03-05,1.00,USD,".utf8)
        bytes.append(contentsOf: [0xC0, 0xFF, 0xB3, 0xE4])   // GBK-ish bytes, not UTF-8
        bytes.append(contentsOf: Data(",,A\n".utf8))
        #expect(throws: BankingError.csvNotUTF8) { try parser.parse(bytes, statementID: "x", account: account) }
    }
}
