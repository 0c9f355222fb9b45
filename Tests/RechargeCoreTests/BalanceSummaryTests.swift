import Foundation
import Testing
@testable import RechargeCore

@Suite("BalanceSummary, OpenLineCommand and SubscriberDetails")
struct BalanceSummaryTests {
    static func line(creditLimit: Money = .zero(usd)) -> Line {
        Line(
            id: 1, msisdn: sampleMSISDN, iccid: nil, type: .prepaid, status: .active, currency: usd,
            creditLimit: creditLimit, subscriberID: nil, createdAt: now
        )
    }

    // MARK: BalanceSummary

    @Test func totalsPerUnit() {
        let buckets = [
            makeBucket(id: 1, remaining: 3_000_000, floor: -5_000_000, priority: 1000, isMain: true),
            makeBucket(id: 2, remaining: 2_000_000, validUntil: now.addingTimeInterval(day)),
            makeBucket(id: 3, remaining: 7_000_000, validUntil: now.addingTimeInterval(-day)),           // expired
            makeBucket(id: 4, kind: .data, unit: "BYTES", remaining: 1_000, validUntil: now.addingTimeInterval(day)),
            makeBucket(id: 5, kind: .data, unit: "BYTES", remaining: 500, validFrom: now.addingTimeInterval(day)), // not yet valid
            makeBucket(id: 6, kind: .data, unit: "BYTES", remaining: 250, validUntil: now.addingTimeInterval(2 * day)),
        ]
        let summary = BalanceSummary(line: Self.line(creditLimit: Money(micros: 5_000_000, currency: usd)), buckets: buckets, at: now)
        #expect(summary.asOf == now)
        #expect(summary.line == Self.line(creditLimit: Money(micros: 5_000_000, currency: usd)))
        #expect(summary.buckets.map(\.id) == ConsumptionOrder.sorted(buckets).map(\.id))
        let usdTotal = try! #require(summary.totals.first { $0.unit == "USD" })
        #expect(usdTotal.kind == .monetary)
        #expect(usdTotal.remaining == 5_000_000)         // the expired 7_000_000 counts 0
        #expect(usdTotal.available == 10_000_000)        // 3 + 5 credit + 2
        let bytes = try! #require(summary.totals.first { $0.unit == "BYTES" })
        #expect(bytes.kind == .data)
        #expect(bytes.remaining == 1_250)
        #expect(bytes.available == 1_250)
        #expect(summary.totals.count == 2)
    }

    @Test func totalsFollowConsumptionOrderOfFirstAppearance() {
        let buckets = [
            makeBucket(id: 1, remaining: 1, priority: 1000, isMain: true),
            makeBucket(id: 2, kind: .sms, unit: "SMS", remaining: 10, priority: 10),
            makeBucket(id: 3, kind: .voice, unit: "SECONDS", remaining: 60, priority: 50),
        ]
        let summary = BalanceSummary(line: Self.line(), buckets: buckets, at: now)
        #expect(summary.totals.map(\.unit) == ["SMS", "SECONDS", "USD"])
        #expect(summary.totals.map(\.kind) == [.sms, .voice, .monetary])
    }

    @Test func negativeMainBalanceWithCreditLimit() {
        let main = makeBucket(id: 1, remaining: -2_000_000, floor: -5_000_000, priority: 1000, isMain: true)
        let summary = BalanceSummary(line: Self.line(creditLimit: Money(micros: 5_000_000, currency: usd)), buckets: [main], at: now)
        #expect(summary.totals == [BalanceSummary.Total(kind: .monetary, unit: "USD", remaining: -2_000_000, available: 3_000_000)])
    }

    @Test func expiredOnlyUnitStillListedWithZero() {
        let expired = makeBucket(id: 1, kind: .data, unit: "BYTES", remaining: 9_999, validUntil: now)
        let summary = BalanceSummary(line: Self.line(), buckets: [expired], at: now)
        #expect(summary.totals == [BalanceSummary.Total(kind: .data, unit: "BYTES", remaining: 0, available: 0)])
        // One second earlier it was still valid.
        let earlier = BalanceSummary(line: Self.line(), buckets: [expired], at: now.addingTimeInterval(-1))
        #expect(earlier.totals == [BalanceSummary.Total(kind: .data, unit: "BYTES", remaining: 9_999, available: 9_999)])
    }

    @Test func emptySummary() {
        let summary = BalanceSummary(line: Self.line(), buckets: [], at: now)
        #expect(summary.buckets.isEmpty)
        #expect(summary.totals.isEmpty)
    }

    @Test func totalsSaturateInsteadOfTrapping() {
        let buckets = [
            makeBucket(id: 1, kind: .data, unit: "BYTES", remaining: .max),
            makeBucket(id: 2, kind: .data, unit: "BYTES", remaining: .max),
        ]
        let summary = BalanceSummary(line: Self.line(), buckets: buckets, at: now)
        #expect(summary.totals.first?.remaining == .max)
        #expect(summary.totals.first?.available == .max)
    }

