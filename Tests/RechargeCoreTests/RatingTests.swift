import Foundation
import RechargeCore
import Testing

/// The rating table of issue 17: prefix ties, increments, set-up fee, minimum, time bands, roaming zones, free numbers,
/// and the one rounding rule. Pure: no database.
@Suite("Rating")
struct RatingTests {
    static let utc = TimeZone(identifier: "UTC")!
    static let shanghai = TimeZone(identifier: "Asia/Shanghai")!

    /// 2026-12-03 (a Thursday) at `hour`:`minute` in `zone`.
    static func at(_ hour: Int, _ minute: Int = 0, in zone: TimeZone = utc, day: Int = 3) -> Date {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = zone
        return calendar.date(from: DateComponents(year: 2026, month: 12, day: day, hour: hour, minute: minute))!
    }

    static func table(timeZone: TimeZone = utc) throws -> RatingTable {
        try RatingTable(
            currency: .usd,
            tariffs: [
                try Tariff(code: "voice-any", service: .voice, price: 100_000, per: 60, firstIncrement: 60, nextIncrement: 60),
                try Tariff(code: "voice-china", service: .voice, destinations: ["86"], price: 200_000, per: 60, firstIncrement: 60, nextIncrement: 60),
                try Tariff(code: "voice-china-mobile", service: .voice, destinations: ["8613", "8615"], price: 150_000, per: 60,
                           firstIncrement: 30, nextIncrement: 6, setupFee: 20_000),
                try Tariff(code: "voice-night", service: .voice, timeBand: try TimeBand(start: 22 * 60, end: 7 * 60), price: 50_000, per: 60,
                           firstIncrement: 60, nextIncrement: 60),
                try Tariff(code: "voice-japan-roaming", service: .voice, location: .zone("asia"), price: 250_000, per: 60,
                           firstIncrement: 60, nextIncrement: 60),
                try Tariff(code: "sms", service: .sms, price: 50_000, per: 1, minimumCharge: 0),
                try Tariff(code: "data-home", service: .data, price: 10_000, per: 1_048_576, firstIncrement: 1024, nextIncrement: 1024),
                try Tariff(code: "data-roaming", service: .data, location: .zone("asia"), price: 3_000_000, per: 1_048_576,
                           firstIncrement: 1024, nextIncrement: 1024, minimumCharge: 10_000),
            ],
            zones: [try RoamingZone(name: "asia", countries: ["JP", "CN"], networks: ["44010"])],
            freeNumbers: RatingTable.standardEmergencyNumbers + ["1800*"],
            homeCountries: ["US"], timeZone: timeZone)
    }

    @Test func theIssuesExample() throws {
        let rated = try Self.table().rate(try UsageEvent(service: .voice, destination: "+8613800138000", amount: 125, start: Self.at(12),
                                                          visitedCountry: "JP"))
        #expect(rated.tariff == "voice-japan-roaming")
        #expect(rated.billedUnits == 180)
        #expect(rated.charge.micros == 750_000)
        #expect(rated.explanation == "+8613800138000, voice, 125 s, roaming JP → 3 × 60 s at 0.25 = 0.75 USD")
    }

    @Test func theLongestPrefixWins() throws {
        let table = try Self.table()
        // 8613… matches 86 and 8613: the longer; 30/6 increments and the set-up fee: 30 + ⌈95/6⌉ × 6 = 126 s.
        let mobile = try table.rate(try UsageEvent(service: .voice, destination: "8613800138000", amount: 125, start: Self.at(12)))
        #expect(mobile.tariff == "voice-china-mobile")
        #expect(mobile.billedUnits == 126)
        #expect(mobile.charge.micros == 126 * 150_000 / 60 + 20_000)   // 315,000 + 20,000
        // 8610… only 86.
        #expect(try table.rate(try UsageEvent(service: .voice, destination: "861012345678", amount: 61, start: Self.at(12))).tariff == "voice-china")
        // Elsewhere the catch-all.
        #expect(try table.rate(try UsageEvent(service: .voice, destination: "14155550100", amount: 1, start: Self.at(12))).charge.micros == 100_000)
    }

