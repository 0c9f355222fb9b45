import Foundation
import RechargeCore
import RechargeStore
import RechargeTestSupport
import SQLKit
import Testing

/// The outbox on each engine: queueing with the ledger, claims, leases, back-off and dead letters.
enum OutboxScenarios {
    static let now = TestDatabase.epoch
    static let alice = LedgerScenarios.alice
    static let bob = LedgerScenarios.bob

    static func note(_ key: String, _ channel: NotificationChannel = .sms, to recipient: String = "+14155550100") throws -> OutgoingNotification {
        try OutgoingNotification(eventKey: key, channel: channel, recipient: recipient, language: .english,
                         event: .oneTimeCode(code: "123456", validMinutes: 10))
    }

    static func rows(_ database: Database) async throws -> [OutboxMessage] {
        try await OutboxStore(database: database).list(limit: 1000).sorted { $0.id < $1.id }
    }

    static func enqueueIsIdempotentPerEventAndChannel(_ backend: Backend) async throws {
        try await TestDatabase.with(backend) { database in
            let outbox = OutboxStore(database: database)
            #expect(try await outbox.enqueue([note("e1"), note("e1", .email, to: "li@example.com"), note("e2")], now: now) == 3)
            // The same (event_key, channel) again, alone and mixed with a new one: only the new one is added.
            #expect(try await outbox.enqueue([note("e1")], now: now) == 0)
            #expect(try await outbox.enqueue([note("e1", .email, to: "li@example.com"), note("e3")], now: now) == 1)
            // Inside a caller's transaction that rolls back, nothing stays.
            struct Abort: Error {}
            await #expect(throws: Abort.self) {
                try await database.transaction { db in
                    #expect(try await OutboxStore.enqueue([try note("e4")], now: now, in: db) == 1)
                    throw Abort()
                }
            }
            let stored = try await rows(database)
            #expect(stored.map(\.eventKey) == ["e1", "e1", "e2", "e3"])
            #expect(stored.map(\.channel) == [.sms, .email, .sms, .sms])
            #expect(stored.allSatisfy { $0.state == .pending && $0.attempts == 0 && $0.event == .oneTimeCode(code: "123456", validMinutes: 10) })
        }
    }

    static func topUpQueuesOneNotificationPerChannelOnce(_ backend: Backend) async throws {
        try await TestDatabase.with(backend) { database in
            let ledger = LedgerStore(database: database)
            try await LedgerScenarios.open(ledger, alice)   // subscriber li@example.com, zh-Hans
            try await LedgerScenarios.topUp(ledger, alice, "20.00", key: "order-1")
            var stored = try await rows(database)
            #expect(stored.count == 2)
            #expect(Set(stored.map(\.channel)) == [.sms, .email])
            #expect(stored.allSatisfy { $0.eventKey == "op:order-1:top_up_applied" && $0.language == .simplifiedChinese })
            #expect(stored.first { $0.channel == .sms }?.recipient == alice.e164)
            #expect(stored.first { $0.channel == .email }?.recipient == "li@example.com")
            #expect(stored[0].event == .topUpApplied(amount: LedgerScenarios.usd("20.00"), balance: LedgerScenarios.usd("20.00"), channel: .card))
            // A replay of the key changes nothing and queues nothing.
            let replay = try await LedgerScenarios.topUp(ledger, alice, "20.00", key: "order-1")
            #expect(replay.replayed)
            // Rejected and replayed operations queue nothing either.
            await #expect(throws: RechargeError.self) { try await LedgerScenarios.topUp(ledger, alice, "21.00", key: "order-1") }
            stored = try await rows(database)
            #expect(stored.count == 2)
            try await LedgerScenarios.topUp(ledger, alice, "5.00", key: "order-2")
            #expect(try await rows(database).count == 4)
            try await LedgerScenarios.expectBalanced(database)
        }
    }

    static func lowBalanceFiresOncePerCrossing(_ backend: Backend) async throws {
        try await TestDatabase.with(backend) { database in
            let ledger = LedgerStore(database: database)
            try await LedgerScenarios.open(ledger, alice)
            func lowBalanceKeys() async throws -> [String] {
                try await rows(database).filter { $0.eventName == "low_balance" && $0.channel == .sms }.map(\.eventKey)
            }
            try await LedgerScenarios.topUp(ledger, alice, "10.00", key: "t1")
            try await LedgerScenarios.debit(ledger, alice, money: "4.00", key: "d1")   // 6.00: above 5.00
            #expect(try await lowBalanceKeys() == [])
            try await LedgerScenarios.debit(ledger, alice, money: "1.50", key: "d2")   // 4.50: crosses
            #expect(try await lowBalanceKeys() == ["op:d2:low_balance"])
            let event = try #require(try await rows(database).first { $0.eventKey == "op:d2:low_balance" }?.event)
            #expect(event == .lowBalance(balance: LedgerScenarios.usd("4.50"), threshold: LedgerScenarios.usd("5.00")))
            try await LedgerScenarios.debit(ledger, alice, money: "1.00", key: "d3")   // 3.50: still below, no repeat
            try await LedgerScenarios.topUp(ledger, alice, "1.00", key: "t2")          // 4.50: below, stays disarmed
            try await LedgerScenarios.debit(ledger, alice, money: "0.50", key: "d4")   // 4.00
            #expect(try await lowBalanceKeys() == ["op:d2:low_balance"])
            try await LedgerScenarios.topUp(ledger, alice, "3.00", key: "t3")          // 7.00: re-armed
            try await LedgerScenarios.debit(ledger, alice, money: "2.00", key: "d5")   // 5.00: not below
            #expect(try await lowBalanceKeys() == ["op:d2:low_balance"])
            try await LedgerScenarios.debit(ledger, alice, money: "0.01", key: "d6")   // 4.99: crosses again
            #expect(try await lowBalanceKeys() == ["op:d2:low_balance", "op:d6:low_balance"])
            // A replayed debit queues nothing.
            try await LedgerScenarios.debit(ledger, alice, money: "0.01", key: "d6")
            #expect(try await lowBalanceKeys() == ["op:d2:low_balance", "op:d6:low_balance"])
            // Many debits of one line in concurrent batches still announce one crossing.
            try await LedgerScenarios.topUp(ledger, alice, "20.00", key: "t4")         // 24.99
            try await withThrowingTaskGroup(of: Void.self) { group in
                for index in 0..<20 {
                    group.addTask { try await LedgerScenarios.debit(ledger, alice, money: "1.00", key: "burst-\(index)") }
                }
                try await group.waitForAll()
            }
            #expect(try await lowBalanceKeys().count == 3)
            try await LedgerScenarios.expectBalanced(database)
        }
    }

    static func claimLeaseBackoffAndDeadLetter(_ backend: Backend) async throws {
        try await TestDatabase.with(backend) { database in
            let outbox = OutboxStore(database: database)
            try await outbox.enqueue([note("a"), note("b"), note("c")], now: now)
            await #expect(throws: OutboxError.invalidLimit(0)) { try await outbox.claim(limit: 0, now: now, lease: .seconds(60)) }
            // Nothing is due before it was queued.
            #expect(try await outbox.claim(limit: 10, now: now.addingTimeInterval(-1), lease: .seconds(60)).isEmpty)
            let first = try await outbox.claim(limit: 2, now: now, lease: .seconds(60))
            #expect(first.map(\.eventKey) == ["a", "b"])
            #expect(first.allSatisfy { $0.state == .sending && $0.attempts == 1 && $0.claimedUntil == now.addingTimeInterval(60) })
            // Claimed rows are not claimed again while their lease runs.
            #expect(try await outbox.claim(limit: 10, now: now.addingTimeInterval(30), lease: .seconds(60)).map(\.eventKey) == ["c"])

            try await outbox.markSent(first[0], providerID: "msg-1", now: now.addingTimeInterval(1))
            try await outbox.markFailed(first[1], error: "421 try later", retryAt: now.addingTimeInterval(120))
            // Finishing twice, or with a stale claim, is refused.
            await #expect(throws: OutboxError.claimLost(id: first[0].id)) { try await outbox.markSent(first[0], providerID: "x", now: now) }
            // "b" waits for its retry time; "c"'s lease expires at 90 s and it is reclaimed with a new attempt.
            #expect(try await outbox.claim(limit: 10, now: now.addingTimeInterval(89), lease: .seconds(60)).isEmpty)
            let reclaimed = try await outbox.claim(limit: 10, now: now.addingTimeInterval(90), lease: .seconds(60))
            #expect(reclaimed.map(\.eventKey) == ["c"] && reclaimed[0].attempts == 2)
            let retried = try await outbox.claim(limit: 10, now: now.addingTimeInterval(120), lease: .seconds(60))
            #expect(retried.map(\.eventKey) == ["b"] && retried[0].attempts == 2 && retried[0].lastError == "421 try later")
            try await outbox.markDead(retried[0], error: "550 no such user", now: now.addingTimeInterval(121))
            // The worker whose lease on "c" expired cannot finish it: the new claim holds it.
            let stale = try #require(try await rows(database).first { $0.eventKey == "c" })
            await #expect(throws: OutboxError.claimLost(id: stale.id)) {
                try await outbox.markSent(OutboxMessageStale.withAttempts(reclaimed[0], 1), providerID: "late", now: now)
            }
            // A receipt that overtakes the sent mark of its message is kept and applied by that mark.
            #expect(try await outbox.recordReceipt(providerID: "msg-3", deliveredAt: now.addingTimeInterval(90.5), now: now) == false)
            try await outbox.markSent(reclaimed[0], providerID: "msg-3", now: now.addingTimeInterval(91))

            #expect(try await outbox.recordReceipt(providerID: "msg-1", deliveredAt: now.addingTimeInterval(5)))
            #expect(try await outbox.recordReceipt(providerID: "unknown", deliveredAt: now) == false)
            let final = try await rows(database)
            #expect(final.map(\.state) == [.sent, .dead, .sent])
            #expect(final[0].providerID == "msg-1" && final[0].deliveredAt == now.addingTimeInterval(5) && final[0].sentAt == now.addingTimeInterval(1))
            #expect(final[1].lastError == "550 no such user")
            #expect(final[2].providerID == "msg-3" && final[2].deliveredAt == now.addingTimeInterval(90.5))
            #expect(try await outbox.list(state: .dead).map(\.eventKey) == ["b"])
            #expect(try await outbox.counts() == [.sent: 2, .dead: 1])
            #expect(try await outbox.claim(limit: 10, now: now.addingTimeInterval(10_000), lease: .seconds(60)).isEmpty)
        }
    }

    /// A receipt with a final failure state makes its sent message dead with the state as its error, whether it
    /// comes after the sent mark or overtakes it; a delivered message is not changed by a late failure, and a
    /// dead one is never claimed again.
    static func failedReceiptsMakeMessagesDead(_ backend: Backend) async throws {
        try await TestDatabase.with(backend) { database in
            let outbox = OutboxStore(database: database)
            try await outbox.enqueue([note("a"), note("b"), note("c")], now: now)
            let claimed = try await outbox.claim(limit: 10, now: now, lease: .seconds(60))
            #expect(claimed.map(\.eventKey) == ["a", "b", "c"])
            try await outbox.markSent(claimed[0], providerID: "msg-a", now: now)
            #expect(try await outbox.recordReceiptFailure(providerID: "msg-a", failure: "delivery receipt: stat:UNDELIV err:001", now: now))
            // Overtaking the sent mark: kept, then applied by the mark.
            #expect(try await outbox.recordReceiptFailure(providerID: "msg-b", failure: "delivery receipt: stat:EXPIRED", now: now) == false)
            try await outbox.markSent(claimed[1], providerID: "msg-b", now: now.addingTimeInterval(1))
            // Delivered first: a failure receipt after it changes nothing (and leaves no meeting row behind).
            try await outbox.markSent(claimed[2], providerID: "msg-c", now: now)
            #expect(try await outbox.recordReceipt(providerID: "msg-c", deliveredAt: now.addingTimeInterval(2), now: now))
            #expect(try await outbox.recordReceiptFailure(providerID: "msg-c", failure: "delivery receipt: stat:REJECTD", now: now) == false)
            let stored = try await rows(database)
            #expect(stored.map(\.state) == [.dead, .dead, .sent])
            #expect(stored[0].lastError == "delivery receipt: stat:UNDELIV err:001" && stored[0].deliveredAt == nil && stored[0].providerID == "msg-a")
            #expect(stored[1].lastError == "delivery receipt: stat:EXPIRED")
            #expect(stored[2].deliveredAt == now.addingTimeInterval(2) && stored[2].lastError == nil)
            #expect(try await outbox.list(state: .dead).map(\.eventKey) == ["b", "a"])
            #expect(try await outbox.claim(limit: 10, now: now.addingTimeInterval(100_000), lease: .seconds(60)).isEmpty)
            let left = try await database.read { db in
                try await db.raw("SELECT provider_id FROM outbox_receipts").all().map { try $0.decode(column: "provider_id", as: String.self) }
            }
            #expect(left == [])   // a late failure of a delivered message leaves nothing waiting
        }
    }

    /// Delivery receipts racing the `sent` marks of their messages (the SMSC answers and sends the receipt at
    /// once, and on PostgreSQL the two land on different connections): none is lost, none is left behind.
    static func receiptsRacingSentMarksAreNeverLost(_ backend: Backend) async throws {
        try await TestDatabase.with(backend) { database in
            let outbox = OutboxStore(database: database)
            try await outbox.enqueue((0..<60).map { try note("r\($0)") }, now: now)
            let claimed = try await outbox.claim(limit: 100, now: now, lease: .seconds(60))
            #expect(claimed.count == 60)
            // Six pairs at a time: enough to race, few enough to stay within the pool on a busy machine.
            for start in stride(from: 0, to: claimed.count, by: 6) {
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for message in claimed[start..<min(start + 6, claimed.count)] {
                        let providerID = "p-\(message.id)"
                        group.addTask { try await outbox.markSent(message, providerID: providerID, now: now) }
                        group.addTask { try await outbox.recordReceipt(providerID: providerID, deliveredAt: now.addingTimeInterval(1), now: now) }
                    }
                    try await group.waitForAll()
                }
            }
            let rows = try await rows(database)
            #expect(rows.filter { $0.deliveredAt == now.addingTimeInterval(1) }.count == 60)
            let left = try await database.read { db in try await db.raw("SELECT COUNT(*) AS n FROM outbox_receipts").first()?.decode(column: "n", as: Int.self) }
            #expect(left == 0)
        }
    }

    /// Two claimers racing over the same rows (two connections; on PostgreSQL two sessions with SKIP LOCKED)
    /// never get the same row, and between them get every row.
    static func concurrentClaimersNeverShareARow(_ backend: Backend) async throws {
        try await TestDatabase.with(backend) { database in
            let outbox = OutboxStore(database: database)
            try await outbox.enqueue((0..<300).map { try note("n\($0)") }, now: now)
            let claimed = try await withThrowingTaskGroup(of: [Int64].self) { group in
                for _ in 0..<4 {
                    group.addTask {
                        var mine: [Int64] = []
                        while true {
                            let batch = try await outbox.claim(limit: 7, now: now, lease: .seconds(60))
                            if batch.isEmpty { return mine }
                            mine += batch.map(\.id)
                        }
                    }
                }
                var all: [[Int64]] = []
                for try await ids in group { all.append(ids) }
                return all
            }
            let flat = claimed.flatMap { $0 }
            #expect(flat.count == 300)
            #expect(Set(flat).count == 300)
            #expect(try await rows(database).allSatisfy { $0.state == .sending && $0.attempts == 1 })
        }
    }
}

