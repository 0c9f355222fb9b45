/// The GSM 03.38 (3GPP TS 23.038) default 7-bit alphabet and its extension table, used to decide whether an
/// SMS can go out as GSM 7-bit (`data_coding` 0) and to turn text into septets and back.
///
/// Septets are kept unpacked, one per octet: that is what `submit_sm` carries with `data_coding` 0 on the
/// SMSCs this client targets, and it keeps every septet addressable when splitting long texts.
public enum GSM7Alphabet {
    /// The escape septet that announces a character from the extension table.
    public static let escape: UInt8 = 0x1B

    /// The default table, indexed by septet value. 0x1B is the escape and maps to no character.
    static let basic: [Unicode.Scalar?] = {
        let table: [UInt32] = [
            0x40, 0xA3, 0x24, 0xA5, 0xE8, 0xE9, 0xF9, 0xEC, 0xF2, 0xC7, 0x0A, 0xD8, 0xF8, 0x0D, 0xC5, 0xE5,
            0x394, 0x5F, 0x3A6, 0x393, 0x39B, 0x3A9, 0x3A0, 0x3A8, 0x3A3, 0x398, 0x39E, 0x1B, 0xC6, 0xE6, 0xDF, 0xC9,
            0x20, 0x21, 0x22, 0x23, 0xA4, 0x25, 0x26, 0x27, 0x28, 0x29, 0x2A, 0x2B, 0x2C, 0x2D, 0x2E, 0x2F,
            0x30, 0x31, 0x32, 0x33, 0x34, 0x35, 0x36, 0x37, 0x38, 0x39, 0x3A, 0x3B, 0x3C, 0x3D, 0x3E, 0x3F,
            0xA1, 0x41, 0x42, 0x43, 0x44, 0x45, 0x46, 0x47, 0x48, 0x49, 0x4A, 0x4B, 0x4C, 0x4D, 0x4E, 0x4F,
            0x50, 0x51, 0x52, 0x53, 0x54, 0x55, 0x56, 0x57, 0x58, 0x59, 0x5A, 0xC4, 0xD6, 0xD1, 0xDC, 0xA7,
            0xBF, 0x61, 0x62, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68, 0x69, 0x6A, 0x6B, 0x6C, 0x6D, 0x6E, 0x6F,
            0x70, 0x71, 0x72, 0x73, 0x74, 0x75, 0x76, 0x77, 0x78, 0x79, 0x7A, 0xE4, 0xF6, 0xF1, 0xFC, 0xE0,
        ]
        return table.enumerated().map { index, value in index == 0x1B ? nil : Unicode.Scalar(value) }
    }()

    /// The extension table: septet after the escape → character. Each of these costs two septets.
    static let extensionTable: [UInt8: Unicode.Scalar] = [
        0x0A: "\u{0C}", 0x14: "^", 0x28: "{", 0x29: "}", 0x2F: "\\",
        0x3C: "[", 0x3D: "~", 0x3E: "]", 0x40: "|", 0x65: "€",
    ]

    static let basicLookup: [Unicode.Scalar: UInt8] = {
        var lookup: [Unicode.Scalar: UInt8] = [:]
        for (index, scalar) in basic.enumerated() {
            if let scalar { lookup[scalar] = UInt8(index) }
        }
        return lookup
    }()

    static let extensionLookup: [Unicode.Scalar: UInt8] = {
        var lookup: [Unicode.Scalar: UInt8] = [:]
        for (septet, scalar) in extensionTable { lookup[scalar] = septet }
        return lookup
    }()

    /// The septets for one scalar (one, or the escape and one), or nil when the alphabet cannot say it.
    public static func septets(for scalar: Unicode.Scalar) -> [UInt8]? {
        if let septet = basicLookup[scalar] { return [septet] }
        if let septet = extensionLookup[scalar] { return [escape, septet] }
        return nil
    }

    /// How many septets a character costs, or nil when it needs UCS2.
    public static func septetCount(of character: Character) -> Int? {
        var count = 0
        for scalar in character.unicodeScalars {
            guard let septets = septets(for: scalar) else { return nil }
            count += septets.count
        }
        return count
    }

    /// Whether the whole text can be sent in the default alphabet.
    public static func canEncode(_ text: String) -> Bool {
        text.unicodeScalars.allSatisfy { septets(for: $0) != nil }
    }

    /// The unpacked septets of the text, or nil when some character is outside the alphabet.
    public static func encode(_ text: String) -> [UInt8]? {
        var septets: [UInt8] = []
        septets.reserveCapacity(text.unicodeScalars.count)
        for scalar in text.unicodeScalars {
            guard let encoded = Self.septets(for: scalar) else { return nil }
            septets.append(contentsOf: encoded)
        }
        return septets
    }

    /// Text from unpacked septets. An escape before an unknown value reads as the basic character, as
    /// 3GPP TS 23.038 asks receivers to do; a trailing lone escape is dropped.
    public static func decode(_ septets: [UInt8]) -> String {
        var scalars = String.UnicodeScalarView()
        var index = 0
        while index < septets.count {
            let septet = septets[index] & 0x7F
            if septet == escape {
                index += 1
                guard index < septets.count else { break }
                let next = septets[index] & 0x7F
                if let scalar = extensionTable[next] {
                    scalars.append(scalar)
                } else if let scalar = basic[Int(next)] {
                    scalars.append(scalar)
                }
            } else if let scalar = basic[Int(septet)] {
                scalars.append(scalar)
            }
            index += 1
        }
        return String(scalars)
    }
}
