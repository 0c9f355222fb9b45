import Foundation
import Testing
import RechargeCore
@testable import RechargeBanking

@Suite("StatementMatcher: credit entries to orders")
struct StatementMatcherTests {
    static let iso = try! PaymentReference("RF18539007547034")
    static let other = try! PaymentReference(body: "ORD7K2M9Q4XPA")

    static func credit(
        _ amount: String = "25.00", _ currency: Currency = eur, structured: String? = nil, lines: [String] = [],
        additional: String? = nil, direction: CreditDebit = .credit, reference: String = "E1"
    ) -> StatementEntry {
        StatementEntry(
            entryReference: reference, bookingDate: date("2024-03-05"), direction: direction, amount: money(amount, currency),
            remittance: RemittanceInformation(unstructured: lines, creditorReference: structured), additionalInformation: additional
        )
    }

    /// The order store as the caller would expose it.
    static let orders: [PaymentReference: MatchTarget] = [
        iso: MatchTarget(orderID: "ord_iso", expected: money("25.00", eur)),
        other: MatchTarget(orderID: "ord_other", expected: money("10.00", eur)),
    ]

    static func outcome(_ entry: StatementEntry) -> MatchOutcome {
        StatementMatcher.outcome(for: entry) { orders[$0] }
    }

    @Test func matchesTheStructuredReference() {
        #expect(Self.outcome(Self.credit(structured: "RF18539007547034")) == .matched(orderID: "ord_iso", amount: money("25", eur)))
        #expect(Self.outcome(Self.credit(structured: "rf18 5390 0754 7034")) == .matched(orderID: "ord_iso", amount: money("25", eur)))
    }

    @Test func matchesAReferenceInTheRemittanceText() {
        let entry = Self.credit("10.00", lines: ["手机充值", "Payment rf46 ord7 k2m9 q4xp a thanks"])
        #expect(Self.outcome(entry) == .matched(orderID: "ord_other", amount: money("10", eur)))
    }

    @Test func matchesAReferenceWrappedAcrossTwoLines() {
        let entry = Self.credit(lines: ["Top-up RF18 5390 07", "54 7034"])
        #expect(Self.outcome(entry) == .matched(orderID: "ord_iso", amount: money("25", eur)))
    }

    @Test func matchesAReferenceOnlyInTheBanksAdditionalInformation() {
        let entry = Self.credit(additional: "SEPA CREDIT RF18539007547034 WANG")
        #expect(Self.outcome(entry) == .matched(orderID: "ord_iso", amount: money("25", eur)))
    }

