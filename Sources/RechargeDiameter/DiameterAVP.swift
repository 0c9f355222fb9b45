import NIOCore

/// One AVP (RFC 6733 §4.1). A decoded AVP keeps its data as a slice of the received buffer (`.raw`), so decoding
/// copies nothing; a built AVP keeps its typed value until it is encoded. The typed readers accept both.
public struct DiameterAVP: Sendable {
    /// The AVP flags byte: V(endor-specific), M(andatory), P(rotected); the other five bits are reserved.
    public struct Flags: OptionSet, Sendable, Hashable {
        public let rawValue: UInt8
        public init(rawValue: UInt8) { self.rawValue = rawValue }
        public static let vendorSpecific = Flags(rawValue: 0x80)
        public static let mandatory = Flags(rawValue: 0x40)
        public static let protected = Flags(rawValue: 0x20)
    }

    /// The value: received bytes, or a typed value to encode.
    public enum Value: Sendable {
        case raw(ByteBuffer)
        case utf8(String)
        case octets([UInt8])
        case unsigned32(UInt32)
        case unsigned64(UInt64)
        case integer32(Int32)
        case integer64(Int64)
        case address(DiameterAddress)
        case grouped([DiameterAVP])
    }

    public var code: UInt32
    public var flags: Flags
    /// 0 when the V bit is clear.
    public var vendorID: UInt32
    public var value: Value

    public init(code: UInt32, flags: Flags, vendorID: UInt32, value: Value) {
        self.code = code
        self.flags = flags
        self.vendorID = vendorID
        self.value = value
    }

    /// An AVP for `key` with the M bit the dictionary gives it (true for a key the dictionary does not know), the
    /// V bit when the key has a vendor.
    public init(_ key: AVPKey, _ value: Value, mandatory: Bool? = nil) {
        var flags: Flags = []
        if key.vendorID != 0 { flags.insert(.vendorSpecific) }
        if mandatory ?? DiameterDictionary.standard.definition(key)?.mandatory ?? true { flags.insert(.mandatory) }
        self.init(code: key.code, flags: flags, vendorID: key.vendorID, value: value)
    }

    public var key: AVPKey { AVPKey(code, vendor: vendorID) }
    public var isMandatory: Bool { flags.contains(.mandatory) }

    // MARK: Builders

    public static func utf8(_ key: AVPKey, _ text: String) -> DiameterAVP { DiameterAVP(key, .utf8(text)) }
    public static func unsigned32(_ key: AVPKey, _ value: UInt32) -> DiameterAVP { DiameterAVP(key, .unsigned32(value)) }
    public static func unsigned64(_ key: AVPKey, _ value: UInt64) -> DiameterAVP { DiameterAVP(key, .unsigned64(value)) }
    public static func integer32(_ key: AVPKey, _ value: Int32) -> DiameterAVP { DiameterAVP(key, .integer32(value)) }
    public static func integer64(_ key: AVPKey, _ value: Int64) -> DiameterAVP { DiameterAVP(key, .integer64(value)) }
    /// Enumerated is Integer32 on the wire (RFC 6733 §4.3.1).
    public static func enumerated(_ key: AVPKey, _ value: Int32) -> DiameterAVP { DiameterAVP(key, .integer32(value)) }
    public static func octets(_ key: AVPKey, _ bytes: [UInt8]) -> DiameterAVP { DiameterAVP(key, .octets(bytes)) }
    public static func address(_ key: AVPKey, _ address: DiameterAddress) -> DiameterAVP { DiameterAVP(key, .address(address)) }
    /// Time: seconds since 1900-01-01 00:00 UTC, the first 32 bits of an NTP timestamp (RFC 6733 §4.3.1).
    public static func time(_ key: AVPKey, _ time: DiameterTime) -> DiameterAVP { DiameterAVP(key, .unsigned32(time.ntpSeconds)) }
    public static func grouped(_ key: AVPKey, _ members: [DiameterAVP]) -> DiameterAVP { DiameterAVP(key, .grouped(members)) }

    // MARK: Readers (nil when the value has the wrong size or form)

    public var unsigned32: UInt32? {
        switch value {
        case .unsigned32(let v): v
        case .integer32(let v): UInt32(bitPattern: v)
        case .raw(let b): b.readableBytes == 4 ? b.getInteger(at: b.readerIndex, as: UInt32.self) : nil
        default: nil
        }
    }

    public var integer32: Int32? { unsigned32.map { Int32(bitPattern: $0) } }

