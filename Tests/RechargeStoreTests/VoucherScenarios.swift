import Foundation
import RechargeCore
import RechargeStore
import RechargeTestSupport
import SQLKit
import Testing

/// Scratch-card vouchers on each engine: creation, export once, stock, range activation with dual approval,
/// suspension and blocking, redemption exactly once under concurrency, refusals, expiry and brute-force lockouts.
enum VoucherScenarios {
    static let now = TestDatabase.epoch
    static let alice = LedgerScenarios.alice
    static let bob = LedgerScenarios.bob
    static let key = try! VoucherKey(id: "t1", secret: Array(repeating: UInt8(7), count: 32))

    struct Fixture {
        let database: Database
        let ledger: LedgerStore
        let vouchers: VoucherStore
        let folder: URL
    }

    static func with(_ backend: Backend, threshold: String = "10000", _ body: (Fixture) async throws -> Void) async throws {
        try await TestDatabase.with(backend) { database in
            let ledger = LedgerStore(database: database)
            let vouchers = VoucherStore(database: database, key: key, ledger: ledger,
                                        approval: VoucherApprovalPolicy(threshold: try Money(decimal: threshold, currency: .usd)))
            let folder = FileManager.default.temporaryDirectory.appendingPathComponent("vouchers-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(at: folder) }
            try await LedgerScenarios.open(ledger, alice)
            try await LedgerScenarios.open(ledger, bob)
            try await body(Fixture(database: database, ledger: ledger, vouchers: vouchers, folder: folder))
        }
    }

    static func usd(_ text: String) -> Money { LedgerScenarios.usd(text) }

    /// A batch created, exported (its PINs read back from the CSV, by serial) and received into stock.
    static func stockedBatch(_ fixture: Fixture, count: Int64 = 20, value: String = "5.00", expiresIn days: Double = 365) async throws -> (VoucherBatch, [Int64: String]) {
        let request = try VoucherBatchRequest(denomination: .money(usd(value)), count: count, expiresAt: now.addingTimeInterval(days * 86_400),
                                              createdBy: "alice@operator", now: now)
        let batch = try await fixture.vouchers.createBatch(request, now: now)
        let path = fixture.folder.appendingPathComponent("batch-\(batch.id).csv").path
        #expect(try await fixture.vouchers.export(batch: batch.id, to: path, actor: "alice@operator", now: now) == count)
        let pins = try readExport(path)
        _ = try await fixture.vouchers.receive(batch: batch.id, actor: "warehouse", now: now)
        return (batch, pins)
    }

    static func readExport(_ path: String) throws -> [Int64: String] {
        let text = try String(contentsOfFile: path, encoding: .utf8)
        var lines = text.split(separator: "\n")
        #expect(lines.removeFirst() == "serial,pin")
        var pins: [Int64: String] = [:]
        for line in lines {
            let fields = line.split(separator: ",")
            pins[Int64(fields[0])!] = String(fields[1])
        }
        return pins
    }

    static func attempt(_ msisdn: MSISDN, _ pin: String, serial: Int64? = nil, channel: String = "api", client: String = "key-1") -> VoucherRedemptionAttempt {
        VoucherRedemptionAttempt(msisdn: msisdn, pin: pin, serial: serial, channel: channel, client: client)
    }

    // MARK: Scenarios

    static func batchLifeExportOnceAndRedeem(_ backend: Backend) async throws {
        try await with(backend) { f in
            let request = try VoucherBatchRequest(denomination: .money(usd("20.00")), count: 25, expiresAt: now.addingTimeInterval(365 * 86_400),
                                                  createdBy: "alice@operator", now: now)
            let progress = ProgressRecorder()
            let batch = try await f.vouchers.createBatch(request, now: now) { progress.record($0) }
            #expect(batch.state == .generated && batch.count == 25 && progress.values.last == 25)
            #expect(try await f.vouchers.batch(batch.id) == batch)
            let second = try await f.vouchers.createBatch(request, now: now)
            #expect(second.serials.first == batch.serials.last + 1)

            // Not printed yet: cannot be received or activated.
            await #expect(throws: VoucherError.self) { try await f.vouchers.activate(batch: batch.id, range: nil, actor: "alice@operator", now: now) }
            await #expect(throws: VoucherError.self) { try await f.vouchers.receive(batch: batch.id, actor: "warehouse", now: now) }

            let path = f.folder.appendingPathComponent("print.csv").path
            #expect(try await f.vouchers.export(batch: batch.id, to: path, actor: "alice@operator", now: now) == 25)
            let attributes = try FileManager.default.attributesOfItem(atPath: path)
            #expect((attributes[.posixPermissions] as? NSNumber)?.intValue == 0o600)
            let pins = try readExport(path)
            #expect(pins.keys.sorted() == Array(batch.serials.first...batch.serials.last))
            #expect(Set(pins.values).count == 25)
            for pin in pins.values { #expect(pin.count == 16 && (try? VoucherPIN(parsing: pin)) != nil) }

            // The database holds HMACs only: no PIN in any column, nothing left to export.
            let rows = try await f.database.read { db in try await db.raw("SELECT serial, pin_hmac, key_id, state FROM vouchers ORDER BY serial").all() }
            let stored = try Dictionary(uniqueKeysWithValues: rows.map { (try $0.decode(column: "serial", as: Int64.self), try $0.decode(column: "pin_hmac", as: String.self)) })
            for (serial, pin) in pins { #expect(stored[serial] == key.hmacHex(try VoucherPIN(parsing: pin))) }
            #expect(try rows.allSatisfy { try $0.decode(column: "key_id", as: String.self) == "t1" && $0.decode(column: "state", as: String.self) == "inactive" })
            let staged = try await f.database.read { db in try await db.raw("SELECT COUNT(*) AS n FROM voucher_export_staging WHERE batch_id = \(bind: batch.id)").first()?.decode(column: "n", as: Int.self) }
            #expect(staged == 0)

            // Exported once: a second export is refused and writes no file.
            let again = f.folder.appendingPathComponent("again.csv").path
            await #expect(throws: VoucherError.alreadyExported(batch: batch.id, at: now, by: "alice@operator")) {
                try await f.vouchers.export(batch: batch.id, to: again, actor: "mallory", now: now)
            }
            #expect(!FileManager.default.fileExists(atPath: again))
            // An existing file is never overwritten (the other batch, still unexported, stays so).
            await #expect(throws: (any Error).self) { try await f.vouchers.export(batch: second.id, to: path, actor: "alice@operator", now: now) }
            #expect(try await f.vouchers.batch(second.id).state == .generated)

            _ = try await f.vouchers.receive(batch: batch.id, actor: "warehouse", now: now)
            let firstTen = try VoucherSerialRange(first: batch.serials.first, last: batch.serials.first + 9)
            #expect(try await f.vouchers.activate(batch: batch.id, range: firstTen, actor: "shop-17", now: now) == .activated(count: 10))

            let active = pins[batch.serials.first + 3]!
            let inactive = pins[batch.serials.first + 10]!
            await #expect(throws: VoucherError.notActive) { try await f.vouchers.redeem(attempt(alice, inactive), now: now) }
            let redemption = try await f.vouchers.redeem(attempt(alice, active, serial: batch.serials.first + 3), now: now)
            #expect(redemption.serial == batch.serials.first + 3 && redemption.credited == usd("20.00") && redemption.msisdn == alice)
            #expect(redemption.operation.channel == .voucher && redemption.operation.idempotencyKey == "voucher:\(redemption.serial)")
            #expect(try await LedgerScenarios.total(f.ledger, alice) == 20_000_000)
            await #expect(throws: VoucherError.alreadyRedeemed(at: now, maskedMSISDN: "+1••••••••00")) { try await f.vouchers.redeem(attempt(bob, active), now: now) }
            #expect(try await LedgerScenarios.total(f.ledger, bob) == 0)

            // The credit came out of the voucher liability account, and the ledger still balances.
            let liability = try await f.database.read { db in
                try await db.raw("SELECT kind, debits_posted FROM ledger_accounts WHERE code = 'liability:vouchers:USD'").first()
            }
            #expect(try liability?.decode(column: "kind", as: String.self) == "voucher_liability")
            #expect(try liability?.decode(column: "debits_posted", as: Int64.self) == 20_000_000)
            try await LedgerScenarios.expectBalanced(f.database)

            let report = try #require(try await f.vouchers.report(batch: batch.id, now: now).first)
            #expect(report.counts == [.inactive: 15, .active: 9, .redeemed: 1])
            #expect(report.value(.active) == usd("180.00") && report.effectiveState == .active)
            let log = try await f.vouchers.auditLog(batch: batch.id)
            #expect(log.map(\.action) == ["create", "export", "receive", "activate"])
            #expect(log.map(\.actor) == ["alice@operator", "alice@operator", "warehouse", "shop-17"])
            #expect(log.last?.serials == firstTen && log.last?.affected == 10)
        }
    }

    static func oneOfAHundredConcurrentRedemptionsWins(_ backend: Backend) async throws {
        try await with(backend) { f in
            let (batch, pins) = try await stockedBatch(f, count: 3, value: "7.50")
            _ = try await f.vouchers.activate(batch: batch.id, range: nil, actor: "shop", now: now)
            let pin = pins[batch.serials.first + 1]!
            let outcomes = try await withThrowingTaskGroup(of: Result<VoucherRedemption, VoucherError>.self) { group in
                for index in 0..<100 {
                    group.addTask {
                        do {
                            return .success(try await f.vouchers.redeem(attempt(index % 2 == 0 ? alice : bob, pin, client: "client-\(index)"), now: now))
                        } catch let error as VoucherError {
                            return .failure(error)
                        }
                    }
                }
                var outcomes: [Result<VoucherRedemption, VoucherError>] = []
                for try await outcome in group { outcomes.append(outcome) }
                return outcomes
            }
            let successes = outcomes.compactMap { try? $0.get() }
            #expect(successes.count == 1)
            let refusals = outcomes.compactMap { outcome -> VoucherError? in if case .failure(let error) = outcome { error } else { nil } }
            #expect(refusals.count == 99)
            #expect(refusals.allSatisfy { if case .alreadyRedeemed = $0 { true } else { false } })
            let winner = try #require(successes.first)
            let totals = (try await LedgerScenarios.total(f.ledger, alice), try await LedgerScenarios.total(f.ledger, bob))
            #expect(totals.0 + totals.1 == 7_500_000)
            #expect((winner.msisdn == alice ? totals.0 : totals.1) == 7_500_000)
            let operations = try await f.database.read { db in
                try await db.raw("SELECT COUNT(*) AS n FROM operations WHERE idempotency_key LIKE 'voucher:%'").first()?.decode(column: "n", as: Int.self)
            }
            #expect(operations == 1)
            try await LedgerScenarios.expectBalanced(f.database)
        }
    }

    static func refusalsTellOnlyAMatchedCardsState(_ backend: Backend) async throws {
        try await with(backend) { f in
            let (batch, pins) = try await stockedBatch(f, count: 10, expiresIn: 30)
            let first = batch.serials.first
            _ = try await f.vouchers.activate(batch: batch.id, range: nil, actor: "shop", now: now)
            #expect(try await f.vouchers.block(batch: batch.id, range: try VoucherSerialRange(first: first, last: first + 1), actor: "security", now: now) == 2)
            #expect(try await f.vouchers.suspend(batch: batch.id, range: try VoucherSerialRange(first: first + 2, last: first + 2), actor: "shop", now: now) == 1)
            await #expect(throws: VoucherError.blocked) { try await f.vouchers.redeem(attempt(alice, pins[first]!), now: now) }
            await #expect(throws: VoucherError.notActive) { try await f.vouchers.redeem(attempt(alice, pins[first + 2]!), now: now) }
            // Activating the whole batch again skips the blocked cards and resumes the suspended one.
            #expect(try await f.vouchers.activate(batch: batch.id, range: nil, actor: "shop", now: now) == .activated(count: 1))
            #expect(try await f.vouchers.redeem(attempt(alice, pins[first + 2]!), now: now).serial == first + 2)

            // A PIN with the wrong serial, or no card at all: only "invalid".
            await #expect(throws: VoucherError.invalidPIN) { try await f.vouchers.redeem(attempt(alice, pins[first + 4]!, serial: first + 5), now: now) }
            // All zeros has a valid check digit; a drawn PIN equal to it is a 1-in-10^15 chance.
            await #expect(throws: VoucherError.invalidPIN) { try await f.vouchers.redeem(attempt(bob, "0000 0000 0000 0000"), now: now) }
            await #expect(throws: VoucherError.invalidPIN) { try await f.vouchers.redeem(attempt(bob, "4111 1111 1111 1111"), now: now) }
            // A typing mistake is told as such and is not counted.
            await #expect(throws: VoucherError.self) { try await f.vouchers.redeem(attempt(bob, "4111 1111 1111 1112"), now: now) }
            #expect(try await f.vouchers.guardCounter(.line(bob.e164))?.failures == 2)

            // A line in another currency: refused, and the card stays usable.
            _ = try await f.ledger.openLine(try OpenLineCommand(msisdn: try MSISDN("+8613800138000"), iccid: nil, type: .prepaid, currency: .cny,
                                                            creditLimit: nil, subscriber: nil), now: now)
            await #expect(throws: VoucherError.currencyMismatch(voucher: "5.00 USD", line: "CNY")) {
                try await f.vouchers.redeem(attempt(try MSISDN("+8613800138000"), pins[first + 5]!), now: now)
            }
            // A terminated line takes no top-ups: the ledger's refusal rolls the card's change back too.
            _ = try await f.ledger.changeStatus(bob, to: .terminated, now: now)
            await #expect(throws: RechargeError.self) { try await f.vouchers.redeem(attempt(bob, pins[first + 5]!), now: now) }
            #expect(try await f.vouchers.redeem(attempt(alice, pins[first + 5]!), now: now).serial == first + 5)

            // After the batch's expiry date an unused card is void.
            let later = now.addingTimeInterval(31 * 86_400)
            await #expect(throws: VoucherError.expired(at: batch.expiresAt)) { try await f.vouchers.redeem(attempt(alice, pins[first + 6]!), now: later) }
            let report = try #require(try await f.vouchers.report(batch: batch.id, now: later).first)
            #expect(report.effectiveState == .expired && report.counts == [.blocked: 2, .redeemed: 2, .expired: 6])
            await #expect(throws: VoucherError.self) { try await f.vouchers.activate(batch: batch.id, range: nil, actor: "shop", now: later) }
        }
    }

    static func rangesMustLieInTheBatch(_ backend: Backend) async throws {
        try await with(backend) { f in
            let (batch, _) = try await stockedBatch(f, count: 5)
            let outside = try VoucherSerialRange(first: batch.serials.first, last: batch.serials.last + 1)
            await #expect(throws: VoucherError.serialsOutsideBatch(batch: batch.id, requested: outside.description, batchRange: batch.serials.description)) {
                try await f.vouchers.activate(batch: batch.id, range: outside, actor: "shop", now: now)
            }
            await #expect(throws: VoucherError.batchNotFound(9_999)) { try await f.vouchers.block(batch: 9_999, range: nil, actor: "x", now: now) }
            #expect(try await f.vouchers.report(batch: batch.id, now: now).first?.counts == [.inactive: 5])
            #expect(try await f.vouchers.auditLog(batch: batch.id).map(\.action) == ["create", "export", "receive"])
            // Blocking the whole batch ends it.
            #expect(try await f.vouchers.block(batch: batch.id, range: nil, actor: "security", now: now) == 5)
            #expect(try await f.vouchers.batch(batch.id).state == .blocked)
            await #expect(throws: VoucherError.self) { try await f.vouchers.activate(batch: batch.id, range: nil, actor: "shop", now: now) }
        }
    }

