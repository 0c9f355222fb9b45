import Foundation
import RechargeCore
import RechargeStore
import RechargeTestSupport
import Testing

@testable import RechargeNotifications

/// The reminder service with a clock the test moves: one node scans while it holds the lease, another takes
/// over when it stops, and every reminder is queued once; the queued reminder renders in the line's language.
enum ReminderServiceScenarios {
    static let now = TestDatabase.epoch
    static let alice = DeliveryScenarios.alice

    static func grantPack(_ ledger: LedgerStore, days: Double, key: String) async throws {
        let grant = try BucketGrant(kind: .data, amount: 1_073_741_824, name: "Travel 30", validFrom: nil,
                                    validUntil: now.addingTimeInterval(days * 86_400), priority: BucketGrant.defaultPriority)
        _ = try await ledger.topUp(try TopUpCommand(msisdn: alice, value: .bucket(grant, currency: nil), channel: .admin, reference: nil),
                                   key: try IdempotencyKey(key), now: now)
    }

    static func reminders(_ outbox: OutboxStore) async throws -> [OutboxMessage] {
        try await outbox.list(limit: 1000).filter { $0.eventName == "validity_ending" }.sorted { $0.id < $1.id }
    }

    static func oneNodeScansAndAnotherTakesOver(_ backend: Backend) async throws {
        try await TestDatabase.with(backend) { database in
            let ledger = LedgerStore(database: database)
            let outbox = OutboxStore(database: database)
            try await DeliveryScenarios.openAndTopUp(ledger)   // li@example.com, zh-Hans
            try await grantPack(ledger, days: 10, key: "pack-1")
            let clock = TestClock(now)
            let configuration = ReminderService.Configuration(interval: .seconds(60), chunkSize: 10)
            let first = ReminderService(store: ReminderStore(database: database), configuration: configuration, clock: clock.function, holder: "node-1")
            let second = ReminderService(store: ReminderStore(database: database), configuration: configuration, clock: clock.function, holder: "node-2")

            #expect(try await first.runOnce() == ReminderStore.Scan(reminders: 0, messages: 0, chunks: 0))
            #expect(try await second.runOnce() == nil)   // node-1 holds the lease
            clock.advance(3.5 * 86_400)
            #expect(try await first.runOnce() == ReminderStore.Scan(reminders: 1, messages: 2, chunks: 1))
            #expect(try await second.runOnce() == nil)
            #expect(try await first.runOnce() == ReminderStore.Scan(reminders: 0, messages: 0, chunks: 0))
            // node-1 stops renewing; three intervals later node-2 scans, and finds the 1-day reminder only when due.
            clock.advance(180)
            #expect(try await second.runOnce() == ReminderStore.Scan(reminders: 0, messages: 0, chunks: 0))
            #expect(try await first.runOnce() == nil)
            clock.advance(6 * 86_400)   // 0.5 days left
            #expect(try await second.runOnce() == ReminderStore.Scan(reminders: 1, messages: 2, chunks: 1))
            clock.advance(60)
            #expect(try await second.runOnce() == ReminderStore.Scan(reminders: 0, messages: 0, chunks: 0))

            let queued = try await reminders(outbox)
            #expect(queued.map(\.eventKey).map { $0.hasSuffix(":expiry:7d") } == [true, true, false, false])
            let sms = try #require(queued.first { $0.channel == .sms })
            let rendered = try NotificationRenderer.bundled().render(try #require(sms.event), language: sms.language)
            #expect(rendered.sms.hasPrefix("【Recharge】您的流量套餐“Travel 30”将于"))
            #expect(rendered.sms.contains("7天后") && rendered.sms.contains("剩余1 GB") && rendered.sms.contains("余额20.00 美元"))
        }
    }

    /// `run()` scans every interval until cancelled, then gives the lease up for another node.
    static func runScansUntilCancelled(_ backend: Backend) async throws {
        try await TestDatabase.with(backend) { database in
            let ledger = LedgerStore(database: database)
            let outbox = OutboxStore(database: database)
            let store = ReminderStore(database: database)
            try await DeliveryScenarios.openAndTopUp(ledger)
            let clock = TestClock(now)
            let service = ReminderService(store: store, configuration: .init(interval: .milliseconds(20)), clock: clock.function, holder: "node-1")
            let running = Task { try await service.run() }
            try await grantPack(ledger, days: 3, key: "pack-1")
            #expect(try await eventually { try await reminders(outbox).count == 2 ? true : nil } == true)
            clock.advance(2.5 * 86_400)
            try await grantPack(ledger, days: 3, key: "pack-2")   // ends with the first: only its 1-day reminder
            #expect(try await eventually { try await reminders(outbox).count == 6 ? true : nil } == true)
            running.cancel()
            try await running.value
            #expect(try await store.acquireLease(ReminderService.leaseName, holder: "node-2", now: clock.now, duration: .seconds(60)))
            #expect(Set(try await reminders(outbox).map(\.eventKey)).count == 3)
        }
    }
}

@Suite("Reminder service on SQLite")
struct SQLiteReminderServiceTests {
    @Test func leaseAndTakeover() async throws { try await ReminderServiceScenarios.oneNodeScansAndAnotherTakesOver(.sqlite) }
    @Test func runUntilCancelled() async throws { try await ReminderServiceScenarios.runScansUntilCancelled(.sqlite) }
}

@Suite("Reminder service on PostgreSQL", .enabled(if: TestDatabase.postgresAvailable, "RECHARGE_TEST_POSTGRES_URL is not set: run scripts/start-postgres"), .serialized)
struct PostgresReminderServiceTests {
    @Test func leaseAndTakeover() async throws { try await ReminderServiceScenarios.oneNodeScansAndAnotherTakesOver(.postgres) }
    @Test func runUntilCancelled() async throws { try await ReminderServiceScenarios.runScansUntilCancelled(.postgres) }
}
