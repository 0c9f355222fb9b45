import Foundation
import Logging
import NIOConcurrencyHelpers
import RechargeCore
import RechargeMessaging
import RechargeStore
import RechargeTestSupport
import Testing

@testable import RechargeNotifications

/// A clock tests move by hand.
final class TestClock: Sendable {
    private let value: NIOLockedValueBox<Date>
    init(_ start: Date) { value = NIOLockedValueBox(start) }
    var now: Date { value.withLockedValue { $0 } }
    func advance(_ seconds: TimeInterval) { value.withLockedValue { $0 = $0.addingTimeInterval(seconds) } }
    var function: @Sendable () -> Date { { self.now } }
}

/// Log lines kept in memory, to check what a log would show.
final class LogLines: LogHandler, @unchecked Sendable {
    private let lines = NIOLockedValueBox<[String]>([])
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .trace
    var text: String { lines.withLockedValue { $0.joined(separator: "\n") } }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(level: Logger.Level, message: Logger.Message, metadata: Logger.Metadata?, source: String, file: String, function: String, line: UInt) {
        lines.withLockedValue { $0.append("\(message) \(metadata ?? [:])") }
    }
}

/// A transport that fails as told, then succeeds, and records what it sent.
final class ScriptedTransport: NotificationTransport {
    enum Failure: Error { case transient, permanent }
    private let state = NIOLockedValueBox<(failures: [Failure], sent: [Int64])>(([], []))

    func fail(_ failures: [Failure]) { state.withLockedValue { $0.failures = failures } }
    var sent: [Int64] { state.withLockedValue { $0.sent } }

    func send(_ message: OutboxMessage, rendered: RenderedNotification, now: Date) async throws -> String? {
        let failure = state.withLockedValue { state -> Failure? in state.failures.isEmpty ? nil : state.failures.removeFirst() }
        switch failure {
        case .transient: throw DeliveryFailure("451 try again later", permanent: false)
        case .permanent: throw DeliveryFailure("550 no such user", permanent: true)
        case nil:
            state.withLockedValue { $0.sent.append(message.id) }
            return "scripted-\(message.id)"
        }
    }
}

enum DeliveryScenarios {
    static let now = TestDatabase.epoch
    static let alice = try! MSISDN("+14155550100")

    static func openAndTopUp(_ ledger: LedgerStore, email: String? = "li@example.com", language: String = "zh-Hans", key: String = "order-1") async throws {
        if (try? await ledger.line(alice)) == nil {
            _ = try await ledger.openLine(try OpenLineCommand(
                msisdn: alice, iccid: nil, type: .prepaid, currency: .usd, creditLimit: nil,
                subscriber: try SubscriberDetails(name: "Li Wei", email: email, language: language)), now: now)
        }
        _ = try await ledger.topUp(try TopUpCommand(msisdn: alice, value: .money(try Money(decimal: "20.00", currency: .usd)), channel: .alipay, reference: nil),
                                   key: try IdempotencyKey(key), now: now)
    }

    static func service(_ database: Database, clock: TestClock, sms: (any NotificationTransport)? = nil, email: (any NotificationTransport)? = nil,
                        inbox: DevInbox = DevInbox(), maximumAttempts: Int = 4) throws -> DeliveryService {
        var configuration = DeliveryService.Configuration()
        configuration.lease = .seconds(60)
        configuration.retry = OutboxRetryPolicy(maximumAttempts: maximumAttempts, initialDelay: .seconds(10), maximumDelay: .seconds(100))
        return DeliveryService(outbox: OutboxStore(database: database), renderer: try NotificationRenderer.bundled(), sms: sms, email: email,
                               devInbox: inbox, configuration: configuration, clock: clock.function, jitter: { 1 })
    }

    /// Without SMTP or SMPP, a top-up's SMS and email go to the dev inbox, rendered, and are marked sent once.
    static func devInboxDeliversOnce(_ backend: Backend) async throws {
        try await TestDatabase.with(backend) { database in
            let ledger = LedgerStore(database: database)
            try await openAndTopUp(ledger)
            let clock = TestClock(now)
            let inbox = DevInbox()
            let delivery = try service(database, clock: clock, inbox: inbox)
            #expect(try await delivery.deliverDue() == .init(claimed: 2, sent: 2))
            #expect(try await delivery.deliverDue() == .init())
            let received = inbox.received.sorted { $0.channel.rawValue > $1.channel.rawValue }
            #expect(received.map(\.channel) == [.sms, .email])
            #expect(received[0].recipient == "+14155550100" && received[1].recipient == "li@example.com")
            #expect(received[0].rendered.sms == "【Recharge】您通过支付宝充值20.00 美元已到账，当前余额20.00 美元。感谢使用！")
            #expect(received[1].rendered.subject == "充值20.00 美元已到账")
            let rows = try await OutboxStore(database: database).list()
            #expect(rows.allSatisfy { $0.state == .sent && $0.attempts == 1 && $0.providerID == "dev-\($0.id)" && $0.sentAt == now })
        }
    }

