import Foundation
import RechargeCore
import Testing

@testable import RechargeServer

/// Top-up and balance responses are written by hand; each must be exactly what JSONEncoder writes for
/// the same value (sorted keys, absent optionals omitted, the same string escapes).
@Suite("Hand-written responses")
struct ResponseEncodingTests {
    static let alphabet: [Character] = Array("abcXYZ019 -_/:\"\\\u{0}\u{1}\u{8}\u{9}\u{a}\u{c}\u{d}\u{1f}\u{7f}é充值😀")

    static func text(_ generator: inout some RandomNumberGenerator) -> String {
        String((0..<Int.random(in: 0...10, using: &generator)).map { _ in alphabet.randomElement(using: &generator)! })
    }

    static func encoded(_ value: some Encodable) throws -> String {
        String(decoding: try JSONResponse.encoder.encode(value), as: UTF8.self)
    }

    static func written(_ value: some JSONWritable) -> String {
        var json = JSONWriter()
        value.write(to: &json)
        return json.text
    }

    @Test("operation responses")
    func operations() throws {
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<2_000 {
            let entries = (0..<Int.random(in: 0...3, using: &generator)).map { _ in
                let unit = ["USD", "CNY", "bytes", "seconds", Self.text(&generator)].randomElement(using: &generator)!
                return LedgerOperation.Entry(
                    transferID: .random(in: 1...Int64.max, using: &generator), bucketID: .random(in: 1...1_000_000, using: &generator),
                    bucketKind: BucketKind.allCases.randomElement(using: &generator)!, unit: unit,
                    amount: .random(in: Int64.min...Int64.max, using: &generator), remainingAfter: .random(in: -1_000_000_000...1_000_000_000, using: &generator))
            }
            let operation = LedgerOperation(
                id: .random(in: 1...Int64.max, using: &generator), kind: Bool.random(using: &generator) ? .topUp : .debit,
                msisdn: Self.text(&generator), idempotencyKey: Self.text(&generator), channel: Channel.allCases.randomElement(using: &generator)!,
                reference: Bool.random(using: &generator) ? nil : Self.text(&generator),
                createdAt: Date(timeIntervalSince1970: .random(in: 0...4_000_000_000, using: &generator)), entries: entries)
            let output = OperationOutput(operation)
            #expect(Self.written(output) == (try Self.encoded(output)))
        }
    }

    @Test("balance responses")
    func balances() throws {
        var generator = SystemRandomNumberGenerator()
        let now = Date(timeIntervalSince1970: 1_795_000_000)
        for _ in 0..<1_000 {
            let currency = [Currency.usd, try Currency(code: "CNY")].randomElement(using: &generator)!
            let line = Line(
                id: 7, msisdn: try MSISDN("+14155550100"), iccid: nil, type: .prepaid, status: LineStatus.allCases.randomElement(using: &generator)!,
                currency: currency, creditLimit: Money(micros: .random(in: 0...5_000_000, using: &generator), currency: currency),
                subscriberID: nil, createdAt: now)
            let buckets = (0..<Int.random(in: 0...4, using: &generator)).map { index in
                let kind = BucketKind.allCases.randomElement(using: &generator)!
                return Bucket(
                    id: Int64(index + 1), lineID: 7, accountID: Int64(index + 10), kind: kind, unit: kind.unit(currency: currency),
                    name: Bool.random(using: &generator) ? nil : Self.text(&generator), remaining: .random(in: -1_000_000...100_000_000_000, using: &generator),
                    floor: 0, validFrom: now.addingTimeInterval(.random(in: -864_000...86_400, using: &generator)),
                    validUntil: Bool.random(using: &generator) ? nil : now.addingTimeInterval(.random(in: -86_400...8_640_000, using: &generator)),
                    priority: .random(in: 0...100, using: &generator), isMain: index == 0)
            }
            let output = BalanceOutput(BalanceSummary(line: line, buckets: buckets, at: now))
            #expect(Self.written(output) == (try Self.encoded(output)))
        }
    }
}
