import Foundation
import RechargeCore
import RechargeStore
import RechargeTestSupport
import Testing

/// Every SQL path of the store, written once and run on each engine by the suites below.
enum LedgerScenarios {
    static let now = TestDatabase.epoch
    static let day: TimeInterval = 86_400
    static let alice = try! MSISDN("+14155550100")
    static let bob = try! MSISDN("+14155550101")

    static func usd(_ text: String) -> Money { try! Money(decimal: text, currency: .usd) }
    static func key(_ text: String) -> IdempotencyKey { try! IdempotencyKey(text) }

    @discardableResult
    static func open(_ ledger: LedgerStore, _ msisdn: MSISDN, type: LineType = .prepaid, creditLimit: String? = nil, iccid: String? = nil) async throws -> Line {
        try await ledger.openLine(
            try OpenLineCommand(msisdn: msisdn, iccid: try iccid.map { try ICCID($0) }, type: type, currency: .usd,
                                creditLimit: creditLimit.map(usd), subscriber: try SubscriberDetails(name: "Li Wei", email: "li@example.com", language: "zh-Hans")),
            now: now)
    }

    @discardableResult
    static func topUp(_ ledger: LedgerStore, _ msisdn: MSISDN, _ amount: String, key: String, channel: Channel = .card) async throws -> LedgerResult {
        try await ledger.topUp(try TopUpCommand(msisdn: msisdn, value: .money(usd(amount)), channel: channel, reference: "ref-\(key)"), key: Self.key(key), now: now)
    }

    @discardableResult
    static func grant(_ ledger: LedgerStore, _ msisdn: MSISDN, _ kind: BucketKind, _ amount: Int64, days: Double?, priority: Int = 100, key: String, currency: Currency? = nil) async throws -> LedgerResult {
        let grant = try BucketGrant(kind: kind, amount: amount, name: "\(kind) \(amount)", validFrom: nil, validUntil: days.map { now.addingTimeInterval($0 * day) }, priority: priority)
        return try await ledger.topUp(try TopUpCommand(msisdn: msisdn, value: .bucket(grant, currency: currency), channel: .admin, reference: nil), key: Self.key(key), now: now)
    }

    @discardableResult
    static func debit(_ ledger: LedgerStore, _ msisdn: MSISDN, money: String, key: String, at instant: Date = now) async throws -> LedgerResult {
        let amount = usd(money)
        return try await ledger.debit(try DebitCommand(msisdn: msisdn, kind: .monetary, amount: amount.micros, currency: .usd, channel: .network, reference: nil), key: Self.key(key), now: instant)
    }

    @discardableResult
    static func use(_ ledger: LedgerStore, _ msisdn: MSISDN, _ kind: BucketKind, _ amount: Int64, key: String, at instant: Date = now) async throws -> LedgerResult {
        try await ledger.debit(try DebitCommand(msisdn: msisdn, kind: kind, amount: amount, currency: nil, channel: .network, reference: "cdr-\(key)"), key: Self.key(key), now: instant)
    }

    static func total(_ ledger: LedgerStore, _ msisdn: MSISDN, unit: String = "USD", at instant: Date = now) async throws -> Int64 {
        try await ledger.balance(msisdn, at: instant).totals.first { $0.unit == unit }?.remaining ?? 0
    }

    static func expectBalanced(_ database: Database) async throws {
        let report = try await LedgerAudit(database: database).run()
        #expect(report.discrepancies == [])
    }

    // MARK: Scenarios

    static func migrationsAreRecordedAndIdempotent(_ backend: Backend) async throws {
        try await TestDatabase.with(backend) { database throws in
            let runner = MigrationRunner(database: database)
            #expect(try await runner.appliedVersions() == Migrations.versions)
            #expect(try await runner.migrate() == [])
        }
    }

