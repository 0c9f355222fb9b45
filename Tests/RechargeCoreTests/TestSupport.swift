import Foundation
import Testing
@testable import RechargeCore

// Shared fixtures and helpers for the RechargeCore tests.

let usd = Currency.usd
let cny = Currency.cny
let jpy = try! Currency(code: "JPY")
let kwd = try! Currency(code: "KWD")

/// A fixed instant so validity windows are deterministic.
let now = Date(timeIntervalSince1970: 1_700_000_000)
let day: TimeInterval = 86_400

let sampleMSISDN = try! MSISDN("+14155550100")

/// Expects `body` to throw a `RechargeError` whose stable `code` is `code`, and returns the error.
@discardableResult
func expectRechargeError<R>(
    _ code: String,
    sourceLocation: SourceLocation = #_sourceLocation,
    _ body: () throws -> R
) -> RechargeError? {
    let error = #expect(throws: RechargeError.self, sourceLocation: sourceLocation) { _ = try body() }
    #expect(error?.code == code, "expected \(code), got \(String(describing: error))", sourceLocation: sourceLocation)
    return error
}

func makeBucket(
    id: Int64,
    kind: BucketKind = .monetary,
    unit: String = "USD",
    remaining: Int64,
    floor: Int64 = 0,
    validFrom: Date = now.addingTimeInterval(-30 * day),
    validUntil: Date? = nil,
    priority: Int = 100,
    isMain: Bool = false
) -> Bucket {
    Bucket(
        id: id, lineID: 1, accountID: 1_000 + id, kind: kind, unit: unit, name: nil,
        remaining: remaining, floor: floor, validFrom: validFrom, validUntil: validUntil,
        priority: priority, isMain: isMain
    )
}

/// A small, seeded, deterministic generator (SplitMix64) for property-style tests.
struct SplitMix64: RandomNumberGenerator {
    private var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