    /// Transient failures back off exponentially (10 s, 20 s, … with the injected clock); a permanent one, or
    /// the last allowed attempt, dead-letters the message.
    /// A one-time code is queued sealed and opened only by delivery: the SMS carries the code, the log line of the
    /// dev inbox withholds it (outside `--demo`), and a node with another seal key dead-letters it instead of
    /// sending the sealed text.
    static func sealedCodeIsOpenedOnlyForDelivery(_ backend: Backend) async throws {
        try await TestDatabase.with(backend) { database in
            let clock = TestClock(now)
            let issued = try await AccountStore(database: database).issueCode(purpose: .register, target: alice.e164, accountID: nil,
                                                                              language: .english, now: now)
            let lines = LogLines()
            let inbox = DevInbox(logger: Logger(label: "test") { _ in lines }, logsCodes: false)
            #expect(try await service(database, clock: clock, inbox: inbox).deliverDue().sent == 1)
            #expect(inbox.received.map(\.rendered.sms).first?.contains(issued.code) == true)
            #expect(!lines.text.isEmpty && !lines.text.contains(issued.code), "\(lines.text)")

            let other = try await AccountStore(database: database).issueCode(purpose: .passwordReset, target: alice.e164, accountID: nil,
                                                                             language: .english, now: now)
            database.useCodeSeal(CodeSeal.random())
            let elsewhere = DevInbox(logsCodes: true)
            #expect(try await service(database, clock: clock, inbox: elsewhere).deliverDue().dead == 1)
            #expect(!elsewhere.received.contains { $0.rendered.sms.contains(other.code) || $0.rendered.sms.contains("sealed:") })
        }
    }

    static func backoffAndDeadLetter(_ backend: Backend) async throws {
        try await TestDatabase.with(backend) { database in
            let ledger = LedgerStore(database: database)
            try await openAndTopUp(ledger, email: nil, language: "en")           // one SMS
            let clock = TestClock(now)
            let sms = ScriptedTransport()
            let delivery = try service(database, clock: clock, sms: sms, maximumAttempts: 3)
            let outbox = OutboxStore(database: database)

            sms.fail([.transient, .transient])
            #expect(try await delivery.deliverDue() == .init(claimed: 1, retried: 1))
            var row = try #require(try await outbox.list().first)
            #expect(row.state == .pending && row.nextAttemptAt == now.addingTimeInterval(10) && row.lastError == "451 try again later")
            clock.advance(9)
            #expect(try await delivery.deliverDue() == .init())                  // not due yet
            clock.advance(1)
            #expect(try await delivery.deliverDue() == .init(claimed: 1, retried: 1))
            row = try #require(try await outbox.list().first)
            #expect(row.nextAttemptAt == now.addingTimeInterval(10 + 20) && row.attempts == 2)
            clock.advance(20)
            #expect(try await delivery.deliverDue() == .init(claimed: 1, sent: 1))
            #expect(sms.sent == [row.id])

            // A permanent error: dead at once.
            try await openAndTopUp(ledger, email: nil, language: "en", key: "order-2")
            sms.fail([.permanent])
            #expect(try await delivery.deliverDue() == .init(claimed: 1, dead: 1))
            #expect(try await outbox.list(state: .dead).first?.lastError == "550 no such user")

            // Transient errors until the attempts run out: dead after the third.
            try await openAndTopUp(ledger, email: nil, language: "en", key: "order-3")
            sms.fail([.transient, .transient, .transient])
            #expect(try await delivery.deliverDue() == .init(claimed: 1, retried: 1))
            clock.advance(10)
            #expect(try await delivery.deliverDue() == .init(claimed: 1, retried: 1))
            clock.advance(20)
            #expect(try await delivery.deliverDue() == .init(claimed: 1, dead: 1))
            #expect(try await outbox.list(state: .dead).count == 2)
            #expect(sms.sent.count == 1)
        }
    }

    /// A worker that claimed messages and died: after the lease the messages are claimed again and sent once.
    static func expiredLeaseIsReclaimed(_ backend: Backend) async throws {
        try await TestDatabase.with(backend) { database in
            let ledger = LedgerStore(database: database)
            try await openAndTopUp(ledger)
            let clock = TestClock(now)
            let outbox = OutboxStore(database: database)
            let crashed = try await outbox.claim(limit: 10, now: clock.now, lease: .seconds(60))
            #expect(crashed.count == 2)
            let inbox = DevInbox()
            let delivery = try service(database, clock: clock, inbox: inbox)
            #expect(try await delivery.deliverDue() == .init())
            clock.advance(60)
            #expect(try await delivery.deliverDue() == .init(claimed: 2, sent: 2))
            #expect(inbox.received.count == 2)
            // The dead worker wakes up: its results are refused, nothing changes.
            await #expect(throws: OutboxError.self) { try await outbox.markFailed(crashed[0], error: "late", retryAt: clock.now) }
            #expect(try await outbox.list().allSatisfy { $0.state == .sent && $0.attempts == 2 })
        }
    }