    static func openingLines(_ backend: Backend) async throws {
        try await TestDatabase.with(backend) { database in
            let ledger = LedgerStore(database: database)
            let line = try await open(ledger, alice, type: .postpaid, creditLimit: "50.00", iccid: "8901260123456789011")
            #expect(line.msisdn == alice && line.status == .active && line.type == .postpaid && line.creditLimit == usd("50.00"))
            #expect(try await ledger.line(alice) == line)
            await #expect(throws: RechargeError.lineAlreadyExists(alice.e164)) { try await open(ledger, alice) }
            await #expect(throws: RechargeError.iccidInUse("8901260123456789011")) { try await open(ledger, bob, iccid: "8901260123456789011") }
            await #expect(throws: RechargeError.lineNotFound(bob.e164)) { try await ledger.line(bob) }
            let summary = try await ledger.balance(alice, at: now)
            #expect(summary.buckets.count == 1)
            #expect(summary.buckets[0].isMain && summary.buckets[0].floor == -50_000_000 && summary.buckets[0].remaining == 0)
            #expect(summary.totals == [.init(kind: .monetary, unit: "USD", remaining: 0, available: 50_000_000)])
        }
    }

    static func topUpCreditsMainBalanceOnce(_ backend: Backend) async throws {
        try await TestDatabase.with(backend) { database in
            let ledger = LedgerStore(database: database)
            try await open(ledger, alice)
            let first = try await topUp(ledger, alice, "10.50", key: "t-1")
            #expect(!first.replayed)
            #expect(first.operation.entries.map(\.amount) == [10_500_000])
            #expect(first.operation.entries.map(\.remainingAfter) == [10_500_000])
            let again = try await topUp(ledger, alice, "10.50", key: "t-1")
            #expect(again.replayed && again.operation == first.operation)
            #expect(try await total(ledger, alice) == 10_500_000)
            await #expect(throws: RechargeError.idempotencyKeyReused("t-1")) { try await topUp(ledger, alice, "11.00", key: "t-1") }
            await #expect(throws: RechargeError.idempotencyKeyReused("t-1")) { try await topUp(ledger, alice, "10.50", key: "t-1", channel: .paypal) }
            await #expect(throws: RechargeError.idempotencyKeyReused("t-1")) { try await debit(ledger, alice, money: "1.00", key: "t-1") }
            #expect(try await total(ledger, alice) == 10_500_000)
            try await expectBalanced(database)
        }
    }

