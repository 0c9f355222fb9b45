/// CC-Request-Type (RFC 4006 §8.3).
public enum CCRequestType: UInt32, Sendable, Hashable, CaseIterable {
    case initial = 1
    case update = 2
    case termination = 3
    case event = 4
}

/// Subscription-Id-Type (RFC 4006 §8.47).
public enum SubscriptionIDType: UInt32, Sendable, Hashable, CaseIterable {
    case e164 = 0
    case imsi = 1
    case sipURI = 2
    case nai = 3
    case `private` = 4
}

/// Requested-Action for event charging (RFC 4006 §8.41).
public enum RequestedAction: UInt32, Sendable, Hashable, CaseIterable {
    case directDebiting = 0
    case refundAccount = 1
    case checkBalance = 2
    case priceEnquiry = 3
}

/// Reporting-Reason (3GPP TS 32.299 §7.2.175), in an MSCC or a Used-Service-Unit.
public enum ReportingReason: UInt32, Sendable, Hashable, CaseIterable {
    case threshold = 0
    case quotaHoldingTime = 1
    case final = 2
    case quotaExhausted = 3
    case validityTime = 4
    case otherQuotaType = 5
    case ratingConditionChange = 6
    case forcedReauthorisation = 7
    case poolExhausted = 8
    case unusedQuotaTimer = 9
}

public struct SubscriptionID: Sendable, Hashable {
    public var type: SubscriptionIDType
    public var data: String

    public init(type: SubscriptionIDType, data: String) {
        self.type = type
        self.data = data
    }
}

/// The unit amounts of a Requested-, Granted- or Used-Service-Unit (RFC 4006 §8.17–8.19). A Requested-Service-Unit
/// with no member ("requested but empty": the OCS chooses the amount) is an empty value, not nil.
public struct ServiceUnits: Sendable, Hashable {
    public var time: UInt32?
    public var totalOctets: UInt64?
    public var inputOctets: UInt64?
    public var outputOctets: UInt64?
    public var serviceSpecificUnits: UInt64?

    public init(time: UInt32? = nil, totalOctets: UInt64? = nil, inputOctets: UInt64? = nil, outputOctets: UInt64? = nil, serviceSpecificUnits: UInt64? = nil) {
        self.time = time
        self.totalOctets = totalOctets
        self.inputOctets = inputOctets
        self.outputOctets = outputOctets
        self.serviceSpecificUnits = serviceSpecificUnits
    }

    public var isEmpty: Bool {
        time == nil && totalOctets == nil && inputOctets == nil && outputOctets == nil && serviceSpecificUnits == nil
    }

    init(_ avp: DiameterAVP) throws(DiameterDecodeError) {
        time = try avp.first(.ccTime).map { a throws(DiameterDecodeError) in try a.requireUnsigned32() }
        totalOctets = try avp.first(.ccTotalOctets).map { a throws(DiameterDecodeError) in try a.requireUnsigned64() }
        inputOctets = try avp.first(.ccInputOctets).map { a throws(DiameterDecodeError) in try a.requireUnsigned64() }
        outputOctets = try avp.first(.ccOutputOctets).map { a throws(DiameterDecodeError) in try a.requireUnsigned64() }
        serviceSpecificUnits = try avp.first(.ccServiceSpecificUnits).map { a throws(DiameterDecodeError) in try a.requireUnsigned64() }
    }

    func avps() -> [DiameterAVP] {
        var avps: [DiameterAVP] = []
        if let time { avps.append(.unsigned32(.ccTime, time)) }
        if let totalOctets { avps.append(.unsigned64(.ccTotalOctets, totalOctets)) }
        if let inputOctets { avps.append(.unsigned64(.ccInputOctets, inputOctets)) }
        if let outputOctets { avps.append(.unsigned64(.ccOutputOctets, outputOctets)) }
        if let serviceSpecificUnits { avps.append(.unsigned64(.ccServiceSpecificUnits, serviceSpecificUnits)) }
        return avps
    }
}

/// One Used-Service-Unit: the amounts and, when the gateway says why it reports, the 3GPP Reporting-Reason.
public struct UsedServiceUnit: Sendable, Hashable {
    public var units: ServiceUnits
    public var reportingReason: ReportingReason?

    public init(units: ServiceUnits, reportingReason: ReportingReason? = nil) {
        self.units = units
        self.reportingReason = reportingReason
    }
}

