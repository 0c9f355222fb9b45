import Foundation
import NIOPosix
import RechargeCore
import RechargeMessaging
import RechargeStore
import RechargeTestSupport
import Testing

@testable import RechargeNotifications

/// The peers scripts/start-peers starts (aiosmtpd and the smpp34 SMSC), found through the variables it exports.
enum Peers {
    static let variables = ProcessInfo.processInfo.environment
    static var smtp: (host: String, port: Int)? { endpoint("RECHARGE_TEST_SMTP") }
    static var smpp: (host: String, port: Int)? { endpoint("RECHARGE_TEST_SMPP") }
    static var smtpDirectory: String? { variables["RECHARGE_TEST_SMTP_DIR"] }
    static var smppLog: String? { variables["RECHARGE_TEST_SMPP_LOG"] }
    static var python: String? { variables["RECHARGE_TEST_PEERS_PYTHON"] }
    static var configured: Bool { smtp != nil && smtpDirectory != nil && smpp != nil && smppLog != nil && python != nil }
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static func endpoint(_ name: String) -> (host: String, port: Int)? {
        guard let value = variables[name], let colon = value.lastIndex(of: ":"), let port = Int(value[value.index(after: colon)...]) else { return nil }
        return (String(value[..<colon]), port)
    }

    static func run(_ executable: String, _ arguments: [String]) throws -> Data {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let output = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return output
    }

    /// A loopback port nothing listens on.
    static func closedPort() throws -> Int {
        let output = try run(python!, ["-c", "import socket; s=socket.socket(); s.bind(('127.0.0.1', 0)); print(s.getsockname()[1])"])
        return Int(String(decoding: output, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines))!
    }

    /// Every message the SMTP sink saved for `recipient`, parsed by Python's email package.
    static func mails(to recipient: String) throws -> [[String: Any]] {
        let directory = smtpDirectory!
        var found: [[String: Any]] = []
        for name in try FileManager.default.contentsOfDirectory(atPath: directory) where name.hasSuffix(".json") {
            let record = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: directory + "/" + name))) as! [String: Any]
            guard (record["rcpt_tos"] as? [String])?.contains(recipient) == true else { continue }
            let eml = directory + "/" + (record["eml"] as! String)
            let output = try run(python!, [root.appendingPathComponent("scripts/peers/read_mail.py").path, eml])
            found.append(try JSONSerialization.jsonObject(with: output) as! [String: Any])
        }
        return found
    }

    /// Every submit_sm the SMSC logged for `destination`: (data_coding, short_message bytes, message_id).
    static func submits(to destination: String, log: String? = nil) throws -> [(dataCoding: Int, shortMessage: [UInt8], messageID: String?)] {
        guard let data = FileManager.default.contents(atPath: log ?? smppLog!) else { return [] }
        return try String(decoding: data, as: UTF8.self).split(separator: "\n").compactMap { line in
            let record = try JSONSerialization.jsonObject(with: Data(line.utf8)) as! [String: Any]
            guard record["event"] as? String == "submit_sm", record["destination_addr"] as? String == destination else { return nil }
            let hex = record["short_message"] as! String
            var bytes: [UInt8] = []
            var index = hex.startIndex
            while index < hex.endIndex {
                let next = hex.index(index, offsetBy: 2)
                bytes.append(UInt8(hex[index..<next], radix: 16)!)
                index = next
            }
            return (record["data_coding"] as! Int, bytes, record["message_id"] as? String)
        }
    }

    static func smtpConfiguration(port: Int? = nil) -> SMTPConfiguration {
        var configuration = SMTPConfiguration(host: smtp!.host, port: port ?? smtp!.port, security: .plain,
                                              credentials: .init(username: "recharge", password: "s3cret-密码"), heloName: "recharge.test")
        configuration.connectTimeout = .seconds(2)
        configuration.replyTimeout = .seconds(10)
        return configuration
    }

    static func smppConfiguration(port: Int? = nil) -> SMPPConfiguration {
        var configuration = SMPPConfiguration(host: smpp!.host, port: port ?? smpp!.port, systemID: "recharge", password: "secret", sourceAddress: "Recharge")
        configuration.responseTimeout = .seconds(5)
        configuration.bindWaitTimeout = .seconds(20)
        return configuration
    }
}