    @Test func aTimeBandOverMidnightAppliesAtNightOnly() throws {
        let table = try Self.table()
        for (hour, expected) in [(21, "voice-any"), (22, "voice-night"), (23, "voice-night"), (3, "voice-night"), (7, "voice-any")] {
            #expect(try table.rate(try UsageEvent(service: .voice, destination: "14155550100", amount: 60, start: Self.at(hour))).tariff == expected,
                    "at \(hour):00")
        }
        // A longer prefix still beats a band: China at night is China's price.
        #expect(try table.rate(try UsageEvent(service: .voice, destination: "861012345678", amount: 60, start: Self.at(23))).tariff == "voice-china")
        // Bands are read in the operator's time zone: 23:00 in Shanghai is 15:00 UTC.
        let shanghai = try Self.table(timeZone: Self.shanghai)
        #expect(try shanghai.rate(try UsageEvent(service: .voice, destination: "14155550100", amount: 60, start: Self.at(23, in: Self.shanghai))).tariff
                == "voice-night")
        #expect(try shanghai.rate(try UsageEvent(service: .voice, destination: "14155550100", amount: 60, start: Self.at(23))).tariff == "voice-any")
    }

    @Test func weekdayBandsBelongToTheDayTheyStart() throws {
        let band = try TimeBand(start: 22 * 60, end: 6 * 60, weekdays: [6])   // Friday nights
        let table = try RatingTable(currency: .usd, tariffs: [
            try Tariff(code: "any", service: .voice, price: 100_000, per: 60, firstIncrement: 60, nextIncrement: 60),
            try Tariff(code: "friday-night", service: .voice, timeBand: band, price: 10_000, per: 60, firstIncrement: 60, nextIncrement: 60),
        ], homeCountries: ["US"])
        func tariff(day: Int, hour: Int) throws -> String? {
            try table.rate(try UsageEvent(service: .voice, destination: "14155550100", amount: 60, start: Self.at(hour, day: day))).tariff
        }
        #expect(try tariff(day: 4, hour: 23) == "friday-night")   // Friday 23:00
        #expect(try tariff(day: 5, hour: 2) == "friday-night")    // Saturday 02:00: Friday's night
        #expect(try tariff(day: 3, hour: 23) == "any")            // Thursday
        #expect(try tariff(day: 6, hour: 2) == "any")             // Sunday 02:00: Saturday's night
    }

    @Test func roamingIsChosenByNetworkThenCountryAndHomeIsHome() throws {
        let table = try Self.table()
        let megabyte: Int64 = 1_048_576
        let home = try table.rate(try UsageEvent(service: .data, destination: nil, amount: megabyte, start: Self.at(12), visitedCountry: "US"))
        #expect(home.tariff == "data-home" && home.zone == nil && home.charge.micros == 10_000)
        let japan = try table.rate(try UsageEvent(service: .data, destination: nil, amount: megabyte, start: Self.at(12), visitedNetwork: "44010"))
        #expect(japan.tariff == "data-roaming" && japan.zone == "asia" && japan.charge.micros == 3_000_000)
        // 1,500 bytes bill as 2 KB; 2 KB of 3.00/MB is 5,859.375 micro-units, rounded up once: 5,860, then the minimum 0.01.
        let little = try table.rate(try UsageEvent(service: .data, destination: nil, amount: 1_500, start: Self.at(12), visitedCountry: "CN"))
        #expect(little.billedUnits == 2_048 && little.charge.micros == 10_000)
        #expect(little.explanation.hasSuffix(", minimum = 0.01 USD"))
        #expect(throws: RechargeError.self, "a country no zone covers cannot be rated") {
            try table.rate(try UsageEvent(service: .data, destination: nil, amount: megabyte, start: Self.at(12), visitedCountry: "FR"))
        }
    }

    @Test func emergencyAndFreeNumbersCostNothing() throws {
        let table = try Self.table()
        for number in ["911", "112", "110", "18005551234"] {
            let rated = try table.rate(try UsageEvent(service: .voice, destination: number, amount: 600, start: Self.at(12), visitedCountry: "JP"))
            #expect(rated.free && rated.charge.micros == 0 && rated.tariff == nil, "\(number)")
        }
        // 9110 is not 911; 1900 is not in the free range.
        #expect(!(try table.rate(try UsageEvent(service: .voice, destination: "9110", amount: 60, start: Self.at(12))).free))
        #expect(!(try table.rate(try UsageEvent(service: .voice, destination: "19005551234", amount: 60, start: Self.at(12))).free))
    }

    @Test func nothingUsedCostsNothingAndSMSCountsMessages() throws {
        let table = try Self.table()
        let none = try table.rate(try UsageEvent(service: .voice, destination: "8613800138000", amount: 0, start: Self.at(12)))
        #expect(none.billedUnits == 0 && none.charge.micros == 0, "no set-up fee without a unit")
        let sms = try table.rate(try UsageEvent(service: .sms, destination: "8613800138000", amount: 3, start: Self.at(12)))
        #expect(sms.charge.micros == 150_000 && sms.explanation == "+8613800138000, sms, 3 SMS → 3 × 1 SMS at 0.05 = 0.15 USD")
    }

    @Test func theRoundingRuleAndItsLimits() throws {
        #expect(RatingRounding.charge(units: 1, price: 1, per: 3) == 1)          // ⅓ micro-unit rounds up to 1
        #expect(RatingRounding.charge(units: 3, price: 1, per: 3) == 1)
        #expect(RatingRounding.charge(units: .max, price: 2, per: 1) == nil)     // overflow is refused, never wrapped
        #expect(RatingRounding.billedUnits(1, first: 60, next: 60) == 60)
        #expect(RatingRounding.billedUnits(60, first: 60, next: 60) == 60)
        #expect(RatingRounding.billedUnits(61, first: 30, next: 6) == 66)
        #expect(throws: RechargeError.self) { try Tariff(code: "x", service: .voice, destinations: ["+86"], price: 1, per: 60) }
        #expect(throws: RechargeError.self) { try Tariff(code: "x", service: .voice, price: 1, per: 0) }
        #expect(throws: RechargeError.self) { try TimeBand(start: 600, end: 600) }
        #expect(throws: RechargeError.self) { try ChargedService("Voice") }
        #expect(throws: RechargeError.self) {
            try RatingTable(currency: .usd, tariffs: [try Tariff(code: "r", service: .data, location: .zone("mars"), price: 1, per: 1)], homeCountries: ["US"])
        }
        #expect(throws: RechargeError.self) { try UsageEvent(service: .voice, destination: "call me", amount: 1, start: Self.at(12)) }
    }
}
