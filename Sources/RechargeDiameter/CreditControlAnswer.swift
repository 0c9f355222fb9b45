/// Final-Unit-Action (RFC 4006 §8.35): what the gateway does when the final units are used.
public enum FinalUnitAction: UInt32, Sendable, Hashable, CaseIterable {
    case terminate = 0
    case redirect = 1
    case restrictAccess = 2
}

/// Redirect-Address-Type (RFC 4006 §8.38).
public enum RedirectAddressType: UInt32, Sendable, Hashable, CaseIterable {
    case ipv4 = 0
    case ipv6 = 1
    case url = 2
    case sipURI = 3
}

public struct RedirectServer: Sendable, Hashable {
    public var addressType: RedirectAddressType
    public var address: String

    public init(addressType: RedirectAddressType = .url, address: String) {
        self.addressType = addressType
        self.address = address
    }
}

/// Final-Unit-Indication (RFC 4006 §8.34): the grant is the last; after it, terminate, redirect (e.g. to the top-up
/// page) or restrict access.
public struct FinalUnitIndication: Sendable, Hashable {
    public var action: FinalUnitAction
    public var redirectServer: RedirectServer?
    public var restrictionFilterRules: [String]
    public var filterIDs: [String]

    public init(action: FinalUnitAction, redirectServer: RedirectServer? = nil, restrictionFilterRules: [String] = [], filterIDs: [String] = []) {
        self.action = action
        self.redirectServer = redirectServer
        self.restrictionFilterRules = restrictionFilterRules
        self.filterIDs = filterIDs
    }

    func avp() -> DiameterAVP {
        var members: [DiameterAVP] = [.enumerated(.finalUnitAction, Int32(action.rawValue))]
        for rule in restrictionFilterRules { members.append(.utf8(.restrictionFilterRule, rule)) }
        for id in filterIDs { members.append(.utf8(.filterID, id)) }
        if let redirectServer {
            members.append(.grouped(.redirectServer, [
                .enumerated(.redirectAddressType, Int32(redirectServer.addressType.rawValue)),
                .utf8(.redirectServerAddress, redirectServer.address),
            ]))
        }
        return .grouped(.finalUnitIndication, members)
    }

    init(_ avp: DiameterAVP) throws(DiameterDecodeError) {
        guard let action = avp.first(.finalUnitAction) else {
            throw DiameterDecodeError(.missingAVP, "Final-Unit-Action is required", failedAVP: avp)
        }
        self.action = try action.requireEnum(FinalUnitAction.self)
        restrictionFilterRules = try avp.all(.restrictionFilterRule).map { a throws(DiameterDecodeError) in try a.requireUTF8() }
        filterIDs = try avp.all(.filterID).map { a throws(DiameterDecodeError) in try a.requireUTF8() }
        if let server = avp.first(.redirectServer) {
            guard let type = server.first(.redirectAddressType), let address = server.first(.redirectServerAddress) else {
                throw DiameterDecodeError(.missingAVP, "Redirect-Server needs its type and address", failedAVP: server)
            }
            redirectServer = RedirectServer(addressType: try type.requireEnum(RedirectAddressType.self), address: try address.requireUTF8())
        } else {
            redirectServer = nil
        }
    }
}

/// One Multiple-Services-Credit-Control of a CCA: the grant (or refusal) for a rating group / service.
public struct MSCCAnswer: Sendable, Hashable {
    public var ratingGroup: UInt32?
    public var serviceIdentifiers: [UInt32]
    /// Per-service result (RFC 4006 §8.16), e.g. 4012 CREDIT_LIMIT_REACHED for this rating group only.
    public var resultCode: DiameterResultCode?
    public var granted: ServiceUnits?
    public var validityTime: UInt32?
    public var finalUnit: FinalUnitIndication?

    public init(
        ratingGroup: UInt32? = nil, serviceIdentifiers: [UInt32] = [], resultCode: DiameterResultCode? = nil, granted: ServiceUnits? = nil,
        validityTime: UInt32? = nil, finalUnit: FinalUnitIndication? = nil
    ) {
        self.ratingGroup = ratingGroup
        self.serviceIdentifiers = serviceIdentifiers
        self.resultCode = resultCode
        self.granted = granted
        self.validityTime = validityTime
        self.finalUnit = finalUnit
    }
}

