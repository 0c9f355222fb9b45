import Foundation
import Testing

@testable import RechargeServer

@Suite("RFC 3339 timestamps")
struct RFC3339Tests {
    @Test("the integer formatter agrees with ISO8601FormatStyle to the second, over four centuries of instants")
    func matchesFormatStyle() {
        var generator = SystemRandomNumberGenerator()
        let seconds = Date.ISO8601FormatStyle()
        var micros: [Int64] = [0, -1_000, 951_782_400_000_000, 4_107_542_399_999_000]
        for _ in 0..<20_000 {
            // Between 1900 and 2300, away from whole-second edges where a float could round either way.
            let millis = Int64.random(in: -2_208_988_800_000...10_413_792_000_000, using: &generator)
            micros.append(millis * 1000 + Int64.random(in: 1...998, using: &generator))
        }
        for value in micros {
            let instant = Date(timeIntervalSince1970: Double(value) / 1_000_000)
            let text = RFC3339.format(instant)
            let millis = (value >= 0 ? value / 1000 : (value - 999) / 1000)
            let fraction = (millis % 1000 + 1000) % 1000
            let expected = String(instant.formatted(seconds).dropLast()) + "." + String(String(fraction + 1000).dropFirst()) + "Z"
            #expect(text == expected, "\(value)")
        }
    }

    @Test("sub-millisecond parts are dropped, and the text parses back to the same millisecond")
    func truncatesAndRoundTrips() throws {
        let instant = Date(timeIntervalSince1970: 1_795_000_000.123_987)
        #expect(RFC3339.format(instant) == "2026-11-18T11:06:40.123Z")
        let parsed = try #require(RFC3339.parse(RFC3339.format(instant)))
        #expect(abs(parsed.timeIntervalSince1970 - 1_795_000_000.123) < 0.000_001)
    }
}
