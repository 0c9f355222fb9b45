import Foundation
import RechargeCore
import Testing

@testable import RechargeStore

/// The group-commit writer stores each operation's result with a hand-written JSON encoding; it must be
/// exactly what JSONEncoder writes, and must decode back to the same operation.
@Suite("Stored operation results")
struct StoredResultEncodingTests {
    static func randomText(_ generator: inout some RandomNumberGenerator) -> String {
        let alphabet: [Character] = Array("abcXYZ019 -_/:\"\\\u{0}\u{1}\u{8}\u{9}\u{a}\u{c}\u{d}\u{1f}\u{7f}é充值😀")
        return String((0..<Int.random(in: 0...12, using: &generator)).map { _ in alphabet.randomElement(using: &generator)! })
    }

    @Test("hand-written and JSONEncoder results are the same bytes, and decode to the same operation")
    func sameBytes() throws {
        var generator = SystemRandomNumberGenerator()
        let extremes: [Int64] = [0, 1, -1, 9, 10, -10, 999_999, Int64.max, Int64.min]
        for round in 0..<3_000 {
            func number() -> Int64 {
                round % 5 == 0 ? extremes.randomElement(using: &generator)! : Int64.random(in: -10_000_000_000...10_000_000_000, using: &generator)
            }
            let entries = (0..<Int.random(in: 0...3, using: &generator)).map { _ in
                LedgerOperation.Entry(
                    transferID: number(), bucketID: number(), bucketKind: BucketKind.allCases.randomElement(using: &generator)!,
                    unit: Self.randomText(&generator), amount: number(), remainingAfter: number())
            }
            let operation = LedgerOperation(
                id: number(), kind: Bool.random(using: &generator) ? .topUp : .debit, msisdn: Self.randomText(&generator),
                idempotencyKey: Self.randomText(&generator), channel: Channel.allCases.randomElement(using: &generator)!,
                reference: Bool.random(using: &generator) ? nil : Self.randomText(&generator),
                createdAt: Date(unixMicros: Int64.random(in: 0...4_000_000_000_000_000, using: &generator)), entries: entries)
            let handWritten = LedgerStore.encodeResult(operation)
            let reference = try LedgerStore.encodeResultWithEncoder(operation)
            #expect(handWritten == reference, "\(handWritten)\n\(reference)")
            #expect(try LedgerStore.decodeResult(handWritten, as: LedgerOperation.self) == operation)
        }
    }
}

@Suite("Stored charging answers")
struct StoredChargingAnswerTests {
    @Test("hand-written and JSONEncoder answers are the same bytes, and decode to the same answer")
    func sameBytes() throws {
        var generator = SystemRandomNumberGenerator()
        let results: [ChargingAnswer.Result] = [.success, .creditLimitReached, .serviceDenied, .ratingFailed, .userUnknown, .unknownSession]
        for _ in 0..<2_000 {
            func number() -> Int64 { Bool.random(using: &generator) ? Int64.random(in: Int64.min...Int64.max, using: &generator) : Int64.random(in: 0...1_000) }
            func text() -> String? { Bool.random(using: &generator) ? nil : StoredResultEncodingTests.randomText(&generator) }
            let services = (0..<Int.random(in: 0...3, using: &generator)).map { _ in
                ChargingAnswer.Service(key: StoredResultEncodingTests.randomText(&generator), result: results.randomElement(using: &generator)!,
                                       grantedUnits: number(), validitySeconds: number(), finalUnit: Bool.random(using: &generator), charged: number(),
                                       sessionCharge: number(), explanation: text(), detail: text())
            }
            var answer = ChargingAnswer(sessionID: StoredResultEncodingTests.randomText(&generator), requestNumber: number(),
                                        type: CreditControlRequestType.allCases.randomElement(using: &generator)!, result: results.randomElement(using: &generator)!,
                                        msisdn: StoredResultEncodingTests.randomText(&generator), currency: "USD", services: services,
                                        barred: Bool.random(using: &generator))
            if Bool.random(using: &generator) { answer.replayed = Bool.random(using: &generator) }
            let handWritten = answer.storedJSON
            let reference = try LedgerStore.encodeResult(answer)
            #expect(handWritten == reference, "\(handWritten)\n\(reference)")
            #expect(try LedgerStore.decodeResult(handWritten, as: ChargingAnswer.self) == answer)
        }
    }
}

@Suite("SHA-256 hex")
struct SHA256HexTests {
    @Test("known vectors, lower-case hex")
    func vectors() {
        #expect(sha256Hex("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(sha256Hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(sha256Hex("充值") == "2c363db2eabcba80aa02de8fa853eb65bb040f77a470d116fa62acef47584699")
    }
}
