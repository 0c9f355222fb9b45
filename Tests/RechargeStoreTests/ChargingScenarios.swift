import Foundation
import RechargeCore
@testable import RechargeStore
import RechargeTestSupport
import Testing

/// Online charging on each engine: a whole call rated on its running total, retransmissions answered once, a commit
/// larger than the balance, barring and the restore a top-up brings, emergency calls at zero, travel-pack coverage,
/// concurrent sessions that never overspend, and reservations expiring when the network goes silent.
enum ChargingScenarios {
    static let now = LedgerScenarios.now
    static let alice = LedgerScenarios.alice

    static let rating = RatingDefinition(
        currency: "USD", homeCountries: ["US"], freeNumbers: ["911", "112", "1800*"],
        zones: [.init(name: "asia", countries: ["JP", "KR"], networks: nil)],
        tariffs: [
            .init(code: "voice-us", service: "voice", destinations: ["1"], price: "0.05", per: 60, increments: "60/60"),
            .init(code: "voice-cn", service: "voice", destinations: ["86"], price: "0.20", per: 60, increments: "60/60", setupFee: "0.10"),
            .init(code: "voice-roam-asia", service: "voice", zone: "asia", price: "0.25", per: 60, increments: "60/60"),
            .init(code: "sms", service: "sms", anywhere: true, price: "0.05", per: 1),
            .init(code: "data-home", service: "data", price: "0.01", per: 1_048_576, increments: "1024/1024"),
            .init(code: "data-asia", service: "data", zone: "asia", price: "0.05", per: 1_048_576, increments: "1024/1024"),
        ])

    struct Fixture {
        let database: Database
        let ledger: LedgerStore
        let charging: ChargingStore
    }

    static func with(_ backend: Backend, _ body: (Fixture) async throws -> Void) async throws {
        try await TestDatabase.with(backend) { database in
            let catalogs = CatalogStore(database: database)
            _ = try await catalogs.importCatalog(try Catalog(CatalogDefinition(customTopUp: nil, products: [], rating: rating)), now: now)
            let fixture = Fixture(database: database, ledger: LedgerStore(database: database), charging: ChargingStore(database: database, catalogs: catalogs))
            _ = try await LedgerScenarios.open(fixture.ledger, alice)
            try await body(fixture)
            let audit = try await LedgerAudit(database: database).run()
            #expect(audit.isBalanced, "\(audit.discrepancies)")
        }
    }

    static func request(_ session: String, _ number: Int64, _ type: CreditControlRequestType, service: ChargedService = .voice,
                        to destination: String? = "+8613800138000", country: String? = nil, used: Int64 = 0, requested: Int64? = nil,
                        at instant: Date = now, msisdn: MSISDN = alice) throws -> ChargingRequest {
        let use = ChargedUse(service: service, destination: destination.map { String($0.drop { $0 == "+" }) }, visitedCountry: country,
                             visitedNetwork: nil, start: now)
        return try ChargingRequest(sessionID: session, requestNumber: number, type: type, msisdn: msisdn, interface: .diameter(peer: "pgw.test"),
                                   services: [try ServiceCreditRequest(key: "", use: use, used: used, requested: requested)], now: instant)
    }

    static func money(_ fixture: Fixture, at instant: Date = now) async throws -> (remaining: Int64, available: Int64) {
        let total = try await fixture.ledger.balance(alice, at: instant).totals.first { $0.kind == .monetary }
        return (total?.remaining ?? 0, total?.available ?? 0)
    }

