/// A SIM's Integrated Circuit Card Identifier (ITU-T E.118): 19 or 20 digits starting with the
/// telecom industry prefix `89`, the last digit a Luhn check digit over the others.
public struct ICCID: Hashable, Sendable, CustomStringConvertible, Codable {
    public let digits: String

    public init(_ text: String) throws(RechargeError) {
        let compact = text.filter { $0 != " " && $0 != "-" }
        guard compact.allSatisfy({ $0.isASCII && $0.isNumber }) else {
            throw .invalidICCID(text, reason: "only digits are allowed")
        }
        guard compact.count == 19 || compact.count == 20 else {
            throw .invalidICCID(text, reason: "an ICCID has 19 or 20 digits, this has \(compact.count)")
        }
        guard compact.hasPrefix("89") else {
            throw .invalidICCID(text, reason: "an ICCID starts with the telecom prefix 89")
        }
        guard ICCID.luhnValid(compact) else {
            throw .invalidICCID(text, reason: "the check digit is wrong (Luhn)")
        }
        self.digits = compact
    }

    public var description: String { digits }

    /// The Luhn (mod 10) check over all digits, the last one being the check digit.
    public static func luhnValid(_ digits: String) -> Bool {
        var sum = 0
        for (offset, character) in digits.reversed().enumerated() {
            guard let value = character.wholeNumberValue else { return false }
            if offset % 2 == 1 {
                let doubled = value * 2
                sum += doubled > 9 ? doubled - 9 : doubled
            } else {
                sum += value
            }
        }
        return sum % 10 == 0
    }

    /// The check digit that makes `payload` followed by it pass the Luhn check.
    public static func luhnCheckDigit(for payload: String) -> Int {
        for candidate in 0...9 where luhnValid(payload + String(candidate)) { return candidate }
        return 0
    }

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        do { try self.init(text) } catch {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: error.detail))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(digits)
    }
}
