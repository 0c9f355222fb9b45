import Foundation
import Testing
@testable import RechargeCore

/// The credit-control rule without a database: grants money can buy on a running total, allowances first where they
/// cover, free numbers always, commits beyond the balance, events all or nothing; and the catalog's rating section.
@Suite("Credit control")
struct CreditControlTests {
    static let definition = RatingDefinition(
        currency: "USD", homeCountries: ["US"], freeNumbers: ["112", "1800*"],
        zones: [.init(name: "asia", countries: ["JP"], networks: ["46000"])],
        tariffs: [
            .init(code: "voice-us", service: "voice", destinations: ["1"], price: "0.05", per: 60, increments: "60/60"),
            .init(code: "voice-cn", service: "voice", destinations: ["86"], price: "0.20", per: 60, increments: "60/60", setupFee: "0.10"),
            .init(code: "voice-eu", service: "voice", destinations: ["44"], price: "0.30", per: 60, increments: "30/6", minimum: "0.30"),
            .init(code: "voice-asia", service: "voice", zone: "asia", price: "0.25", per: 60, increments: "60/60"),
            .init(code: "sms", service: "sms", anywhere: true, price: "0.05", per: 1),
            .init(code: "data", service: "data", price: "0.01", per: 1_048_576, increments: "1024/1024"),
            .init(code: "data-asia", service: "data", zone: "asia", price: "0.05", per: 1_048_576, increments: "1024/1024"),
        ])

    static let table = try! definition.table(timeZone: TimeZone(identifier: "UTC")!)
    static let line = Line(id: 1, msisdn: sampleMSISDN, iccid: nil, type: .prepaid, status: .active, currency: .usd, creditLimit: Money(micros: 0, currency: .usd),
                           subscriberID: nil, createdAt: now.addingTimeInterval(-day))

    static func money(_ micros: Int64, pending: Int64 = 0) -> Bucket {
        Bucket(id: 1, lineID: 1, accountID: 11, kind: .monetary, unit: "USD", name: nil, remaining: micros, floor: 0, validFrom: now.addingTimeInterval(-day),
               validUntil: nil, priority: 1000, isMain: true, pending: pending)
    }

    static func pack(_ id: Int64, _ kind: BucketKind, _ amount: Int64, coverage: Set<String>? = nil) -> Bucket {
        Bucket(id: id, lineID: 1, accountID: 10 + id, kind: kind, unit: kind.unit(currency: .usd), name: nil, remaining: amount, floor: 0,
               validFrom: now.addingTimeInterval(-day), validUntil: now.addingTimeInterval(day), priority: 100, isMain: false, coverage: coverage)
    }

    static func decide(_ type: CreditControlRequestType, _ buckets: [Bucket], service: ChargedService = .voice, to destination: String? = "8613800138000",
                       country: String? = nil, network: String? = nil, used: Int64 = 0, requested: Int64? = nil, held: [HeldReservation] = [],
                       totals: SessionTotals = SessionTotals(), line: Line = line) -> CreditControlDecision {
        CreditControl.decide(CreditControlInput(
            type: type, line: line, buckets: buckets, held: held, totals: totals,
            use: ChargedUse(service: service, destination: destination, visitedCountry: country, visitedNetwork: network, start: now),
            used: used, requested: requested, table: table, quota: .standard, now: now))
    }

    @Test func moneyBuysWholeIncrementsOnTheRunningTotal() {
        // 0.10 set-up + 0.20 a started minute: 0.75 buys 3 minutes (0.70), not 4 (0.90).
        let grant = Self.decide(.initial, [Self.money(750_000)])
        #expect(grant.outcome == .success && grant.granted == 180 && grant.finalUnit && !grant.bar)
        #expect(grant.reserve == [BucketDraw(bucketID: 1, accountID: 11, amount: 700_000)])
        // 70 s used of it: 0.10 + 2 minutes = 0.50 charged; the rest of the 0.75 buys the total up to 180 s again.
        var totals = SessionTotals()
        let update = Self.decide(.update, [Self.money(750_000, pending: 700_000)], used: 70,
                                 held: [HeldReservation(id: 9, bucketID: 1, amount: 700_000)], totals: totals)
        #expect(update.posts == [BucketDraw(bucketID: 1, accountID: 11, amount: 500_000)])
        #expect(update.totals.charged == 500_000 && update.totals.moneyUnits == 70 && update.granted == 110)
        #expect(update.reserve.map(\.amount) == [200_000])
        // Nothing left a minute can be bought with: credit limit reached, and the line is barred.
        totals = update.totals
        let last = Self.decide(.update, [Self.money(250_000, pending: 200_000)], used: 110,
                               held: [HeldReservation(id: 10, bucketID: 1, amount: 200_000)], totals: totals)
        #expect(last.posts.map(\.amount) == [200_000] && last.totals.charged == 700_000)
        #expect(last.outcome == .creditLimitReached && last.granted == 0 && last.finalUnit && last.bar)
    }

    @Test func incrementsMinimumAndTheRoundingRule() throws {
        // 30/6 at 0.30 a minute, minimum 0.30: 7 s is billed as 30 s = 0.15, raised to the minimum.
        let short = try Self.table.rate(try UsageEvent(service: .voice, destination: "442071234567", amount: 7, start: now))
        #expect(short.billedUnits == 30 && short.charge.micros == 300_000 && short.explanation.hasSuffix(", minimum = 0.30 USD"))
        // 95 s → 30 + 11 × 6 = 96 s → 0.48; data 1,500 B → 2 KiB at 0.01 a MiB = 19.53… µ, rounded up once to 20.
        #expect(try Self.table.rate(try UsageEvent(service: .voice, destination: "442071234567", amount: 95, start: now)).charge.micros == 480_000)
        #expect(try Self.table.rate(try UsageEvent(service: .data, destination: nil, amount: 1_500, start: now)).charge.micros == 20)
        // The affordable search finds the top of the last whole increment.
        let price = try Self.table.price(try UsageEvent(service: .voice, destination: "442071234567", amount: 0, start: now))
        #expect(price.affordableUnits(budget: 480_000, upTo: 300) == 96)
        #expect(price.affordableUnits(budget: 299_999, upTo: 300) == 0)
    }