    static func activationAboveTheThresholdNeedsASecondAdmin(_ backend: Backend) async throws {
        try await with(backend, threshold: "100.00") { f in
            let (batch, pins) = try await stockedBatch(f, count: 30, value: "5.00")
            let small = try VoucherSerialRange(first: batch.serials.first, last: batch.serials.first + 19)   // 100.00: at the threshold
            #expect(try await f.vouchers.activate(batch: batch.id, range: small, actor: "alice", now: now) == .activated(count: 20))
            let pending = try await f.vouchers.activate(batch: batch.id, range: nil, actor: "alice", now: now)   // the other 10 are 50.00
            #expect(pending == .activated(count: 10))

            let (big, bigPins) = try await stockedBatch(f, count: 30, value: "5.00")
            guard case .pendingApproval(let approvalID, let count, let value) = try await f.vouchers.activate(batch: big.id, range: nil, actor: "alice", now: now) else {
                Issue.record("150.00 of cards were activated without a second admin")
                return
            }
            #expect(count == 30 && value == usd("150.00"))
            await #expect(throws: VoucherError.notActive) { try await f.vouchers.redeem(attempt(alice, bigPins[big.serials.first]!), now: now) }
            await #expect(throws: VoucherError.approvalBySameAdmin(approval: approvalID, admin: "alice")) { try await f.vouchers.approve(approvalID, actor: "ALICE", now: now) }
            #expect(try await f.vouchers.pendingApprovals().map(\.id) == [approvalID])
            #expect(try await f.vouchers.approve(approvalID, actor: "bob", now: now) == 30)
            await #expect(throws: VoucherError.approvalNotPending(approvalID)) { try await f.vouchers.approve(approvalID, actor: "carol", now: now) }
            await #expect(throws: VoucherError.approvalNotFound(777)) { try await f.vouchers.approve(777, actor: "carol", now: now) }
            #expect(try await f.vouchers.redeem(attempt(alice, bigPins[big.serials.first]!), now: now).credited == usd("5.00"))
            #expect(try await f.vouchers.redeem(attempt(alice, pins[batch.serials.last]!), now: now).credited == usd("5.00"))
            let log = try await f.vouchers.auditLog(batch: big.id)
            #expect(log.suffix(2).map(\.action) == ["activation_requested", "activate"])
            #expect(log.suffix(2).map(\.actor) == ["alice", "bob"])
        }
    }

