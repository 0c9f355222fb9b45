/// `application/x-www-form-urlencoded` as Alipay speaks it: decoding its async notify bodies byte by byte,
/// and encoding request bodies the way Python's `quote_plus` (which the Alipay SDK uses) does.
public enum FormURLEncoding {
    /// Decodes `k=v&k=v` into pairs: `+` is a space, `%XX` a byte, the result must be UTF-8.
    /// A repeated key is refused: which of the two values was signed would be a guess.
    public static func decode(_ body: some Collection<UInt8>) throws(PaymentProviderError) -> [String: String] {
        var result: [String: String] = [:]
        for field in Array(body).split(separator: UInt8(ascii: "&")) {
            let equals = field.firstIndex(of: UInt8(ascii: "=")) ?? field.endIndex
            let key = try decodeComponent(field[field.startIndex..<equals])
            let value = equals == field.endIndex ? "" : try decodeComponent(field[(equals + 1)...])
            guard !key.isEmpty else { throw .malformedBody(.alipay, reason: "empty parameter name") }
            guard result[key] == nil else { throw .malformedBody(.alipay, reason: "parameter \(key) appears twice") }
            result[key] = value
        }
        return result
    }

    static func decodeComponent(_ bytes: ArraySlice<UInt8>) throws(PaymentProviderError) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var index = bytes.startIndex
        while index < bytes.endIndex {
            let byte = bytes[index]
            if byte == UInt8(ascii: "+") {
                out.append(UInt8(ascii: " "))
            } else if byte == UInt8(ascii: "%") {
                guard index + 2 < bytes.endIndex,
                    let high = hexValue(bytes[index + 1]), let low = hexValue(bytes[index + 2])
                else { throw .malformedBody(.alipay, reason: "bad percent escape") }
                out.append(high << 4 | low)
                index += 2
            } else {
                out.append(byte)
            }
            index += 1
        }
        guard let text = String(validating: out, as: UTF8.self) else {
            throw .malformedBody(.alipay, reason: "parameter is not UTF-8")
        }
        return text
    }

    /// Encodes pairs in the given order; every byte outside `A-Z a-z 0-9 _ . - ~` is escaped, space as `+`.
    public static func encode(_ pairs: [(String, String)]) -> String {
        pairs.map { "\(encodeComponent($0.0))=\(encodeComponent($0.1))" }.joined(separator: "&")
    }

    static func encodeComponent(_ text: String) -> String {
        var out = ""
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "_"), UInt8(ascii: "."), UInt8(ascii: "-"),
                UInt8(ascii: "~"):
                out.unicodeScalars.append(Unicode.Scalar(byte))
            case UInt8(ascii: " "):
                out.append("+")
            default:
                out.append("%")
                out.append(hexDigits[Int(byte >> 4)])
                out.append(hexDigits[Int(byte & 0x0F)])
            }
        }
        return out
    }

    private static let hexDigits: [Character] = Array("0123456789ABCDEF")

    private static func hexValue(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): c - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): c - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}