/// One Multiple-Services-Credit-Control of a CCR (RFC 4006 §8.16): what the gateway asks for and reports, per
/// rating group and/or service identifier.
public struct MSCCRequest: Sendable, Hashable {
    public var ratingGroup: UInt32?
    public var serviceIdentifiers: [UInt32]
    /// nil: no Requested-Service-Unit; empty: requested, amount left to the OCS.
    public var requested: ServiceUnits?
    public var used: [UsedServiceUnit]
    public var reportingReason: ReportingReason?

    public init(
        ratingGroup: UInt32? = nil, serviceIdentifiers: [UInt32] = [], requested: ServiceUnits? = nil, used: [UsedServiceUnit] = [],
        reportingReason: ReportingReason? = nil
    ) {
        self.ratingGroup = ratingGroup
        self.serviceIdentifiers = serviceIdentifiers
        self.requested = requested
        self.used = used
        self.reportingReason = reportingReason
    }
}

/// The party called or messaged: IMS Called-Party-Address, or an SMS Recipient-Address/Address-Data.
public struct CalledParty: Sendable, Hashable {
    public enum Source: Sendable, Hashable {
        /// Service-Information/IMS-Information/Called-Party-Address.
        case ims
        /// Service-Information/SMS-Information/Recipient-Info/Recipient-Address/Address-Data.
        case sms
    }

    /// As received.
    public var raw: String
    public var source: Source

    public init(raw: String, source: Source) {
        self.raw = raw
        self.source = source
    }

    /// The number as digits with a leading '+' when it had one: "tel:+86 138-0013-8000" → "+8613800138000",
    /// "sip:+8613800138000@ims.example;user=phone" → "+8613800138000". nil when the address is not a number
    /// ("sip:alice@example.org").
    public var normalized: String? { Self.normalize(raw) }

    public static func normalize(_ address: String) -> String? {
        var text = Substring(address.trimmingSpaces)
        for scheme in ["tel:", "sips:", "sip:"] where text.lowercased().hasPrefix(scheme) {
            text = text.dropFirst(scheme.count)
            break
        }
        if let cut = text.firstIndex(where: { $0 == "@" || $0 == ";" }) { text = text[..<cut] }
        var result = ""
        for (index, character) in text.enumerated() {
            if character == "+" && index == 0 {
                result.append("+")
            } else if character.isASCII, character.isNumber {
                result.append(character)
            } else if character == " " || character == "-" || character == "." || character == "(" || character == ")" {
                continue  // visual separators of RFC 3966
            } else {
                return nil
            }
        }
        return result.contains(where: \.isNumber) ? result : nil
    }
}

/// A Credit-Control-Request as the charging engine sees it (RFC 4006 §3.1 with the 3GPP TS 32.299 Gy fields
/// this OCS rates on). Decoded from the wire with `init(message:)`, built by a gateway or the load generator
/// and encoded with `message(hopByHopID:endToEndID:)`.
public struct CreditControlRequest: Sendable, Hashable {
    public var sessionID: String
    public var originHost: String
    public var originRealm: String
    public var destinationRealm: String
    public var destinationHost: String?
    public var serviceContextID: String
    public var requestType: CCRequestType
    public var requestNumber: UInt32
    public var userName: String?
    public var subscriptionIDs: [SubscriptionID]
    public var eventTimestamp: DiameterTime?
    public var requestedAction: RequestedAction?
    public var multipleServicesIndicator: Bool
    public var terminationCause: UInt32?
    /// 3GPP-SGSN-MCC-MNC from PS-Information: the network the subscriber is on ("44010").
    public var visitedNetwork: String?
    /// 3GPP-User-Location-Info from PS-Information, as sent.
    public var userLocationInfo: [UInt8]?
    public var calledParty: CalledParty?
    public var services: [MSCCRequest]
    /// Top-level Requested-Service-Unit, used by gateways that send no MSCC.
    public var requested: ServiceUnits?
    /// Top-level Used-Service-Unit(s), likewise.
    public var used: [UsedServiceUnit]
    /// The request's transport identifiers (set by the decoder; the answer echoes them).
    public var hopByHopID: UInt32
    public var endToEndID: UInt32