    static func guessingLocksOutLinesClientsAndChannels(_ backend: Backend) async throws {
        try await with(backend) { f in
            let (batch, pins) = try await stockedBatch(f, count: 4)
            _ = try await f.vouchers.activate(batch: batch.id, range: nil, actor: "shop", now: now)
            var generator = SystemRandomNumberGenerator()
            func guess() -> String {
                while true {
                    let pin = VoucherPIN.generate(using: &generator).digits
                    if !pins.values.contains(pin) { return pin }
                }
            }
            // Five wrong PINs for alice's line: locked for 15 minutes, even with a good PIN and from another client.
            for index in 0..<5 {
                await #expect(throws: VoucherError.invalidPIN) { try await f.vouchers.redeem(attempt(alice, guess(), client: "c-\(index)"), now: now) }
            }
            let good = pins[batch.serials.first]!
            await #expect(throws: VoucherError.lockedOut(subject: "line:\(alice.e164)", until: now.addingTimeInterval(900))) {
                try await f.vouchers.redeem(attempt(alice, good, client: "fresh"), now: now.addingTimeInterval(60))
            }
            #expect(try await f.vouchers.redeem(attempt(alice, good, client: "fresh"), now: now.addingTimeInterval(900)).msisdn == alice)
            // Five more: the next lockout is twice as long.
            let t1 = now.addingTimeInterval(1_000)
            for index in 0..<5 { _ = try? await f.vouchers.redeem(attempt(alice, guess(), client: "d-\(index)"), now: t1) }
            #expect(try await f.vouchers.guardCounter(.line(alice.e164))?.lockedUntil == t1.addingTimeInterval(1_800))

            // One client guessing across many lines is locked out as a client.
            let t2 = now.addingTimeInterval(10 * 3_600)
            for index in 0..<5 {
                let line = try MSISDN("+1415555\(String(format: "%04d", 2_000 + index))")
                try await LedgerScenarios.open(f.ledger, line)
                _ = try? await f.vouchers.redeem(attempt(line, guess(), channel: "portal", client: "203.0.113.9"), now: t2)
            }
            await #expect(throws: VoucherError.lockedOut(subject: "client:203.0.113.9", until: t2.addingTimeInterval(900))) {
                try await f.vouchers.redeem(attempt(bob, pins[batch.serials.first + 1]!, channel: "portal", client: "203.0.113.9"), now: t2)
            }