    @Test func allowancesPayFirstWhereTheyCover() {
        let home = Self.pack(2, .data, 50 << 20)
        let japan = Self.pack(3, .data, 80 << 20, coverage: ["JP"])
        let buckets = [Self.money(1_000_000), home, japan]
        // At home the home pack pays; the Japan pack does not.
        #expect(Self.decide(.initial, buckets, service: .data, to: nil).reserve.map(\.bucketID) == [2])
        // In Japan (named by the network's MCC) only the Japan pack pays.
        let roaming = Self.decide(.initial, buckets, service: .data, to: nil, network: "44010")
        #expect(roaming.reserve.map(\.bucketID) == [3] && roaming.granted == 10 << 20)
        // A network a zone lists prices as that zone; no pack covers China, so money pays at the Asia rate.
        let china = Self.decide(.initial, buckets, service: .data, to: nil, network: "46000")
        #expect(china.reserve.map(\.bucketID) == [1] && china.reserve[0].amount == 500_000)
        // A voice pack pays for calls, not for data; a pack covering a home country works at home too.
        let both = Self.pack(4, .voice, 600, coverage: ["US", "CA"])
        #expect(Self.decide(.initial, [Self.money(0), both]).reserve.map(\.bucketID) == [4])
        #expect(Self.decide(.initial, [Self.money(0), both], service: .data, to: nil).outcome == .creditLimitReached)
    }

    @Test func freeNumbersAlwaysWork() {
        var suspended = Self.line
        suspended.status = .suspended
        suspended.barredAt = now
        for number in ["112", "18005550100"] {
            let decision = Self.decide(.initial, [Self.money(0)], to: number, line: suspended)
            #expect(decision.outcome == .success && decision.granted == 300 && decision.reserve.isEmpty && decision.rated?.free == true)
        }
        #expect(Self.decide(.initial, [Self.money(1_000_000)], to: "14155550111", line: suspended).outcome == .serviceDenied(.suspended))
        // Data to a "free" number is not free.
        #expect(Self.decide(.initial, [Self.money(0)], service: .data, to: "112").outcome == .creditLimitReached)
    }

    @Test func commitsBeyondTheBalanceAndEvents() {
        // 15 minutes reported against 0.50: 0.50 is taken, 0.25 is recorded unpaid, and the session is stopped.
        let over = Self.decide(.update, [Self.money(500_000, pending: 250_000)], to: "14155550111", used: 900,
                               held: [HeldReservation(id: 1, bucketID: 1, amount: 250_000)])
        #expect(over.posts.map(\.amount) == [500_000] && over.totals.unpaid == 250_000 && over.outcome == .creditLimitReached && over.bar)
        // An SMS is charged whole or not at all: 0.04 does not pay 0.05, and nothing is posted.
        let sms = Self.decide(.event, [Self.money(40_000)], service: .sms, used: 1)
        #expect(sms.outcome == .creditLimitReached && sms.posts.isEmpty && sms.bar)
        // Another session's reservation is not this one's money.
        let held = Self.decide(.event, [Self.money(60_000, pending: 20_000)], service: .sms, used: 1)
        #expect(held.outcome == .creditLimitReached)
        #expect(Self.decide(.event, [Self.money(60_000)], service: .sms, used: 1).posts.map(\.amount) == [50_000])
    }

    @Test func ratingSectionIsChecked() {
        func table(_ entry: RatingDefinition.TariffEntry, zones: [RatingDefinition.Zone]? = nil) throws(RechargeError) -> RatingTable {
            try RatingDefinition(currency: "USD", homeCountries: ["US"], zones: zones, tariffs: [entry]).table(timeZone: TimeZone(identifier: "UTC")!)
        }
        expectRechargeError("invalid-catalog") { try table(.init(code: "x", service: "voice", zone: "asia", anywhere: true, price: "1", per: 60)) }
        expectRechargeError("invalid-catalog") { try table(.init(code: "x", service: "voice", zone: "mars", price: "1", per: 60)) }
        expectRechargeError("invalid-catalog") { try table(.init(code: "x", service: "voice", hours: "25:00-07:00", price: "1", per: 60)) }
        expectRechargeError("invalid-catalog") { try table(.init(code: "x", service: "voice", price: "1", per: 60, increments: "60")) }
        expectRechargeError("invalid-catalog") { try table(.init(code: "x", service: "voice", price: "-1", per: 60)) }
        expectRechargeError("invalid-catalog") { try table(.init(code: "x", service: "Voice", price: "1", per: 60)) }
        expectRechargeError("invalid-catalog") {
            try RatingDefinition(currency: "USD", homeCountries: [], tariffs: []).table(timeZone: TimeZone(identifier: "UTC")!)
        }
        let night = try? table(.init(code: "night", service: "voice", hours: "22:00-07:00", weekdays: [1, 7], price: "0.02", per: 60))
        #expect(night?.tariffs.first?.timeBand == (try? TimeBand(start: 1320, end: 420, weekdays: [1, 7])))
    }

    @Test func pendingIsNotAvailable() {
        #expect(Self.money(1_000_000, pending: 400_000).available(at: now) == 600_000)
        #expect(Self.money(1_000_000, pending: 1_000_000).available(at: now) == 0)
    }
}
