import Foundation
import RechargeCore
import RechargeStore
import RechargeTestSupport
import SQLKit
import Testing

/// The brute-force counters under concurrency (issue 14, items 3 and 4) and dual approval by distinct keys or OS users
/// (item 14). A guess "reaches the PIN check" when it is answered `invalid-voucher-pin`; one refused before the check
/// is answered locked or paused. Every scenario starts many redemptions at once against the real database.
enum VoucherGuessingScenarios {
    typealias Fixture = VoucherScenarios.Fixture
    static let now = VoucherScenarios.now
    static let policy = VoucherGuessingPolicy()

    /// Well-formed PINs that match no card of `pins`.
    static func guesses(_ count: Int, avoiding pins: [Int64: String]) -> [String] {
        var generator = SystemRandomNumberGenerator()
        var guesses: [String] = []
        while guesses.count < count {
            let pin = VoucherPIN.generate(using: &generator).digits
            if !pins.values.contains(pin) { guesses.append(pin) }
        }
        return guesses
    }

    /// Runs every attempt at once; the outcome of each, in the order given. The attempts alternate between the
    /// fixture's store and a second one on the same database, like two server processes: each has its own
    /// group-commit leader, so on PostgreSQL two transactions contend for the counters' row locks.
    static func concurrently(_ f: Fixture, _ attempts: [VoucherRedemptionAttempt], at time: Date = now) async -> [Result<VoucherRedemption, any Error>] {
        let stores = [f.vouchers, VoucherStore(database: f.database, key: VoucherScenarios.key, ledger: f.ledger)]
        return await withTaskGroup(of: (Int, Result<VoucherRedemption, any Error>).self) { group in
            for (index, attempt) in attempts.enumerated() {
                group.addTask {
                    do { return (index, .success(try await stores[index % 2].redeem(attempt, now: time))) } catch { return (index, .failure(error)) }
                }
            }
            var outcomes = [Result<VoucherRedemption, any Error>?](repeating: nil, count: attempts.count)
            for await (index, outcome) in group { outcomes[index] = outcome }
            return outcomes.map { $0! }
        }
    }

    struct Tally: CustomStringConvertible {
        var checked = 0, locked = 0, paused = 0, redeemed = 0, other: [String] = []
        var description: String { "\(checked) reached the PIN check, \(locked) locked, \(paused) paused, \(redeemed) redeemed, other: \(other)" }
    }

    static func tally(_ outcomes: [Result<VoucherRedemption, any Error>]) -> Tally {
        var tally = Tally()
        for outcome in outcomes {
            switch outcome {
            case .success: tally.redeemed += 1
            case .failure(VoucherError.invalidPIN): tally.checked += 1
            case .failure(VoucherError.lockedOut): tally.locked += 1
            case .failure(VoucherError.channelPaused): tally.paused += 1
            case .failure(let error): tally.other.append("\(error)")
            }
        }
        return tally
    }

    static func report(_ backend: Backend, _ scenario: String, _ tally: Tally) {
        print("[\(backend)] \(scenario): \(tally)")
    }

    // MARK: Item 3: the failure is claimed before the PIN is checked

