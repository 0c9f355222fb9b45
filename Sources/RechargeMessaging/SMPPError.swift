/// Why a submit did not succeed. `isPermanent` tells the outbox whether trying again later can help.
public enum SMPPError: Error, Sendable, Hashable {
    /// The SMSC answered the part with an error status.
    case rejected(status: SMPPCommandStatus, part: Int)
    /// The SMSC kept answering ESME_RTHROTTLED or ESME_RMSGQFUL after every back-off.
    case stillThrottled(status: SMPPCommandStatus, part: Int)
    /// The part went out but no response came within the response timeout: it may or may not have been taken.
    case responseTimeout(part: Int)
    /// The link dropped after the part went out and before its response: it may or may not have been taken.
    case connectionLost(part: Int)
    /// No bound session came up within the wait allowed for one.
    case notBound(waited: Duration)
    /// The client is shutting down.
    case shutdown
    /// The text cannot be sent as SMS at all.
    case invalidText(SMSText.Failure)

    /// Permanent failures would fail the same way again; transient ones may succeed later. Parts before
    /// `part` (1-based) were accepted by the SMSC.
    public var isPermanent: Bool {
        switch self {
        case .rejected(let status, _): !status.isTransient
        case .invalidText: true
        case .stillThrottled, .responseTimeout, .connectionLost, .notBound, .shutdown: false
        }
    }

    public var isTransient: Bool { !isPermanent }
}