    public init(
        sessionID: String, originHost: String, originRealm: String, destinationRealm: String, destinationHost: String? = nil,
        serviceContextID: String, requestType: CCRequestType, requestNumber: UInt32, userName: String? = nil,
        subscriptionIDs: [SubscriptionID] = [], eventTimestamp: DiameterTime? = nil, requestedAction: RequestedAction? = nil,
        multipleServicesIndicator: Bool = false, terminationCause: UInt32? = nil, visitedNetwork: String? = nil,
        userLocationInfo: [UInt8]? = nil, calledParty: CalledParty? = nil, services: [MSCCRequest] = [],
        requested: ServiceUnits? = nil, used: [UsedServiceUnit] = [], hopByHopID: UInt32 = 0, endToEndID: UInt32 = 0
    ) {
        self.sessionID = sessionID
        self.originHost = originHost
        self.originRealm = originRealm
        self.destinationRealm = destinationRealm
        self.destinationHost = destinationHost
        self.serviceContextID = serviceContextID
        self.requestType = requestType
        self.requestNumber = requestNumber
        self.userName = userName
        self.subscriptionIDs = subscriptionIDs
        self.eventTimestamp = eventTimestamp
        self.requestedAction = requestedAction
        self.multipleServicesIndicator = multipleServicesIndicator
        self.terminationCause = terminationCause
        self.visitedNetwork = visitedNetwork
        self.userLocationInfo = userLocationInfo
        self.calledParty = calledParty
        self.services = services
        self.requested = requested
        self.used = used
        self.hopByHopID = hopByHopID
        self.endToEndID = endToEndID
    }

    /// The PLMN ("MCC" + "MNC", e.g. "44010") in 3GPP-User-Location-Info (TS 29.061 §16.4.7.2: a location type byte,
    /// then MCC/MNC in the BCD layout of TS 24.008 §10.5.1.3), for gateways that send a location but no
    /// 3GPP-SGSN-MCC-MNC. nil for a location type without a PLMN first or bytes that are not BCD digits.
    public var locationPLMN: String? {
        guard let info = userLocationInfo, info.count >= 4 else { return nil }
        // CGI 0, SAI 1, RAI 2, TAI 128, ECGI 129, TAI+ECGI 130 (and the 5G types 135–137) start with a PLMN.
        guard [0, 1, 2, 128, 129, 130, 135, 136, 137].contains(info[0]) else { return nil }
        let nibbles = [info[1] & 0x0F, info[1] >> 4, info[2] & 0x0F, info[3] & 0x0F, info[3] >> 4, info[2] >> 4]
        var plmn = ""
        for (index, nibble) in nibbles.enumerated() {
            if index == 5 && nibble == 0x0F { break }  // a two-digit MNC
            guard nibble <= 9 else { return nil }
            plmn.append(Character(Unicode.Scalar(UInt8(ascii: "0") + nibble)))
        }
        return plmn
    }

    /// The network the subscriber is on: 3GPP-SGSN-MCC-MNC, else the PLMN of 3GPP-User-Location-Info.
    public var servingNetwork: String? { visitedNetwork ?? locationPLMN }

    /// The E.164 subscription id, if any (the MSISDN the engine charges).
    public var msisdn: String? { subscriptionIDs.first { $0.type == .e164 }?.data }
    public var imsi: String? { subscriptionIDs.first { $0.type == .imsi }?.data }

