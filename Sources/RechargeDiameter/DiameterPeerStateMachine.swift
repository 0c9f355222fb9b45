/// Who we are on the wire: what CER/CEA, DWR/DWA, DPR/DPA and every answer carry about this node.
public struct DiameterIdentity: Sendable, Hashable {
    public var originHost: String
    public var originRealm: String
    public var hostIPAddresses: [DiameterAddress]
    public var vendorID: UInt32
    public var productName: String
    public var firmwareRevision: UInt32?
    /// Changes on every restart (RFC 6733 §8.16) so peers can tell that sessions were lost.
    public var originStateID: UInt32

    public init(
        originHost: String, originRealm: String, hostIPAddresses: [DiameterAddress] = [DiameterAddress(ipv4: "127.0.0.1")!],
        vendorID: UInt32 = 0, productName: String = "Recharge", firmwareRevision: UInt32? = nil, originStateID: UInt32 = 0
    ) {
        self.originHost = originHost
        self.originRealm = originRealm
        self.hostIPAddresses = hostIPAddresses
        self.vendorID = vendorID
        self.productName = productName
        self.firmwareRevision = firmwareRevision
        self.originStateID = originStateID
    }

    /// The capabilities this module advertises: DCCA (application 4) and 3GPP as a supported vendor.
    func capabilities() -> [DiameterAVP] {
        var avps: [DiameterAVP] = [.utf8(.originHost, originHost), .utf8(.originRealm, originRealm)]
        for address in hostIPAddresses { avps.append(.address(.hostIPAddress, address)) }
        avps.append(.unsigned32(.vendorID, vendorID))
        avps.append(.utf8(.productName, productName))
        if originStateID != 0 { avps.append(.unsigned32(.originStateID, originStateID)) }
        avps.append(.unsigned32(.supportedVendorID, DiameterVendor.threeGPP))
        avps.append(.unsigned32(.authApplicationID, DiameterApplication.creditControl))
        if let firmwareRevision { avps.append(.unsigned32(.firmwareRevision, firmwareRevision)) }
        return avps
    }

    /// An answer to `header` with Result-Code `code`: Session-Id first when the request had one (RFC 6733 §8.8),
    /// then Result-Code, Origin-Host, Origin-Realm, then `extra`; the E bit for 3xxx; Error-Message and Failed-AVP
    /// when given. For a CCR the application fields are echoed (RFC 4006 §3.2).
    public func answer(
        to header: DiameterHeader, requestAVPs: [DiameterAVP], code: DiameterResultCode, extra: [DiameterAVP] = [],
        errorMessage: String? = nil, failedAVP: DiameterAVP? = nil
    ) -> DiameterMessage {
        var avps: [DiameterAVP] = []
        avps.reserveCapacity(8 + extra.count)
        let request = DiameterMessage(
            flags: header.flags, commandCode: header.commandCode, applicationID: header.applicationID, avps: requestAVPs)
        if let session = request.first(.sessionID) { avps.append(session) }
        avps.append(.unsigned32(.resultCode, code.rawValue))
        avps.append(.utf8(.originHost, originHost))
        avps.append(.utf8(.originRealm, originRealm))
        if header.commandCode == DiameterCommand.creditControl && !code.isProtocolError {
            avps.append(.unsigned32(.authApplicationID, DiameterApplication.creditControl))
            if let type = request.first(.ccRequestType)?.unsigned32 { avps.append(.enumerated(.ccRequestType, Int32(bitPattern: type))) }
            if let number = request.first(.ccRequestNumber)?.unsigned32 { avps.append(.unsigned32(.ccRequestNumber, number)) }
        }
        avps.append(contentsOf: extra)
        if let errorMessage { avps.append(.utf8(.errorMessage, errorMessage)) }
        if let failedAVP { avps.append(.grouped(.failedAVP, [failedAVP])) }
        return header.answer(avps: avps, error: code.isProtocolError)
    }
}

/// The remote node as its CER named it.
public struct DiameterPeer: Sendable, Hashable {
    public var originHost: String
    public var originRealm: String

    public init(originHost: String, originRealm: String) {
        self.originHost = originHost
        self.originRealm = originRealm
    }
}

