import Foundation
import RechargeCore
import RechargeStore
import RechargeTestSupport
import SQLKit
import Testing

/// Validity reminders and used-up packs on each engine. Time is whatever `now` a scan is given.
enum ReminderScenarios {
    static let now = TestDatabase.epoch
    static let day = LedgerScenarios.day
    static let alice = LedgerScenarios.alice   // subscriber li@example.com, zh-Hans: SMS and email
    static let bob = LedgerScenarios.bob

    static func at(_ days: Double) -> Date { now.addingTimeInterval(days * day) }

    static func rows(_ database: Database) async throws -> [OutboxMessage] {
        try await OutboxStore(database: database).list(limit: 1000).sorted { $0.id < $1.id }
    }

    static func bucketID(_ result: LedgerResult, _ kind: BucketKind) throws -> Int64 {
        try #require(result.operation.entries.first { $0.bucketKind == kind && $0.amount > 0 }).bucketID
    }

    static func firesOnceAtSevenDaysAndOnceAtOneDay(_ backend: Backend) async throws {
        try await TestDatabase.with(backend) { database in
            let ledger = LedgerStore(database: database)
            let reminders = ReminderStore(database: database)
            try await LedgerScenarios.open(ledger, alice)
            try await LedgerScenarios.topUp(ledger, alice, "12.34", key: "t1")
            let pack = try bucketID(try await LedgerScenarios.grant(ledger, alice, .data, 1_610_612_736, days: 10, key: "g1"), .data)
            let before = try await rows(database).count   // the top-up's own notices

            // Ten days out: nothing. 6.5 days out: the 7-day reminder on both channels, once.
            #expect(try await reminders.scan(now: now) == ReminderStore.Scan(reminders: 0, messages: 0, chunks: 0))
            #expect(try await reminders.scan(now: at(2.99)) == ReminderStore.Scan(reminders: 0, messages: 0, chunks: 0))
            #expect(try await reminders.scan(now: at(3.5)) == ReminderStore.Scan(reminders: 1, messages: 2, chunks: 1))
            #expect(try await reminders.scan(now: at(3.5)).reminders == 0)
            #expect(try await reminders.scan(now: at(8.9)).reminders == 0)   // 1.1 days left: still the 7-day window
            var queued = Array(try await rows(database).dropFirst(before))
            #expect(queued.count == 2)
            #expect(Set(queued.map(\.channel)) == [.sms, .email])
            #expect(queued.allSatisfy { $0.eventKey == "bucket:\(pack):expiry:7d" && $0.eventName == "validity_ending" && $0.language == .simplifiedChinese })
            #expect(queued[0].event == .validityEnding(
                notice: .sevenDays, validUntil: at(10), balance: LedgerScenarios.usd("12.34"),
                bucket: ExpiringBucket(kind: .data, name: "data 1610612736", remaining: 1_610_612_736)))