    /// Decodes a CCR. Missing required AVPs (RFC 4006 §3.1) → 5005 with the AVP named in Failed-AVP; a value out of
    /// its enumeration or of the wrong form → 5004 with the offending AVP.
    public init(message: DiameterMessage) throws(DiameterDecodeError) {
        func required(_ key: AVPKey) throws(DiameterDecodeError) -> DiameterAVP {
            guard let avp = message.first(key) else {
                let name = DiameterDictionary.standard.definition(key)?.name ?? key.description
                throw DiameterDecodeError(.missingAVP, "\(name) is required", failedAVP: DiameterAVP(key, .octets([])))
            }
            return avp
        }
        sessionID = try required(.sessionID).requireUTF8()
        originHost = try required(.originHost).requireUTF8()
        originRealm = try required(.originRealm).requireUTF8()
        destinationRealm = try required(.destinationRealm).requireUTF8()
        destinationHost = try message.first(.destinationHost).map { a throws(DiameterDecodeError) in try a.requireUTF8() }
        let application = try required(.authApplicationID)
        guard try application.requireUnsigned32() == DiameterApplication.creditControl else {
            throw DiameterDecodeError(.invalidAVPValue, "Auth-Application-Id must be 4", failedAVP: application)
        }
        serviceContextID = try required(.serviceContextID).requireUTF8()
        requestType = try required(.ccRequestType).requireEnum(CCRequestType.self)
        requestNumber = try required(.ccRequestNumber).requireUnsigned32()
        userName = try message.first(.userName).map { a throws(DiameterDecodeError) in try a.requireUTF8() }
        var subscriptions: [SubscriptionID] = []
        for avp in message.all(.subscriptionID) {
            guard let type = avp.first(.subscriptionIDType), let data = avp.first(.subscriptionIDData) else {
                throw DiameterDecodeError(.missingAVP, "Subscription-Id needs its type and data", failedAVP: avp)
            }
            subscriptions.append(SubscriptionID(type: try type.requireEnum(SubscriptionIDType.self), data: try data.requireUTF8()))
        }
        subscriptionIDs = subscriptions
        eventTimestamp = try message.first(.eventTimestamp).map { a throws(DiameterDecodeError) in DiameterTime(ntpSeconds: try a.requireUnsigned32()) }
        requestedAction = try message.first(.requestedAction).map { a throws(DiameterDecodeError) in try a.requireEnum(RequestedAction.self) }
        multipleServicesIndicator = try message.first(.multipleServicesIndicator).map { a throws(DiameterDecodeError) in try a.requireUnsigned32() == 1 } ?? false
        terminationCause = try message.first(.terminationCause).map { a throws(DiameterDecodeError) in try a.requireUnsigned32() }
        let serviceInformation = message.first(.serviceInformation)
        let ps = serviceInformation?.first(.psInformation)
        visitedNetwork = try ps?.first(.threeGPPSGSNMCCMNC).map { a throws(DiameterDecodeError) in try a.requireUTF8() }
        userLocationInfo = ps?.first(.threeGPPUserLocationInfo)?.octets
        if let address = serviceInformation?.first(.imsInformation)?.first(.calledPartyAddress) {
            calledParty = CalledParty(raw: try address.requireUTF8(), source: .ims)
        } else if let data = serviceInformation?.first(.smsInformation)?.first(.recipientInfo)?.first(.recipientAddress)?.first(.addressData) {
            calledParty = CalledParty(raw: try data.requireUTF8(), source: .sms)
        } else {
            calledParty = nil
        }
        var services: [MSCCRequest] = []
        for mscc in message.all(.multipleServicesCreditControl) {
            services.append(MSCCRequest(
                ratingGroup: try mscc.first(.ratingGroup).map { a throws(DiameterDecodeError) in try a.requireUnsigned32() },
                serviceIdentifiers: try mscc.all(.serviceIdentifier).map { a throws(DiameterDecodeError) in try a.requireUnsigned32() },
                requested: try mscc.first(.requestedServiceUnit).map { a throws(DiameterDecodeError) in try ServiceUnits(a) },
                used: try mscc.all(.usedServiceUnit).map { a throws(DiameterDecodeError) in try UsedServiceUnit(a) },
                reportingReason: try mscc.first(.reportingReason).map { a throws(DiameterDecodeError) in try a.requireEnum(ReportingReason.self) }))
        }
        self.services = services
        requested = try message.first(.requestedServiceUnit).map { a throws(DiameterDecodeError) in try ServiceUnits(a) }
        used = try message.all(.usedServiceUnit).map { a throws(DiameterDecodeError) in try UsedServiceUnit(a) }
        hopByHopID = message.hopByHopID
        endToEndID = message.endToEndID
    }