    static func wholeCallIsRatedOnItsRunningTotal(_ backend: Backend) async throws {
        try await with(backend) { fixture in
            try await LedgerScenarios.topUp(fixture.ledger, alice, "1.00", key: "t1")
            // 0.10 set-up + 0.20 a started minute: 1.00 buys 4 minutes, not the 5-minute quota, so this is the final unit.
            let initial = try await fixture.charging.handle(try request("call-1", 0, .initial))
            #expect(initial.result == .success && initial.services[0].grantedUnits == 240 && initial.services[0].finalUnit)
            #expect(try await money(fixture) == (1_000_000, 100_000))

            // 125 s used: 0.10 + 3 × 0.20 = 0.70 charged; the rest of the money buys the running total up to 240 s.
            let update = try await fixture.charging.handle(try request("call-1", 1, .update, used: 125))
            #expect(update.result == .success && update.services[0].charged == 700_000 && update.services[0].grantedUnits == 115)
            #expect(update.services[0].explanation == "+8613800138000, voice, 125 s → 3 × 60 s at 0.20 + set-up 0.10 = 0.70 USD")
            #expect(try await money(fixture) == (300_000, 100_000))

            // The same request again (a retransmission): the same answer, nothing changes.
            let again = try await fixture.charging.handle(try request("call-1", 1, .update, used: 125))
            #expect(again.replayed == true && again.services == update.services)
            #expect(try await money(fixture) == (300_000, 100_000))
            // The same number with another body is refused.
            await #expect(throws: RechargeError.self) { _ = try await fixture.charging.handle(try request("call-1", 1, .update, used: 126)) }
            // An earlier number with another body is refused too, and changes nothing.
            await #expect(throws: RechargeError.self) { _ = try await fixture.charging.handle(try request("call-1", 0, .update, used: 5)) }

            // Terminate after 100 s more: 225 s in all is 4 minutes, 0.90; the reservation's rest is released.
            let end = try await fixture.charging.handle(try request("call-1", 2, .termination, used: 100))
            #expect(end.result == .success && end.services[0].charged == 200_000 && end.services[0].sessionCharge == 900_000)
            #expect(try await money(fixture) == (100_000, 100_000))
            let session = try #require(try await fixture.charging.session("call-1"))
            #expect(session.services[0].state == "closed" && session.services[0].reserved == 0 && session.services[0].usedUnits == 225)
            let usage = try await fixture.charging.usage(alice, from: nil, until: nil, before: nil, limit: 10).items
            #expect(usage.count == 1 && usage[0].units == 225 && usage[0].charge == 900_000 && usage[0].destination == "8613800138000"
                    && usage[0].tariff == "voice-cn")
            // After the end, the session takes no more requests.
            #expect(try await fixture.charging.handle(try request("call-1", 3, .update, used: 10)).result == .unknownSession)
            // Each used amount is a ledger debit on the network channel, listed in the history.
            let history = try await fixture.ledger.history(alice, from: nil, until: nil, before: nil, limit: 10).operations
            #expect(history.filter { $0.kind == .debit && $0.channel == .network }.map { -$0.entries[0].amount } == [200_000, 700_000])
        }
    }

    static func commitBeyondTheBalanceBarsAndATopUpRestores(_ backend: Backend) async throws {
        try await with(backend) { fixture in
            try await LedgerScenarios.topUp(fixture.ledger, alice, "0.50", key: "t1")
            let initial = try await fixture.charging.handle(try request("call-2", 0, .initial, to: "+14155550100"))
            #expect(initial.services[0].grantedUnits == 300 && !initial.services[0].finalUnit)
            // The network reports 15 minutes (0.75): the balance pays 0.50 and no more, the session is told to stop.
            let update = try await fixture.charging.handle(try request("call-2", 1, .update, to: "+14155550100", used: 900))
            #expect(update.result == .creditLimitReached && update.services[0].finalUnit && update.services[0].charged == 500_000)
            #expect(update.barred)
            #expect(try await money(fixture) == (0, 0))
            #expect(try await fixture.ledger.line(alice).barredAt != nil)
            // A new call is refused; an emergency call is not.
            let refused = try await fixture.charging.handle(try request("call-3", 0, .initial, to: "+14155550100"))
            #expect(refused.result == .creditLimitReached && refused.services[0].grantedUnits == 0)
            let emergency = try await fixture.charging.handle(try request("sos-1", 0, .initial, to: "112"))
            #expect(emergency.result == .success && emergency.services[0].grantedUnits == 300)

            // A top-up clears the bar, queues a re-auth for the open session that was given its final unit, and says so.
            try await LedgerScenarios.topUp(fixture.ledger, alice, "5.00", key: "t2")
            #expect(try await fixture.ledger.line(alice).barredAt == nil)
            let reauths = try await fixture.database.read { db in
                try await db.raw("SELECT session_id, peer, state FROM charging_reauths").all().map { (try $0.string("session_id"), try $0.string("peer")) }
            }
            #expect(reauths.map(\.0) == ["call-2"] && reauths.map(\.1) == ["pgw.test"])
            let events = try await fixture.database.read { db in
                try await db.raw("SELECT event FROM outbox ORDER BY id").all().map { try $0.string("event") }
            }
            #expect(events.contains("service_suspended") && events.contains("service_restored"))
            // The network asks again after the re-auth and gets a new grant.
            let resumed = try await fixture.charging.handle(try request("call-2", 2, .update, to: "+14155550100", used: 0))
            #expect(resumed.result == .success && resumed.services[0].grantedUnits == 300)
            _ = try await fixture.charging.handle(try request("call-2", 3, .termination, to: "+14155550100", used: 30))
            _ = try await fixture.charging.handle(try request("sos-1", 1, .termination, to: "112", used: 75))
            let usage = try await fixture.charging.usage(alice, from: nil, until: nil, before: nil, limit: 10).items
            let sos = try #require(usage.first { $0.destination == "112" })
            #expect(sos.free && sos.charge == 0 && sos.units == 75)
            // 5.00 less the 0.05 minute after the restore: the unpaid 0.25 is recorded, never taken from the new money.
            #expect(try await money(fixture).remaining == 4_950_000)
            #expect(usage.first { $0.destination == "14155550100" }?.unpaid == 250_000)
        }
    }

    static func emergencyCallsWorkOnASuspendedLine(_ backend: Backend) async throws {
        try await with(backend) { fixture in
            _ = try await fixture.ledger.changeStatus(alice, to: .suspended, now: now)
            let emergency = try await fixture.charging.handle(try request("sos-2", 0, .initial, to: "911"))
            #expect(emergency.result == .success && emergency.services[0].grantedUnits == 300)
            let tollFree = try await fixture.charging.handle(try request("free-1", 0, .initial, to: "18005550100"))
            #expect(tollFree.result == .success)
            let call = try await fixture.charging.handle(try request("call-4", 0, .initial, to: "+14155550100"))
            #expect(call.result == .serviceDenied)
            let sms = try await fixture.charging.handle(try request("sms-0", 0, .event, service: .sms, to: "+14155550100", used: 1))
            #expect(sms.result == .serviceDenied)
        }
    }

    static func travelPackIsDrawnOnlyWhereItCovers(_ backend: Backend) async throws {
        try await with(backend) { fixture in
            try await LedgerScenarios.topUp(fixture.ledger, alice, "1.00", key: "t1")
            let grant = try BucketGrant(kind: .data, amount: 100 << 20, name: "Japan 100 MB", validFrom: now, validUntil: now.addingTimeInterval(86_400),
                                        priority: BucketGrant.defaultPriority, coverage: ["JP"])
            _ = try await fixture.ledger.topUp(try TopUpCommand(msisdn: alice, value: .bucket(grant, currency: .usd), channel: .online, reference: nil),
                                               key: try IdempotencyKey("pack-jp"), now: now)
            // In Japan: the pack pays.
            let japan = try await fixture.charging.handle(try request("data-jp", 0, .initial, service: .data, to: nil, country: "JP"))
            #expect(japan.services[0].grantedUnits == 10 << 20 && japan.services[0].charged == 0)
            let japanEnd = try await fixture.charging.handle(try request("data-jp", 1, .termination, service: .data, to: nil, country: "JP", used: 3 << 20))
            #expect(japanEnd.services[0].charged == 0)
            let data = try await fixture.ledger.balance(alice, at: now).totals.first { $0.kind == .data }
            #expect(data?.remaining == 97 << 20)
            // In Korea (the same roaming zone, not covered): money at the zone's rate, 0.05 a MB.
            let korea = try await fixture.charging.handle(try request("data-kr", 0, .initial, service: .data, to: nil, country: "KR"))
            #expect(korea.services[0].grantedUnits == 10 << 20)
            let koreaEnd = try await fixture.charging.handle(try request("data-kr", 1, .termination, service: .data, to: nil, country: "KR", used: 2 << 20))
            #expect(koreaEnd.services[0].charged == 100_000)
            // At home: the Japan pack does not pay; home data costs 0.01 a MB, 1,500 bytes billed as 2 KB.
            let home = try await fixture.charging.handle(try request("data-us", 0, .initial, service: .data, to: nil))
            let homeEnd = try await fixture.charging.handle(try request("data-us", 1, .termination, service: .data, to: nil, used: 1_500))
            #expect(home.result == .success && homeEnd.services[0].charged == 20)
            #expect(try await money(fixture).remaining == 1_000_000 - 100_000 - 20)
            // Nowhere priced (no zone covers Brazil): a rating failure that changes nothing.
            let brazil = try await fixture.charging.handle(try request("data-br", 0, .initial, service: .data, to: nil, country: "BR"))
            #expect(brazil.result == .ratingFailed)
        }
    }

    static func eventsAreChargedInFullOrRefused(_ backend: Backend) async throws {
        try await with(backend) { fixture in
            try await LedgerScenarios.topUp(fixture.ledger, alice, "0.08", key: "t1")
            let first = try await fixture.charging.handle(try request("sms-1", 0, .event, service: .sms, to: "+8613800138000", used: 1))
            #expect(first.result == .success && first.services[0].charged == 50_000)
            let second = try await fixture.charging.handle(try request("sms-2", 0, .event, service: .sms, to: "+8613800138000", used: 1))
            #expect(second.result == .creditLimitReached && second.services[0].charged == 0 && second.barred)
            #expect(try await money(fixture).remaining == 30_000)
        }
    }

    static func concurrentSessionsNeverOverspend(_ backend: Backend) async throws {
        try await with(backend) { fixture in
            try await LedgerScenarios.topUp(fixture.ledger, alice, "1.00", key: "t1")
            let sessions = 100
            // Every session asks for 5 minutes at 0.05 (0.25): at most four can hold a whole grant at once.
            let granted = try await withThrowingTaskGroup(of: (Int, Int64).self) { group in
                for index in 0..<sessions {
                    group.addTask { (index, try await fixture.charging.handle(try request("c-\(index)", 0, .initial, to: "+14155550100")).services[0].grantedUnits) }
                }
                return try await group.reduce(into: [Int: Int64]()) { $0[$1.0] = $1.1 }
            }
            #expect(granted.values.reduce(0, +) == 1_200 && granted.values.filter { $0 > 0 }.count == 4)
            #expect(try await money(fixture).available == 0)
            // Each then uses all it was granted, all at once: exactly the balance is charged, never more.
            try await withThrowingTaskGroup(of: Void.self) { group in
                for index in 0..<sessions {
                    let used = granted[index] ?? 0
                    group.addTask { _ = try await fixture.charging.handle(try request("c-\(index)", 1, .termination, to: "+14155550100", used: used)) }
                }
                try await group.waitForAll()
            }
            #expect(try await money(fixture) == (0, 0))
        }
    }

    static func silentSessionsExpire(_ backend: Backend) async throws {
        try await with(backend) { fixture in
            try await LedgerScenarios.topUp(fixture.ledger, alice, "1.00", key: "t1")
            _ = try await fixture.charging.handle(try request("lost-1", 0, .initial, to: "+14155550100"))
            #expect(try await money(fixture).available == 750_000)
            // Within validity plus grace nothing expires.
            #expect(try await fixture.charging.expireSessions(now: now.addingTimeInterval(700)) == 0)
            #expect(try await fixture.charging.expireSessions(now: now.addingTimeInterval(721)) == 1)
            #expect(try await money(fixture) == (1_000_000, 1_000_000))
            let late = try await fixture.charging.handle(try request("lost-1", 1, .update, to: "+14155550100", used: 60,
                                                                     at: now.addingTimeInterval(800)))
            #expect(late.result == .unknownSession)
            #expect(try await money(fixture).remaining == 1_000_000)
        }
    }

    /// Two nodes on one database: a session's requests alternate between them, and every request is also sent to the
    /// other node at the same moment (a gateway failing over): each is charged once, and both nodes answer alike.
    static func twoNodesShareSessions(_ backend: Backend) async throws {
        try await with(backend) { fixture in
            try await LedgerScenarios.topUp(fixture.ledger, alice, "10.00", key: "t1")
            let other = try await Database.open(fixture.database.location)
            let nodeB = ChargingStore(database: other, catalogs: CatalogStore(database: other))
            let nodes = [fixture.charging, nodeB]
            for session in 0..<6 {
                let id = "two-\(session)"
                var steps = [try request(id, 0, .initial, service: .data, to: nil)]
                steps += try (1...3).map { try request(id, Int64($0), .update, service: .data, to: nil, used: 1 << 20) }
                steps.append(try request(id, 4, .termination, service: .data, to: nil, used: 1 << 19))
                for (number, step) in steps.enumerated() {
                    async let first = nodes[number % 2].handle(step)
                    async let second = nodes[(number + 1) % 2].handle(step)
                    let (a, b) = try await (first, second)
                    #expect(a.services == b.services && a.result == .success && (a.replayed == true) != (b.replayed == true))
                }
            }
            // Six sessions of 3.5 MiB at 0.01 a MiB, billed by the KiB: 0.035 each.
            #expect(try await money(fixture) == (10_000_000 - 6 * 35_000, 10_000_000 - 6 * 35_000))
            await other.close()
        }
    }

    static func unknownSubscriberAndNoRating(_ backend: Backend) async throws {
        try await with(backend) { fixture in
            let stranger = try MSISDN("+14155550199")
            let unknown = try await fixture.charging.handle(try request("x-1", 0, .initial, msisdn: stranger))
            #expect(unknown.result == .userUnknown)
            let catalogs = CatalogStore(database: fixture.database)
            _ = try await catalogs.importCatalog(try Catalog(CatalogDefinition(customTopUp: nil, products: [])), now: now)
            let unrated = try await ChargingStore(database: fixture.database, catalogs: catalogs).handle(try request("x-2", 0, .initial))
            #expect(unrated.result == .ratingFailed)
        }
    }
}

