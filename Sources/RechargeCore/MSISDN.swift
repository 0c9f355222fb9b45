/// A subscriber's phone number in E.164 form (`+14155550100`): `+`, a country code that does not start
/// with 0, at most 15 digits in all.
///
/// Input is forgiving the way people type numbers: spaces, dots, dashes and parentheses are ignored,
/// `00` and `011` international prefixes become `+`, and a bare 10-digit (or `1` + 10-digit) number is read
/// as a North American (NANP) number, so `(415) 555-0100` is `+14155550100`; a bracketed trunk prefix
/// (`+44 (0)20 7946 0958`) is dropped.
public struct MSISDN: Hashable, Sendable, Comparable, CustomStringConvertible, Codable {
    /// The normalised E.164 text, `+` and digits.
    public let e164: String

    public init(_ text: String) throws(RechargeError) {
        // Fast path for text already in E.164 (every API path and stored row): checked on the UTF-8 bytes.
        if let e164 = Self.canonical(text) {
            self.e164 = e164
            return
        }
        // "+44 (0)20 7946 0958": the bracketed national trunk prefix is dialled only inside the country.
        let trimmed = text.trimmingWhitespace().replacingOccurrences(of: "(0)", with: "")
        guard !trimmed.isEmpty else { throw .invalidMSISDN(text, reason: "empty") }
        var hasPlus = false
        var digits = ""
        for (index, character) in trimmed.enumerated() {
            switch character {
            case "+" where index == 0: hasPlus = true
            case "0"..."9" where character.isASCII: digits.append(character)
            case " ", "-", ".", "(", ")", "\u{00A0}": continue
            default: throw .invalidMSISDN(text, reason: "unexpected character '\(character)'")
            }
        }
        if !hasPlus {
            if digits.hasPrefix("00") {
                digits.removeFirst(2)
            } else if digits.hasPrefix("011") && digits.count > 11 {
                digits.removeFirst(3)
            } else if digits.count == 10 {
                digits = "1" + digits
            } else if !(digits.count == 11 && digits.hasPrefix("1")) {
                throw .invalidMSISDN(text, reason: "add the country code with a leading +")
            }
        }
        guard let first = digits.first, first != "0" else {
            throw .invalidMSISDN(text, reason: "country codes do not start with 0")
        }
        guard digits.count >= 8, digits.count <= 15 else {
            throw .invalidMSISDN(text, reason: "E.164 numbers have 8 to 15 digits, this has \(digits.count)")
        }
        if first == "1" {
            // NANP: +1 NPA NXX XXXX, where NPA and NXX start with 2-9.
            guard digits.count == 11 else {
                throw .invalidMSISDN(text, reason: "North American numbers have 10 digits after +1")
            }
            let characters = Array(digits)
            guard characters[1] >= "2", characters[4] >= "2" else {
                throw .invalidMSISDN(text, reason: "North American area codes and exchanges start with 2-9")
            }
        }
        self.e164 = "+" + digits
    }

    /// `text` itself when it is already normalised E.164 (`+`, 8 to 15 ASCII digits, no leading 0, NANP
    /// area code and exchange starting with 2-9); nil sends it through the forgiving parser above.
    private static func canonical(_ text: String) -> String? {
        let utf8 = text.utf8
        guard utf8.count >= 9, utf8.count <= 16, utf8.first == UInt8(ascii: "+") else { return nil }
        return text.utf8.withContiguousStorageIfAvailable { bytes -> String? in
            let digits = bytes[1...]
            guard digits.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }), digits.first != UInt8(ascii: "0") else { return nil }
            if digits.first == UInt8(ascii: "1") {
                guard digits.count == 11, bytes[2] >= UInt8(ascii: "2"), bytes[5] >= UInt8(ascii: "2") else { return nil }
            }
            return text
        } ?? nil
    }

    public var description: String { e164 }

    /// The number with all but the last four digits hidden, for receipts and messages to third parties.
    public var masked: String {
        let keep = 4
        let digits = e164.dropFirst()
        return "+" + String(repeating: "*", count: max(0, digits.count - keep)) + digits.suffix(keep)
    }

    public static func < (lhs: MSISDN, rhs: MSISDN) -> Bool { lhs.e164 < rhs.e164 }

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        do { try self.init(text) } catch {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: error.detail))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(e164)
    }
}

extension String {
    func trimmingWhitespace() -> String {
        let scalars = unicodeScalars
        guard let start = scalars.firstIndex(where: { !$0.properties.isWhitespace }),
              let end = scalars.lastIndex(where: { !$0.properties.isWhitespace })
        else { return "" }
        return String(scalars[start...end])
    }
}