    public var unsigned64: UInt64? {
        switch value {
        case .unsigned64(let v): v
        case .integer64(let v): UInt64(bitPattern: v)
        case .raw(let b): b.readableBytes == 8 ? b.getInteger(at: b.readerIndex, as: UInt64.self) : nil
        default: nil
        }
    }

    public var integer64: Int64? { unsigned64.map { Int64(bitPattern: $0) } }

    /// UTF8String, DiameterIdentity, DiameterURI: nil when the bytes are not valid UTF-8.
    public var utf8: String? {
        switch value {
        case .utf8(let s): return s
        case .octets(let bytes): return String(validating: bytes, as: UTF8.self)
        case .raw(let b):
            return b.withUnsafeReadableBytes { String(validating: $0, as: UTF8.self) }
        default: return nil
        }
    }

    public var octets: [UInt8]? {
        switch value {
        case .octets(let bytes): bytes
        case .utf8(let s): Array(s.utf8)
        case .raw(let b): b.getBytes(at: b.readerIndex, length: b.readableBytes)
        default: nil
        }
    }

    public var time: DiameterTime? { unsigned32.map(DiameterTime.init(ntpSeconds:)) }

    public var address: DiameterAddress? {
        switch value {
        case .address(let a): return a
        case .raw(let b):
            guard b.readableBytes >= 2, let family = b.getInteger(at: b.readerIndex, as: UInt16.self),
                let bytes = b.getBytes(at: b.readerIndex + 2, length: b.readableBytes - 2)
            else { return nil }
            return DiameterAddress(family: family, bytes: bytes)
        case .octets(let bytes):
            guard bytes.count >= 2 else { return nil }
            return DiameterAddress(family: UInt16(bytes[0]) << 8 | UInt16(bytes[1]), bytes: Array(bytes[2...]))
        default: return nil
        }
    }

    /// The members of a Grouped AVP (decoded by the codec when the dictionary says Grouped).
    public var members: [DiameterAVP] {
        if case .grouped(let avps) = value { return avps }
        return []
    }

    public func first(_ key: AVPKey) -> DiameterAVP? { members.first { $0.code == key.code && $0.vendorID == key.vendorID } }
    public func all(_ key: AVPKey) -> [DiameterAVP] { members.filter { $0.code == key.code && $0.vendorID == key.vendorID } }
}

/// The Address type (RFC 6733 §4.3.1): a 2-byte IANA address family then the address bytes.
public struct DiameterAddress: Sendable, Hashable, CustomStringConvertible {
    public static let ipv4Family: UInt16 = 1
    public static let ipv6Family: UInt16 = 2
    public let family: UInt16
    public let bytes: [UInt8]

    public init(family: UInt16, bytes: [UInt8]) {
        self.family = family
        self.bytes = bytes
    }

    /// "192.0.2.1" → family 1 with four bytes; nil for anything else (IPv6 text is not parsed here).
    public init?(ipv4 text: String) {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4 else { return nil }
        var bytes: [UInt8] = []
        for part in parts {
            guard let byte = UInt8(part) else { return nil }
            bytes.append(byte)
        }
        self.init(family: Self.ipv4Family, bytes: bytes)
    }

    public var description: String {
        if family == Self.ipv4Family && bytes.count == 4 { return bytes.map(String.init).joined(separator: ".") }
        return "family \(family): " + bytes.map { String($0, radix: 16) }.joined(separator: ":")
    }
}

/// The Time type: seconds since 1900-01-01 UTC (NTP era 0; RFC 6733 §4.3.1 notes the 2036 wrap, handled here by
/// reading values below 2^31 as era 1, i.e. after 2036-02-07).
public struct DiameterTime: Sendable, Hashable {
    /// Seconds between 1900-01-01 and 1970-01-01.
    public static let unixEpochOffset: Int64 = 2_208_988_800
    public let ntpSeconds: UInt32

    public init(ntpSeconds: UInt32) { self.ntpSeconds = ntpSeconds }

    /// From Unix seconds (truncated to the 32-bit NTP field, which is what the wire carries).
    public init(unixSeconds: Int64) { ntpSeconds = UInt32(truncatingIfNeeded: unixSeconds + Self.unixEpochOffset) }

    public var unixSeconds: Int64 {
        let seconds = Int64(ntpSeconds)
        return (ntpSeconds < 0x8000_0000 ? seconds + (1 << 32) : seconds) - Self.unixEpochOffset
    }
}