            // Many lines and clients guessing at once on USSD trip the channel's breaker; other channels go on.
            let t3 = now.addingTimeInterval(20 * 3_600)
            for index in 0..<10 {
                let line = try MSISDN("+1415555\(String(format: "%04d", 3_000 + index))")
                try await LedgerScenarios.open(f.ledger, line)
                _ = try? await f.vouchers.redeem(attempt(line, guess(), channel: "ussd", client: "gw-\(index)"), now: t3)
            }
            await #expect(throws: VoucherError.channelPaused(channel: "ussd", until: t3.addingTimeInterval(600))) {
                try await f.vouchers.redeem(attempt(bob, pins[batch.serials.first + 1]!, channel: "ussd", client: "honest"), now: t3.addingTimeInterval(5))
            }
            #expect(try await f.vouchers.redeem(attempt(bob, pins[batch.serials.first + 1]!, channel: "ivr", client: "honest"), now: t3.addingTimeInterval(5)).msisdn == bob)
            #expect(try await f.vouchers.redeem(attempt(bob, pins[batch.serials.first + 2]!, channel: "ussd", client: "honest"), now: t3.addingTimeInterval(601)).msisdn == bob)
        }
    }

    /// Redemption finds the card by probing the unique index on the HMAC (SQLite's plan; PostgreSQL's planner may
    /// prefer a sequential scan on a table this small, so its plan is checked with sequential scans discouraged).
    static func lookupIsAnIndexProbe(_ backend: Backend) async throws {
        try await with(backend) { f in
            let hmac = key.hmacHex(try VoucherPIN(parsing: "4111 1111 1111 1111"))
            let plan = try await f.database.read { db -> String in
                switch f.database.dialect {
                case .sqlite:
                    let rows = try await db.raw("EXPLAIN QUERY PLAN UPDATE vouchers SET state = 'redeemed' WHERE pin_hmac = \(unsafeRaw: "'\(hmac)'") AND state = 'active'").all()
                    return try rows.map { try $0.decode(column: "detail", as: String.self) }.joined(separator: "\n")
                case .postgres:
                    try await db.raw("SET enable_seqscan = off").run()
                    let rows = try await db.raw("EXPLAIN UPDATE vouchers SET state = 'redeemed' WHERE pin_hmac = \(unsafeRaw: "'\(hmac)'") AND state = 'active'").all()
                    try await db.raw("RESET enable_seqscan").run()
                    return try rows.map { try $0.decode(column: "QUERY PLAN", as: String.self) }.joined(separator: "\n")
                }
            }
            #expect(plan.contains("vouchers_by_pin"), "\(plan)")
            #expect(!plan.contains("SCAN vouchers") && !plan.contains("Seq Scan"), "\(plan)")
        }
    }
}

