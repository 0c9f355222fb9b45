import Foundation
import Testing
@testable import RechargeCore

@Suite("ConsumptionOrder")
struct ConsumptionOrderTests {
    // MARK: Bucket basics

    @Test func bucketValidityWindowIsHalfOpen() {
        let bucket = makeBucket(id: 1, remaining: 10, validFrom: now, validUntil: now.addingTimeInterval(60))
        #expect(bucket.isValid(at: now))
        #expect(bucket.isValid(at: now.addingTimeInterval(59.999)))
        #expect(!bucket.isValid(at: now.addingTimeInterval(60)))
        #expect(!bucket.isValid(at: now.addingTimeInterval(-0.001)))
        #expect(bucket.available(at: now.addingTimeInterval(60)) == 0)
        #expect(makeBucket(id: 2, remaining: 10, validUntil: nil).isValid(at: .distantFuture))
    }

    @Test func availableIncludesTheFloor() {
        #expect(makeBucket(id: 1, remaining: 700).available(at: now) == 700)
        #expect(makeBucket(id: 1, remaining: 700, floor: -300).available(at: now) == 1_000)
        #expect(makeBucket(id: 1, remaining: -200, floor: -300).available(at: now) == 100)
        #expect(makeBucket(id: 1, remaining: -300, floor: -300).available(at: now) == 0)
        // Already beyond the floor (a limit lowered later): nothing available, never negative.
        #expect(makeBucket(id: 1, remaining: -500, floor: -300).available(at: now) == 0)
        #expect(makeBucket(id: 1, remaining: 0).available(at: now) == 0)
        // Saturates instead of trapping.
        #expect(makeBucket(id: 1, remaining: .max, floor: -1).available(at: now) == .max)
    }

    @Test func bucketKindUnits() {
        #expect(BucketKind.monetary.unit(currency: usd) == "USD")
        #expect(BucketKind.monetary.unit(currency: jpy) == "JPY")
        #expect(BucketKind.data.unit(currency: usd) == "BYTES")
        #expect(BucketKind.voice.unit(currency: usd) == "SECONDS")
        #expect(BucketKind.sms.unit(currency: usd) == "SMS")
    }

    // MARK: Sorting

    @Test func sortsByPriorityFirst() {
        let buckets = [
            makeBucket(id: 1, remaining: 1, validUntil: now.addingTimeInterval(day), priority: 1000),
            makeBucket(id: 2, remaining: 1, validUntil: nil, priority: 100),
            makeBucket(id: 3, remaining: 1, validUntil: now.addingTimeInterval(99 * day), priority: -5),
            makeBucket(id: 4, remaining: 1, validUntil: now.addingTimeInterval(2 * day), priority: 100),
        ]
        #expect(ConsumptionOrder.sorted(buckets).map(\.id) == [3, 4, 2, 1])
    }

    @Test func thenSoonestExpiryWithNeverExpiringLast() {
        let buckets = [
            makeBucket(id: 1, remaining: 1, validUntil: nil),
            makeBucket(id: 2, remaining: 1, validUntil: now.addingTimeInterval(30 * day)),
            makeBucket(id: 3, remaining: 1, validUntil: now.addingTimeInterval(1 * day)),
            makeBucket(id: 4, remaining: 1, validUntil: now.addingTimeInterval(7 * day)),
        ]
        #expect(ConsumptionOrder.sorted(buckets).map(\.id) == [3, 4, 2, 1])
    }

    @Test func thenLowestID() {
        let expiry = now.addingTimeInterval(day)
        let buckets = [
            makeBucket(id: 9, remaining: 1, validUntil: expiry),
            makeBucket(id: 8, remaining: 1, validUntil: nil),
            makeBucket(id: 2, remaining: 1, validUntil: expiry),
            makeBucket(id: 5, remaining: 1, validUntil: nil),
            makeBucket(id: 1, remaining: 1, validUntil: nil),
        ]
        #expect(ConsumptionOrder.sorted(buckets).map(\.id) == [2, 9, 1, 5, 8])
    }

    @Test("the order does not depend on the input order")
    func sortIsTotal() {
        let expiry = now.addingTimeInterval(day)
        let buckets = [
            makeBucket(id: 1, remaining: 1, validUntil: nil, priority: 1000),
            makeBucket(id: 2, remaining: 1, validUntil: expiry, priority: 100),
            makeBucket(id: 3, remaining: 1, validUntil: expiry, priority: 100),
            makeBucket(id: 4, remaining: 1, validUntil: nil, priority: 100),
            makeBucket(id: 5, remaining: 1, validUntil: now.addingTimeInterval(-day), priority: 100),
        ]
        let expected: [Int64] = [5, 2, 3, 4, 1]
        var rng = SplitMix64(seed: 1)
        for _ in 0..<200 {
            #expect(ConsumptionOrder.sorted(buckets.shuffled(using: &rng)).map(\.id) == expected)
        }
        #expect(ConsumptionOrder.sorted([]).isEmpty)
    }