/// A Credit-Control-Answer as the charging engine produces it. The session id, CC-Request-Type and -Number, and
/// the transport identifiers are echoed from the request when it is encoded (`message(answering:identity:)`);
/// when decoded (a gateway or the load generator reading a CCA) they are filled from the wire.
public struct CreditControlAnswer: Sendable, Hashable {
    public var resultCode: DiameterResultCode
    public var services: [MSCCAnswer]
    /// Top-level Granted-Service-Unit, for a request that had no MSCC.
    public var granted: ServiceUnits?
    public var validityTime: UInt32?
    public var finalUnit: FinalUnitIndication?
    public var errorMessage: String?
    /// Read from a received CCA (ignored when encoding: the request's values are used).
    public var sessionID: String?
    public var requestType: CCRequestType?
    public var requestNumber: UInt32?

    public init(
        resultCode: DiameterResultCode, services: [MSCCAnswer] = [], granted: ServiceUnits? = nil, validityTime: UInt32? = nil,
        finalUnit: FinalUnitIndication? = nil, errorMessage: String? = nil
    ) {
        self.resultCode = resultCode
        self.services = services
        self.granted = granted
        self.validityTime = validityTime
        self.finalUnit = finalUnit
        self.errorMessage = errorMessage
    }

    /// The CCA for `request`, in the order of RFC 4006 §3.2's grammar.
    public func message(answering request: CreditControlRequest, identity: DiameterIdentity) -> DiameterMessage {
        var avps: [DiameterAVP] = [
            .utf8(.sessionID, request.sessionID), .unsigned32(.resultCode, resultCode.rawValue),
            .utf8(.originHost, identity.originHost), .utf8(.originRealm, identity.originRealm),
            .unsigned32(.authApplicationID, DiameterApplication.creditControl),
            .enumerated(.ccRequestType, Int32(request.requestType.rawValue)), .unsigned32(.ccRequestNumber, request.requestNumber),
        ]
        if let granted { avps.append(.grouped(.grantedServiceUnit, granted.avps())) }
        for service in services {
            var members: [DiameterAVP] = []
            if let granted = service.granted { members.append(.grouped(.grantedServiceUnit, granted.avps())) }
            for identifier in service.serviceIdentifiers { members.append(.unsigned32(.serviceIdentifier, identifier)) }
            if let ratingGroup = service.ratingGroup { members.append(.unsigned32(.ratingGroup, ratingGroup)) }
            if let validity = service.validityTime { members.append(.unsigned32(.validityTime, validity)) }
            if let code = service.resultCode { members.append(.unsigned32(.resultCode, code.rawValue)) }
            if let finalUnit = service.finalUnit { members.append(finalUnit.avp()) }
            avps.append(.grouped(.multipleServicesCreditControl, members))
        }
        if let validityTime { avps.append(.unsigned32(.validityTime, validityTime)) }
        if let finalUnit { avps.append(finalUnit.avp()) }
        if let errorMessage { avps.append(.utf8(.errorMessage, errorMessage)) }
        return DiameterHeader(
            flags: [.request, .proxiable], commandCode: DiameterCommand.creditControl, applicationID: DiameterApplication.creditControl,
            hopByHopID: request.hopByHopID, endToEndID: request.endToEndID
        ).answer(avps: avps, error: resultCode.isProtocolError)
    }

    /// Decodes a CCA (or an error answer to a CCR, which may lack the application fields).
    public init(message: DiameterMessage) throws(DiameterDecodeError) {
        guard let code = message.first(.resultCode) else {
            throw DiameterDecodeError(.missingAVP, "Result-Code is required", failedAVP: DiameterAVP(.resultCode, .octets([])))
        }
        resultCode = DiameterResultCode(try code.requireUnsigned32())
        sessionID = message.sessionID
        requestType = try message.first(.ccRequestType).map { a throws(DiameterDecodeError) in try a.requireEnum(CCRequestType.self) }
        requestNumber = try message.first(.ccRequestNumber).map { a throws(DiameterDecodeError) in try a.requireUnsigned32() }
        granted = try message.first(.grantedServiceUnit).map { a throws(DiameterDecodeError) in try ServiceUnits(a) }
        validityTime = try message.first(.validityTime).map { a throws(DiameterDecodeError) in try a.requireUnsigned32() }
        finalUnit = try message.first(.finalUnitIndication).map { a throws(DiameterDecodeError) in try FinalUnitIndication(a) }
        errorMessage = message.first(.errorMessage)?.utf8
        var services: [MSCCAnswer] = []
        for mscc in message.all(.multipleServicesCreditControl) {
            services.append(MSCCAnswer(
                ratingGroup: try mscc.first(.ratingGroup).map { a throws(DiameterDecodeError) in try a.requireUnsigned32() },
                serviceIdentifiers: try mscc.all(.serviceIdentifier).map { a throws(DiameterDecodeError) in try a.requireUnsigned32() },
                resultCode: try mscc.first(.resultCode).map { a throws(DiameterDecodeError) in DiameterResultCode(try a.requireUnsigned32()) },
                granted: try mscc.first(.grantedServiceUnit).map { a throws(DiameterDecodeError) in try ServiceUnits(a) },
                validityTime: try mscc.first(.validityTime).map { a throws(DiameterDecodeError) in try a.requireUnsigned32() },
                finalUnit: try mscc.first(.finalUnitIndication).map { a throws(DiameterDecodeError) in try FinalUnitIndication(a) }))
        }
        self.services = services
    }
}