/// Collects progress callbacks (called from the creating task).
final class ProgressRecorder: @unchecked Sendable {
    private let lock = NSLock()
    private var recorded: [Int64] = []
    func record(_ value: Int64) { lock.withLock { recorded.append(value) } }
    var values: [Int64] { lock.withLock { recorded } }
}

extension VoucherScenarios {
    /// Many different redemptions arriving together share a transaction; each is still decided on its own,
    /// and a refusal puts only its own card back.
    static func aSharedBatchDecidesEachClaimOnItsOwn(_ backend: Backend) async throws {
        try await with(backend) { f in
            let (batch, pins) = try await stockedBatch(f, count: 12, value: "2.00")
            let first = batch.serials.first
            _ = try await f.vouchers.activate(batch: batch.id, range: try VoucherSerialRange(first: first, last: first + 10), actor: "shop", now: now)
            let yuan = try MSISDN("+8613800138000")
            _ = try await f.ledger.openLine(try OpenLineCommand(msisdn: yuan, iccid: nil, type: .prepaid, currency: .cny, creditLimit: nil, subscriber: nil), now: now)
            let gone = try MSISDN("+14155550199")
            try await LedgerScenarios.open(f.ledger, gone)
            _ = try await f.ledger.changeStatus(gone, to: .terminated, now: now)

            enum Expected: Sendable { case redeemed, refused(VoucherError), other, raced }
            var cases: [(VoucherRedemptionAttempt, Expected)] = []
            // Case 0 and case 6 race for the same card: exactly one of them wins, whichever the scheduler runs first.
            for offset in 0..<6 {
                cases.append((attempt(offset % 2 == 0 ? alice : bob, pins[first + Int64(offset)]!, client: "ok-\(offset)"), offset == 0 ? .raced : .redeemed))
            }
            cases.append((attempt(alice, pins[first]!, client: "dup"), .raced))
            cases.append((attempt(bob, pins[first + 6]!, serial: first + 7, client: "wrong-serial"), .refused(.invalidPIN)))
            cases.append((attempt(yuan, pins[first + 7]!, client: "yuan"), .refused(.currencyMismatch(voucher: "2.00 USD", line: "CNY"))))
            cases.append((attempt(gone, pins[first + 8]!, client: "gone"), .other))
            cases.append((attempt(bob, pins[first + 11]!, client: "inactive"), .refused(.notActive)))
            let outcomes = await withTaskGroup(of: (Int, Result<VoucherRedemption, any Error>).self) { group in
                for (index, item) in cases.enumerated() {
                    group.addTask {
                        do { return (index, .success(try await f.vouchers.redeem(item.0, now: now))) } catch { return (index, .failure(error)) }
                    }
                }
                var outcomes: [Int: Result<VoucherRedemption, any Error>] = [:]
                for await (index, outcome) in group { outcomes[index] = outcome }
                return outcomes
            }
            for (index, item) in cases.enumerated() {
                let outcome = try #require(outcomes[index])
                switch (item.1, outcome) {
                case (.redeemed, .success(let redemption)):
                    #expect(redemption.msisdn == item.0.msisdn && redemption.credited == usd("2.00"))
                case (.refused(let expected), .failure(let error)):
                    #expect(error as? VoucherError == expected, "case \(index)")
                case (.other, .failure(let error)):
                    #expect(error as? RechargeError == .lineNotActive(msisdn: gone.e164, status: .terminated), "case \(index)")
                case (.raced, .success(let redemption)):
                    #expect(redemption.msisdn == alice && redemption.credited == usd("2.00"))
                case (.raced, .failure(let error)):
                    #expect(error as? VoucherError == .alreadyRedeemed(at: now, maskedMSISDN: "+1••••••••00"), "case \(index)")
                default:
                    Issue.record("case \(index): \(outcome)")
                }
            }
            let raced = [0, 6].compactMap { index -> Bool? in
                guard case .success = outcomes[index] else { return false }
                return true
            }
            #expect(raced.filter { $0 }.count == 1, "exactly one of the two claims on one card wins")
            // Only the six cards are gone; the refused ones are as they were and still redeemable.
            #expect(try await LedgerScenarios.total(f.ledger, alice) + LedgerScenarios.total(f.ledger, bob) == 12_000_000)
            #expect(try await f.vouchers.report(batch: batch.id, now: now).first?.counts == [.redeemed: 6, .active: 5, .inactive: 1])
            #expect(try await f.vouchers.redeem(attempt(bob, pins[first + 7]!), now: now).credited == usd("2.00"))
            #expect(try await f.vouchers.redeem(attempt(alice, pins[first + 8]!), now: now).credited == usd("2.00"))
            #expect(try await f.vouchers.redeem(attempt(alice, pins[first + 6]!, serial: first + 6), now: now).credited == usd("2.00"))
            try await LedgerScenarios.expectBalanced(f.database)
        }
    }
}