    /// 200 wrong PINs at once for one line from one client: exactly the line's allowance (5) reach the PIN check, the
    /// others are refused as locked, and the line is locked for the first lockout.
    static func concurrentGuessesOnOneLineReachTheCheckOnlyUpToTheLimit(_ backend: Backend) async throws {
        try await VoucherScenarios.with(backend) { f in
            let (batch, pins) = try await VoucherScenarios.stockedBatch(f, count: 2)
            _ = try await f.vouchers.activate(batch: batch.id, range: nil, actor: "shop", now: now)
            let attempts = guesses(200, avoiding: pins).map { VoucherScenarios.attempt(VoucherScenarios.alice, $0, channel: "portal", client: "account:41") }
            let result = tally(await concurrently(f, attempts))
            report(backend, "200 concurrent wrong PINs, one line and client", result)
            #expect(result.checked == policy.maxFailures, "\(result)")
            #expect(result.locked == 200 - policy.maxFailures && result.other.isEmpty && result.redeemed == 0, "\(result)")
            #expect(try await f.vouchers.guardCounter(.line(VoucherScenarios.alice.e164))?.lockedUntil == now.addingTimeInterval(policy.firstLockout))
            #expect(try await f.vouchers.guardCounter(.client("account:41"))?.lockouts == 1)
            // The line's own good PIN waits for the lockout to end, then redeems.
            await #expect(throws: VoucherError.lockedOut(subject: "line:\(VoucherScenarios.alice.e164)", until: now.addingTimeInterval(policy.firstLockout))) {
                try await f.vouchers.redeem(VoucherScenarios.attempt(VoucherScenarios.alice, pins[batch.serials.first]!, client: "another"), now: now)
            }
            let later = now.addingTimeInterval(policy.firstLockout)
            #expect(try await f.vouchers.redeem(VoucherScenarios.attempt(VoucherScenarios.alice, pins[batch.serials.first]!, client: "another"), now: later).credited
                    == VoucherScenarios.usd("5.00"))
        }
    }

    /// 200 wrong PINs at once through a gateway (an IVR platform's key) for 200 different lines: the breaker lets
    /// exactly its threshold (10) reach the PIN check, pauses the channel, and leaves the other channels alone.
    static func concurrentGuessesOverManyLinesReachTheCheckOnlyUpToTheBreaker(_ backend: Backend) async throws {
        try await VoucherScenarios.with(backend) { f in
            let (batch, pins) = try await VoucherScenarios.stockedBatch(f, count: 2)
            _ = try await f.vouchers.activate(batch: batch.id, range: nil, actor: "shop", now: now)
            let lines = try (0..<200).map { try MSISDN("+1415600\(String(format: "%04d", $0))") }
            let attempts = zip(lines, guesses(200, avoiding: pins)).map { line, pin in
                VoucherRedemptionAttempt(msisdn: line, pin: pin, serial: nil, channel: "ivr", client: "key:7", clientKind: .gateway)
            }
            let result = tally(await concurrently(f, attempts))
            report(backend, "200 concurrent wrong PINs on channel ivr, 200 lines", result)
            #expect(result.checked == policy.channelThreshold, "\(result)")
            #expect(result.paused == 200 - policy.channelThreshold && result.other.isEmpty, "\(result)")
            #expect(try await f.vouchers.guardCounter(.channel("ivr"))?.lockedUntil == now.addingTimeInterval(policy.channelPause))
            // A gateway is not locked out as a client (that would lock out every caller behind it).
            #expect(try await f.vouchers.guardCounter(.client("key:7"))?.lockedUntil == nil)
            let good = pins[batch.serials.first]!
            await #expect(throws: VoucherError.channelPaused(channel: "ivr", until: now.addingTimeInterval(policy.channelPause))) {
                try await f.vouchers.redeem(VoucherRedemptionAttempt(msisdn: VoucherScenarios.bob, pin: good, serial: nil, channel: "ivr", client: "key:7",
                                                                     clientKind: .gateway), now: now)
            }
            #expect(try await f.vouchers.redeem(VoucherRedemptionAttempt(msisdn: VoucherScenarios.bob, pin: good, serial: nil, channel: "ussd", client: "key:8",
                                                                         clientKind: .gateway), now: now).msisdn == VoucherScenarios.bob)
        }
    }

    /// Good PINs among guesses for the same line, all at once: while the line has room, the good ones redeem and cost
    /// nothing (only the wrong ones are counted).
    static func aGoodPINWithinTheLimitStillRedeems(_ backend: Backend) async throws {
        try await VoucherScenarios.with(backend) { f in
            let (batch, pins) = try await VoucherScenarios.stockedBatch(f, count: 2)
            _ = try await f.vouchers.activate(batch: batch.id, range: nil, actor: "shop", now: now)
            var attempts = guesses(3, avoiding: pins).map { VoucherScenarios.attempt(VoucherScenarios.alice, $0, client: "203.0.113.7") }
            attempts.insert(VoucherScenarios.attempt(VoucherScenarios.alice, pins[batch.serials.first]!, client: "203.0.113.7"), at: 1)
            attempts.append(VoucherScenarios.attempt(VoucherScenarios.alice, pins[batch.serials.last]!, client: "203.0.113.7"))
            let result = tally(await concurrently(f, attempts))
            #expect(result.redeemed == 2 && result.checked == 3 && result.locked == 0, "\(result)")
            #expect(try await f.vouchers.guardCounter(.line(VoucherScenarios.alice.e164))?.failures == 3)
            #expect(try await LedgerScenarios.total(f.ledger, VoucherScenarios.alice) == 10_000_000)
        }
    }

    /// 64 honest redemptions at once, each a good PIN for its own line, through one gateway and from 64 portal
    /// accounts: every one redeems. (Holding room in the breaker for every attempt in flight refused all but ten of
    /// each batch as "paused": two thirds of a 64-connection `bench/vouchers` run.)
    static func manyHonestRedemptionsAtOnceAreAllServed(_ backend: Backend) async throws {
        try await VoucherScenarios.with(backend) { f in
            let (batch, pins) = try await VoucherScenarios.stockedBatch(f, count: 128)
            _ = try await f.vouchers.activate(batch: batch.id, range: nil, actor: "shop", now: now)
            let lines = try (0..<64).map { try MSISDN("+1415700\(String(format: "%04d", $0))") }
            for line in lines { _ = try await LedgerScenarios.open(f.ledger, line) }
            let cards = pins.keys.sorted()
            let gateway = zip(lines, cards.prefix(64)).map { line, serial in
                VoucherRedemptionAttempt(msisdn: line, pin: pins[serial]!, serial: nil, channel: "ivr", client: "key:7", clientKind: .gateway)
            }
            let viaGateway = tally(await concurrently(f, gateway))
            report(backend, "64 concurrent good PINs on channel ivr, 64 lines", viaGateway)
            #expect(viaGateway.redeemed == 64 && viaGateway.paused == 0 && viaGateway.locked == 0 && viaGateway.other.isEmpty, "\(viaGateway)")
            let portal = zip(lines, cards.suffix(64)).enumerated().map { index, pair in
                VoucherScenarios.attempt(pair.0, pins[pair.1]!, channel: "portal", client: "account:\(index + 100)")
            }
            let viaPortal = tally(await concurrently(f, portal))
            #expect(viaPortal.redeemed == 64 && viaPortal.paused == 0 && viaPortal.locked == 0 && viaPortal.other.isEmpty, "\(viaPortal)")
        }
    }

    // MARK: Item 4: one account cannot pause a channel for everyone

    /// 12 wrong PINs at once from one portal account: only that account and its line are locked; the breaker has
    /// counted one source, and another account redeems at once. Ten accounts do trip it.
    static func oneAccountLocksOnlyItself(_ backend: Backend) async throws {
        try await VoucherScenarios.with(backend) { f in
            let (batch, pins) = try await VoucherScenarios.stockedBatch(f, count: 4)
            _ = try await f.vouchers.activate(batch: batch.id, range: nil, actor: "shop", now: now)
            let carol = try MSISDN("+14155550102")   // account A's second line
            _ = try await LedgerScenarios.open(f.ledger, carol)
            let attempts = guesses(12, avoiding: pins).map { VoucherScenarios.attempt(VoucherScenarios.alice, $0, channel: "portal", client: "account:1") }
            let result = tally(await concurrently(f, attempts))
            report(backend, "12 concurrent wrong PINs from one portal account", result)
            #expect(result.checked == policy.maxFailures && result.locked == 12 - policy.maxFailures && result.paused == 0, "\(result)")
            #expect(try await f.vouchers.guardCounter(.channel("portal"))?.lockedUntil == nil)
            #expect(try await f.vouchers.guardCounter(.channel("portal"))?.failures == 1)
            // Account A is locked on its other line too.
            await #expect(throws: VoucherError.lockedOut(subject: "client:account:1", until: now.addingTimeInterval(policy.firstLockout))) {
                try await f.vouchers.redeem(VoucherScenarios.attempt(carol, pins[batch.serials.first]!, channel: "portal", client: "account:1"),
                                            now: now.addingTimeInterval(1))
            }
            // Account B is not.
            #expect(try await f.vouchers.redeem(VoucherScenarios.attempt(VoucherScenarios.bob, pins[batch.serials.first]!, channel: "portal", client: "account:2"),
                                                now: now.addingTimeInterval(1)).msisdn == VoucherScenarios.bob)

            // Ten different accounts, each with one wrong PIN for its own line, at once: the breaker trips.
            let t1 = now.addingTimeInterval(7_200)
            var spread: [VoucherRedemptionAttempt] = []
            for (index, pin) in guesses(10, avoiding: pins).enumerated() {
                let line = try MSISDN("+1415560\(String(format: "%04d", 1_000 + index))")
                spread.append(VoucherScenarios.attempt(line, pin, channel: "portal", client: "account:\(100 + index)"))
            }
            let spreadResult = tally(await concurrently(f, spread, at: t1))
            #expect(spreadResult.checked == policy.channelThreshold, "\(spreadResult)")
            await #expect(throws: VoucherError.channelPaused(channel: "portal", until: t1.addingTimeInterval(policy.channelPause))) {
                try await f.vouchers.redeem(VoucherScenarios.attempt(VoucherScenarios.bob, pins[batch.serials.first + 1]!, channel: "portal", client: "account:2"),
                                            now: t1.addingTimeInterval(1))
            }
        }
    }

    // MARK: Issue 16, item 2: the card number and the PIN together

    /// The right pair redeems; a real PIN with another card's number is refused like a wrong PIN, counts toward the
    /// lockout like one, and leaves that card untouched: five wrong pairs lock the line, and the card still redeems
    /// with its own number afterwards.
    static func aWrongPairCountsLikeAWrongPIN(_ backend: Backend) async throws {
        try await VoucherScenarios.with(backend) { f in
            let (batch, pins) = try await VoucherScenarios.stockedBatch(f, count: 8)
            _ = try await f.vouchers.activate(batch: batch.id, range: nil, actor: "shop", now: now)
            let first = batch.serials.first
            func pair(_ pin: Int64, _ serial: Int64, _ line: MSISDN = VoucherScenarios.alice) -> VoucherRedemptionAttempt {
                VoucherRedemptionAttempt(msisdn: line, pin: pins[pin]!, serial: serial, channel: "portal", client: "account:7")
            }
            #expect(try await f.vouchers.redeem(pair(first, first), now: now).serial == first)
            for index in 1...Int64(policy.maxFailures) {
                await #expect(throws: VoucherError.invalidPIN) { try await f.vouchers.redeem(pair(first + index, first + index + 1), now: now) }
                // The count restarts when it reaches the limit (and the lockout starts).
                #expect(try await f.vouchers.guardCounter(.line(VoucherScenarios.alice.e164))?.failures == (Int(index) < policy.maxFailures ? Int(index) : 0))
            }
            // Locked now, even for the right pair; the cards named by the wrong pairs are all still active.
            await #expect(throws: VoucherError.lockedOut(subject: "line:\(VoucherScenarios.alice.e164)", until: now.addingTimeInterval(policy.firstLockout))) {
                try await f.vouchers.redeem(pair(first + 1, first + 1), now: now)
            }
            let report = try #require(try await f.vouchers.report(batch: batch.id, now: now).first)
            #expect(report.counts[.active] == 7 && report.counts[.redeemed] == 1)
            let later = now.addingTimeInterval(policy.firstLockout)
            #expect(try await f.vouchers.redeem(pair(first + 1, first + 1), now: later).serial == first + 1)
            try await LedgerScenarios.expectBalanced(f.database)
        }
    }

    /// 200 wrong pairs at once for one line (real PINs, each with another card's number): exactly the lockout's
    /// budget (5) reaches the check, the rest are refused as locked, no card is redeemed or left claimed.
    static func concurrentWrongPairsReachTheCheckOnlyUpToTheLimit(_ backend: Backend) async throws {
        try await VoucherScenarios.with(backend) { f in
            let (batch, pins) = try await VoucherScenarios.stockedBatch(f, count: 20)
            _ = try await f.vouchers.activate(batch: batch.id, range: nil, actor: "shop", now: now)
            let first = batch.serials.first
            let attempts = (0..<200).map { index -> VoucherRedemptionAttempt in
                let card = first + Int64(index % 20)
                let wrong = first + Int64((index + 1) % 20)
                return VoucherRedemptionAttempt(msisdn: VoucherScenarios.alice, pin: pins[card]!, serial: wrong, channel: "portal", client: "account:42")
            }
            let result = tally(await concurrently(f, attempts))
            report(backend, "200 concurrent wrong card number/PIN pairs, one line and client", result)
            #expect(result.checked == policy.maxFailures, "\(result)")
            #expect(result.locked == 200 - policy.maxFailures && result.redeemed == 0 && result.other.isEmpty, "\(result)")
            #expect(try await f.vouchers.guardCounter(.line(VoucherScenarios.alice.e164))?.lockedUntil == now.addingTimeInterval(policy.firstLockout))
            let report = try #require(try await f.vouchers.report(batch: batch.id, now: now).first)
            #expect(report.counts[.active] == 20 && report.counts[.redeemed] == nil, "\(report.counts)")
            // The right pair, after the lockout.
            #expect(try await f.vouchers.redeem(VoucherRedemptionAttempt(msisdn: VoucherScenarios.alice, pin: pins[first]!, serial: first, channel: "portal",
                                                                         client: "account:42"), now: now.addingTimeInterval(policy.firstLockout)).serial == first)
            try await LedgerScenarios.expectBalanced(f.database)
        }
    }

    // MARK: Item 14: the second admin is another key or another OS user

    static func dualApprovalComparesKeysAndOSUsers(_ backend: Backend) async throws {
        try await VoucherScenarios.with(backend, threshold: "10.00") { f in
            let (batch, _) = try await VoucherScenarios.stockedBatch(f, count: 10)
            func request(_ requester: VoucherOperator, _ first: Int64) async throws -> Int64 {
                let range = try VoucherSerialRange(first: batch.serials.first + first, last: batch.serials.first + first + 2)   // 15.00
                guard case .pendingApproval(let id, _, _) = try await f.vouchers.activate(batch: batch.id, range: range, by: requester, now: now) else {
                    throw VoucherError.approvalNotFound(0)
                }
                return id
            }
            // The same OS user under another --by name: refused.
            let cli = try await request(VoucherOperator(name: "alice", osUser: "ops1"), 0)
            await #expect(throws: VoucherError.approvalBySameAdmin(approval: cli, admin: "alice (OS user ops1)")) {
                try await f.vouchers.approve(cli, by: VoucherOperator(name: "bob", osUser: "ops1"), now: now)
            }
            #expect(try await f.vouchers.approve(cli, by: VoucherOperator(name: "bob", osUser: "ops2"), now: now) == 3)
            // The same API key under another name: refused; another key: approved.
            let api = try await request(VoucherOperator(name: "apikey:admin-a", apiKeyID: 11), 3)
            await #expect(throws: VoucherError.approvalBySameAdmin(approval: api, admin: "apikey:admin-a (API key 11)")) {
                try await f.vouchers.approve(api, by: VoucherOperator(name: "apikey:renamed", apiKeyID: 11), now: now)
            }
            #expect(try await f.vouchers.approve(api, by: VoucherOperator(name: "apikey:admin-b", apiKeyID: 12), now: now) == 3)
            // What vouches for each admin is recorded with the approval.
            let rows = try await f.database.read { db in
                try await db.raw("""
                    SELECT requested_key_id, requested_os_user, decided_key_id, decided_os_user FROM voucher_approvals ORDER BY id
                    """).all()
            }
            func column<T: Decodable>(_ name: String, _ type: T.Type) throws -> [T?] {
                try rows.map { try $0.decodeNil(column: name) ? nil : $0.decode(column: name, as: type) }
            }
            #expect(try column("requested_os_user", String.self) == ["ops1", nil])
            #expect(try column("decided_os_user", String.self) == ["ops2", nil])
            #expect(try column("requested_key_id", Int64.self) == [nil, 11])
            #expect(try column("decided_key_id", Int64.self) == [nil, 12])
            let log = try await f.vouchers.auditLog(batch: batch.id)
            #expect(log.suffix(2).map(\.actor) == ["apikey:admin-a (API key 11)", "apikey:admin-b (API key 12)"])
        }
    }
}
