import Foundation
import RechargeCore
@testable import RechargeBanking

/// A seeded generator so random references are reproducible.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

enum Fixture {
    static func data(_ name: String) throws -> Data {
        guard let url = Bundle.module.url(forResource: name, withExtension: nil, subdirectory: "Fixtures") else {
            throw FixtureMissing(name: name)
        }
        return try Data(contentsOf: url)
    }

    struct FixtureMissing: Error { var name: String }
}

let eur = try! Currency(code: "EUR")
let usd = Currency.usd

func money(_ text: String, _ currency: Currency) -> Money { try! Money(decimal: text, currency: currency) }

func date(_ text: String) -> BankDate { BankDate(iso: text)! }