extension VoucherScenarios {
    /// A pack card grants the catalog pack like a paid order of it: its value paid in from the voucher liability
    /// and spent on the pack, then one bucket per allowance with the pack's validity.
    static func aPackCardGrantsThePack(_ backend: Backend) async throws {
        try await with(backend) { f in
            _ = try await CatalogStore(database: f.database).importCatalog(try Catalog(OrderScenarios.catalogFile), now: now)
            let expires = now.addingTimeInterval(365 * 86_400)
            await #expect(throws: VoucherError.self) {
                try await f.vouchers.createBatch(try VoucherBatchRequest(denomination: .pack(code: "us-data-5gb", price: usd("10.00")), count: 2,
                                                                         expiresAt: expires, createdBy: "ops", now: now), now: now)
            }
            await #expect(throws: VoucherError.self) {
                try await f.vouchers.createBatch(try VoucherBatchRequest(denomination: .pack(code: "topup-10", price: usd("10.00")), count: 2,
                                                                         expiresAt: expires, createdBy: "ops", now: now), now: now)
            }
            await #expect(throws: RechargeError.productNotFound("nope")) {
                try await f.vouchers.createBatch(try VoucherBatchRequest(denomination: .pack(code: "nope", price: usd("10.00")), count: 2,
                                                                         expiresAt: expires, createdBy: "ops", now: now), now: now)
            }
            let batch = try await f.vouchers.createBatch(
                try VoucherBatchRequest(denomination: .pack(code: "us-data-5gb", price: usd("15.00")), count: 3, expiresAt: expires, createdBy: "ops", now: now), now: now)
            #expect(try await f.vouchers.batch(batch.id).denomination == .pack(code: "us-data-5gb", price: usd("15.00")))
            let path = f.folder.appendingPathComponent("packs.csv").path
            _ = try await f.vouchers.export(batch: batch.id, to: path, actor: "ops", now: now)
            let pins = try readExport(path)
            _ = try await f.vouchers.receive(batch: batch.id, actor: "ops", now: now)
            _ = try await f.vouchers.activate(batch: batch.id, range: nil, actor: "ops", now: now)

            let redemption = try await f.vouchers.redeem(attempt(alice, pins[batch.serials.first]!), now: now)
            #expect(redemption.pack == "us-data-5gb" && redemption.credited == usd("15.00"))
            #expect(redemption.operations.map(\.idempotencyKey) == ["voucher:\(batch.serials.first):pay", "voucher:\(batch.serials.first):buy",
                                                                     "voucher:\(batch.serials.first):grant:1", "voucher:\(batch.serials.first):grant:2"])
            let balance = try await f.ledger.balance(alice, at: now)
            let totals = Dictionary(uniqueKeysWithValues: balance.totals.map { ($0.unit, $0.remaining) })
            let seconds: Int64 = 6_000
            #expect(totals["USD"] == 0)
            #expect(totals["BYTES"] == 5 << 30, "\(totals)")
            #expect(totals["SECONDS"] == seconds, "\(totals)")
            #expect(balance.buckets.contains { $0.validUntil == now.addingTimeInterval(30 * 86_400) })

            // A suspended line takes top-ups but no purchases: the pack card is refused and stays usable.
            _ = try await f.ledger.changeStatus(bob, to: .suspended, now: now)
            await #expect(throws: RechargeError.lineNotActive(msisdn: bob.e164, status: .suspended)) {
                try await f.vouchers.redeem(attempt(bob, pins[batch.serials.first + 1]!), now: now)
            }
            #expect(try await f.vouchers.redeem(attempt(alice, pins[batch.serials.first + 1]!), now: now).pack == "us-data-5gb")
            try await LedgerScenarios.expectBalanced(f.database)
        }
    }
}