    // MARK: OpenLineCommand

    @Test func openLineDefaults() throws {
        let iccid = try ICCID("8944500102198304826")
        let command = try OpenLineCommand(msisdn: sampleMSISDN, iccid: iccid, type: .prepaid, currency: usd, creditLimit: nil, subscriber: nil)
        #expect(command.creditLimit == .zero(usd))
        #expect(command.iccid == iccid)
        #expect(command.type == .prepaid)
        #expect(command.currency == usd)
        #expect(command.subscriber == nil)
    }

    @Test func openLineWithCreditLimit() throws {
        let limit = try Money(decimal: "50", currency: cny)
        let command = try OpenLineCommand(msisdn: sampleMSISDN, iccid: nil, type: .postpaid, currency: cny, creditLimit: limit, subscriber: nil)
        #expect(command.creditLimit == limit)
        let maximum = Money(micros: OpenLineCommand.maximumCreditLimitMicros, currency: usd)
        #expect(try OpenLineCommand(msisdn: sampleMSISDN, iccid: nil, type: .postpaid, currency: usd, creditLimit: maximum, subscriber: nil).creditLimit == maximum)
        #expect(OpenLineCommand.maximumCreditLimitMicros == 1_000_000_000_000_000)
    }

    @Test func openLineValidation() throws {
        #expect(throws: RechargeError.currencyMismatch(expected: "USD", got: "CNY")) {
            try OpenLineCommand(msisdn: sampleMSISDN, iccid: nil, type: .postpaid, currency: usd, creditLimit: .zero(cny), subscriber: nil)
        }
        let negative = Money(micros: -1, currency: usd)
        let error = expectRechargeError("invalid-amount") {
            try OpenLineCommand(msisdn: sampleMSISDN, iccid: nil, type: .postpaid, currency: usd, creditLimit: negative, subscriber: nil)
        }
        if case .invalidAmount(let text, _)? = error { #expect(text == "-0.000001") }
        #expect(throws: RechargeError.amountOverflow) {
            try OpenLineCommand(
                msisdn: sampleMSISDN, iccid: nil, type: .postpaid, currency: usd,
                creditLimit: Money(micros: OpenLineCommand.maximumCreditLimitMicros + 1, currency: usd), subscriber: nil
            )
        }
        #expect(throws: RechargeError.amountOverflow) {
            try OpenLineCommand(msisdn: sampleMSISDN, iccid: nil, type: .postpaid, currency: usd, creditLimit: Money(micros: .max, currency: usd), subscriber: nil)
        }
    }

    // MARK: SubscriberDetails

    @Test func subscriberDefaults() throws {
        let details = try SubscriberDetails(name: nil, email: nil, language: nil)
        #expect(details.name == nil)
        #expect(details.email == nil)
        #expect(details.language == "en")
        let full = try SubscriberDetails(name: "Li Wei", email: "li.wei@example.cn", language: "zh-Hans")
        #expect(full.name == "Li Wei")
        #expect(full.email == "li.wei@example.cn")
        #expect(full.language == "zh-Hans")
        #expect(try SubscriberDetails(name: String(repeating: "n", count: 200), email: nil, language: "en").name?.count == 200)
        let command = try OpenLineCommand(msisdn: sampleMSISDN, iccid: nil, type: .prepaid, currency: usd, creditLimit: nil, subscriber: full)
        #expect(command.subscriber == full)
    }

    @Test("invalid subscriber names", arguments: ["", String(repeating: "n", count: 201)])
    func invalidName(name: String) {
        expectRechargeError("invalid-request") { try SubscriberDetails(name: name, email: nil, language: nil) }
    }

    @Test("invalid emails", arguments: [
        "", "plain", "@example.com", "a@b", "a@@example.com", "a@b@example.com", "a b@example.com",
        "a@example .com", String(repeating: "a", count: 250) + "@b.cn",
    ])
    func invalidEmail(email: String) {
        expectRechargeError("invalid-request") { try SubscriberDetails(name: nil, email: email, language: nil) }
    }

    @Test("valid emails", arguments: ["a@b.c", "first.last+tag@example.co.uk", String(repeating: "a", count: 248) + "@b.cn"])
    func validEmail(email: String) throws {
        #expect(try SubscriberDetails(name: nil, email: email, language: nil).email == email)
    }

    @Test("unsupported languages", arguments: ["", "fr", "EN", "zh", "zh-hans", "zh-Hant"])
    func invalidLanguage(language: String) {
        expectRechargeError("invalid-request") { try SubscriberDetails(name: nil, email: nil, language: language) }
    }
}
