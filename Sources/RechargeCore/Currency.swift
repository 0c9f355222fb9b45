/// An ISO 4217 currency: its alphabetic code and how many minor-unit digits it has (2 for USD cents,
/// 0 for JPY). Only currencies in ``Currency/known`` are accepted, so a typo never becomes a new currency.
public struct Currency: Hashable, Sendable, CustomStringConvertible, Codable {
    public let code: String
    /// Digits after the decimal point in the currency's minor unit (ISO 4217 "E" column).
    public let minorUnitDigits: Int

    private init(code: String, minorUnitDigits: Int) {
        self.code = code
        self.minorUnitDigits = minorUnitDigits
    }

    /// Looks up an ISO 4217 code (case-insensitive input, stored upper-case).
    public init(code: String) throws(RechargeError) {
        let upper = code.uppercased()
        guard let digits = Currency.known[upper] else { throw .unknownCurrency(code) }
        self.init(code: upper, minorUnitDigits: digits)
    }

    public var description: String { code }

    /// Micro-units (1e-6) in one minor unit: 10_000 for cents, 1_000_000 for a currency without minor units.
    public var microsPerMinorUnit: Int64 {
        var value: Int64 = 1_000_000
        for _ in 0..<minorUnitDigits { value /= 10 }
        return value
    }

    public static let usd = try! Currency(code: "USD")
    public static let cny = try! Currency(code: "CNY")

    /// Currencies a carrier in this market meets, with their ISO 4217 minor-unit digits.
    public static let known: [String: Int] = [
        "USD": 2, "CNY": 2, "HKD": 2, "TWD": 2, "MOP": 2, "SGD": 2, "EUR": 2, "GBP": 2, "CAD": 2,
        "AUD": 2, "NZD": 2, "MXN": 2, "CHF": 2, "INR": 2, "PHP": 2, "THB": 2, "MYR": 2, "IDR": 2,
        "VND": 0, "JPY": 0, "KRW": 0, "CLP": 0, "BHD": 3, "KWD": 3, "OMR": 3, "JOD": 3,
    ]

    public init(from decoder: any Decoder) throws {
        let code = try decoder.singleValueContainer().decode(String.self)
        do { try self.init(code: code) } catch {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: error.detail))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(code)
    }
}