extension VoucherScenarios {
    /// A card claimed in a batch by a line that cannot take it is put back, and a later claim of the same PIN
    /// (in the same batch or after) gets it.
    static func aCardPutBackGoesToTheNextClaimant(_ backend: Backend) async throws {
        try await with(backend) { f in
            let (batch, pins) = try await stockedBatch(f, count: 8, value: "1.00")
            _ = try await f.vouchers.activate(batch: batch.id, range: nil, actor: "shop", now: now)
            let yuan = try MSISDN("+8613800138000")
            _ = try await f.ledger.openLine(try OpenLineCommand(msisdn: yuan, iccid: nil, type: .prepaid, currency: .cny, creditLimit: nil, subscriber: nil), now: now)
            for serial in batch.serials.first...batch.serials.last {
                let pin = pins[serial]!
                async let refused = Result(catching: { try await f.vouchers.redeem(attempt(yuan, pin, client: "y"), now: now) })
                async let taken = Result(catching: { try await f.vouchers.redeem(attempt(alice, pin, client: "a"), now: now) })
                let (yuanOutcome, aliceOutcome) = await (refused, taken)
                #expect(try aliceOutcome.get().serial == serial)
                switch yuanOutcome {
                case .failure(VoucherError.currencyMismatch), .failure(VoucherError.alreadyRedeemed): break
                default: Issue.record("serial \(serial): \(yuanOutcome)")
                }
            }
            #expect(try await LedgerScenarios.total(f.ledger, alice) == 8_000_000)
            try await LedgerScenarios.expectBalanced(f.database)
        }
    }
}