    /// Two delivery services on one database (two nodes) deliver a burst of messages, each exactly once.
    static func twoWorkersDeliverEachMessageOnce(_ backend: Backend) async throws {
        try await TestDatabase.with(backend) { database in
            let outbox = OutboxStore(database: database)
            let notifications = try (0..<120).map { index in
                try OutgoingNotification(eventKey: "otp-\(index)", channel: .sms, recipient: "+1415555\(String(format: "%04d", index))",
                                 language: index % 2 == 0 ? .english : .simplifiedChinese, event: .oneTimeCode(code: "\(100_000 + index)", validMinutes: 5))
            }
            try await outbox.enqueue(notifications, now: now)
            let clock = TestClock(now)
            let first = ScriptedTransport()
            let second = ScriptedTransport()
            let workers = [try service(database, clock: clock, sms: first), try service(database, clock: clock, sms: second)]
            try await withThrowingTaskGroup(of: Void.self) { group in
                for worker in workers {
                    group.addTask { while try await worker.deliverDue().claimed > 0 {} }
                }
                try await group.waitForAll()
            }
            let all = first.sent + second.sent
            #expect(all.count == 120 && Set(all).count == 120)
            #expect(try await outbox.counts() == [.sent: 120])
        }
    }
}

@Suite("Delivery on SQLite")
struct SQLiteDeliveryTests {
    @Test func devInbox() async throws { try await DeliveryScenarios.devInboxDeliversOnce(.sqlite) }
    @Test func sealedCode() async throws { try await DeliveryScenarios.sealedCodeIsOpenedOnlyForDelivery(.sqlite) }
    @Test func backoff() async throws { try await DeliveryScenarios.backoffAndDeadLetter(.sqlite) }
    @Test func expiredLease() async throws { try await DeliveryScenarios.expiredLeaseIsReclaimed(.sqlite) }
    @Test func twoWorkers() async throws { try await DeliveryScenarios.twoWorkersDeliverEachMessageOnce(.sqlite) }
}

@Suite("Delivery on PostgreSQL", .enabled(if: TestDatabase.postgresAvailable, "RECHARGE_TEST_POSTGRES_URL is not set: run scripts/start-postgres"))
struct PostgresDeliveryTests {
    @Test func devInbox() async throws { try await DeliveryScenarios.devInboxDeliversOnce(.postgres) }
    @Test func sealedCode() async throws { try await DeliveryScenarios.sealedCodeIsOpenedOnlyForDelivery(.postgres) }
    @Test func backoff() async throws { try await DeliveryScenarios.backoffAndDeadLetter(.postgres) }
    @Test func expiredLease() async throws { try await DeliveryScenarios.expiredLeaseIsReclaimed(.postgres) }
    @Test func twoWorkers() async throws { try await DeliveryScenarios.twoWorkersDeliverEachMessageOnce(.postgres) }
}

/// `run()` as `recharge serve` runs it: keeps delivering what is queued while it runs, also with a transport
/// that has no session of its own, and on cancellation finishes the round in flight before it returns.
@Suite("Delivery service lifecycle")
struct DeliveryServiceLifecycleTests {
    /// A slow transport without a session (its `run` returns at once), like SMTP.
    final class SlowTransport: NotificationTransport {
        let inner = ScriptedTransport()
        private let startedBox = NIOLockedValueBox(0)
        var started: Int { startedBox.withLockedValue { $0 } }

        func send(_ message: OutboxMessage, rendered: RenderedNotification, now: Date) async throws -> String? {
            startedBox.withLockedValue { $0 += 1 }
            try await Task.sleep(for: .milliseconds(300))
            return try await inner.send(message, rendered: rendered, now: now)
        }
    }

    @Test func runKeepsDeliveringAndFinishesTheRoundInFlightWhenCancelled() async throws {
        try await TestDatabase.with(.sqlite) { database in
            let ledger = LedgerStore(database: database)
            let outbox = OutboxStore(database: database)
            let email = SlowTransport()
            let inbox = DevInbox()
            var configuration = DeliveryService.Configuration()
            configuration.pollInterval = .milliseconds(20)
            let service = DeliveryService(outbox: outbox, renderer: try NotificationRenderer.bundled(),
                                          sms: nil, email: email, devInbox: inbox, configuration: configuration)
            let running = Task { try await service.run() }
            try await DeliveryScenarios.openAndTopUp(ledger, key: "first")
            let first = try await eventually { try await outbox.counts() == [.sent: 2] ? true : nil }
            #expect(first == true)
            // Still running: a later top-up goes out too, even when the service is stopped mid-send.
            try await DeliveryScenarios.openAndTopUp(ledger, key: "second")
            let inFlight = try await eventually { email.started == 2 ? true : nil }
            #expect(inFlight == true)
            running.cancel()
            try await running.value
            #expect(try await outbox.counts() == [.sent: 4])
            #expect(inbox.received.count == 2 && email.inner.sent.count == 2)
        }
    }
}