func eventually<T>(timeout: Duration = .seconds(10), _ probe: () async throws -> T?) async throws -> T? {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if let value = try await probe() { return value }
        try await Task.sleep(for: .milliseconds(50))
    }
    return try await probe()
}

@Suite("Delivery to the real SMTP and SMPP peers",
       .enabled(if: Peers.configured, "set by `eval \"$(scripts/start-peers)\"`: RECHARGE_TEST_SMTP, RECHARGE_TEST_SMPP …"),
       .serialized)
struct PeerDeliveryTests {
    static let now = TestDatabase.epoch
    let from = MailAddress("noreply@recharge.example", displayName: "Recharge 充值中心")

    func openLine(_ ledger: LedgerStore, msisdn: MSISDN, email: String?, language: String) async throws {
        _ = try await ledger.openLine(try OpenLineCommand(
            msisdn: msisdn, iccid: nil, type: .prepaid, currency: .usd, creditLimit: nil,
            subscriber: try SubscriberDetails(name: "Li Wei", email: email, language: language)), now: Self.now)
    }

    func topUp(_ ledger: LedgerStore, _ msisdn: MSISDN, key: String) async throws {
        _ = try await ledger.topUp(try TopUpCommand(msisdn: msisdn, value: .money(try Money(decimal: "20.00", currency: .usd)), channel: .wechatPay, reference: nil),
                                   key: try IdempotencyKey(key), now: Self.now)
    }

    func service(_ database: Database, clock: TestClock, sms: (any NotificationTransport)?, email: (any NotificationTransport)?) throws -> DeliveryService {
        var configuration = DeliveryService.Configuration()
        configuration.retry = OutboxRetryPolicy(maximumAttempts: 5, initialDelay: .seconds(10), maximumDelay: .seconds(60))
        return DeliveryService(outbox: OutboxStore(database: database), renderer: try NotificationRenderer.bundled(), sms: sms, email: email,
                               configuration: configuration, clock: clock.function, jitter: { 1 })
    }

    /// A Chinese top-up notice goes out as UCS2 SMS through the SMSC, its receipt marks it delivered, and the
    /// email arrives as UTF-8 that Python's email package decodes to the same text.
    @Test(arguments: [Backend.sqlite, .postgres].filter { $0 == .sqlite || TestDatabase.postgresAvailable })
    func chineseSMSAndEmailReachThePeers(backend: Backend) async throws {
        try await TestDatabase.with(backend) { database in
            let ledger = LedgerStore(database: database)
            let token = UUID().uuidString.prefix(8).lowercased()
            let digits = "86138" + String(UInt32.random(in: 10_000_000...99_999_999))
            let msisdn = try MSISDN("+" + digits)
            let email = "li.\(token)@example.com"
            try await openLine(ledger, msisdn: msisdn, email: email, language: "zh-Hans")
            try await topUp(ledger, msisdn, key: "order-\(token)")

            let client = SMPPClient(configuration: Peers.smppConfiguration(), group: MultiThreadedEventLoopGroup.singleton)
            let sms = SMPPTransport(client: client)
            let smtp = SMTPTransport(client: SMTPClient(configuration: Peers.smtpConfiguration(), group: MultiThreadedEventLoopGroup.singleton), from: from)
            let clock = TestClock(Self.now)
            let outbox = OutboxStore(database: database)
            let session = Task { await sms.run(outbox: outbox, clock: clock.function) }
            defer { session.cancel() }
            let delivery = try service(database, clock: clock, sms: sms, email: smtp)
            #expect(try await delivery.deliverDue() == .init(claimed: 2, sent: 2))
            #expect(try await delivery.deliverDue() == .init())

            let expectedSMS = "【Recharge】您通过微信支付充值20.00 美元已到账，当前余额20.00 美元。感谢使用！"
            let submits = try #require(try await eventually { let s = try Peers.submits(to: digits); return s.isEmpty ? nil : s })
            #expect(submits.count == 1)
            #expect(submits[0].dataCoding == 8)
            #expect(SMSText.decode(submits[0].shortMessage, coding: .ucs2) == expectedSMS)
            let smsRow = try #require(try await outbox.list().first { $0.channel == .sms })
            #expect(smsRow.state == .sent && smsRow.providerID == submits[0].messageID)
            // The SMSC's delivery receipt reaches the row.
            let delivered = try await eventually(timeout: .seconds(30)) { try await outbox.list().first { $0.channel == .sms && $0.deliveredAt != nil } }
            #expect(delivered != nil)

            let mails = try #require(try await eventually { let m = try Peers.mails(to: email); return m.isEmpty ? nil : m })
            #expect(mails.count == 1)
            let mail = mails[0]
            #expect(mail["subject"] as? String == "充值20.00 美元已到账")
            #expect(mail["from_display_name"] as? String == "Recharge 充值中心")
            #expect(mail["content_type"] as? String == "multipart/alternative")
            let parts = try #require(mail["parts"] as? [[String: Any]])
            #expect(parts.map { $0["content_type"] as? String } == ["text/plain", "text/html"])
            #expect(parts.allSatisfy { $0["charset"] as? String == "utf-8" })
            #expect((parts[0]["content"] as? String)?.contains("当前余额：20.00 美元。") == true)
            #expect((parts[1]["content"] as? String)?.contains("<strong>20.00 美元</strong>") == true)
            let emailRow = try #require(try await outbox.list().first { $0.channel == .email })
            #expect(mail["message_id"] as? String == "<outbox-\(emailRow.id)@recharge.example>")
            await client.shutdown()
        }
    }