extension Result where Failure == any Error {
    init(catching body: () async throws -> Success) async {
        do { self = .success(try await body()) } catch { self = .failure(error) }
    }
}

extension VoucherScenarios {
    /// After a key rotation, cards hashed with the previous key are still found (under its HMAC), new cards get
    /// the new key's id, and a PIN is never looked up by scanning.
    static func cardsOfAPreviousKeyAreRedeemedAfterARotation(_ backend: Backend) async throws {
        try await with(backend) { f in
            let (old, oldPins) = try await stockedBatch(f, count: 3)
            _ = try await f.vouchers.activate(batch: old.id, range: nil, actor: "shop", now: now)
            let newKey = try VoucherKey(id: "t2", secret: Array(repeating: UInt8(8), count: 32))
            let rotated = VoucherStore(database: f.database, key: newKey, previousKeys: [key], ledger: f.ledger)
            let withoutOld = VoucherStore(database: f.database, key: newKey, ledger: f.ledger)
            await #expect(throws: VoucherError.invalidPIN) { try await withoutOld.redeem(attempt(alice, oldPins[old.serials.first]!), now: now) }
            #expect(try await rotated.redeem(attempt(alice, oldPins[old.serials.first]!), now: now).serial == old.serials.first)
            await #expect(throws: VoucherError.alreadyRedeemed(at: now, maskedMSISDN: "+1••••••••00")) {
                try await rotated.redeem(attempt(bob, oldPins[old.serials.first]!), now: now)
            }

            let fresh = try await rotated.createBatch(
                try VoucherBatchRequest(denomination: .money(usd("5.00")), count: 2, expiresAt: now.addingTimeInterval(86_400 * 30), createdBy: "ops", now: now), now: now)
            let keyIDs = try await f.database.read { db in
                try await db.raw("SELECT DISTINCT key_id FROM vouchers WHERE batch_id = \(bind: fresh.id)").all().map { try $0.decode(column: "key_id", as: String.self) }
            }
            #expect(keyIDs == ["t2"])
            let path = f.folder.appendingPathComponent("fresh.csv").path
            _ = try await rotated.export(batch: fresh.id, to: path, actor: "ops", now: now)
            let freshPins = try readExport(path)
            _ = try await rotated.receive(batch: fresh.id, actor: "ops", now: now)
            _ = try await rotated.activate(batch: fresh.id, range: nil, actor: "ops", now: now)
            #expect(try await rotated.redeem(attempt(bob, freshPins[fresh.serials.first]!), now: now).credited == usd("5.00"))
            // The old store (old key only) cannot find the new card.
            await #expect(throws: VoucherError.invalidPIN) { try await f.vouchers.redeem(attempt(bob, freshPins[fresh.serials.last]!), now: now) }
        }
    }
}