    static func rejectedInputChangesNothing(_ backend: Backend) async throws {
        try await TestDatabase.with(backend) { database in
            let ledger = LedgerStore(database: database)
            try await open(ledger, alice)
            let cny = try Money(decimal: "5", currency: .cny)
            await #expect(throws: RechargeError.currencyMismatch(expected: "USD", got: "CNY")) {
                try await ledger.topUp(try TopUpCommand(msisdn: alice, value: .money(cny), channel: .card, reference: nil), key: key("k"), now: now)
            }
            await #expect(throws: RechargeError.lineNotFound(bob.e164)) { try await topUp(ledger, bob, "5", key: "k") }
            // Neither rejection was stored with the key, so it is still free for the right request.
            #expect(try await topUp(ledger, alice, "5", key: "k").replayed == false)
            #expect(try await total(ledger, alice) == 5_000_000)
            let report = try await LedgerAudit(database: database).run()
            #expect(report.isBalanced && report.operations == 1 && report.transfers == 1)
        }
    }

    static func debitsFollowConsumptionOrder(_ backend: Backend) async throws {
        try await TestDatabase.with(backend) { database in
            let ledger = LedgerStore(database: database)
            try await open(ledger, alice)
            try await topUp(ledger, alice, "10", key: "main")
            try await grant(ledger, alice, .monetary, 2_000_000, days: 5, key: "bonus", currency: .usd)
            // 3.00 comes first from the 2.00 bonus (priority 100, expiring), then 1.00 from the main balance.
            let charge = try await debit(ledger, alice, money: "3", key: "d-1")
            #expect(charge.operation.entries.map(\.amount) == [-2_000_000, -1_000_000])
            #expect(charge.operation.entries.map(\.remainingAfter) == [0, 9_000_000])

            let late = try await grant(ledger, alice, .data, 1000, days: 30, key: "data-late").operation.entries[0].bucketID
            try await grant(ledger, alice, .data, 1000, days: 2, key: "data-soon")
            let first = try await grant(ledger, alice, .data, 1000, days: 60, priority: 10, key: "data-first").operation.entries[0].bucketID
            try await grant(ledger, alice, .data, 5000, days: 1, key: "data-expiring")
            // After two days the 1-day and 2-day buckets have expired; priority 10 goes first, then the 30-day one.
            let later = now.addingTimeInterval(2 * day + 1)
            let usage = try await use(ledger, alice, .data, 1500, key: "u-1", at: later)
            #expect(usage.operation.entries.map(\.amount) == [-1000, -500])
            #expect(usage.operation.entries.map(\.bucketID) == [first, late])
            #expect(try await total(ledger, alice, unit: "BYTES", at: later) == 500)
            await #expect(throws: RechargeError.insufficientBalance(msisdn: alice.e164, unit: "BYTES", available: 500, requested: 501)) {
                try await use(ledger, alice, .data, 501, key: "u-2", at: later)
            }
            try await expectBalanced(database)
        }
    }

    static func rejectionIsStoredWithItsKey(_ backend: Backend) async throws {
        try await TestDatabase.with(backend) { database in
            let ledger = LedgerStore(database: database)
            try await open(ledger, alice)
            try await topUp(ledger, alice, "1", key: "t")
            let expected = RechargeError.insufficientBalance(msisdn: alice.e164, unit: "USD", available: 1_000_000, requested: 2_000_000)
            await #expect(throws: expected) { try await debit(ledger, alice, money: "2", key: "d") }
            try await topUp(ledger, alice, "5", key: "t2")
            // The retry gets the first answer, even though the balance would now cover it, marked as a replay.
            await #expect(throws: ReplayedRefusal(refusal: expected)) { try await debit(ledger, alice, money: "2", key: "d") }
            #expect(try await total(ledger, alice) == 6_000_000)
            try await expectBalanced(database)
        }
    }

    static func creditLimitBoundsDebits(_ backend: Backend) async throws {
        try await TestDatabase.with(backend) { database in
            let ledger = LedgerStore(database: database)
            try await open(ledger, alice, type: .postpaid, creditLimit: "50")
            try await debit(ledger, alice, money: "49.999999", key: "d1")
            try await debit(ledger, alice, money: "0.000001", key: "d2")
            #expect(try await total(ledger, alice) == -50_000_000)
            await #expect(throws: RechargeError.insufficientBalance(msisdn: alice.e164, unit: "USD", available: 0, requested: 1)) {
                try await debit(ledger, alice, money: "0.000001", key: "d3")
            }
            try await topUp(ledger, alice, "60", key: "pay")
            #expect(try await ledger.balance(alice, at: now).totals[0] == .init(kind: .monetary, unit: "USD", remaining: 10_000_000, available: 60_000_000))
            try await expectBalanced(database)
        }
    }

    static func lineStatusGatesValue(_ backend: Backend) async throws {
        try await TestDatabase.with(backend) { database in
            let ledger = LedgerStore(database: database)
            try await open(ledger, alice)
            try await topUp(ledger, alice, "5", key: "t1")
            #expect(try await ledger.changeStatus(alice, to: .suspended, now: now).status == .suspended)
            await #expect(throws: RechargeError.lineNotActive(msisdn: alice.e164, status: .suspended)) { try await debit(ledger, alice, money: "1", key: "d1") }
            try await topUp(ledger, alice, "5", key: "t2")
            #expect(try await ledger.changeStatus(alice, to: .active, now: now).status == .active)
            try await debit(ledger, alice, money: "1", key: "d2")
            #expect(try await ledger.changeStatus(alice, to: .terminated, now: now).status == .terminated)
            await #expect(throws: RechargeError.lineNotActive(msisdn: alice.e164, status: .terminated)) { try await topUp(ledger, alice, "5", key: "t3") }
            await #expect(throws: RechargeError.illegalLineTransition(msisdn: alice.e164, from: .terminated, to: .active)) {
                try await ledger.changeStatus(alice, to: .active, now: now)
            }
            #expect(try await total(ledger, alice) == 9_000_000)
            try await expectBalanced(database)
        }
    }

    static func historyPagesNewestFirst(_ backend: Backend) async throws {
        try await TestDatabase.with(backend) { database in
            let ledger = LedgerStore(database: database)
            try await open(ledger, alice)
            try await open(ledger, bob)
            for index in 0..<7 {
                _ = try await ledger.topUp(
                    try TopUpCommand(msisdn: alice, value: .money(usd("1")), channel: .card, reference: nil),
                    key: key("h-\(index)"), now: now.addingTimeInterval(Double(index) * 3600))
            }
            try await topUp(ledger, bob, "1", key: "other-line")
            var seen: [String] = []
            var cursor: Int64?
            repeat {
                let page = try await ledger.history(alice, from: nil, until: nil, before: cursor, limit: 3)
                seen += page.operations.map(\.idempotencyKey)
                cursor = page.nextCursor
            } while cursor != nil
            #expect(seen == (0..<7).reversed().map { "h-\($0)" })
            let window = try await ledger.history(alice, from: now.addingTimeInterval(3600), until: now.addingTimeInterval(4 * 3600), before: nil, limit: 50)
            #expect(window.operations.map(\.idempotencyKey) == ["h-3", "h-2", "h-1"])
            #expect(window.nextCursor == nil)
        }
    }

    /// 50 concurrent debits of 1.00 against 10.00: exactly 10 succeed and the balance ends at zero.
    static func concurrentDebitsNeverOverdraw(_ backend: Backend) async throws {
        try await TestDatabase.with(backend) { database in
            let ledger = LedgerStore(database: database)
            try await open(ledger, alice)
            try await topUp(ledger, alice, "10", key: "fund")
            let outcomes = await withTaskGroup(of: Bool.self) { group in
                for index in 0..<50 {
                    group.addTask { (try? await debit(ledger, alice, money: "1", key: "race-\(index)")) != nil }
                }
                return await group.reduce(into: [Bool]()) { $0.append($1) }
            }
            #expect(outcomes.filter { $0 }.count == 10)
            #expect(try await total(ledger, alice) == 0)
            try await expectBalanced(database)
        }
    }

    /// 20 concurrent top-ups carrying one idempotency key: applied once, the others get the same result.
    static func concurrentRetriesApplyOnce(_ backend: Backend) async throws {
        try await TestDatabase.with(backend) { database in
            let ledger = LedgerStore(database: database)
            try await open(ledger, alice)
            let results = try await withThrowingTaskGroup(of: LedgerResult.self) { group in
                for _ in 0..<20 { group.addTask { try await topUp(ledger, alice, "7", key: "same-key") } }
                return try await group.reduce(into: [LedgerResult]()) { $0.append($1) }
            }
            #expect(results.count == 20)
            #expect(results.filter { !$0.replayed }.count == 1)
            #expect(Set(results.map(\.operation.id)).count == 1)
            #expect(try await total(ledger, alice) == 7_000_000)
            try await expectBalanced(database)
        }
    }

    /// Top-ups and debits on many lines at once keep every line exact.
    static func concurrentMixedTrafficStaysExact(_ backend: Backend) async throws {
        try await TestDatabase.with(backend) { database in
            let ledger = LedgerStore(database: database)
            let lines = try (0..<5).map { try MSISDN("+1415555020\($0)") }
            for line in lines { try await open(ledger, line) }
            try await withThrowingTaskGroup(of: Void.self) { group in
                for (l, line) in lines.enumerated() {
                    for index in 0..<10 {
                        group.addTask { try await topUp(ledger, line, "2", key: "mix-t-\(l)-\(index)") }
                        group.addTask { _ = try? await debit(ledger, line, money: "1", key: "mix-d-\(l)-\(index)") }
                    }
                }
                try await group.waitForAll()
            }
            for line in lines {
                let history = try await ledger.history(line, from: nil, until: nil, before: nil, limit: 200).operations
                let net = history.flatMap(\.entries).reduce(Int64(0)) { $0 + $1.amount }
                #expect(try await total(ledger, line) == net)
                #expect(net >= 10_000_000)
            }
            try await expectBalanced(database)
        }
    }

    static func concurrentOpensOfOneNumber(_ backend: Backend) async throws {
        try await TestDatabase.with(backend) { database throws in
            let ledger = LedgerStore(database: database)
            let outcomes = await withTaskGroup(of: Result<Line, any Error>.self) { group in
                for _ in 0..<10 { group.addTask { do { return .success(try await open(ledger, alice)) } catch { return .failure(error) } } }
                return await group.reduce(into: [Result<Line, any Error>]()) { $0.append($1) }
            }
            #expect(outcomes.filter { if case .success = $0 { true } else { false } }.count == 1)
            for case .failure(let error) in outcomes { #expect(error as? RechargeError == .lineAlreadyExists(alice.e164)) }
            #expect(try await ledger.balance(alice, at: now).buckets.count == 1)
        }
    }

    static func apiKeysVerifyAndRevoke(_ backend: Backend) async throws {
        try await TestDatabase.with(backend) { database in
            let keys = APIKeyStore(database: database, cacheLifetime: .zero)
            #expect(try await keys.hasActiveAdminKey() == false)
            let (record, secret) = try await keys.create(name: "billing", scope: .write, now: now)
            #expect(secret.hasPrefix("rk_\(record.prefix)_") && secret.count == 3 + 8 + 1 + 24)
            #expect(try await keys.verify(secret) == record)
            #expect(try await keys.verify(secret + "x") == nil)
            #expect(try await keys.verify("rk_nope") == nil)
            #expect(try await keys.revoke(record.prefix, now: now)?.revokedAt != nil)
            #expect(try await keys.verify(secret) == nil)
            #expect(try await keys.revoke("999", now: now) == nil)
            #expect(try await keys.list().map(\.id) == [record.id])
        }
    }
}

