import RechargeCore

/// The reference a payer writes on a bank transfer so the credit can be matched to one order: an ISO 11649
/// RF creditor reference, `RF` + two mod-97 check digits + 1…21 letters or digits.
///
/// The check digits are the point: a payer copying the reference by hand makes typos, and mod 97 catches
/// every wrong digit for a digit or letter for a letter, every swap of two neighbouring digits or letters,
/// and about 99 % of other slips, so a mistyped reference goes to review instead of crediting somebody
/// else's order.
public struct PaymentReference: Hashable, Sendable, CustomStringConvertible, Codable {
    /// The electronic form: upper case, no spaces, e.g. `RF18539007547034`.
    public let electronic: String

    /// The longest body the standard allows (25 characters in all).
    public static let maximumBodyLength = 21

    /// Validates `text` as typed by a person: spaces, tabs, hyphens and lower case are tolerated,
    /// anything else (or wrong check digits) is refused.
    public init(_ text: String) throws(BankingError) {
        var compact = ""
        for scalar in text.unicodeScalars {
            if Self.isSeparator(scalar) { continue }
            guard let normalized = Self.normalizedAlphanumeric(scalar) else {
                throw .invalidReference(text, reason: "only letters, digits and spaces are allowed")
            }
            compact.unicodeScalars.append(normalized)
        }
        guard compact.hasPrefix("RF") else { throw .invalidReference(text, reason: "it does not start with RF") }
        let bodyLength = compact.count - 4
        guard bodyLength >= 1, bodyLength <= Self.maximumBodyLength else {
            throw .invalidReference(text, reason: "RF and check digits must be followed by 1 to 21 letters or digits")
        }
        guard compact.dropFirst(2).prefix(2).allSatisfy({ $0.isASCII && $0.isNumber }) else {
            throw .invalidReference(text, reason: "the check digits are not digits")
        }
        guard Self.mod97(rearranged: compact) == 1 else {
            throw .invalidReference(text, reason: "the check digits do not match (typing error?)")
        }
        electronic = compact
    }

    /// Computes the check digits for a body of 1…21 letters or digits (case-insensitive).
    public init(body: String) throws(BankingError) {
        var upper = ""
        for scalar in body.unicodeScalars {
            guard let normalized = Self.normalizedAlphanumeric(scalar) else {
                throw .invalidReferenceBody(body, reason: "only ASCII letters and digits are allowed")
            }
            upper.unicodeScalars.append(normalized)
        }
        guard (1...Self.maximumBodyLength).contains(upper.count) else {
            throw .invalidReferenceBody(body, reason: "the body must have 1 to 21 characters")
        }
        let remainder = Self.mod97(rearranged: "RF00" + upper)
        let check = 98 - remainder
        electronic = "RF" + (check < 10 ? "0" : "") + String(check) + upper
    }

    /// A reference derived from an order id: its letters and digits, upper-cased, cut to the first 21.
    /// Cutting can in theory make two ids share a reference, so store the reference with the order and
    /// look orders up by reference, never by reversing this.
    public init(orderID: String) throws(BankingError) {
        let body = String(orderID.unicodeScalars.filter { Self.normalizedAlphanumeric($0) != nil }
            .map(Character.init).prefix(Self.maximumBodyLength))
        guard !body.isEmpty else { throw .invalidReferenceBody(orderID, reason: "it has no letters or digits") }
        try self.init(body: body)
    }

    /// Letters and digits people do not misread: no I, L, O or U (after Crockford's base 32). A letter typed
    /// for a digit is the one slip mod 97 misses now and then, so the alphabet avoids inviting it.
    static let randomAlphabet = Array("0123456789ABCDEFGHJKMNPQRSTVWXYZ")

    /// A fresh reference with `length` random body characters from an alphabet without look-alike letters.
    /// The default 16 characters give 80 bits, so collisions between orders are not a practical concern.
    public static func random(length: Int = 16, using generator: inout some RandomNumberGenerator) -> PaymentReference {
        precondition((1...maximumBodyLength).contains(length), "RF body length must be 1...21")
        var body = ""
        for _ in 0..<length {
            body.append(randomAlphabet[Int(generator.next(upperBound: UInt64(randomAlphabet.count)))])
        }
        // The alphabet is alphanumeric and the length is in range, so this cannot fail.
        return try! PaymentReference(body: body)
    }

    /// The two check digits, e.g. `18`.
    public var checkDigits: String { String(electronic.dropFirst(2).prefix(2)) }

    /// The creditor's own part after `RFnn`.
    public var body: String { String(electronic.dropFirst(4)) }

    /// The paper form, in groups of four: `RF18 5390 0754 7034`.
    public var printed: String {
        var groups: [Substring] = []
        var rest = Substring(electronic)
        while !rest.isEmpty {
            groups.append(rest.prefix(4))
            rest = rest.dropFirst(4)
        }
        return groups.joined(separator: " ")
    }

    public var description: String { electronic }

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        do { try self.init(text) } catch {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: error.detail))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(electronic)
    }

    // MARK: Helpers shared with the remittance-text scanner

    static func isSeparator(_ scalar: Unicode.Scalar) -> Bool {
        scalar == " " || scalar == "\t" || scalar == "-" || scalar == "\u{00A0}" || scalar == "\u{3000}"
    }

    /// Upper-cased ASCII letter or digit; also folds full-width forms, which Chinese input methods produce.
    static func normalizedAlphanumeric(_ scalar: Unicode.Scalar) -> Unicode.Scalar? {
        var value = scalar.value
        if (0xFF10...0xFF19).contains(value) || (0xFF21...0xFF3A).contains(value) || (0xFF41...0xFF5A).contains(value) {
            value -= 0xFEE0
        }
        switch value {
        case 0x30...0x39, 0x41...0x5A: return Unicode.Scalar(value)
        case 0x61...0x7A: return Unicode.Scalar(value - 0x20)
        default: return nil
        }
    }

    /// ISO 7064 MOD 97-10 as in IBAN: the first four characters go to the end, letters count as 10…35,
    /// and the remainder is taken digit by digit so no big integers are needed.
    static func mod97(rearranged reference: String) -> Int {
        let scalars = Array(reference.unicodeScalars)
        var remainder = 0
        for scalar in scalars.dropFirst(4) + scalars.prefix(4) {
            let value = Int(scalar.value)
            if value >= 0x30 && value <= 0x39 {
                remainder = (remainder * 10 + value - 0x30) % 97
            } else {
                remainder = (remainder * 100 + value - 0x41 + 10) % 97
            }
        }
        return remainder
    }
}
