/// An SMPP 3.4 `command_status`: zero for success, otherwise the error the peer reported.
public struct SMPPCommandStatus: RawRepresentable, Sendable, Hashable, CustomStringConvertible {
    public var rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    public static let ok = Self(rawValue: 0x00)
    public static let invalidMessageLength = Self(rawValue: 0x01)
    public static let invalidCommandLength = Self(rawValue: 0x02)
    public static let invalidCommandID = Self(rawValue: 0x03)
    public static let invalidBindStatus = Self(rawValue: 0x04)
    public static let alreadyBound = Self(rawValue: 0x05)
    public static let systemError = Self(rawValue: 0x08)
    public static let invalidSourceAddress = Self(rawValue: 0x0A)
    public static let invalidDestinationAddress = Self(rawValue: 0x0B)
    public static let invalidMessageID = Self(rawValue: 0x0C)
    public static let bindFailed = Self(rawValue: 0x0D)
    public static let invalidPassword = Self(rawValue: 0x0E)
    public static let invalidSystemID = Self(rawValue: 0x0F)
    public static let messageQueueFull = Self(rawValue: 0x14)
    public static let submitFailed = Self(rawValue: 0x45)
    public static let throttled = Self(rawValue: 0x58)
    public static let unknownError = Self(rawValue: 0xFF)

    /// The statuses that mean "not now": the submit is retried after a back-off instead of failing.
    public var asksForBackOff: Bool { self == .throttled || self == .messageQueueFull }

    /// Whether sending the same PDU later may succeed. Everything else is a property of the message or the
    /// account, and retrying it would only repeat the rejection.
    public var isTransient: Bool {
        asksForBackOff || self == .systemError || self == .invalidBindStatus || self == .unknownError
    }

    public var description: String {
        let name: String
        switch self {
        case .ok: name = "ESME_ROK"
        case .invalidMessageLength: name = "ESME_RINVMSGLEN"
        case .invalidCommandLength: name = "ESME_RINVCMDLEN"
        case .invalidCommandID: name = "ESME_RINVCMDID"
        case .invalidBindStatus: name = "ESME_RINVBNDSTS"
        case .alreadyBound: name = "ESME_RALYBND"
        case .systemError: name = "ESME_RSYSERR"
        case .invalidSourceAddress: name = "ESME_RINVSRCADR"
        case .invalidDestinationAddress: name = "ESME_RINVDSTADR"
        case .invalidMessageID: name = "ESME_RINVMSGID"
        case .bindFailed: name = "ESME_RBINDFAIL"
        case .invalidPassword: name = "ESME_RINVPASWD"
        case .invalidSystemID: name = "ESME_RINVSYSID"
        case .messageQueueFull: name = "ESME_RMSGQFUL"
        case .submitFailed: name = "ESME_RSUBMITFAIL"
        case .throttled: name = "ESME_RTHROTTLED"
        case .unknownError: name = "ESME_RUNKNOWNERR"
        default: name = "status"
        }
        return "\(name) (0x\(String(rawValue, radix: 16, uppercase: true)))"
    }
}