/// Re-Auth-Request-Type (RFC 6733 §8.12).
public enum ReAuthRequestType: UInt32, Sendable, Hashable, CaseIterable {
    case authorizeOnly = 0
    case authorizeAuthenticate = 1
}

/// A Re-Auth-Request for a credit-control session (RFC 4006 §5.5): after a top-up the OCS asks the gateway to
/// re-authorise, and the gateway answers RAA and then sends a CCR-U.
public struct ReAuthRequest: Sendable, Hashable {
    public var sessionID: String
    public var originHost: String
    public var originRealm: String
    public var destinationRealm: String
    public var destinationHost: String
    public var type: ReAuthRequestType
    public var ratingGroups: [UInt32]

    public init(
        sessionID: String, originHost: String, originRealm: String, destinationRealm: String, destinationHost: String,
        type: ReAuthRequestType = .authorizeOnly, ratingGroups: [UInt32] = []
    ) {
        self.sessionID = sessionID
        self.originHost = originHost
        self.originRealm = originRealm
        self.destinationRealm = destinationRealm
        self.destinationHost = destinationHost
        self.type = type
        self.ratingGroups = ratingGroups
    }

    public func message(hopByHopID: UInt32, endToEndID: UInt32) -> DiameterMessage {
        var avps: [DiameterAVP] = [
            .utf8(.sessionID, sessionID), .utf8(.originHost, originHost), .utf8(.originRealm, originRealm),
            .utf8(.destinationRealm, destinationRealm), .utf8(.destinationHost, destinationHost),
            .unsigned32(.authApplicationID, DiameterApplication.creditControl), .enumerated(.reAuthRequestType, Int32(type.rawValue)),
        ]
        for group in ratingGroups { avps.append(.unsigned32(.ratingGroup, group)) }
        return DiameterMessage(
            flags: [.request, .proxiable], commandCode: DiameterCommand.reAuth, applicationID: DiameterApplication.creditControl,
            hopByHopID: hopByHopID, endToEndID: endToEndID, avps: avps)
    }

    public init(message: DiameterMessage) throws(DiameterDecodeError) {
        func required(_ key: AVPKey) throws(DiameterDecodeError) -> String {
            guard let avp = message.first(key) else {
                throw DiameterDecodeError(.missingAVP, "AVP \(key) is required", failedAVP: DiameterAVP(key, .octets([])))
            }
            return try avp.requireUTF8()
        }
        sessionID = try required(.sessionID)
        originHost = try required(.originHost)
        originRealm = try required(.originRealm)
        destinationRealm = try required(.destinationRealm)
        destinationHost = try required(.destinationHost)
        guard let type = message.first(.reAuthRequestType) else {
            throw DiameterDecodeError(.missingAVP, "Re-Auth-Request-Type is required", failedAVP: DiameterAVP(.reAuthRequestType, .octets([])))
        }
        self.type = try type.requireEnum(ReAuthRequestType.self)
        ratingGroups = try message.all(.ratingGroup).map { a throws(DiameterDecodeError) in try a.requireUnsigned32() }
    }
}

/// The Re-Auth-Answer's parts the OCS acts on.
public struct ReAuthAnswer: Sendable, Hashable {
    public var sessionID: String?
    public var resultCode: DiameterResultCode

    public init(sessionID: String?, resultCode: DiameterResultCode) {
        self.sessionID = sessionID
        self.resultCode = resultCode
    }

    public init(message: DiameterMessage) throws(DiameterDecodeError) {
        guard let code = message.first(.resultCode) else {
            throw DiameterDecodeError(.missingAVP, "Result-Code is required", failedAVP: DiameterAVP(.resultCode, .octets([])))
        }
        resultCode = DiameterResultCode(try code.requireUnsigned32())
        sessionID = message.sessionID
    }
}
