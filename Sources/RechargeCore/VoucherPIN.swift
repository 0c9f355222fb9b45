/// The secret printed under a scratch card's panel: decimal digits from a cryptographically secure
/// generator, the last of which is a Luhn check digit so that a mistyped digit or a swap of two neighbours
/// is caught before the PIN is looked up (and never counts as a guess).
///
/// A PIN is independent of the card's serial: it is drawn at random, never derived from anything printed.
public struct VoucherPIN: Hashable, Sendable, CustomStringConvertible {
    /// The digits, check digit last, without separators.
    public let digits: String

    public static let defaultLength = 16
    /// Shorter PINs make guessing too easy; longer ones are a pain to type on a phone keypad.
    public static let allowedLengths = 10...20

    /// Draws a PIN of `length` digits (`length - 1` random, one check digit) from `generator`, which must be a
    /// cryptographically secure generator in production (`SystemRandomNumberGenerator`).
    public static func generate(length: Int = defaultLength, using generator: inout some RandomNumberGenerator) -> VoucherPIN {
        precondition(allowedLengths.contains(length), "PIN length \(length) outside \(allowedLengths)")
        var body = [UInt8]()
        body.reserveCapacity(length)
        // Rejection sampling over whole 64-bit words: 18 uniform digits per accepted word.
        while body.count < length - 1 {
            let word = generator.next()
            guard word < 18_000_000_000_000_000_000 else { continue }   // largest multiple of 10^18 below 2^64
            var rest = word % 1_000_000_000_000_000_000
            for _ in 0..<18 where body.count < length - 1 {
                body.append(UInt8(rest % 10))
                rest /= 10
            }
        }
        body.append(luhnCheckDigit(body))
        return VoucherPIN(uncheckedDigits: String(decoding: body.map { $0 + 0x30 }, as: UTF8.self))
    }

    /// Reads a PIN as a person typed it: spaces and dashes are ignored; anything else than digits, a length
    /// other than `length`, or a wrong check digit is refused with the reason.
    public init(parsing text: String, length: Int = defaultLength) throws(VoucherError) {
        var values = [UInt8]()
        values.reserveCapacity(length)
        for byte in text.utf8 {
            switch byte {
            case 0x30...0x39: values.append(byte - 0x30)
            case 0x20, 0x2D: continue
            default: throw .malformedPIN("a PIN has only digits")
            }
            if values.count > VoucherPIN.allowedLengths.upperBound { break }
        }
        guard values.count == length else { throw .malformedPIN("a PIN has \(length) digits, this has \(values.count)") }
        guard VoucherPIN.luhnCheckDigit(values.dropLast()) == values.last else {
            throw .malformedPIN("the PIN has a typing mistake (its check digit does not match)")
        }
        self.digits = String(decoding: values.map { $0 + 0x30 }, as: UTF8.self)
    }

    init(uncheckedDigits: String) { self.digits = uncheckedDigits }

    /// Never the digits: a PIN must not end up in a log line by accident.
    public var description: String { "VoucherPIN(\(digits.count) digits)" }

    /// The Luhn (mod 10) check digit of `body` (digit values 0–9, most significant first), as used for ICCIDs and card numbers.
    public static func luhnCheckDigit(_ body: some BidirectionalCollection<UInt8>) -> UInt8 {
        var sum = 0
        // Doubling starts at the rightmost digit of the body (the check digit will sit to its right).
        for (position, digit) in body.reversed().enumerated() {
            var value = Int(digit)
            if position % 2 == 0 {
                value *= 2
                if value > 9 { value -= 9 }
            }
            sum += value
        }
        return UInt8((10 - sum % 10) % 10)
    }

    /// The number of distinct valid PINs of `length` digits: every body, each with its one check digit.
    public static func keySpace(length: Int) -> Double {
        var space = 1.0
        for _ in 0..<(length - 1) { space *= 10 }
        return space
    }
}

extension VoucherPIN {
    /// Parses a PIN of any allowed length (batches may use different lengths); the check digit must match.
    public init(parsingAnyLength text: String) throws(VoucherError) {
        let count = text.utf8.reduce(0) { $0 + ($1 >= 0x30 && $1 <= 0x39 ? 1 : 0) }
        guard VoucherPIN.allowedLengths.contains(count) else {
            throw .malformedPIN("a PIN has \(VoucherPIN.defaultLength) digits, this has \(count)")
        }
        try self.init(parsing: text, length: count)
    }
}