/// The responder side of the peer state machine (RFC 6733 §5.6, simplified to one connection accepted from the
/// peer; no election because we never initiate) plus the watchdog of RFC 3539. A value type with no I/O: the
/// connection handler feeds it events and performs the action it returns, so every transition is testable without
/// sockets.
///
/// States: `waitingForCER` (connection accepted) → `open` (CEA 2001 sent) → `closing` (we sent DPR) → `closed`.
/// A CER with neither DCCA (4) nor relay among its applications is answered 5010 and the connection closed; any
/// other message before CER closes it. The watchdog tick (every Tw) sends a DWR when the peer has been silent
/// for a whole interval and closes when that DWR is still unanswered at the next tick; a peer that never sends
/// its CER is closed on the first tick.
public struct DiameterPeerStateMachine: Sendable {
    public enum State: Sendable, Hashable {
        case waitingForCER
        case open(DiameterPeer)
        case closing(DiameterPeer)
        case closed
    }

    /// What the connection must do next.
    public enum Action: Sendable {
        case none
        case send(DiameterMessage)
        /// Send the message, then close the connection.
        case sendAndClose(DiameterMessage)
        case close
        /// CEA 2001 sent: the peer is open (register it), then send the answer.
        case open(DiameterPeer, answer: DiameterMessage)
        /// A credit-control request for the application handler.
        case dispatch(DiameterMessage)
        /// An answer to a request we sent (RAR, DWR are matched by the caller through hop-by-hop id).
        case answerReceived(DiameterMessage)
    }

    public private(set) var state: State = .waitingForCER
    public let identity: DiameterIdentity
    /// Set by any message from the peer, cleared by each watchdog tick.
    private var heardSinceTick = false
    /// A DWR of ours awaits its DWA.
    private var awaitingWatchdogAnswer = false
    private var nextHopByHop: UInt32
    private var nextEndToEnd: UInt32

    public init(identity: DiameterIdentity, seed: UInt32 = UInt32.random(in: 1...UInt32.max)) {
        self.identity = identity
        nextHopByHop = seed
        // RFC 6733 §3: the high 12 bits of the end-to-end id from the clock, the low 20 random; a seeded counter
        // keeps them unique for the connection's lifetime, which is what matters for duplicate detection here.
        nextEndToEnd = seed &* 2_654_435_761
    }

    public var peer: DiameterPeer? {
        switch state {
        case .open(let peer), .closing(let peer): peer
        case .waitingForCER, .closed: nil
        }
    }

    /// Fresh identifiers for a request we originate (DWR, DPR, RAR).
    public mutating func nextIdentifiers() -> (hopByHop: UInt32, endToEnd: UInt32) {
        nextHopByHop &+= 1
        nextEndToEnd &+= 1
        return (nextHopByHop, nextEndToEnd)
    }

    /// A frame the decoder refused or a message the codec could not decode: answered with the error when it was a
    /// request whose header we know; a framing error (length, version) also closes, as the stream is lost.
    public mutating func received(error: DiameterDecodeError, framing: Bool) -> Action {
        heardSinceTick = true
        guard let header = error.header, header.flags.contains(.request) else {
            return framing || state == .waitingForCER ? close() : .none
        }
        let answer = identity.answer(
            to: header, requestAVPs: error.partial, code: error.resultCode, errorMessage: error.reason, failedAVP: error.failedAVP)
        if framing || state == .waitingForCER {
            state = .closed
            return .sendAndClose(answer)
        }
        return .send(answer)
    }

    public mutating func received(_ message: DiameterMessage) -> Action {
        heardSinceTick = true
        awaitingWatchdogAnswer = false
        switch state {
        case .closed:
            return .none
        case .waitingForCER:
            guard message.isRequest, message.commandCode == DiameterCommand.capabilitiesExchange else { return close() }
            return capabilitiesExchange(message)
        case .open(let peer):
            if message.isRequest { return request(message, peer: peer) }
            switch message.commandCode {
            case DiameterCommand.deviceWatchdog: return .none
            case DiameterCommand.disconnectPeer: return .none
            default: return .answerReceived(message)
            }
        case .closing:
            if !message.isRequest && message.commandCode == DiameterCommand.disconnectPeer { return close() }
            if message.isRequest && message.commandCode == DiameterCommand.disconnectPeer {
                state = .closed
                return .sendAndClose(identity.answer(to: message.header, requestAVPs: message.avps, code: .success))
            }
            return message.isRequest ? .none : .answerReceived(message)
        }
    }

