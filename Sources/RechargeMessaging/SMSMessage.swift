/// A short message to send: to whom, what, and optionally from which sender id.
public struct SMSMessage: Sendable, Hashable {
    /// E.164 digits without "+", as SMSCs expect with TON 1 / NPI 1.
    public var destination: String
    public var text: String
    /// Overrides the configured sender for this message.
    public var source: String?

    public init(destination: String, text: String, source: String? = nil) {
        self.destination = destination
        self.text = text
        self.source = source
    }
}

/// What the SMSC said when it took a message: one message id per part.
public struct SMPPSubmission: Sendable, Hashable {
    public var messageIDs: [String]
    public var dataCoding: SMSDataCoding
    /// The concatenation reference shared by the parts, when there is more than one.
    public var concatenationReference: UInt8?
}

/// Something the SMSC delivered to this ESME with deliver_sm.
public enum SMPPInbound: Sendable, Hashable {
    case deliveryReceipt(SMPPDeliveryReceipt)
    /// A message from a handset. `text` is decoded as UCS2 for data_coding 8 and as UTF-8 otherwise, which is
    /// what SMSCs hand to ESMEs in practice for data_coding 0.
    case mobileOriginated(source: String, destination: String, text: String)
}

/// Counters kept by `SMPPClient`, for metrics and for tests that look at the window and the link.
public struct SMPPClientStatistics: Sendable, Hashable {
    public var successfulBinds = 0
    public var failedConnectionAttempts = 0
    public var acceptedParts = 0
    public var backOffResponses = 0
    public var enquireLinksAnswered = 0
    public var receipts = 0
    /// The most requests ever outstanding at once; never above the window.
    public var mostOutstanding = 0
}
