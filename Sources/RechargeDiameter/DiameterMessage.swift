import NIOCore

/// A Diameter message (RFC 6733 §3): the 20-byte header and the AVPs.
public struct DiameterMessage: Sendable {
    /// Command flags: R(equest), P(roxiable), E(rror), T (potentially retransmitted); the low four bits are reserved.
    public struct Flags: OptionSet, Sendable, Hashable {
        public let rawValue: UInt8
        public init(rawValue: UInt8) { self.rawValue = rawValue }
        public static let request = Flags(rawValue: 0x80)
        public static let proxiable = Flags(rawValue: 0x40)
        public static let error = Flags(rawValue: 0x20)
        public static let retransmitted = Flags(rawValue: 0x10)
    }

    public var flags: Flags
    public var commandCode: UInt32
    public var applicationID: UInt32
    public var hopByHopID: UInt32
    public var endToEndID: UInt32
    public var avps: [DiameterAVP]

    public init(
        flags: Flags, commandCode: UInt32, applicationID: UInt32, hopByHopID: UInt32 = 0, endToEndID: UInt32 = 0,
        avps: [DiameterAVP]
    ) {
        self.flags = flags
        self.commandCode = commandCode
        self.applicationID = applicationID
        self.hopByHopID = hopByHopID
        self.endToEndID = endToEndID
        self.avps = avps
    }

    public var isRequest: Bool { flags.contains(.request) }
    public var header: DiameterHeader {
        DiameterHeader(flags: flags, commandCode: commandCode, applicationID: applicationID, hopByHopID: hopByHopID, endToEndID: endToEndID)
    }

    public func first(_ key: AVPKey) -> DiameterAVP? {
        for avp in avps where avp.code == key.code && avp.vendorID == key.vendorID { return avp }
        return nil
    }

    public func all(_ key: AVPKey) -> [DiameterAVP] { avps.filter { $0.code == key.code && $0.vendorID == key.vendorID } }

    /// The Result-Code of an answer.
    public var resultCode: UInt32? { first(.resultCode)?.unsigned32 }
    public var sessionID: String? { first(.sessionID)?.utf8 }
}

/// The header fields that identify a message, all an answer needs to echo (RFC 6733 §6.2: same command code,
/// application, hop-by-hop and end-to-end identifiers; P copied; R cleared).
public struct DiameterHeader: Sendable, Hashable {
    public var flags: DiameterMessage.Flags
    public var commandCode: UInt32
    public var applicationID: UInt32
    public var hopByHopID: UInt32
    public var endToEndID: UInt32

    public init(flags: DiameterMessage.Flags, commandCode: UInt32, applicationID: UInt32, hopByHopID: UInt32, endToEndID: UInt32) {
        self.flags = flags
        self.commandCode = commandCode
        self.applicationID = applicationID
        self.hopByHopID = hopByHopID
        self.endToEndID = endToEndID
    }

    /// An answer to this request header carrying `avps`; E set when `error`.
    public func answer(avps: [DiameterAVP], error: Bool = false) -> DiameterMessage {
        var answerFlags = flags.intersection(.proxiable)
        if error { answerFlags.insert(.error) }
        return DiameterMessage(
            flags: answerFlags, commandCode: commandCode, applicationID: applicationID, hopByHopID: hopByHopID,
            endToEndID: endToEndID, avps: avps)
    }
}

/// Command codes used here (RFC 6733 §3.1, RFC 4006 §3).
public enum DiameterCommand {
    public static let capabilitiesExchange: UInt32 = 257
    public static let reAuth: UInt32 = 258
    public static let creditControl: UInt32 = 272
    public static let abortSession: UInt32 = 274
    public static let sessionTermination: UInt32 = 275
    public static let deviceWatchdog: UInt32 = 280
    public static let disconnectPeer: UInt32 = 282
}

/// Application identifiers used here.
public enum DiameterApplication {
    /// The base protocol's common messages (CER, DWR, DPR).
    public static let common: UInt32 = 0
    /// RFC 4006 Diameter Credit-Control (3GPP Gy/Ro).
    public static let creditControl: UInt32 = 4
    /// A relay advertises this and supports every application (RFC 6733 §2.4).
    public static let relay: UInt32 = 0xFFFF_FFFF
}

/// Result-Code values (RFC 6733 §7.1, RFC 4006 §9). A struct over the number, not a closed enum: a peer may send any
/// code, and the class (1xxx–5xxx) is what matters for an unknown one.
public struct DiameterResultCode: RawRepresentable, Sendable, Hashable, CustomStringConvertible {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    public init(_ rawValue: UInt32) { self.rawValue = rawValue }

    public static let success = Self(2001)
    public static let limitedSuccess = Self(2002)
    public static let commandUnsupported = Self(3001)
    public static let unableToDeliver = Self(3002)
    public static let realmNotServed = Self(3003)
    public static let tooBusy = Self(3004)
    public static let loopDetected = Self(3005)
    public static let applicationUnsupported = Self(3007)
    public static let invalidHeaderBits = Self(3008)
    public static let invalidAVPBits = Self(3009)
    public static let unknownPeer = Self(3010)
    public static let authenticationRejected = Self(4001)
    public static let endUserServiceDenied = Self(4010)
    public static let creditControlNotApplicable = Self(4011)
    public static let creditLimitReached = Self(4012)
    public static let avpUnsupported = Self(5001)
    public static let unknownSessionID = Self(5002)
    public static let authorizationRejected = Self(5003)
    public static let invalidAVPValue = Self(5004)
    public static let missingAVP = Self(5005)
    public static let resourcesExceeded = Self(5006)
    public static let contradictingAVPs = Self(5007)
    public static let avpOccursTooManyTimes = Self(5009)
    public static let noCommonApplication = Self(5010)
    public static let unsupportedVersion = Self(5011)
    public static let unableToComply = Self(5012)
    public static let invalidBitInHeader = Self(5013)
    public static let invalidAVPLength = Self(5014)
    public static let invalidMessageLength = Self(5015)
    public static let userUnknown = Self(5030)
    public static let ratingFailed = Self(5031)

    /// 3xxx: protocol errors, answered with the E bit (RFC 6733 §7.1.3).
    public var isProtocolError: Bool { rawValue / 1000 == 3 }
    public var isSuccess: Bool { rawValue / 1000 == 2 }
    public var description: String { String(rawValue) }
}