    @Test func differentAmountGoesToReview() {
        #expect(Self.outcome(Self.credit("24.99", structured: "RF18539007547034"))
                == .amountMismatch(orderID: "ord_iso", reference: Self.iso, expected: money("25", eur), received: money("24.99", eur)))
        #expect(Self.outcome(Self.credit("50.00", structured: "RF18539007547034"))
                == .amountMismatch(orderID: "ord_iso", reference: Self.iso, expected: money("25", eur), received: money("50", eur)))
    }

    @Test func sameFigureInAnotherCurrencyGoesToReview() {
        #expect(Self.outcome(Self.credit("25.00", usd, structured: "RF18539007547034"))
                == .amountMismatch(orderID: "ord_iso", reference: Self.iso, expected: money("25", eur), received: money("25", usd)))
    }

    @Test func unknownReferenceGoesToReview() throws {
        let unknown = try PaymentReference(body: "UNKNOWN99")
        #expect(Self.outcome(Self.credit(lines: ["RF69UNKNOWN99"])) == .unknownReference([unknown]))
    }

    @Test func mistypedOrMissingReferenceGoesToReview() {
        #expect(Self.outcome(Self.credit(structured: "RF19539007547034")) == .noReference)   // wrong check digits
        #expect(Self.outcome(Self.credit(lines: ["Payment for 539007547034"])) == .noReference)
        #expect(Self.outcome(Self.credit()) == .noReference)
    }

    @Test func structuredReferenceWinsOverText() {
        let entry = Self.credit(structured: "RF18539007547034", lines: [Self.other.printed])
        #expect(Self.outcome(entry) == .matched(orderID: "ord_iso", amount: money("25", eur)))
        #expect(StatementMatcher.references(in: entry) == [Self.iso, Self.other])
    }

    @Test func anUnknownReferenceDoesNotHideAKnownOne() throws {
        let entry = Self.credit("10.00", lines: ["old RF69UNKNOWN99", "new \(Self.other.printed)"])
        #expect(Self.outcome(entry) == .matched(orderID: "ord_other", amount: money("10", eur)))
    }

    @Test func debitsAreLeftOutAndOrderIsKept() {
        let entries = [
            Self.credit(structured: "RF18539007547034", reference: "A"),
            Self.credit("25.00", structured: "RF18539007547034", direction: .debit, reference: "B"),
            Self.credit(reference: "C"),
        ]
        let matches = StatementMatcher.classify(entries) { Self.orders[$0] }
        #expect(matches.map(\.entry.entryReference) == ["A", "C"])
        #expect(matches.map(\.outcome) == [.matched(orderID: "ord_iso", amount: money("25", eur)), .noReference])
        #expect(StatementMatcher.classify(entries) { Self.orders[$0] } == matches)
    }

    @Test func lookupErrorsPropagate() {
        struct StoreDown: Error {}
        #expect(throws: StoreDown.self) {
            try StatementMatcher.classify([Self.credit(structured: "RF18539007547034")]) { _ throws(StoreDown) in throw StoreDown() }
        }
    }

    @Test func classifiesTheVersion08Fixture() throws {
        let statement = try #require(try Camt053Parser().parse(Fixture.data("camt053-v08.xml")).first)
        let orders: [PaymentReference: MatchTarget] = try [
            PaymentReference(body: "LINA2024"): MatchTarget(orderID: "ord_lina", expected: money("30", usd)),
            PaymentReference(body: "ZHANGWEI88"): MatchTarget(orderID: "ord_zhang", expected: money("10", usd)),
            PaymentReference(body: "SPLIT0001"): MatchTarget(orderID: "ord_split", expected: money("15", usd)),
            PaymentReference(body: "WRONGAMT1"): MatchTarget(orderID: "ord_wrong", expected: money("25", usd)),
        ]
        let wrong = try PaymentReference(body: "WRONGAMT1")
        let unknown = try PaymentReference(body: "UNKNOWN99")
        let matches = StatementMatcher.classify(statement.entries) { orders[$0] }
        #expect(matches.map(\.outcome) == [
            .matched(orderID: "ord_lina", amount: money("30", usd)),
            .matched(orderID: "ord_zhang", amount: money("10", usd)),
            .matched(orderID: "ord_split", amount: money("15", usd)),
            .amountMismatch(orderID: "ord_wrong", reference: wrong,
                            expected: money("25", usd), received: money("20", usd)),
            .unknownReference([unknown]),
        ])
    }

    @Test func classifiesTheVersion02Fixture() throws {
        let statement = try #require(try Camt053Parser().parse(Fixture.data("camt053-v02.xml")).first)
        let orders: [PaymentReference: MatchTarget] = try [
            Self.iso: MatchTarget(orderID: "ord_iso", expected: money("25", eur)),
            Self.other: MatchTarget(orderID: "ord_other", expected: money("10", eur)),
            PaymentReference(body: "ORDBATCH1X"): MatchTarget(orderID: "ord_b1", expected: money("20", eur)),
            PaymentReference(body: "ORDBATCH2Y"): MatchTarget(orderID: "ord_b2", expected: money("40", eur)),
            PaymentReference(body: "ORD3B8N5W2ZTC"): MatchTarget(orderID: "ord_z", expected: money("15", eur)),
        ]
        let outcomes = StatementMatcher.classify(statement.entries) { orders[$0] }.map(\.outcome)
        #expect(outcomes == [
            .matched(orderID: "ord_iso", amount: money("25", eur)),
            .matched(orderID: "ord_other", amount: money("10", eur)),
            .matched(orderID: "ord_b1", amount: money("20", eur)),
            .matched(orderID: "ord_b2", amount: money("40", eur)),
            .matched(orderID: "ord_z", amount: money("15", eur)),
            .noReference, .noReference,
        ])
    }

    @Test func classifiesACSVStatement() throws {
        let csv = "date,amount,currency,reference,payer,entry_id\n2024-03-05,25.00,EUR,\"Top-up RF18 5390 0754 7034\",王小明,1\n"
        let statement = try StatementCSVParser().parse(Data(csv.utf8), statementID: "s", account: .other("a"))
        #expect(StatementMatcher.classify(statement.entries) { Self.orders[$0] }.map(\.outcome)
                == [.matched(orderID: "ord_iso", amount: money("25", eur))])
    }
}
