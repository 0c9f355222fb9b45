import Foundation
import RechargeCore
@testable import RechargeStore
import RechargeTestSupport
import Testing

/// Offline usage on each engine: a mixed CDR file charged exactly with its bad rows listed by line, the same file
/// imported again (and concurrently) charging once, travel-pack coverage, offline use beyond the balance recorded as
/// unpaid without touching a live session's reservation, and re-rating that posts only differences, once.
enum CDRScenarios {
    static let now = ChargingScenarios.now
    static let alice = ChargingScenarios.alice
    static let bob = LedgerScenarios.bob

    struct Fixture {
        let database: Database
        let ledger: LedgerStore
        let charging: ChargingStore
        let cdrs: CDRImportStore
        let catalogs: CatalogStore
    }

    static func with(_ backend: Backend, _ body: (Fixture) async throws -> Void) async throws {
        try await ChargingScenarios.with(backend) { charging in
            let catalogs = CatalogStore(database: charging.database)
            try await body(Fixture(database: charging.database, ledger: charging.ledger, charging: charging.charging,
                                   cdrs: CDRImportStore(database: charging.database, catalogs: catalogs), catalogs: catalogs))
        }
    }

    /// `start` as a CDR writes it: RFC 3339 in China's offset (the reader must honour it).
    static func at(_ seconds: TimeInterval) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.timeZone = TimeZone(secondsFromGMT: 8 * 3600)
        return formatter.string(from: now.addingTimeInterval(seconds))
    }

    static let header = "record_id,msisdn,service,start,quantity,destination,visited\n"

    static func file(_ rows: [String]) -> Data { Data((header + rows.joined(separator: "\n") + "\n").utf8) }

    static func money(_ fixture: Fixture) async throws -> Int64 {
        try await fixture.ledger.balance(alice, at: now).totals.first { $0.kind == .monetary }?.remaining ?? 0
    }

    static func cdrUsage(_ fixture: Fixture) async throws -> [ChargingStore.UsageItem] {
        try await fixture.charging.usage(alice, from: nil, until: nil, before: nil, limit: 100).items.filter { $0.source == "cdr" }
    }

    /// A file of good rows, a bad date, a duplicate id, an unknown number, an IMSI-only row, an unpriced place and a
    /// malformed quote: the good rows are charged exactly, the rest listed with their line numbers; importing it again
    /// charges nothing and says so.
    static func mixedFileIsChargedOnceWithRejectsByLine(_ backend: Backend) async throws {
        try await with(backend) { fixture in
            try await LedgerScenarios.topUp(fixture.ledger, alice, "5.00", key: "t1")
            let data = file([
                "c1,+14155550100,voice,\(at(0)),125,+8613800138000,",        // line 2: 0.10 + 3 × 0.20 = 0.70
                "c2,+14155550100,sms,\(at(60)),1,+8613800138000,",           // line 3: 0.05
                "c3,+14155550100,data,\(at(120)),1500,,",                    // line 4: 2 KB at 0.01 a MB = 0.00002
                "c4,+14155550100,voice,yesterday,60,+14155550111,",          // line 5: bad start
                "c1,+14155550100,voice,\(at(0)),60,+14155550111,",           // line 6: duplicate id
                "c5,+14155550199,voice,\(at(0)),60,+14155550111,",           // line 7: unknown number
                "c6,,voice,\(at(0)),60,+14155550111,",                       // line 8: no msisdn
                "c7,+14155550100,data,\(at(0)),1000,,BR",                    // line 9: no zone covers Brazil
                "\"c8,+14155550100,sms,\(at(0)),1,112,",                     // line 10: unterminated quote (runs to the end)
            ])
            let first = try await fixture.cdrs.importFile(data, name: "mixed.csv", now: now, chunkSize: 4)
            #expect(first.state == "done" && first.rows == 9 && first.imported == 3 && first.alreadyImported == 0 && first.rejected == 6)
            #expect(first.charged == 750_020 && first.unpaid == 0 && first.currency == "USD")
            #expect(try await money(fixture) == 5_000_000 - 750_020)
            let rejects = try await fixture.cdrs.rejects(importID: first.importID)
            #expect(rejects.map(\.lineNumber) == [5, 6, 7, 8, 9, 10])
            #expect(rejects.map(\.code) == ["invalid-field", "duplicate-record-id", "unknown-number", "missing-field", "not-rated", "malformed-row"])
            #expect(rejects.allSatisfy { $0.file == "mixed.csv" && !$0.reason.isEmpty })
            #expect(rejects[1].recordID == "c1" && rejects[1].reason.contains("line 2"))

            // Itemized usage and the ledger's debits, on the network channel.
            let usage = try await cdrUsage(fixture)
            #expect(usage.count == 3)
            let call = try #require(usage.first { $0.service == "voice" })
            #expect(call.units == 125 && call.charge == 700_000 && call.tariff == "voice-cn" && call.destination == "8613800138000")
            let history = try await fixture.ledger.history(alice, from: nil, until: nil, before: nil, limit: 20).operations
            #expect(history.filter { $0.kind == .debit && $0.channel == .network }.map { -$0.entries[0].amount }.sorted() == [20, 50_000, 700_000])

            // Again: nothing is charged; the summary says the records were imported already.
            let second = try await fixture.cdrs.importFile(data, name: "mixed.csv", now: now)
            #expect(second.imported == 0 && second.alreadyImported == 3 && second.rejected == 6 && second.charged == 0)
            #expect(try await money(fixture) == 5_000_000 - 750_020)
            #expect(try await cdrUsage(fixture).count == 3)
            #expect(try await fixture.cdrs.rejects(importID: nil).count == 12)
        }
    }

    /// Four imports of one file at once: each record is charged by exactly one of them.
    static func concurrentImportsChargeOnce(_ backend: Backend) async throws {
        try await with(backend) { fixture in
            _ = try await LedgerScenarios.open(fixture.ledger, bob)
            try await LedgerScenarios.topUp(fixture.ledger, alice, "50.00", key: "t1")
            try await LedgerScenarios.topUp(fixture.ledger, bob, "50.00", key: "t2")
            let rows = (0..<200).map { index in
                "k\(index),\(index % 2 == 0 ? "+14155550100" : "+14155550101"),sms,\(at(Double(index))),1,+14155550111,"
            }
            let data = file(rows)
            let cdrs = fixture.cdrs
            let summaries = try await withThrowingTaskGroup(of: CDRImportStore.Summary.self) { group in
                for number in 0..<4 {
                    group.addTask { try await cdrs.importFile(data, name: "same-\(number).csv", now: now, chunkSize: 25) }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(summaries.reduce(0) { $0 + $1.imported } == 200)
            #expect(summaries.allSatisfy { $0.imported + $0.alreadyImported == 200 && $0.rejected == 0 })
            #expect(try await money(fixture) == 50_000_000 - 100 * 50_000)
            #expect(try await fixture.ledger.balance(bob, at: now).totals.first { $0.kind == .monetary }?.remaining == 50_000_000 - 100 * 50_000)
        }
    }

    /// A Japan data pack pays only for records used in Japan; records at home or in Korea are charged money.
    static func travelPackCoversOnlyItsCountries(_ backend: Backend) async throws {
        try await with(backend) { fixture in
            try await LedgerScenarios.topUp(fixture.ledger, alice, "1.00", key: "t1")
            let grant = try BucketGrant(kind: .data, amount: 100 << 20, name: "Japan 100 MB", validFrom: now, validUntil: now.addingTimeInterval(86_400),
                                        priority: BucketGrant.defaultPriority, coverage: ["JP"])
            _ = try await fixture.ledger.topUp(try TopUpCommand(msisdn: alice, value: .bucket(grant, currency: .usd), channel: .online, reference: nil),
                                               key: try IdempotencyKey("pack-jp"), now: now)
            let summary = try await fixture.cdrs.importFile(file([
                "d1,+14155550100,data,\(at(0)),\(3 << 20),,JP",      // the pack: 3 MB
                "d2,+14155550100,data,\(at(10)),\(2 << 20),,KR",     // money at the zone's 0.05 a MB: 0.10
                "d3,+14155550100,data,\(at(20)),1500,,",             // money at home: 0.00002
                "d4,+14155550100,data,\(at(30)),\(1 << 20),,44010",  // a Japanese network (MCC 440): the pack
            ]), name: "data.csv", now: now)
            #expect(summary.imported == 4 && summary.charged == 100_020)
            let data = try await fixture.ledger.balance(alice, at: now).totals.first { $0.kind == .data }
            #expect(data?.remaining == 96 << 20)
            #expect(try await money(fixture) == 1_000_000 - 100_020)
            let usage = try await cdrUsage(fixture)
            #expect(usage.first { $0.visitedCountry == "JP" && $0.units == 3 << 20 }?.bucketUnits == 3 << 20)
        }
    }

    /// Offline use beyond the balance: what the balance has is charged, the rest recorded as unpaid; a live session's
    /// reservation is not touched, and the balance never goes below its floor.
    static func offlineUseBeyondTheBalanceIsRecordedUnpaid(_ backend: Backend) async throws {
        try await with(backend) { fixture in
            try await LedgerScenarios.topUp(fixture.ledger, alice, "1.00", key: "t1")
            // A live call holds 5 minutes at 0.05 (0.25) of the balance.
            let session = try await fixture.charging.handle(try ChargingScenarios.request("live-1", 0, .initial, to: "+14155550100"))
            #expect(session.services[0].grantedUnits == 300)
            // 30 minutes to the US (1.50) offline: 0.75 is free of the reservation.
            let summary = try await fixture.cdrs.importFile(file(["u1,+14155550100,voice,\(at(0)),1800,+14155550111,"]), name: "long.csv", now: now)
            #expect(summary.imported == 1 && summary.charged == 750_000 && summary.unpaid == 750_000)
            #expect(try await money(fixture) == 250_000)
            let state = try #require(try await fixture.charging.session("live-1"))
            #expect(state.services[0].reserved == 250_000)
            let usage = try #require(try await cdrUsage(fixture).first)
            #expect(usage.charge == 750_000 && usage.unpaid == 750_000)
            // The session still ends normally and pays its own use from what it held.
            let end = try await fixture.charging.handle(try ChargingScenarios.request("live-1", 1, .termination, to: "+14155550100", used: 60))
            #expect(end.services[0].charged == 50_000)
            #expect(try await money(fixture) == 200_000)
        }
    }

    /// After a tariff fix, re-rating posts only the differences — a further debit, a refund — and a second run posts
    /// nothing; records outside the period are not touched.
    static func rerateAfterATariffFixPostsOnlyDifferences(_ backend: Backend) async throws {
        try await with(backend) { fixture in
            try await LedgerScenarios.topUp(fixture.ledger, alice, "5.00", key: "t1")
            let summary = try await fixture.cdrs.importFile(file([
                "v1,+14155550100,voice,\(at(0)),125,+8613800138000,",   // 0.70 at 0.20 a minute + 0.10
                "s1,+14155550100,sms,\(at(60)),1,+8613800138000,",      // 0.05
                "s2,+14155550100,sms,\(at(7_200)),1,+8613800138000,",   // 0.05, outside the period re-rated
                "v2,+14155550100,voice,\(at(120)),60,+14155550111,",    // 0.05, unchanged by the fix
            ]), name: "before.csv", now: now)
            #expect(summary.charged == 850_000)
            #expect(try await money(fixture) == 4_150_000)

            // The fix: China calls cost 0.30 a minute, SMS 0.02.
            var tariffs = ChargingScenarios.rating.tariffs
            tariffs = tariffs.map { tariff in
                switch tariff.code {
                case "voice-cn": .init(code: "voice-cn", service: "voice", destinations: ["86"], price: "0.30", per: 60, increments: "60/60", setupFee: "0.10")
                case "sms": .init(code: "sms", service: "sms", anywhere: true, price: "0.02", per: 1)
                default: tariff
                }
            }
            let fixed = RatingDefinition(currency: "USD", homeCountries: ["US"], freeNumbers: ["911", "112", "1800*"],
                                         zones: ChargingScenarios.rating.zones, tariffs: tariffs)
            _ = try await fixture.catalogs.importCatalog(try Catalog(CatalogDefinition(customTopUp: nil, products: [], rating: fixed)), now: now)

            let rerate = try await fixture.cdrs.rerate(from: now.addingTimeInterval(-60), until: now.addingTimeInterval(3_600), now: now)
            #expect(rerate.examined == 3 && rerate.rerated == 2 && rerate.unchanged == 1)
            #expect(rerate.debited == 300_000 && rerate.refunded == 30_000 && rerate.unpaidAdded == 0)
            #expect(try await money(fixture) == 4_150_000 - 300_000 + 30_000)
            let usage = try await cdrUsage(fixture)
            #expect(usage.first { $0.service == "voice" && $0.units == 125 }?.charge == 1_000_000)
            #expect(usage.first { $0.service == "sms" && $0.startedAt < now.addingTimeInterval(3_600) }?.charge == 20_000)
            #expect(usage.first { $0.service == "sms" && $0.startedAt > now.addingTimeInterval(3_600) }?.charge == 50_000)

            // Again: nothing more.
            let again = try await fixture.cdrs.rerate(from: now.addingTimeInterval(-60), until: now.addingTimeInterval(3_600), now: now)
            #expect(again.examined == 3 && again.rerated == 0 && again.debited == 0 && again.refunded == 0)
            #expect(try await money(fixture) == 4_150_000 - 300_000 + 30_000)
            let history = try await fixture.ledger.history(alice, from: nil, until: nil, before: nil, limit: 20).operations
            #expect(history.filter { $0.channel == .network }.count == 6)

            // The import again after re-rating still charges nothing.
            let reimport = try await fixture.cdrs.importFile(file(["v1,+14155550100,voice,\(at(0)),125,+8613800138000,"]), name: "again.csv", now: now)
            #expect(reimport.imported == 0 && reimport.alreadyImported == 1)
        }
    }

    /// A higher price the balance cannot pay is added to unpaid; a lower one cancels unpaid before refunding.
    static func rerateMovesUnpaidFirst(_ backend: Backend) async throws {
        try await with(backend) { fixture in
            try await LedgerScenarios.topUp(fixture.ledger, alice, "0.60", key: "t1")
            _ = try await fixture.cdrs.importFile(file(["w1,+14155550100,voice,\(at(0)),125,+8613800138000,"]), name: "w.csv", now: now)
            // 0.70 due, 0.60 paid, 0.10 unpaid.
            #expect(try await cdrUsage(fixture).first?.unpaid == 100_000)
            var tariffs = ChargingScenarios.rating.tariffs
            tariffs = tariffs.map { $0.code == "voice-cn" ? .init(code: "voice-cn", service: "voice", destinations: ["86"], price: "0.10", per: 60, increments: "60/60") : $0 }
            let cheaper = RatingDefinition(currency: "USD", homeCountries: ["US"], freeNumbers: ["911", "112"], zones: ChargingScenarios.rating.zones, tariffs: tariffs)
            _ = try await fixture.catalogs.importCatalog(try Catalog(CatalogDefinition(customTopUp: nil, products: [], rating: cheaper)), now: now)
            // 0.30 now: the 0.10 unpaid is cancelled and 0.30 of the 0.60 paid comes back.
            let rerate = try await fixture.cdrs.rerate(from: now.addingTimeInterval(-1), until: now.addingTimeInterval(1), now: now)
            #expect(rerate.rerated == 1 && rerate.unpaidCancelled == 100_000 && rerate.refunded == 300_000)
            #expect(try await money(fixture) == 300_000)
            let usage = try #require(try await cdrUsage(fixture).first)
            #expect(usage.charge == 300_000 && usage.unpaid == 0)
        }
    }
}

@Suite("CDR import on SQLite")
struct SQLiteCDRTests {
    @Test func mixedFile() async throws { try await CDRScenarios.mixedFileIsChargedOnceWithRejectsByLine(.sqlite) }
    @Test func concurrentImports() async throws { try await CDRScenarios.concurrentImportsChargeOnce(.sqlite) }
    @Test func coverage() async throws { try await CDRScenarios.travelPackCoversOnlyItsCountries(.sqlite) }
    @Test func unpaid() async throws { try await CDRScenarios.offlineUseBeyondTheBalanceIsRecordedUnpaid(.sqlite) }
    @Test func rerate() async throws { try await CDRScenarios.rerateAfterATariffFixPostsOnlyDifferences(.sqlite) }
    @Test func rerateUnpaid() async throws { try await CDRScenarios.rerateMovesUnpaidFirst(.sqlite) }
}

@Suite("CDR import on PostgreSQL", .enabled(if: TestDatabase.postgresAvailable, "RECHARGE_TEST_POSTGRES_URL is not set: run scripts/test to start PostgreSQL"))
struct PostgresCDRTests {
    @Test func mixedFile() async throws { try await CDRScenarios.mixedFileIsChargedOnceWithRejectsByLine(.postgres) }
    @Test func concurrentImports() async throws { try await CDRScenarios.concurrentImportsChargeOnce(.postgres) }
    @Test func coverage() async throws { try await CDRScenarios.travelPackCoversOnlyItsCountries(.postgres) }
    @Test func unpaid() async throws { try await CDRScenarios.offlineUseBeyondTheBalanceIsRecordedUnpaid(.postgres) }
    @Test func rerate() async throws { try await CDRScenarios.rerateAfterATariffFixPostsOnlyDifferences(.postgres) }
    @Test func rerateUnpaid() async throws { try await CDRScenarios.rerateMovesUnpaidFirst(.postgres) }
}
