/// The SMPP `data_coding` values this client sends.
public enum SMSDataCoding: UInt8, Sendable, Hashable {
    /// GSM 03.38 default alphabet, one septet per octet (unpacked).
    case gsm7 = 0x00
    /// UCS2, sent as UTF-16BE so that characters outside the BMP (emoji) survive as surrogate pairs.
    case ucs2 = 0x08
}

/// One part of an SMS as it goes into `short_message`, before any UDH is put in front of it.
public struct SMSPart: Sendable, Hashable {
    /// The text this part carries.
    public var text: String
    /// The encoded payload: unpacked septets for GSM 7-bit, UTF-16BE for UCS2.
    public var payload: [UInt8]
}

/// A text encoded for SMS and split into the parts a handset reassembles, on character boundaries.
///
/// The capacities are the classic ones: 160 septets or 70 UCS2 code units in a single message, 153 septets
/// or 67 code units per part once a concatenation UDH (6 octets) is needed. GSM text is sent unpacked (one
/// septet per octet), as most SMSCs accept for `data_coding` 0; the SMSC packs it for the air interface, where
/// the 153-septet limit is what fits beside the UDH.
///
/// Splitting never cuts a surrogate pair or an extension-table escape in two, and keeps grapheme clusters
/// (an emoji with its skin-tone modifier, a flag, a ZWJ family) in one part. Only a single cluster longer than
/// a whole part is split, and then between Unicode scalars.
public struct SMSText: Sendable, Hashable {
    public static let singleGSM7Septets = 160
    public static let concatenatedGSM7Septets = 153
    public static let singleUCS2Units = 70
    public static let concatenatedUCS2Units = 67
    /// A UDH counts parts in one octet.
    public static let maximumParts = 255

    /// Why a text cannot be sent as SMS.
    public enum Failure: Error, Sendable, Hashable {
        case tooManyParts(needed: Int)
    }

    public let text: String
    public let dataCoding: SMSDataCoding
    public let parts: [SMSPart]

    /// Chooses GSM 7-bit when every character is in the default alphabet or its extension, UCS2 otherwise.
    public init(_ text: String) throws(Failure) {
        let coding: SMSDataCoding = GSM7Alphabet.canEncode(text) ? .gsm7 : .ucs2
        let partTexts = Self.split(text, coding: coding)
        guard partTexts.count <= Self.maximumParts else { throw .tooManyParts(needed: partTexts.count) }
        self.text = text
        self.dataCoding = coding
        self.parts = partTexts.map { SMSPart(text: $0, payload: Self.payload(of: $0, coding: coding)) }
    }

    /// How many SMS parts the text needs: what a subscriber pays for, and what templates aim to keep small.
    public static func partCount(for text: String) -> Int {
        split(text, coding: GSM7Alphabet.canEncode(text) ? .gsm7 : .ucs2).count
    }

    /// Septets (GSM 7-bit) or UTF-16 code units (UCS2) the text costs in total.
    public static func units(of text: String) -> Int {
        let coding: SMSDataCoding = GSM7Alphabet.canEncode(text) ? .gsm7 : .ucs2
        return text.reduce(0) { $0 + cost(of: $1, coding: coding) }
    }

    static func cost(of character: Character, coding: SMSDataCoding) -> Int {
        switch coding {
        case .gsm7: character.unicodeScalars.reduce(0) { $0 + (GSM7Alphabet.septets(for: $1)?.count ?? 0) }
        case .ucs2: character.utf16.count
        }
    }

    static func cost(of scalar: Unicode.Scalar, coding: SMSDataCoding) -> Int {
        switch coding {
        case .gsm7: GSM7Alphabet.septets(for: scalar)?.count ?? 0
        case .ucs2: scalar.utf16.count
        }
    }

    static func split(_ text: String, coding: SMSDataCoding) -> [String] {
        let single = coding == .gsm7 ? singleGSM7Septets : singleUCS2Units
        let capacity = coding == .gsm7 ? concatenatedGSM7Septets : concatenatedUCS2Units
        let total = text.reduce(0) { $0 + cost(of: $1, coding: coding) }
        if total <= single { return [text] }

        var parts: [String] = []
        var current = String.UnicodeScalarView()
        var used = 0
        func flush() {
            parts.append(String(current))
            current = String.UnicodeScalarView()
            used = 0
        }
        for character in text {
            let characterCost = cost(of: character, coding: coding)
            if characterCost <= capacity {
                if used + characterCost > capacity { flush() }
                current.append(contentsOf: character.unicodeScalars)
                used += characterCost
            } else {
                // A cluster longer than a whole part: the only case where a cluster is cut, between scalars.
                for scalar in character.unicodeScalars {
                    let scalarCost = cost(of: scalar, coding: coding)
                    if used + scalarCost > capacity { flush() }
                    current.append(scalar)
                    used += scalarCost
                }
            }
        }
        if used > 0 || parts.isEmpty { flush() }
        return parts
    }

    static func payload(of text: String, coding: SMSDataCoding) -> [UInt8] {
        switch coding {
        case .gsm7:
            return GSM7Alphabet.encode(text) ?? []
        case .ucs2:
            var bytes: [UInt8] = []
            bytes.reserveCapacity(text.utf16.count * 2)
            for unit in text.utf16 {
                bytes.append(UInt8(unit >> 8))
                bytes.append(UInt8(unit & 0xFF))
            }
            return bytes
        }
    }

    /// Text back from a payload, for receipts, mobile-originated messages and tests.
    public static func decode(_ payload: [UInt8], coding: SMSDataCoding) -> String {
        switch coding {
        case .gsm7:
            return GSM7Alphabet.decode(payload)
        case .ucs2:
            var units: [UInt16] = []
            units.reserveCapacity(payload.count / 2)
            var index = 0
            while index + 1 < payload.count {
                units.append(UInt16(payload[index]) << 8 | UInt16(payload[index + 1]))
                index += 2
            }
            return String(decoding: units, as: UTF16.self)
        }
    }
}

/// The concatenation user data header: IEI 0x00 (8-bit reference), part count and this part's number.
public struct ConcatenationHeader: Sendable, Hashable {
    public var reference: UInt8
    public var totalParts: UInt8
    /// 1-based.
    public var partNumber: UInt8

    public init(reference: UInt8, totalParts: UInt8, partNumber: UInt8) {
        self.reference = reference
        self.totalParts = totalParts
        self.partNumber = partNumber
    }

    /// UDHL, IEI, IEDL, reference, total, sequence.
    public var bytes: [UInt8] { [0x05, 0x00, 0x03, reference, totalParts, partNumber] }

    /// Reads the header from the front of a `short_message` sent with UDHI set; nil when it holds no 8-bit
    /// concatenation element.
    public static func parse(_ shortMessage: [UInt8]) -> (header: ConcatenationHeader, body: [UInt8])? {
        guard let length = shortMessage.first, shortMessage.count >= 1 + Int(length) else { return nil }
        let udh = Array(shortMessage[1..<(1 + Int(length))])
        let body = Array(shortMessage[(1 + Int(length))...])
        var index = 0
        while index + 1 < udh.count {
            let iei = udh[index]
            let elementLength = Int(udh[index + 1])
            guard index + 2 + elementLength <= udh.count else { return nil }
            if iei == 0x00, elementLength == 3 {
                let header = ConcatenationHeader(
                    reference: udh[index + 2], totalParts: udh[index + 3], partNumber: udh[index + 4])
                return (header, body)
            }
            index += 2 + elementLength
        }
        return nil
    }
}