/// A copy of a claimed message with another attempt number: what a worker whose lease expired still holds.
enum OutboxMessageStale {
    static func withAttempts(_ message: OutboxMessage, _ attempts: Int) -> OutboxMessage {
        OutboxMessage(
            id: message.id, eventKey: message.eventKey, channel: message.channel, recipient: message.recipient, language: message.language,
            eventName: message.eventName, event: message.event, state: message.state, attempts: attempts, nextAttemptAt: message.nextAttemptAt,
            claimedUntil: message.claimedUntil, lastError: message.lastError, providerID: message.providerID, deliveredAt: message.deliveredAt,
            createdAt: message.createdAt, sentAt: message.sentAt)
    }
}

@Suite("Outbox on SQLite")
struct SQLiteOutboxTests {
    @Test func enqueueIdempotent() async throws { try await OutboxScenarios.enqueueIsIdempotentPerEventAndChannel(.sqlite) }
    @Test func topUpQueuesOnce() async throws { try await OutboxScenarios.topUpQueuesOneNotificationPerChannelOnce(.sqlite) }
    @Test func lowBalance() async throws { try await OutboxScenarios.lowBalanceFiresOncePerCrossing(.sqlite) }
    @Test func claimLeaseBackoff() async throws { try await OutboxScenarios.claimLeaseBackoffAndDeadLetter(.sqlite) }
    @Test func concurrentClaimers() async throws { try await OutboxScenarios.concurrentClaimersNeverShareARow(.sqlite) }
    @Test func receiptsRacingSentMarks() async throws { try await OutboxScenarios.receiptsRacingSentMarksAreNeverLost(.sqlite) }
    @Test func failedReceipts() async throws { try await OutboxScenarios.failedReceiptsMakeMessagesDead(.sqlite) }
}

@Suite("Outbox on PostgreSQL", .enabled(if: TestDatabase.postgresAvailable, "RECHARGE_TEST_POSTGRES_URL is not set: run scripts/start-postgres"))
struct PostgresOutboxTests {
    @Test func enqueueIdempotent() async throws { try await OutboxScenarios.enqueueIsIdempotentPerEventAndChannel(.postgres) }
    @Test func topUpQueuesOnce() async throws { try await OutboxScenarios.topUpQueuesOneNotificationPerChannelOnce(.postgres) }
    @Test func lowBalance() async throws { try await OutboxScenarios.lowBalanceFiresOncePerCrossing(.postgres) }
    @Test func claimLeaseBackoff() async throws { try await OutboxScenarios.claimLeaseBackoffAndDeadLetter(.postgres) }
    @Test func concurrentClaimers() async throws { try await OutboxScenarios.concurrentClaimersNeverShareARow(.postgres) }
    @Test func receiptsRacingSentMarks() async throws { try await OutboxScenarios.receiptsRacingSentMarksAreNeverLost(.postgres) }
    @Test func failedReceipts() async throws { try await OutboxScenarios.failedReceiptsMakeMessagesDead(.postgres) }
}
