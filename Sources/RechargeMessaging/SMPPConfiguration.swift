import NIOSSL

/// Where and how the ESME binds, and the limits it keeps while bound.
public struct SMPPConfiguration: Sendable {
    public var host: String
    public var port: Int
    public var systemID: String
    public var password: String
    public var systemType: String
    /// TLS from the first byte, for SMSCs that offer SMPP over TLS; nil for plain TCP.
    public var tls: TLSConfiguration?
    /// Name checked against the SMSC's certificate; defaults to `host` unless that is an IP address.
    public var tlsServerName: String?

    /// Default sender; a message may name its own.
    public var sourceAddress: String
    /// 5 = alphanumeric, the usual TON for a brand name like "Recharge"; 1 = international for a number.
    public var sourceAddressTON: UInt8
    public var sourceAddressNPI: UInt8
    public var destinationAddressTON: UInt8 = 1
    public var destinationAddressNPI: UInt8 = 1
    /// Ask the SMSC for delivery receipts (registered_delivery = 1).
    public var requestDeliveryReceipts = true

    /// Requests sent and not yet answered, at most.
    public var windowSize = 10
    public var connectTimeout: Duration = .seconds(10)
    /// How long each request waits for its response.
    public var responseTimeout: Duration = .seconds(10)
    /// How often an idle-or-not bound link is checked with enquire_link.
    public var enquireLinkInterval: Duration = .seconds(30)
    /// How long a submit waits for a bound session before giving up with `SMPPError.notBound`.
    public var bindWaitTimeout: Duration = .seconds(60)
    public var reconnectBackoff = SMPPBackoff(initial: .milliseconds(500), maximum: .seconds(30))
    /// Back-off after ESME_RTHROTTLED / ESME_RMSGQFUL before the same part is sent again.
    public var throttleBackoff = SMPPBackoff(initial: .milliseconds(200), maximum: .seconds(10))
    public var maximumThrottleRetries = 8

    public init(
        host: String, port: Int = 2775, systemID: String, password: String, systemType: String = "",
        sourceAddress: String, sourceAddressTON: UInt8 = 5, sourceAddressNPI: UInt8 = 0
    ) {
        self.host = host
        self.port = port
        self.systemID = systemID
        self.password = password
        self.systemType = systemType
        self.sourceAddress = sourceAddress
        self.sourceAddressTON = sourceAddressTON
        self.sourceAddressNPI = sourceAddressNPI
    }
}