    // MARK: Planning

    @Test func drawsAcrossBucketsInOrder() throws {
        let buckets = [
            makeBucket(id: 10, remaining: 50_000_000, validUntil: nil, priority: 1000, isMain: true),
            makeBucket(id: 11, remaining: 5_000_000, validUntil: now.addingTimeInterval(10 * day)),
            makeBucket(id: 12, remaining: 3_000_000, validUntil: now.addingTimeInterval(2 * day)),
        ]
        let draws = try ConsumptionOrder.plan(debit: 10_000_000, unit: "USD", from: buckets, at: now, msisdn: sampleMSISDN)
        #expect(draws == [
            BucketDraw(bucketID: 12, accountID: 1012, amount: 3_000_000),
            BucketDraw(bucketID: 11, accountID: 1011, amount: 5_000_000),
            BucketDraw(bucketID: 10, accountID: 1010, amount: 2_000_000),
        ])
    }

    @Test func stopsAtTheFirstBucketThatCoversTheRest() throws {
        let buckets = [
            makeBucket(id: 1, remaining: 100, priority: 1),
            makeBucket(id: 2, remaining: 100, priority: 2),
        ]
        #expect(try ConsumptionOrder.plan(debit: 100, unit: "USD", from: buckets, at: now, msisdn: sampleMSISDN)
            == [BucketDraw(bucketID: 1, accountID: 1001, amount: 100)])
        #expect(try ConsumptionOrder.plan(debit: 1, unit: "USD", from: buckets, at: now, msisdn: sampleMSISDN)
            == [BucketDraw(bucketID: 1, accountID: 1001, amount: 1)])
        #expect(try ConsumptionOrder.plan(debit: 101, unit: "USD", from: buckets, at: now, msisdn: sampleMSISDN)
            == [BucketDraw(bucketID: 1, accountID: 1001, amount: 100), BucketDraw(bucketID: 2, accountID: 1002, amount: 1)])
    }

    @Test func skipsExpiredAndNotYetValidBuckets() throws {
        let buckets = [
            makeBucket(id: 1, remaining: 1_000, validUntil: now.addingTimeInterval(-1), priority: 1),          // expired
            makeBucket(id: 2, remaining: 1_000, validUntil: now, priority: 2),                                 // expires exactly now
            makeBucket(id: 3, remaining: 1_000, validFrom: now.addingTimeInterval(1), priority: 3),            // not yet valid
            makeBucket(id: 4, remaining: 1_000, validFrom: now, validUntil: now.addingTimeInterval(1), priority: 4), // just valid
            makeBucket(id: 5, remaining: 1_000, priority: 5),
        ]
        let draws = try ConsumptionOrder.plan(debit: 1_500, unit: "USD", from: buckets, at: now, msisdn: sampleMSISDN)
        #expect(draws.map(\.bucketID) == [4, 5])
        #expect(draws.map(\.amount) == [1_000, 500])
        // Only 2_000 of the 5_000 is usable now.
        #expect(throws: RechargeError.insufficientBalance(msisdn: "+14155550100", unit: "USD", available: 2_000, requested: 2_001)) {
            try ConsumptionOrder.plan(debit: 2_001, unit: "USD", from: buckets, at: now, msisdn: sampleMSISDN)
        }
    }

    @Test func onlyBucketsOfTheRequestedUnit() throws {
        let buckets = [
            makeBucket(id: 1, kind: .data, unit: "BYTES", remaining: 1_000_000, priority: 1),
            makeBucket(id: 2, unit: "CNY", remaining: 1_000_000, priority: 2),
            makeBucket(id: 3, unit: "USD", remaining: 400, priority: 3),
            makeBucket(id: 4, kind: .voice, unit: "SECONDS", remaining: 600, priority: 4),
            makeBucket(id: 5, kind: .data, unit: "BYTES", remaining: 2_000, priority: 5),
        ]
        #expect(try ConsumptionOrder.plan(debit: 300, unit: "USD", from: buckets, at: now, msisdn: sampleMSISDN).map(\.bucketID) == [3])
        #expect(try ConsumptionOrder.plan(debit: 1_001_000, unit: "BYTES", from: buckets, at: now, msisdn: sampleMSISDN).map(\.bucketID) == [1, 5])
        #expect(throws: RechargeError.insufficientBalance(msisdn: "+14155550100", unit: "USD", available: 400, requested: 401)) {
            try ConsumptionOrder.plan(debit: 401, unit: "USD", from: buckets, at: now, msisdn: sampleMSISDN)
        }
        #expect(throws: RechargeError.insufficientBalance(msisdn: "+14155550100", unit: "SMS", available: 0, requested: 1)) {
            try ConsumptionOrder.plan(debit: 1, unit: "SMS", from: buckets, at: now, msisdn: sampleMSISDN)
        }
    }

    @Test func respectsTheCreditLimitFloorOnTheMainBucket() throws {
        // $1 on the main balance with a $5 credit limit: $6 can be spent.
        let main = makeBucket(id: 1, remaining: 1_000_000, floor: -5_000_000, priority: 1000, isMain: true)
        #expect(try ConsumptionOrder.plan(debit: 4_000_000, unit: "USD", from: [main], at: now, msisdn: sampleMSISDN)
            == [BucketDraw(bucketID: 1, accountID: 1001, amount: 4_000_000)])
        #expect(try ConsumptionOrder.plan(debit: 6_000_000, unit: "USD", from: [main], at: now, msisdn: sampleMSISDN)
            == [BucketDraw(bucketID: 1, accountID: 1001, amount: 6_000_000)])
        #expect(throws: RechargeError.insufficientBalance(msisdn: "+14155550100", unit: "USD", available: 6_000_000, requested: 6_000_001)) {
            try ConsumptionOrder.plan(debit: 6_000_001, unit: "USD", from: [main], at: now, msisdn: sampleMSISDN)
        }
        // Already $2 in debt: $3 of credit is left.
        let inDebt = makeBucket(id: 1, remaining: -2_000_000, floor: -5_000_000, priority: 1000, isMain: true)
        #expect(try ConsumptionOrder.plan(debit: 3_000_000, unit: "USD", from: [inDebt], at: now, msisdn: sampleMSISDN).map(\.amount) == [3_000_000])
        #expect(throws: RechargeError.insufficientBalance(msisdn: "+14155550100", unit: "USD", available: 3_000_000, requested: 3_000_001)) {
            try ConsumptionOrder.plan(debit: 3_000_001, unit: "USD", from: [inDebt], at: now, msisdn: sampleMSISDN)
        }
        // Granted buckets are used up before the main balance goes into credit.
        let grant = makeBucket(id: 2, remaining: 500_000, validUntil: now.addingTimeInterval(day), priority: 100)
        #expect(try ConsumptionOrder.plan(debit: 2_000_000, unit: "USD", from: [main, grant], at: now, msisdn: sampleMSISDN)
            == [BucketDraw(bucketID: 2, accountID: 1002, amount: 500_000), BucketDraw(bucketID: 1, accountID: 1001, amount: 1_500_000)])
    }

    @Test func emptyAndOverdrawnBucketsGetNoDraw() throws {
        let buckets = [
            makeBucket(id: 1, remaining: 0, priority: 1),
            makeBucket(id: 2, remaining: -10, floor: -5, priority: 2),
            makeBucket(id: 3, remaining: 10, priority: 3),
        ]
        let draws = try ConsumptionOrder.plan(debit: 10, unit: "USD", from: buckets, at: now, msisdn: sampleMSISDN)
        #expect(draws == [BucketDraw(bucketID: 3, accountID: 1003, amount: 10)])
        #expect(draws.allSatisfy { $0.amount > 0 })
    }

    @Test func insufficientBalanceReportsTheTotalAndTakesNothing() {
        let buckets = [
            makeBucket(id: 1, remaining: 300, validUntil: now.addingTimeInterval(day), priority: 1),
            makeBucket(id: 2, remaining: 200, floor: -100, priority: 1000, isMain: true),
            makeBucket(id: 3, remaining: 9_999, validUntil: now.addingTimeInterval(-day), priority: 1),  // expired
        ]
        var draws: [BucketDraw]?
        #expect(throws: RechargeError.insufficientBalance(msisdn: "+14155550100", unit: "USD", available: 600, requested: 601)) {
            draws = try ConsumptionOrder.plan(debit: 601, unit: "USD", from: buckets, at: now, msisdn: sampleMSISDN)
        }
        #expect(draws == nil)
        #expect(throws: RechargeError.insufficientBalance(msisdn: "+14155550100", unit: "USD", available: 0, requested: 1)) {
            try ConsumptionOrder.plan(debit: 1, unit: "USD", from: [], at: now, msisdn: sampleMSISDN)
        }
    }

    @Test("the reported available total saturates instead of trapping")
    func hugeAvailableTotal() {
        let buckets = [
            makeBucket(id: 1, remaining: .max, priority: 1),
            makeBucket(id: 2, remaining: .max, priority: 2),
        ]
        #expect(throws: Never.self) {
            let draws = try ConsumptionOrder.plan(debit: .max, unit: "USD", from: buckets, at: now, msisdn: sampleMSISDN)
            #expect(draws == [BucketDraw(bucketID: 1, accountID: 1001, amount: .max)])
        }
    }

    @Test("non-positive amounts are rejected", arguments: [Int64(0), -1, .min])
    func nonPositive(amount: Int64) {
        let buckets = [makeBucket(id: 1, remaining: 1_000)]
        #expect(throws: RechargeError.nonPositiveAmount(String(amount))) {
            try ConsumptionOrder.plan(debit: amount, unit: "USD", from: buckets, at: now, msisdn: sampleMSISDN)
        }
    }

    // MARK: Property-style

    /// An independent statement of the order: priority, then expiry (none last), then id.
    static func precedes(_ a: Bucket, _ b: Bucket) -> Bool {
        let keyA = (a.priority, a.validUntil == nil ? 1 : 0, a.validUntil?.timeIntervalSince1970 ?? 0, a.id)
        let keyB = (b.priority, b.validUntil == nil ? 1 : 0, b.validUntil?.timeIntervalSince1970 ?? 0, b.id)
        return keyA < keyB
    }

    static func randomBuckets(using rng: inout SplitMix64) -> [Bucket] {
        let units = ["USD", "USD", "USD", "BYTES", "CNY"]
        let count = Int.random(in: 0...8, using: &rng)
        var ids = Array(Int64(1)...Int64(50)).shuffled(using: &rng)
        return (0..<count).map { _ in
            let id = ids.removeLast()
            let unit = units.randomElement(using: &rng)!
            let isMain = unit == "USD" && Int.random(in: 0..<4, using: &rng) == 0
            let floor: Int64 = isMain ? -Int64.random(in: 0...5_000, using: &rng) : 0
            let remaining = Int64.random(in: -2_000...10_000, using: &rng)
            let validFrom = now.addingTimeInterval(Double(Int.random(in: -10...2, using: &rng)) * day)
            let validUntil: Date? = Bool.random(using: &rng)
                ? nil
                : now.addingTimeInterval(Double(Int.random(in: -3...6, using: &rng)) * day)
            let priority = [-1, 100, 100, 100, 500, 1000].randomElement(using: &rng)!
            return makeBucket(
                id: id, kind: unit == "BYTES" ? .data : .monetary, unit: unit, remaining: remaining, floor: floor,
                validFrom: validFrom, validUntil: validUntil, priority: priority, isMain: isMain
            )
        }
    }

    @Test("random bucket sets: draws sum to the amount, stay within each bucket, follow the sorted order")
    func randomizedPlans() throws {
        var rng = SplitMix64(seed: 0x5EED_1234)
        var successes = 0
        var failures = 0
        for iteration in 0..<3_000 {
            let buckets = Self.randomBuckets(using: &rng)
            let sorted = ConsumptionOrder.sorted(buckets)
            // sorted() is a permutation that agrees with the independent comparator.
            #expect(sorted.map(\.id) == buckets.sorted(by: Self.precedes).map(\.id), "iteration \(iteration)")

            let unit = ["USD", "BYTES", "CNY"].randomElement(using: &rng)!
            let eligible = sorted.filter { $0.unit == unit && $0.available(at: now) > 0 }
            let total = eligible.reduce(Int64(0)) { $0 + $1.available(at: now) }
            let amount = Int64.random(in: 1...(total + 1_000), using: &rng)

            do {
                let draws = try ConsumptionOrder.plan(debit: amount, unit: unit, from: buckets, at: now, msisdn: sampleMSISDN)
                successes += 1
                #expect(amount <= total, "iteration \(iteration): planned \(amount) with only \(total) available")
                #expect(draws.reduce(0) { $0 + $1.amount } == amount, "iteration \(iteration)")
                // Draws are a prefix of the eligible buckets in consumption order, each fully drained but the last.
                #expect(draws.map(\.bucketID) == eligible.prefix(draws.count).map(\.id), "iteration \(iteration)")
                #expect(Set(draws.map(\.bucketID)).count == draws.count)
                for (index, draw) in draws.enumerated() {
                    let bucket = try #require(buckets.first { $0.id == draw.bucketID })
                    #expect(bucket.unit == unit)
                    #expect(draw.accountID == bucket.accountID)
                    #expect(draw.amount > 0)
                    #expect(draw.amount <= bucket.available(at: now), "iteration \(iteration): overdraws bucket \(bucket.id)")
                    if index < draws.count - 1 { #expect(draw.amount == bucket.available(at: now)) }
                }
            } catch {
                failures += 1
                #expect(amount > total, "iteration \(iteration): refused \(amount) with \(total) available")
                #expect(error as? RechargeError == .insufficientBalance(msisdn: sampleMSISDN.e164, unit: unit, available: total, requested: amount))
            }
        }
        // The generator exercises both outcomes.
        #expect(successes > 500)
        #expect(failures > 50)
    }
}