/// The outcome of an async call as a value, so several can be started together and compared.
func capture<T: Sendable>(_ body: @Sendable () async throws -> T) async -> Result<T, any Error> {
    do { return .success(try await body()) } catch { return .failure(error) }
}

extension LedgerScenarios {
    /// Concurrent requests share transactions: fewer batches than requests, every one applied exactly.
    static func concurrentRequestsShareTransactions(_ backend: Backend) async throws {
        try await TestDatabase.with(backend) { database in
            let ledger = LedgerStore(database: database)
            let lines = try (0..<20).map { try MSISDN("+141555503\($0 / 10)\($0 % 10)") }
            for line in lines { try await open(ledger, line) }
            let before = ledger.groupCommitStatistics
            try await withThrowingTaskGroup(of: Void.self) { group in
                for index in 0..<200 {
                    group.addTask { try await topUp(ledger, lines[index % 20], "0.50", key: "share-\(index)") }
                }
                try await group.waitForAll()
            }
            let after = ledger.groupCommitStatistics
            #expect(after.requests - before.requests == 200)
            #expect(after.batches - before.batches < 200, "200 concurrent top-ups took \(after.batches - before.batches) transactions")
            for line in lines { #expect(try await total(ledger, line) == 5_000_000) }
            try await expectBalanced(database)
        }
    }

    /// Concurrent balance inquiries share queries, and each still gets its own line's answer (an unknown
    /// number in the same batch gets "line not found" without failing the others).
    static func concurrentBalanceInquiriesShareQueries(_ backend: Backend) async throws {
        try await TestDatabase.with(backend) { database in
            let ledger = LedgerStore(database: database)
            let lines = try (0..<20).map { try MSISDN("+141555504\($0 / 10)\($0 % 10)") }
            for (index, line) in lines.enumerated() {
                try await open(ledger, line)
                try await topUp(ledger, line, "\(index + 1).25", key: "seed-\(index)")
            }
            try await grant(ledger, lines[3], .data, 1_000_000, days: 7, key: "data-3")
            let unknown = try MSISDN("+14155550499")
            let before = ledger.balanceReadStatistics
            let answers = try await withThrowingTaskGroup(of: (Int, Result<BalanceSummary, any Error>).self) { group in
                for index in 0..<300 {
                    group.addTask {
                        let msisdn = index % 30 == 29 ? unknown : lines[index % 20]
                        do { return (index, .success(try await ledger.balance(msisdn, at: now))) } catch { return (index, .failure(error)) }
                    }
                }
                return try await group.reduce(into: [:]) { $0[$1.0] = $1.1 }
            }
            for (index, answer) in answers {
                if index % 30 == 29 {
                    #expect(throws: RechargeError.lineNotFound(unknown.e164)) { try answer.get() }
                } else {
                    let summary = try answer.get()
                    #expect(summary.line.msisdn == lines[index % 20])
                    #expect(summary.totals.first { $0.unit == "USD" }?.remaining == Int64(index % 20 + 1) * 1_000_000 + 250_000)
                    #expect(summary.buckets.count == (index % 20 == 3 ? 2 : 1))
                }
            }
            let after = ledger.balanceReadStatistics
            #expect(after.inquiries - before.inquiries == 300)
            #expect(after.queries - before.queries < 300, "300 concurrent inquiries took \(after.queries - before.queries) queries")
        }
    }

    /// Within one batch: a repeated key is applied once, a different body under a used key is refused, a
    /// business rejection refuses only its own request, and operations on one line keep their order.
    static func batchDecidesEachRequestOnItsOwn(_ backend: Backend) async throws {
        try await TestDatabase.with(backend) { database in
            let ledger = LedgerStore(database: database)
            try await open(ledger, alice)
            try await open(ledger, bob)
            try await topUp(ledger, alice, "3", key: "seed")
            async let a1 = capture { try await debit(ledger, alice, money: "2", key: "b-1") }
            async let a2 = capture { try await debit(ledger, alice, money: "2", key: "b-2") }
            async let a3 = capture { try await topUp(ledger, bob, "4", key: "b-3") }
            async let a4 = capture { try await topUp(ledger, bob, "4", key: "b-3") }
            async let a5 = capture { try await topUp(ledger, bob, "5", key: "b-3") }
            async let a6 = capture { try await topUp(ledger, try MSISDN("+14155550188"), "1", key: "b-6") }
            let results = await [a1, a2, a3, a4, a5, a6]
            // Exactly one of the two 2.00 debits fits in 3.00.
            #expect(results[0..<2].filter { (try? $0.get()) != nil }.count == 1)
            #expect(try await total(ledger, alice) == 1_000_000)
            // b-3: applied once; the identical retry gets the same operation; the different body is refused.
            let applied = results[2..<5].compactMap { try? $0.get() }
            #expect(applied.count == 2 && Set(applied.map(\.operation.id)).count == 1 && applied.filter(\.replayed).count == 1)
            #expect(results[2..<5].filter { if case .failure(let error) = $0 { (error as? RechargeError) == .idempotencyKeyReused("b-3") } else { false } }.count == 1)
            #expect(try await total(ledger, bob) == 4_000_000)
            #expect(throws: RechargeError.lineNotFound("+14155550188")) { try results[5].get() }
            try await expectBalanced(database)
        }
    }

    /// A database failure in one operation (here an account total pushed to the edge of Int64) fails that
    /// operation only: the batch is retried one by one and its neighbours are applied.
    static func oneFailingOperationDoesNotFailItsNeighbours(_ backend: Backend) async throws {
        try await TestDatabase.with(backend) { database in
            let ledger = LedgerStore(database: database)
            try await open(ledger, alice)
            try await open(ledger, bob)
            try await topUp(ledger, alice, "1", key: "warm-ivr", channel: .ivr)
            // Push the IVR clearing account next to Int64.max, as if it had seen an absurd volume.
            try await database.transaction { db in
                try await db.raw("UPDATE ledger_accounts SET debits_posted = 9223372036854775000 WHERE code = 'clearing:ivr:USD'").run()
            }
            let results = await withTaskGroup(of: (String, Bool).self) { group in
                for index in 0..<30 {
                    group.addTask { ("card-\(index)", (try? await topUp(ledger, bob, "1", key: "card-\(index)")) != nil) }
                }
                group.addTask { ("ivr", (try? await topUp(ledger, alice, "1", key: "ivr-overflow", channel: .ivr)) != nil) }
                return await group.reduce(into: [String: Bool]()) { $0[$1.0] = $1.1 }
            }
            #expect(results["ivr"] == false)
            #expect(results.filter { $0.key.hasPrefix("card-") && $0.value }.count == 30)
            #expect(try await total(ledger, bob) == 30_000_000)
            #expect(try await total(ledger, alice) == 1_000_000)
            // The overflowing top-up left nothing behind: its key is free and no transfer was written.
            let history = try await ledger.history(alice, from: nil, until: nil, before: nil, limit: 10).operations
            #expect(history.map(\.idempotencyKey) == ["warm-ivr"])
        }
    }

    /// Two nodes (two stores, two connection pools) on one database: concurrent debits and top-ups on shared
    /// lines never overdraw and never apply a key twice.
    static func twoNodesShareLinesSafely(_ backend: Backend) async throws {
        try await TestDatabase.with(backend) { database in
            let nodeA = LedgerStore(database: database)
            let other = try await Database.open(database.location)
            let nodeB = LedgerStore(database: other)
            let lines = try (0..<3).map { try MSISDN("+1415555040\($0)") }
            for line in lines {
                try await open(nodeA, line)
                try await topUp(nodeA, line, "10", key: "fund-\(line)")
            }
            let applied = await withTaskGroup(of: Bool.self) { group in
                for index in 0..<90 {
                    let node = index % 2 == 0 ? nodeA : nodeB
                    let line = lines[index % 3]
                    // Each debit is sent to both nodes under one key: it must apply at most once.
                    group.addTask { (try? await debit(node, line, money: "1", key: "two-\(index)")) != nil }
                    group.addTask { _ = try? await debit(index % 2 == 0 ? nodeB : nodeA, line, money: "1", key: "two-\(index)"); return false }
                }
                return await group.reduce(into: 0) { $0 += $1 ? 1 : 0 }
            }
            #expect(applied == 30, "90 debits of 1.00 against 3 × 10.00")
            for line in lines { #expect(try await total(nodeA, line) == 0) }
            let report = try await LedgerAudit(database: database).run()
            #expect(report.isBalanced)
            #expect(report.transfers == 3 + 30)
            await other.close()
        }
    }
}

extension LedgerScenarios {
    /// The audit is not a formality: each kind of tampering is reported.
    static func auditDetectsTampering(_ backend: Backend) async throws {
        try await TestDatabase.with(backend) { database in
            let ledger = LedgerStore(database: database)
            try await open(ledger, alice)
            try await topUp(ledger, alice, "10", key: "t1")
            try await debit(ledger, alice, money: "4", key: "d1")
            let clean = try await LedgerAudit(database: database).run()
            #expect(clean.isBalanced && clean.transfers == 2 && clean.operations == 2 && clean.buckets == 1)

            // A balance edited by hand, without a transfer.
            try await database.transaction { db in
                try await db.raw("UPDATE ledger_accounts SET credits_posted = credits_posted + 1 WHERE code LIKE 'line:%'").run()
            }
            #expect(try await LedgerAudit(database: database).run().discrepancies.contains { $0.hasPrefix("account line:") })
            try await database.transaction { db in
                try await db.raw("UPDATE ledger_accounts SET credits_posted = credits_posted - 1 WHERE code LIKE 'line:%'").run()
            }
            #expect(try await LedgerAudit(database: database).run().isBalanced)

            // A transfer removed: two accounts disagree and its operation has no legs.
            try await database.transaction { db in
                try await db.raw("DELETE FROM transfers WHERE reason = 'debit'").run()
            }
            let report = try await LedgerAudit(database: database).run()
            #expect(report.discrepancies.filter { $0.hasPrefix("account ") }.count == 2)
            #expect(report.discrepancies.contains { $0.contains("is applied with 0 transfers") })
        }
    }
}

extension LedgerScenarios {
    /// The locks a ledger batch takes, in the order it takes them, must never wait on a lock another batch takes
    /// earlier in its own order. Every insert of a transfer makes PostgreSQL take `FOR KEY SHARE` on the two
    /// accounts it references (the foreign-key check) before the batch locks the accounts it posts to; a batch that
    /// then asked for `FOR UPDATE` would wait on another batch's key-share lock while that batch waited on its own:
    /// the deadlock two nodes saw (issue 24). Held here by hand on the clearing account, a key-share lock must not
    /// delay a top-up that credits from it, and the holder can then post to the same account.
    static func batchesNeverWaitOnForeignKeyLocks(_ backend: Backend) async throws {
        try await TestDatabase.with(backend) { database in
            let ledger = LedgerStore(database: database)
            try await open(ledger, alice)
            try await topUp(ledger, alice, "1", key: "warm")
            let other = try await Database.open(database.location)
            defer { Task { await other.close() } }
            let (release, releaser) = AsyncStream<Void>.makeStream()
            let (held, holder) = AsyncStream<Void>.makeStream()
            // Another node's transaction, between inserting its transfers and posting them.
            let otherNode = Task {
                try await other.transaction(timeout: .seconds(30)) { db in
                    try await db.raw("SELECT id FROM ledger_accounts WHERE code = 'clearing:card:USD' FOR KEY SHARE").run()
                    holder.yield()
                    for await _ in release { break }
                }
            }
            for await _ in held { break }
            let started = ContinuousClock.now
            let credit = Task { try await topUp(ledger, alice, "2", key: "beside-a-key-share") }
            let finished = Task {
                _ = try? await credit.value
                return ContinuousClock.now - started
            }
            // Give the top-up two seconds: done at once when it does not wait; stuck until released when it does.
            try await Task.sleep(for: .seconds(2))
            releaser.yield()
            releaser.finish()
            try await otherNode.value
            let waited = await finished.value
            #expect(waited < .seconds(2), "the top-up waited \(waited) on another transaction's key-share lock")
            #expect(try await total(ledger, alice) == 3_000_000)
        }
    }
}