    /// The Tw timer fired.
    public mutating func watchdogTick() -> Action {
        defer { heardSinceTick = false }
        switch state {
        case .waitingForCER:
            return close()
        case .open:
            if awaitingWatchdogAnswer { return close() }
            guard !heardSinceTick else { return .none }
            awaitingWatchdogAnswer = true
            let ids = nextIdentifiers()
            var avps: [DiameterAVP] = [.utf8(.originHost, identity.originHost), .utf8(.originRealm, identity.originRealm)]
            if identity.originStateID != 0 { avps.append(.unsigned32(.originStateID, identity.originStateID)) }
            return .send(DiameterMessage(
                flags: .request, commandCode: DiameterCommand.deviceWatchdog, applicationID: DiameterApplication.common,
                hopByHopID: ids.hopByHop, endToEndID: ids.endToEnd, avps: avps))
        case .closing:
            return close()
        case .closed:
            return .none
        }
    }

    /// We are shutting down: DPR with Disconnect-Cause REBOOTING (0) to an open peer; close anything else.
    public mutating func disconnect() -> Action {
        guard case .open(let peer) = state else { return close() }
        state = .closing(peer)
        let ids = nextIdentifiers()
        return .send(DiameterMessage(
            flags: .request, commandCode: DiameterCommand.disconnectPeer, applicationID: DiameterApplication.common,
            hopByHopID: ids.hopByHop, endToEndID: ids.endToEnd,
            avps: [.utf8(.originHost, identity.originHost), .utf8(.originRealm, identity.originRealm), .enumerated(.disconnectCause, 0)]))
    }

    /// The transport went away.
    public mutating func closed() { state = .closed }

    private mutating func close() -> Action {
        state = .closed
        return .close
    }

    private mutating func capabilitiesExchange(_ cer: DiameterMessage) -> Action {
        guard let host = cer.first(.originHost)?.utf8, let realm = cer.first(.originRealm)?.utf8, !host.isEmpty, !realm.isEmpty else {
            state = .closed
            let missing = cer.first(.originHost) == nil ? AVPKey.originHost : AVPKey.originRealm
            return .sendAndClose(identity.answer(
                to: cer.header, requestAVPs: [], code: .missingAVP, extra: identity.capabilitiesTail,
                failedAVP: DiameterAVP(missing, .octets([]))))
        }
        var applications = cer.all(.authApplicationID).compactMap(\.unsigned32)
        for vendorApplication in cer.all(.vendorSpecificApplicationID) {
            applications.append(contentsOf: vendorApplication.all(.authApplicationID).compactMap(\.unsigned32))
        }
        guard applications.contains(DiameterApplication.creditControl) || applications.contains(DiameterApplication.relay) else {
            state = .closed
            return .sendAndClose(identity.answer(
                to: cer.header, requestAVPs: [], code: .noCommonApplication, extra: identity.capabilitiesTail,
                errorMessage: "this node supports Diameter Credit-Control (application 4) only"))
        }
        let peer = DiameterPeer(originHost: host, originRealm: realm)
        state = .open(peer)
        return .open(peer, answer: identity.answer(to: cer.header, requestAVPs: [], code: .success, extra: identity.capabilitiesTail))
    }

    private mutating func request(_ message: DiameterMessage, peer: DiameterPeer) -> Action {
        switch (message.applicationID, message.commandCode) {
        case (DiameterApplication.common, DiameterCommand.deviceWatchdog):
            var extra: [DiameterAVP] = []
            if identity.originStateID != 0 { extra.append(.unsigned32(.originStateID, identity.originStateID)) }
            return .send(identity.answer(to: message.header, requestAVPs: [], code: .success, extra: extra))
        case (DiameterApplication.common, DiameterCommand.disconnectPeer):
            state = .closed
            return .sendAndClose(identity.answer(to: message.header, requestAVPs: [], code: .success))
        case (DiameterApplication.common, DiameterCommand.capabilitiesExchange):
            // A second CER on an open connection: RFC 6733 §5.3 lets us refuse it; the connection stays open.
            return .send(identity.answer(
                to: message.header, requestAVPs: [], code: .unableToComply, errorMessage: "capabilities already exchanged"))
        case (DiameterApplication.creditControl, DiameterCommand.creditControl):
            return .dispatch(message)
        case (DiameterApplication.common, _), (DiameterApplication.creditControl, _):
            return .send(identity.answer(
                to: message.header, requestAVPs: message.avps, code: .commandUnsupported,
                errorMessage: "command \(message.commandCode) is not supported"))
        default:
            return .send(identity.answer(
                to: message.header, requestAVPs: message.avps, code: .applicationUnsupported,
                errorMessage: "application \(message.applicationID) is not supported"))
        }
    }
}

extension DiameterIdentity {
    /// CEA fields after Origin-Host/Realm (which `answer` already puts in).
    var capabilitiesTail: [DiameterAVP] { Array(capabilities().dropFirst(2)) }
}
