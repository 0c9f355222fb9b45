/// An SMPP 3.4 optional parameter (tag, length, value) as carried after a PDU's mandatory fields.
public struct SMPPTLV: Sendable, Hashable {
    public var tag: UInt16
    public var value: [UInt8]

    public init(tag: UInt16, value: [UInt8]) {
        self.tag = tag
        self.value = value
    }

    public static let receiptedMessageIDTag: UInt16 = 0x001E
    public static let messageStateTag: UInt16 = 0x0427
    public static let networkErrorCodeTag: UInt16 = 0x0423
    public static let scInterfaceVersionTag: UInt16 = 0x0210
    public static let messagePayloadTag: UInt16 = 0x0424

    /// The value read as a C-octet string (a trailing NUL, if present, dropped).
    public var stringValue: String {
        let bytes = value.last == 0 ? Array(value.dropLast()) : value
        return String(decoding: bytes, as: UTF8.self)
    }
}

extension Array where Element == SMPPTLV {
    /// The first TLV with the tag, as peers send each optional parameter at most once.
    public subscript(tag tag: UInt16) -> SMPPTLV? { first { $0.tag == tag } }
}