    /// The CCR on the wire, in the order of RFC 4006 §3.1's grammar.
    public func message(hopByHopID: UInt32, endToEndID: UInt32) -> DiameterMessage {
        var avps: [DiameterAVP] = [
            .utf8(.sessionID, sessionID), .utf8(.originHost, originHost), .utf8(.originRealm, originRealm),
            .utf8(.destinationRealm, destinationRealm), .unsigned32(.authApplicationID, DiameterApplication.creditControl),
            .utf8(.serviceContextID, serviceContextID), .enumerated(.ccRequestType, Int32(requestType.rawValue)),
            .unsigned32(.ccRequestNumber, requestNumber),
        ]
        if let destinationHost { avps.append(.utf8(.destinationHost, destinationHost)) }
        if let userName { avps.append(.utf8(.userName, userName)) }
        if let eventTimestamp { avps.append(.time(.eventTimestamp, eventTimestamp)) }
        for subscription in subscriptionIDs {
            avps.append(.grouped(.subscriptionID, [
                .enumerated(.subscriptionIDType, Int32(subscription.type.rawValue)), .utf8(.subscriptionIDData, subscription.data),
            ]))
        }
        if let terminationCause { avps.append(.enumerated(.terminationCause, Int32(bitPattern: terminationCause))) }
        if let requested { avps.append(.grouped(.requestedServiceUnit, requested.avps())) }
        if let requestedAction { avps.append(.enumerated(.requestedAction, Int32(requestedAction.rawValue))) }
        for usage in used { avps.append(usage.avp()) }
        if multipleServicesIndicator { avps.append(.enumerated(.multipleServicesIndicator, 1)) }
        for service in services {
            var members: [DiameterAVP] = []
            if let requested = service.requested { members.append(.grouped(.requestedServiceUnit, requested.avps())) }
            for usage in service.used { members.append(usage.avp()) }
            for identifier in service.serviceIdentifiers { members.append(.unsigned32(.serviceIdentifier, identifier)) }
            if let ratingGroup = service.ratingGroup { members.append(.unsigned32(.ratingGroup, ratingGroup)) }
            if let reason = service.reportingReason { members.append(.enumerated(.reportingReason, Int32(reason.rawValue))) }
            avps.append(.grouped(.multipleServicesCreditControl, members))
        }
        var information: [DiameterAVP] = []
        if visitedNetwork != nil || userLocationInfo != nil {
            var ps: [DiameterAVP] = []
            if let visitedNetwork { ps.append(.utf8(.threeGPPSGSNMCCMNC, visitedNetwork)) }
            if let userLocationInfo { ps.append(.octets(.threeGPPUserLocationInfo, userLocationInfo)) }
            information.append(.grouped(.psInformation, ps))
        }
        if let calledParty {
            switch calledParty.source {
            case .ims:
                information.append(.grouped(.imsInformation, [.utf8(.calledPartyAddress, calledParty.raw)]))
            case .sms:
                information.append(.grouped(.smsInformation, [
                    .grouped(.recipientInfo, [.grouped(.recipientAddress, [.utf8(.addressData, calledParty.raw)])]),
                ]))
            }
        }
        if !information.isEmpty { avps.append(.grouped(.serviceInformation, information)) }
        return DiameterMessage(
            flags: [.request, .proxiable], commandCode: DiameterCommand.creditControl, applicationID: DiameterApplication.creditControl,
            hopByHopID: hopByHopID, endToEndID: endToEndID, avps: avps)
    }
}

extension UsedServiceUnit {
    init(_ avp: DiameterAVP) throws(DiameterDecodeError) {
        units = try ServiceUnits(avp)
        reportingReason = try avp.first(.reportingReason).map { a throws(DiameterDecodeError) in try a.requireEnum(ReportingReason.self) }
    }

    func avp() -> DiameterAVP {
        var members = units.avps()
        if let reportingReason { members.append(.enumerated(.reportingReason, Int32(reportingReason.rawValue))) }
        return .grouped(.usedServiceUnit, members)
    }
}

extension DiameterAVP {
    func requireUTF8() throws(DiameterDecodeError) -> String {
        guard let text = utf8 else { throw DiameterDecodeError(.invalidAVPValue, "AVP \(key) is not UTF-8", failedAVP: self) }
        return text
    }

    func requireUnsigned32() throws(DiameterDecodeError) -> UInt32 {
        guard let value = unsigned32 else { throw DiameterDecodeError(.invalidAVPLength, "AVP \(key) is not 32 bits", failedAVP: self) }
        return value
    }

    func requireUnsigned64() throws(DiameterDecodeError) -> UInt64 {
        guard let value = unsigned64 else { throw DiameterDecodeError(.invalidAVPLength, "AVP \(key) is not 64 bits", failedAVP: self) }
        return value
    }

    func requireEnum<E: RawRepresentable<UInt32>>(_: E.Type) throws(DiameterDecodeError) -> E {
        guard let value = E(rawValue: try requireUnsigned32()) else {
            throw DiameterDecodeError(.invalidAVPValue, "AVP \(key) has the value \(unsigned32 ?? 0), not one of \(E.self)", failedAVP: self)
        }
        return value
    }
}

extension String {
    var trimmingSpaces: Substring {
        var text = Substring(self)
        while text.first == " " { text = text.dropFirst() }
        while text.last == " " { text = text.dropLast() }
        return text
    }
}