    /// A guest's quick-recharge order: its success SMS goes through the outbox to the number the guest gave (in the
    /// guest's language, without the balance) and reaches the SMSC; the line's own subscriber gets their usual notice,
    /// and the guest's number gets nothing else.
    @Test(arguments: [Backend.sqlite, .postgres].filter { $0 == .sqlite || TestDatabase.postgresAvailable })
    func aGuestsSuccessSMSGoesToTheNumberTheGuestGave(backend: Backend) async throws {
        try await TestDatabase.with(backend) { database in
            let ledger = LedgerStore(database: database)
            let line = try MSISDN("+86138" + String(UInt32.random(in: 10_000_000...99_999_999)))
            let guestDigits = "86139" + String(UInt32.random(in: 10_000_000...99_999_999))
            try await openLine(ledger, msisdn: line, email: nil, language: "en")
            let catalog = CatalogStore(database: database)
            _ = try await catalog.importCatalog(try Catalog(CatalogDefinition(customTopUp: ["USD": .init(min: "5", max: "500")], products: [])), now: Self.now)
            let orders = OrderStore(database: database, catalog: catalog)
            let amount = try Money(decimal: "12.50", currency: .usd)
            let created = try await orders.create(
                msisdn: line, item: .amount(amount), paymentMethod: .sandbox,
                payer: .guest(contact: .sms(try MSISDN("+" + guestDigits)), language: .simplifiedChinese),
                key: try IdempotencyKey("guest-peer-\(guestDigits)"), now: Self.now, checkout: { "sbx_\($0)" })
            let paid = try await orders.apply(PaymentConfirmation(provider: .sandbox, eventID: "evt-\(guestDigits)", orderID: created.order.id, outcome: .succeeded,
                                                                  amount: amount, providerReference: nil, failureReason: nil), now: Self.now)
            #expect(paid.fulfilledNow)
            // A replayed confirmation queues nothing more.
            _ = try await orders.apply(PaymentConfirmation(provider: .sandbox, eventID: "evt-\(guestDigits)", orderID: created.order.id, outcome: .succeeded,
                                                           amount: amount, providerReference: nil, failureReason: nil), now: Self.now)
            let outbox = OutboxStore(database: database)
            let queued = try await outbox.list()
            #expect(queued.filter { $0.recipient == "+" + guestDigits }.map(\.eventName) == ["guest_recharge"])
            #expect(queued.contains { $0.recipient == line.e164 && $0.eventName == "top_up_applied" })

            let client = SMPPClient(configuration: Peers.smppConfiguration(), group: MultiThreadedEventLoopGroup.singleton)
            let sms = SMPPTransport(client: client)
            let clock = TestClock(Self.now)
            let session = Task { await sms.run(outbox: outbox, clock: clock.function) }
            defer { session.cancel() }
            let delivery = try service(database, clock: clock, sms: sms, email: nil)
            _ = try await delivery.deliverDue()
            let submits = try #require(try await eventually { let s = try Peers.submits(to: guestDigits); return s.isEmpty ? nil : s })
            #expect(submits.count == 1)
            #expect(SMSText.decode(submits[0].shortMessage, coding: .ucs2)
                == "【Recharge】\(line.e164)充值成功：充值 12.50 USD，已付12.50 美元。")
            await client.shutdown()
        }
    }

    /// The mail server is unreachable during a burst: every message stays pending (nothing is lost or dead);
    /// when it is back, each goes out exactly once.
    /// The SMSC accepts an SMS to a 777… number and then reports it undeliverable: the row becomes dead with the
    /// receipt's state, as `recharge notify list --state dead` and `/v1/outbox?state=dead` show it.
    @Test func undeliverableReceiptMakesTheMessageDead() async throws {
        try await TestDatabase.with(.sqlite) { database in
            let digits = "777" + String(UInt32.random(in: 10_000_000...99_999_999))
            let outbox = OutboxStore(database: database)
            try await outbox.enqueue([try OutgoingNotification(eventKey: "undeliv-\(digits)", channel: .sms, recipient: "+" + digits, language: .english,
                                                               event: .oneTimeCode(code: "829104", validMinutes: 10))], now: Self.now)
            let client = SMPPClient(configuration: Peers.smppConfiguration(), group: MultiThreadedEventLoopGroup.singleton)
            let sms = SMPPTransport(client: client)
            let clock = TestClock(Self.now)
            let session = Task { await sms.run(outbox: outbox, clock: clock.function) }
            defer { session.cancel() }
            let delivery = try service(database, clock: clock, sms: sms, email: nil)
            #expect(try await delivery.deliverDue() == .init(claimed: 1, sent: 1))
            let submits = try #require(try await eventually { let s = try Peers.submits(to: digits); return s.isEmpty ? nil : s })
            let dead = try await eventually(timeout: .seconds(30)) { try await outbox.list(state: .dead).first }
            #expect(dead?.providerID == submits[0].messageID)
            #expect(dead?.lastError == "delivery receipt: stat:UNDELIV err:001")
            #expect(dead?.deliveredAt == nil)
            #expect(try await delivery.deliverDue() == .init())   // not sent again
            await client.shutdown()
        }
    }

    @Test(arguments: [Backend.sqlite, .postgres].filter { $0 == .sqlite || TestDatabase.postgresAvailable })
    func burstDuringAnOutageGoesOutOnceWhenTheServerIsBack(backend: Backend) async throws {
        try await TestDatabase.with(backend) { database in
            let ledger = LedgerStore(database: database)
            let token = UUID().uuidString.prefix(8).lowercased()
            var recipients: [String] = []
            for index in 0..<8 {
                let msisdn = try MSISDN("+1415666\(String(format: "%04d", index))")
                let email = "burst\(index).\(token)@example.com"
                recipients.append(email)
                try await openLine(ledger, msisdn: msisdn, email: email, language: index % 2 == 0 ? "en" : "zh-Hans")
                try await topUp(ledger, msisdn, key: "burst-\(token)-\(index)")
            }
            let clock = TestClock(Self.now)
            let outbox = OutboxStore(database: database)
            let group = MultiThreadedEventLoopGroup.singleton
            // SMS go to the dev inbox here; the email server is down (nothing listens on the port).
            let down = try service(database, clock: clock, sms: nil,
                                   email: SMTPTransport(client: SMTPClient(configuration: Peers.smtpConfiguration(port: try Peers.closedPort()), group: group), from: from))
            let outage = try await down.deliverDue()
            #expect(outage.claimed == 16 && outage.sent == 8 && outage.retried == 8)
            let pending = try await outbox.list(state: .pending)
            #expect(pending.count == 8 && pending.allSatisfy { $0.channel == .email && $0.attempts == 1 && $0.lastError != nil })
            #expect(try await down.deliverDue() == .init())   // backing off: not due yet
            for recipient in recipients { #expect(try Peers.mails(to: recipient).isEmpty) }

            // The server is back; a delivery service on another node picks the messages up once they are due.
            let up = try service(database, clock: clock, sms: nil,
                                 email: SMTPTransport(client: SMTPClient(configuration: Peers.smtpConfiguration(), group: group), from: from))
            clock.advance(10)
            #expect(try await up.deliverDue() == .init(claimed: 8, sent: 8))
            clock.advance(3600)
            #expect(try await up.deliverDue() == .init())
            #expect(try await down.deliverDue() == .init())
            for recipient in recipients {
                let mails = try #require(try await eventually { let m = try Peers.mails(to: recipient); return m.isEmpty ? nil : m })
                #expect(mails.count == 1, "\(recipient) got \(mails.count) messages")
            }
            #expect(try await outbox.counts() == [.sent: 16])
        }
    }

    /// The SMSC is killed between two halves of a burst: messages queued while it is down stay pending (the
    /// client cannot bind), and when a new SMSC is up on the same port each message reaches it exactly once.
    @Test func smscKilledMidBurstEachSMSGoesOutOnce() async throws {
        try await TestDatabase.with(.sqlite) { database in
            let port = try Peers.closedPort()
            let log = FileManager.default.temporaryDirectory.appendingPathComponent("notify-smsc-\(UUID()).jsonl").path
            defer { try? FileManager.default.removeItem(atPath: log) }
            func startSMSC() throws -> Process {
                let process = Process()
                process.executableURL = URL(fileURLWithPath: Peers.python!)
                process.arguments = [Peers.root.appendingPathComponent("scripts/peers/smsc.py").path, "--port", "\(port)", "--log", log]
                process.standardOutput = FileHandle.nullDevice
                process.standardError = FileHandle.nullDevice
                try process.run()
                return process
            }
            var smsc = try startSMSC()
            defer { if smsc.isRunning { kill(smsc.processIdentifier, SIGKILL) } }

            var configuration = Peers.smppConfiguration(port: port)
            configuration.bindWaitTimeout = .seconds(1)
            configuration.reconnectBackoff = SMPPBackoff(initial: .milliseconds(100), maximum: .milliseconds(300))
            let client = SMPPClient(configuration: configuration, group: MultiThreadedEventLoopGroup.singleton)
            let transport = SMPPTransport(client: client)
            let clock = TestClock(Self.now)
            let outbox = OutboxStore(database: database)
            let session = Task { await transport.run(outbox: outbox, clock: clock.function) }
            defer { session.cancel() }
            let delivery = try service(database, clock: clock, sms: transport, email: nil)
            let ledger = LedgerStore(database: database)
            let token = UUID().uuidString.prefix(6).lowercased()
            var destinations: [String] = []
            func queue(_ range: Range<Int>) async throws {
                for index in range {
                    let digits = "86139" + String(format: "%08d", Int.random(in: 0..<100_000_000))
                    destinations.append(digits)
                    try await openLine(ledger, msisdn: try MSISDN("+" + digits), email: nil, language: index % 2 == 0 ? "zh-Hans" : "en")
                    try await topUp(ledger, try MSISDN("+" + digits), key: "smsc-\(token)-\(index)")
                }
            }

            try await queue(0..<5)
            let bound = try await eventually(timeout: .seconds(20)) { await client.state == .bound ? true : nil }
            #expect(bound == true)
            #expect(try await delivery.deliverDue() == .init(claimed: 5, sent: 5))

            kill(smsc.processIdentifier, SIGKILL)
            smsc.waitUntilExit()
            _ = try await eventually { await client.state == .bound ? nil : true }
            try await queue(5..<10)
            let outage = try await delivery.deliverDue()
            #expect(outage.claimed == 5 && outage.retried == 5 && outage.sent == 0)
            #expect(try await outbox.list(state: .pending).count == 5)

            smsc = try startSMSC()
            let rebound = try await eventually(timeout: .seconds(20)) { await client.state == .bound ? true : nil }
            #expect(rebound == true)
            clock.advance(10)
            #expect(try await delivery.deliverDue() == .init(claimed: 5, sent: 5))
            clock.advance(3600)
            #expect(try await delivery.deliverDue() == .init())
            for destination in destinations {
                let submits = try #require(try await eventually { let s = try Peers.submits(to: destination, log: log); return s.isEmpty ? nil : s })
                #expect(submits.count == 1, "\(destination) got \(submits.count) submits")
            }
            #expect(try await outbox.counts() == [.sent: 10])
            await client.shutdown()
        }
    }
}