@Suite("Charging on SQLite")
struct SQLiteChargingTests {
    @Test func wholeCall() async throws { try await ChargingScenarios.wholeCallIsRatedOnItsRunningTotal(.sqlite) }
    @Test func barAndRestore() async throws { try await ChargingScenarios.commitBeyondTheBalanceBarsAndATopUpRestores(.sqlite) }
    @Test func emergency() async throws { try await ChargingScenarios.emergencyCallsWorkOnASuspendedLine(.sqlite) }
    @Test func coverage() async throws { try await ChargingScenarios.travelPackIsDrawnOnlyWhereItCovers(.sqlite) }
    @Test func events() async throws { try await ChargingScenarios.eventsAreChargedInFullOrRefused(.sqlite) }
    @Test func concurrentSessions() async throws { try await ChargingScenarios.concurrentSessionsNeverOverspend(.sqlite) }
    @Test func expiry() async throws { try await ChargingScenarios.silentSessionsExpire(.sqlite) }
    @Test func unknowns() async throws { try await ChargingScenarios.unknownSubscriberAndNoRating(.sqlite) }
    @Test func twoNodes() async throws { try await ChargingScenarios.twoNodesShareSessions(.sqlite) }
}

@Suite("Charging on PostgreSQL", .enabled(if: TestDatabase.postgresAvailable, "RECHARGE_TEST_POSTGRES_URL is not set: run scripts/test to start PostgreSQL"))
struct PostgresChargingTests {
    @Test func wholeCall() async throws { try await ChargingScenarios.wholeCallIsRatedOnItsRunningTotal(.postgres) }
    @Test func barAndRestore() async throws { try await ChargingScenarios.commitBeyondTheBalanceBarsAndATopUpRestores(.postgres) }
    @Test func emergency() async throws { try await ChargingScenarios.emergencyCallsWorkOnASuspendedLine(.postgres) }
    @Test func coverage() async throws { try await ChargingScenarios.travelPackIsDrawnOnlyWhereItCovers(.postgres) }
    @Test func events() async throws { try await ChargingScenarios.eventsAreChargedInFullOrRefused(.postgres) }
    @Test func concurrentSessions() async throws { try await ChargingScenarios.concurrentSessionsNeverOverspend(.postgres) }
    @Test func expiry() async throws { try await ChargingScenarios.silentSessionsExpire(.postgres) }
    @Test func unknowns() async throws { try await ChargingScenarios.unknownSubscriberAndNoRating(.postgres) }
    @Test func twoNodes() async throws { try await ChargingScenarios.twoNodesShareSessions(.postgres) }
}