            // Half a day left: the 1-day reminder, once; then expired: nothing.
            #expect(try await reminders.scan(now: at(9.5)) == ReminderStore.Scan(reminders: 1, messages: 2, chunks: 1))
            #expect(try await reminders.scan(now: at(9.9)).reminders == 0)
            #expect(try await reminders.scan(now: at(10)).reminders == 0)
            #expect(try await reminders.scan(now: at(11)).reminders == 0)
            queued = Array(try await rows(database).dropFirst(before))
            #expect(queued.map(\.eventKey) == ["bucket:\(pack):expiry:7d", "bucket:\(pack):expiry:7d", "bucket:\(pack):expiry:1d", "bucket:\(pack):expiry:1d"])
            if case .validityEnding(let notice, _, _, _) = queued[3].event { #expect(notice == .oneDay) } else { Issue.record("not a reminder: \(queued[3])") }
        }
    }

    static func skipsUsedUpExpiredAndEndlessBuckets(_ backend: Backend) async throws {
        try await TestDatabase.with(backend) { database in
            let ledger = LedgerStore(database: database)
            let reminders = ReminderStore(database: database)
            try await LedgerScenarios.open(ledger, alice)
            try await LedgerScenarios.open(ledger, bob)
            try await LedgerScenarios.topUp(ledger, alice, "50.00", key: "t1")   // main balance: no expiry
            let voice = try bucketID(try await LedgerScenarios.grant(ledger, alice, .voice, 600, days: 5, key: "g-voice"), .voice)
            try await LedgerScenarios.use(ledger, alice, .voice, 600, key: "u-voice")   // used up
            let texts = try bucketID(try await LedgerScenarios.grant(ledger, alice, .sms, 10, days: 0.5, key: "g-sms"), .sms)
            let bonus = try bucketID(try await LedgerScenarios.grant(ledger, alice, .monetary, 5_000_000, days: 6, key: "g-bonus", currency: .usd), .monetary)
            try await LedgerScenarios.grant(ledger, alice, .data, 1_000, days: 30, key: "g-far")   // beyond seven days
            try await LedgerScenarios.grant(ledger, bob, .data, 1_000, days: 3, key: "g-bob")
            _ = try await ledger.changeStatus(bob, to: .terminated, now: now)   // terminated line: no reminders
            let before = try await rows(database).count

            let scan = try await reminders.scan(now: now)
            #expect(scan.reminders == 2)
            let queued = Array(try await rows(database).dropFirst(before)).filter { $0.channel == .sms }
            #expect(Set(queued.map(\.eventKey)) == ["bucket:\(texts):expiry:1d", "bucket:\(bonus):expiry:7d"])   // 12 h left: only the 1-day one
            #expect(!queued.contains { $0.eventKey.hasPrefix("bucket:\(voice):") })
            let bonusNotice = try #require(queued.first { $0.eventKey.hasPrefix("bucket:\(bonus):") })
            #expect(bonusNotice.event == .validityEnding(notice: .sevenDays, validUntil: at(6), balance: LedgerScenarios.usd("55.00"),
                                                        bucket: ExpiringBucket(kind: .monetary, name: "monetary 5000000", remaining: 5_000_000)))
            // Used up later: the 1-day reminder of the bonus is not sent.
            try await LedgerScenarios.debit(ledger, alice, money: "55.00", key: "d-all", at: at(5.2))
            #expect(try await reminders.scan(now: at(5.5)).reminders == 0)
        }
    }

    /// A line that has no channel (SMS off, no email) gets its reminder recorded and nothing queued, and is not
    /// looked at again.
    static func lineWithoutChannelsIsRecordedOnce(_ backend: Backend) async throws {
        try await TestDatabase.with(backend) { database in
            let ledger = LedgerStore(database: database)
            let reminders = ReminderStore(database: database)
            let line = try await ledger.openLine(
                try OpenLineCommand(msisdn: bob, iccid: nil, type: .prepaid, currency: .usd, creditLimit: nil, subscriber: nil), now: now)
            try await database.transaction { db in
                try await db.raw("INSERT INTO notification_preferences (line_id, sms_enabled, updated_at) VALUES (\(bind: line.id), 0, 0)").run()
            }
            try await LedgerScenarios.grant(ledger, bob, .data, 1_000, days: 3, key: "g1")
            #expect(try await reminders.scan(now: now) == ReminderStore.Scan(reminders: 1, messages: 0, chunks: 1))
            #expect(try await reminders.scan(now: now) == ReminderStore.Scan(reminders: 0, messages: 0, chunks: 0))
            #expect(try await rows(database).filter { $0.eventName == "validity_ending" }.isEmpty)
        }
    }

    /// Four scanners at once, in small chunks, over 40 expiring packs: every reminder is queued by exactly one.
    static func concurrentScannersQueueEachReminderOnce(_ backend: Backend) async throws {
        try await TestDatabase.with(backend) { database in
            let ledger = LedgerStore(database: database)
            try await LedgerScenarios.open(ledger, alice)
            try await LedgerScenarios.open(ledger, bob)
            for index in 0..<40 {
                try await LedgerScenarios.grant(ledger, index.isMultiple(of: 2) ? alice : bob, .data, 1_000 + Int64(index), days: 2 + Double(index) / 100, key: "g\(index)")
            }
            let before = try await rows(database).count
            let scans = try await withThrowingTaskGroup(of: ReminderStore.Scan.self) { group in
                for _ in 0..<4 {
                    group.addTask { try await ReminderStore(database: database).scan(now: now, chunkSize: 3) }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(scans.map(\.reminders).reduce(0, +) == 40)
            #expect(scans.map(\.messages).reduce(0, +) == 80)   // alice and bob both have SMS and email
            let queued = Array(try await rows(database).dropFirst(before))
            #expect(queued.count == 80)
            #expect(Set(queued.map { "\($0.eventKey)|\($0.channel)" }).count == 80)
            #expect(try await ReminderStore(database: database).scan(now: now).reminders == 0)
        }
    }

    /// One holder at a time; the lease passes on when it expires or is released.
    static func leasesHaveOneHolder(_ backend: Backend) async throws {
        try await TestDatabase.with(backend) { database in
            let store = ReminderStore(database: database)
            #expect(try await store.acquireLease("reminders", holder: "a", now: now, duration: .seconds(60)))
            #expect(try await store.acquireLease("reminders", holder: "b", now: now.addingTimeInterval(59), duration: .seconds(60)) == false)
            #expect(try await store.acquireLease("reminders", holder: "a", now: now.addingTimeInterval(30), duration: .seconds(60)))   // renewed to 90 s
            #expect(try await store.acquireLease("reminders", holder: "b", now: now.addingTimeInterval(89), duration: .seconds(60)) == false)
            #expect(try await store.acquireLease("reminders", holder: "b", now: now.addingTimeInterval(90), duration: .seconds(60)))
            #expect(try await store.acquireLease("reminders", holder: "a", now: now.addingTimeInterval(100), duration: .seconds(60)) == false)
            try await store.releaseLease("reminders", holder: "a")   // not a's: changes nothing
            #expect(try await store.acquireLease("reminders", holder: "a", now: now.addingTimeInterval(100), duration: .seconds(60)) == false)
            try await store.releaseLease("reminders", holder: "b")
            #expect(try await store.acquireLease("reminders", holder: "a", now: now.addingTimeInterval(100), duration: .seconds(60)))
            await #expect(throws: OutboxError.invalidLease) { try await store.acquireLease("reminders", holder: "a", now: now, duration: .zero) }
        }
    }

    /// A debit that empties a data, voice or SMS pack queues `pack_used_up` once per pack; money never does.
    static func packUsedUpOncePerEmptiedPack(_ backend: Backend) async throws {
        try await TestDatabase.with(backend) { database in
            let ledger = LedgerStore(database: database)
            try await LedgerScenarios.open(ledger, alice)
            try await LedgerScenarios.topUp(ledger, alice, "10.00", key: "t1")
            let first = try bucketID(try await LedgerScenarios.grant(ledger, alice, .data, 1_000, days: 10, key: "g1"), .data)
            func usedUp() async throws -> [OutboxMessage] {
                try await rows(database).filter { $0.eventName == "pack_used_up" }
            }
            try await LedgerScenarios.use(ledger, alice, .data, 400, key: "u1")
            #expect(try await usedUp().isEmpty)
            try await LedgerScenarios.use(ledger, alice, .data, 600, key: "u2")
            var notices = try await usedUp()
            #expect(notices.count == 2)
            #expect(Set(notices.map(\.channel)) == [.sms, .email])
            #expect(notices.allSatisfy { $0.eventKey == "op:u2:pack_used_up:\(first)" && $0.event == .packUsedUp(packName: "data 1000", kind: .data) })
            // Its replay and a rejected debit queue nothing.
            #expect(try await LedgerScenarios.use(ledger, alice, .data, 600, key: "u2").replayed)
            await #expect(throws: RechargeError.self) { try await LedgerScenarios.use(ledger, alice, .data, 1, key: "u3") }
            #expect(try await usedUp().count == 2)

            // One debit across two packs that empties both: one notice each; the pack it only dents: none.
            let second = try bucketID(try await LedgerScenarios.grant(ledger, alice, .sms, 5, days: 3, key: "g2"), .sms)
            let third = try bucketID(try await LedgerScenarios.grant(ledger, alice, .sms, 5, days: 4, key: "g3"), .sms)
            let fourth = try bucketID(try await LedgerScenarios.grant(ledger, alice, .sms, 5, days: 5, key: "g4"), .sms)
            try await LedgerScenarios.use(ledger, alice, .sms, 12, key: "u4")
            notices = try await usedUp().filter { $0.channel == .sms }
            #expect(Set(notices.map(\.eventKey)) == ["op:u2:pack_used_up:\(first)", "op:u4:pack_used_up:\(second)", "op:u4:pack_used_up:\(third)"])
            #expect(!notices.contains { $0.eventKey.hasSuffix(":\(fourth)") })
            // Spending all the money is a low balance, never a used-up pack.
            try await LedgerScenarios.debit(ledger, alice, money: "10.00", key: "d1")
            #expect(try await usedUp().filter { $0.channel == .sms }.count == 3)
            try await LedgerScenarios.expectBalanced(database)
        }
    }
}

@Suite("Reminders and used-up packs on SQLite")
struct SQLiteReminderTests {
    @Test func sevenDaysThenOneDay() async throws { try await ReminderScenarios.firesOnceAtSevenDaysAndOnceAtOneDay(.sqlite) }
    @Test func skipsUsedUpAndExpired() async throws { try await ReminderScenarios.skipsUsedUpExpiredAndEndlessBuckets(.sqlite) }
    @Test func lineWithoutChannels() async throws { try await ReminderScenarios.lineWithoutChannelsIsRecordedOnce(.sqlite) }
    @Test func concurrentScanners() async throws { try await ReminderScenarios.concurrentScannersQueueEachReminderOnce(.sqlite) }
    @Test func leases() async throws { try await ReminderScenarios.leasesHaveOneHolder(.sqlite) }
    @Test func packUsedUp() async throws { try await ReminderScenarios.packUsedUpOncePerEmptiedPack(.sqlite) }
}

// Serialized: the full test run opens a pool per PostgreSQL test, and these would add six at once.
@Suite("Reminders and used-up packs on PostgreSQL", .enabled(if: TestDatabase.postgresAvailable, "RECHARGE_TEST_POSTGRES_URL is not set: run scripts/start-postgres"), .serialized)
struct PostgresReminderTests {
    @Test func sevenDaysThenOneDay() async throws { try await ReminderScenarios.firesOnceAtSevenDaysAndOnceAtOneDay(.postgres) }
    @Test func skipsUsedUpAndExpired() async throws { try await ReminderScenarios.skipsUsedUpExpiredAndEndlessBuckets(.postgres) }
    @Test func lineWithoutChannels() async throws { try await ReminderScenarios.lineWithoutChannelsIsRecordedOnce(.postgres) }
    @Test func concurrentScanners() async throws { try await ReminderScenarios.concurrentScannersQueueEachReminderOnce(.postgres) }
    @Test func leases() async throws { try await ReminderScenarios.leasesHaveOneHolder(.postgres) }
    @Test func packUsedUp() async throws { try await ReminderScenarios.packUsedUpOncePerEmptiedPack(.postgres) }
}
