/// The AVP dictionary as data: one record per AVP this module knows (RFC 6733 base, RFC 4006 credit control,
/// 3GPP TS 29.061 / TS 32.299 for vendor 10415). The decoder uses it for three things only: whether an AVP is
/// Grouped (so its data is parsed as AVPs), whether a fixed-size type has the right length, and whether an AVP
/// that arrives with the M bit is one we support (RFC 6733 §4.1: an unrecognised mandatory AVP is rejected with
/// 5001 DIAMETER_AVP_UNSUPPORTED). Adding an AVP is adding a line to `records`; no code path changes.

/// The data formats of RFC 6733 §4.2 and §4.3 that this module reads and writes.
public enum DiameterAVPType: String, Sendable, CaseIterable {
    case octetString = "OctetString"
    case utf8String = "UTF8String"
    case diameterIdentity = "DiameterIdentity"
    case diameterURI = "DiameterURI"
    case address = "Address"
    case time = "Time"
    case integer32 = "Integer32"
    case integer64 = "Integer64"
    case unsigned32 = "Unsigned32"
    case unsigned64 = "Unsigned64"
    case enumerated = "Enumerated"
    case grouped = "Grouped"
    case ipFilterRule = "IPFilterRule"

    /// The exact data length a value of this type has, or nil when it varies (RFC 6733 §4.2).
    public var fixedLength: Int? {
        switch self {
        case .integer32, .unsigned32, .enumerated, .time: 4
        case .integer64, .unsigned64: 8
        case .octetString, .utf8String, .diameterIdentity, .diameterURI, .address, .grouped, .ipFilterRule: nil
        }
    }
}

/// An AVP's identity: its code within a vendor's space (vendor 0 = IETF, 10415 = 3GPP).
public struct AVPKey: Hashable, Sendable, CustomStringConvertible {
    public let code: UInt32
    public let vendorID: UInt32

    public init(_ code: UInt32, vendor: UInt32 = 0) {
        self.code = code
        self.vendorID = vendor
    }

    public var description: String { vendorID == 0 ? "\(code)" : "\(code)/\(vendorID)" }

    var packed: UInt64 { UInt64(vendorID) << 32 | UInt64(code) }
}

/// One dictionary record. `mandatory` is the M bit this module sets when it sends the AVP.
public struct DiameterAVPDefinition: Sendable, Hashable {
    public let key: AVPKey
    public let name: String
    public let type: DiameterAVPType
    public let mandatory: Bool
}

/// Vendor identifiers used here.
public enum DiameterVendor {
    public static let ietf: UInt32 = 0
    public static let threeGPP: UInt32 = 10415
}

extension AVPKey {
    // RFC 6733 base protocol
    public static let userName = AVPKey(1)
    public static let hostIPAddress = AVPKey(257)
    public static let authApplicationID = AVPKey(258)
    public static let acctApplicationID = AVPKey(259)
    public static let vendorSpecificApplicationID = AVPKey(260)
    public static let sessionID = AVPKey(263)
    public static let originHost = AVPKey(264)
    public static let supportedVendorID = AVPKey(265)
    public static let vendorID = AVPKey(266)
    public static let firmwareRevision = AVPKey(267)
    public static let resultCode = AVPKey(268)
    public static let productName = AVPKey(269)
    public static let disconnectCause = AVPKey(273)
    public static let authSessionState = AVPKey(277)
    public static let originStateID = AVPKey(278)
    public static let failedAVP = AVPKey(279)
    public static let errorMessage = AVPKey(281)
    public static let routeRecord = AVPKey(282)
    public static let destinationRealm = AVPKey(283)
    public static let proxyInfo = AVPKey(284)
    public static let reAuthRequestType = AVPKey(285)
    public static let destinationHost = AVPKey(293)
    public static let errorReportingHost = AVPKey(294)
    public static let terminationCause = AVPKey(295)
    public static let originRealm = AVPKey(296)
    public static let experimentalResult = AVPKey(297)
    public static let experimentalResultCode = AVPKey(298)
    public static let inbandSecurityID = AVPKey(299)
    public static let proxyHost = AVPKey(280)
    public static let proxyState = AVPKey(33)
    public static let eventTimestamp = AVPKey(55)
    // RFC 4006 credit control
    public static let ccCorrelationID = AVPKey(411)
    public static let ccInputOctets = AVPKey(412)
    public static let ccMoney = AVPKey(413)
    public static let ccOutputOctets = AVPKey(414)
    public static let ccRequestNumber = AVPKey(415)
    public static let ccRequestType = AVPKey(416)
    public static let ccServiceSpecificUnits = AVPKey(417)
    public static let ccSessionFailover = AVPKey(418)
    public static let ccSubSessionID = AVPKey(419)
    public static let ccTime = AVPKey(420)
    public static let ccTotalOctets = AVPKey(421)
    public static let checkBalanceResult = AVPKey(422)
    public static let costInformation = AVPKey(423)
    public static let costUnit = AVPKey(424)
    public static let currencyCode = AVPKey(425)
    public static let creditControl = AVPKey(426)
    public static let creditControlFailureHandling = AVPKey(427)
    public static let directDebitingFailureHandling = AVPKey(428)
    public static let exponent = AVPKey(429)
    public static let finalUnitIndication = AVPKey(430)
    public static let grantedServiceUnit = AVPKey(431)
    public static let ratingGroup = AVPKey(432)
    public static let redirectAddressType = AVPKey(433)
    public static let redirectServer = AVPKey(434)
    public static let redirectServerAddress = AVPKey(435)
    public static let requestedAction = AVPKey(436)
    public static let requestedServiceUnit = AVPKey(437)
    public static let restrictionFilterRule = AVPKey(438)
    public static let serviceIdentifier = AVPKey(439)
    public static let serviceParameterInfo = AVPKey(440)
    public static let serviceParameterType = AVPKey(441)
    public static let serviceParameterValue = AVPKey(442)
    public static let subscriptionID = AVPKey(443)
    public static let subscriptionIDData = AVPKey(444)
    public static let unitValue = AVPKey(445)
    public static let usedServiceUnit = AVPKey(446)
    public static let valueDigits = AVPKey(447)
    public static let validityTime = AVPKey(448)
    public static let finalUnitAction = AVPKey(449)
    public static let subscriptionIDType = AVPKey(450)
    public static let tariffTimeChange = AVPKey(451)
    public static let tariffChangeUsage = AVPKey(452)
    public static let gSUPoolIdentifier = AVPKey(453)
    public static let ccUnitType = AVPKey(454)
    public static let multipleServicesIndicator = AVPKey(455)
    public static let multipleServicesCreditControl = AVPKey(456)
    public static let gSUPoolReference = AVPKey(457)
    public static let userEquipmentInfo = AVPKey(458)
    public static let userEquipmentInfoType = AVPKey(459)
    public static let userEquipmentInfoValue = AVPKey(460)
    public static let serviceContextID = AVPKey(461)
    public static let filterID = AVPKey(11)
    public static let calledStationID = AVPKey(30)
    public static let callingStationID = AVPKey(31)
    // 3GPP TS 29.061 (vendor 10415)
    public static let threeGPPIMSI = AVPKey(1, vendor: DiameterVendor.threeGPP)
    public static let threeGPPChargingID = AVPKey(2, vendor: DiameterVendor.threeGPP)
    public static let threeGPPPDPType = AVPKey(3, vendor: DiameterVendor.threeGPP)
    public static let threeGPPGGSNAddress = AVPKey(7, vendor: DiameterVendor.threeGPP)
    public static let threeGPPIMSIMCCMNC = AVPKey(8, vendor: DiameterVendor.threeGPP)
    public static let threeGPPGGSNMCCMNC = AVPKey(9, vendor: DiameterVendor.threeGPP)
    public static let threeGPPNSAPI = AVPKey(10, vendor: DiameterVendor.threeGPP)
    public static let threeGPPSelectionMode = AVPKey(12, vendor: DiameterVendor.threeGPP)
    public static let threeGPPChargingCharacteristics = AVPKey(13, vendor: DiameterVendor.threeGPP)
    public static let threeGPPSGSNMCCMNC = AVPKey(18, vendor: DiameterVendor.threeGPP)
    public static let threeGPPIMEISV = AVPKey(20, vendor: DiameterVendor.threeGPP)
    public static let threeGPPRATType = AVPKey(21, vendor: DiameterVendor.threeGPP)
    public static let threeGPPUserLocationInfo = AVPKey(22, vendor: DiameterVendor.threeGPP)
    public static let threeGPPMSTimeZone = AVPKey(23, vendor: DiameterVendor.threeGPP)
    // 3GPP TS 32.299 (vendor 10415)
    public static let callingPartyAddress = AVPKey(831, vendor: DiameterVendor.threeGPP)
    public static let calledPartyAddress = AVPKey(832, vendor: DiameterVendor.threeGPP)
    public static let eventType = AVPKey(823, vendor: DiameterVendor.threeGPP)
    public static let sipMethod = AVPKey(824, vendor: DiameterVendor.threeGPP)
    public static let event = AVPKey(825, vendor: DiameterVendor.threeGPP)
    public static let roleOfNode = AVPKey(829, vendor: DiameterVendor.threeGPP)
    public static let nodeFunctionality = AVPKey(862, vendor: DiameterVendor.threeGPP)
    public static let timeQuotaThreshold = AVPKey(868, vendor: DiameterVendor.threeGPP)
    public static let volumeQuotaThreshold = AVPKey(869, vendor: DiameterVendor.threeGPP)
    public static let triggerType = AVPKey(870, vendor: DiameterVendor.threeGPP)
    public static let quotaHoldingTime = AVPKey(871, vendor: DiameterVendor.threeGPP)
    public static let reportingReason = AVPKey(872, vendor: DiameterVendor.threeGPP)
    public static let serviceInformation = AVPKey(873, vendor: DiameterVendor.threeGPP)
    public static let psInformation = AVPKey(874, vendor: DiameterVendor.threeGPP)
    public static let imsInformation = AVPKey(876, vendor: DiameterVendor.threeGPP)
    public static let originatorAddress = AVPKey(886, vendor: DiameterVendor.threeGPP)
    public static let addressData = AVPKey(897, vendor: DiameterVendor.threeGPP)
    public static let addressDomain = AVPKey(898, vendor: DiameterVendor.threeGPP)
    public static let addressType = AVPKey(899, vendor: DiameterVendor.threeGPP)
    public static let chargingRuleBaseName = AVPKey(1004, vendor: DiameterVendor.threeGPP)
    public static let ratType = AVPKey(1032, vendor: DiameterVendor.threeGPP)
    public static let recipientAddress = AVPKey(1201, vendor: DiameterVendor.threeGPP)
    public static let submissionTime = AVPKey(1202, vendor: DiameterVendor.threeGPP)
    public static let pdpAddress = AVPKey(1227, vendor: DiameterVendor.threeGPP)
    public static let sgsnAddress = AVPKey(1228, vendor: DiameterVendor.threeGPP)
    public static let ggsnAddress = AVPKey(847, vendor: DiameterVendor.threeGPP)
    public static let trigger = AVPKey(1264, vendor: DiameterVendor.threeGPP)
    public static let smsInformation = AVPKey(2000, vendor: DiameterVendor.threeGPP)
    public static let dataCodingScheme = AVPKey(2001, vendor: DiameterVendor.threeGPP)
    public static let smscAddress = AVPKey(2017, vendor: DiameterVendor.threeGPP)
    public static let smsNode = AVPKey(2016, vendor: DiameterVendor.threeGPP)
    public static let recipientInfo = AVPKey(2026, vendor: DiameterVendor.threeGPP)
    public static let originatorReceivedAddress = AVPKey(2027, vendor: DiameterVendor.threeGPP)
    public static let smMessageType = AVPKey(2007, vendor: DiameterVendor.threeGPP)
    public static let numberOfMessagesSent = AVPKey(2019, vendor: DiameterVendor.threeGPP)
    public static let serviceSpecificInfo = AVPKey(1249, vendor: DiameterVendor.threeGPP)
    public static let serviceSpecificData = AVPKey(863, vendor: DiameterVendor.threeGPP)
    public static let serviceSpecificType = AVPKey(1257, vendor: DiameterVendor.threeGPP)
    public static let imsChargingIdentifier = AVPKey(841, vendor: DiameterVendor.threeGPP)
    public static let userSessionID = AVPKey(830, vendor: DiameterVendor.threeGPP)
}

extension DiameterDictionary {
    /// The table. Types and M bits as the RFCs and TS 32.299 §7 define them; for 3GPP AVPs the V bit is implied by
    /// the vendor. Checked code by code, name and type against the python-diameter package's dictionary (the M bits of a
/// few 3GPP AVPs follow TS 32.299, where that package sets M on everything). Grouped AVPs are listed so the decoder descends into them and checks their members too.
    public static let records: [DiameterAVPDefinition] = [
        // RFC 6733
        .init(key: .userName, name: "User-Name", type: .utf8String, mandatory: true),
        .init(key: .proxyState, name: "Proxy-State", type: .octetString, mandatory: true),
        .init(key: .eventTimestamp, name: "Event-Timestamp", type: .time, mandatory: true),
        .init(key: .hostIPAddress, name: "Host-IP-Address", type: .address, mandatory: true),
        .init(key: .authApplicationID, name: "Auth-Application-Id", type: .unsigned32, mandatory: true),
        .init(key: .acctApplicationID, name: "Acct-Application-Id", type: .unsigned32, mandatory: true),
        .init(key: .vendorSpecificApplicationID, name: "Vendor-Specific-Application-Id", type: .grouped, mandatory: true),
        .init(key: .sessionID, name: "Session-Id", type: .utf8String, mandatory: true),
        .init(key: .originHost, name: "Origin-Host", type: .diameterIdentity, mandatory: true),
        .init(key: .supportedVendorID, name: "Supported-Vendor-Id", type: .unsigned32, mandatory: true),
        .init(key: .vendorID, name: "Vendor-Id", type: .unsigned32, mandatory: true),
        .init(key: .firmwareRevision, name: "Firmware-Revision", type: .unsigned32, mandatory: false),
        .init(key: .resultCode, name: "Result-Code", type: .unsigned32, mandatory: true),
        .init(key: .productName, name: "Product-Name", type: .utf8String, mandatory: false),
        .init(key: .disconnectCause, name: "Disconnect-Cause", type: .enumerated, mandatory: true),
        .init(key: .authSessionState, name: "Auth-Session-State", type: .enumerated, mandatory: true),
        .init(key: .originStateID, name: "Origin-State-Id", type: .unsigned32, mandatory: true),
        .init(key: .failedAVP, name: "Failed-AVP", type: .grouped, mandatory: true),
        .init(key: .proxyHost, name: "Proxy-Host", type: .diameterIdentity, mandatory: true),
        .init(key: .errorMessage, name: "Error-Message", type: .utf8String, mandatory: false),
        .init(key: .routeRecord, name: "Route-Record", type: .diameterIdentity, mandatory: true),
        .init(key: .destinationRealm, name: "Destination-Realm", type: .diameterIdentity, mandatory: true),
        .init(key: .proxyInfo, name: "Proxy-Info", type: .grouped, mandatory: true),
        .init(key: .reAuthRequestType, name: "Re-Auth-Request-Type", type: .enumerated, mandatory: true),
        .init(key: .destinationHost, name: "Destination-Host", type: .diameterIdentity, mandatory: true),
        .init(key: .errorReportingHost, name: "Error-Reporting-Host", type: .diameterIdentity, mandatory: false),
        .init(key: .terminationCause, name: "Termination-Cause", type: .enumerated, mandatory: true),
        .init(key: .originRealm, name: "Origin-Realm", type: .diameterIdentity, mandatory: true),
        .init(key: .experimentalResult, name: "Experimental-Result", type: .grouped, mandatory: true),
        .init(key: .experimentalResultCode, name: "Experimental-Result-Code", type: .unsigned32, mandatory: true),
        .init(key: .inbandSecurityID, name: "Inband-Security-Id", type: .unsigned32, mandatory: true),
        .init(key: .filterID, name: "Filter-Id", type: .utf8String, mandatory: true),
        .init(key: .calledStationID, name: "Called-Station-Id", type: .utf8String, mandatory: true),
        .init(key: .callingStationID, name: "Calling-Station-Id", type: .utf8String, mandatory: true),
        // RFC 4006
        .init(key: .ccCorrelationID, name: "CC-Correlation-Id", type: .octetString, mandatory: false),
        .init(key: .ccInputOctets, name: "CC-Input-Octets", type: .unsigned64, mandatory: true),
        .init(key: .ccMoney, name: "CC-Money", type: .grouped, mandatory: true),
        .init(key: .ccOutputOctets, name: "CC-Output-Octets", type: .unsigned64, mandatory: true),
        .init(key: .ccRequestNumber, name: "CC-Request-Number", type: .unsigned32, mandatory: true),
        .init(key: .ccRequestType, name: "CC-Request-Type", type: .enumerated, mandatory: true),
        .init(key: .ccServiceSpecificUnits, name: "CC-Service-Specific-Units", type: .unsigned64, mandatory: true),
        .init(key: .ccSessionFailover, name: "CC-Session-Failover", type: .enumerated, mandatory: true),
        .init(key: .ccSubSessionID, name: "CC-Sub-Session-Id", type: .unsigned64, mandatory: true),
        .init(key: .ccTime, name: "CC-Time", type: .unsigned32, mandatory: true),
        .init(key: .ccTotalOctets, name: "CC-Total-Octets", type: .unsigned64, mandatory: true),
        .init(key: .checkBalanceResult, name: "Check-Balance-Result", type: .enumerated, mandatory: true),
        .init(key: .costInformation, name: "Cost-Information", type: .grouped, mandatory: true),
        .init(key: .costUnit, name: "Cost-Unit", type: .utf8String, mandatory: true),
        .init(key: .currencyCode, name: "Currency-Code", type: .unsigned32, mandatory: true),
        .init(key: .creditControl, name: "Credit-Control", type: .enumerated, mandatory: true),
        .init(key: .creditControlFailureHandling, name: "Credit-Control-Failure-Handling", type: .enumerated, mandatory: true),
        .init(key: .directDebitingFailureHandling, name: "Direct-Debiting-Failure-Handling", type: .enumerated, mandatory: true),
        .init(key: .exponent, name: "Exponent", type: .integer32, mandatory: true),
        .init(key: .finalUnitIndication, name: "Final-Unit-Indication", type: .grouped, mandatory: true),
        .init(key: .grantedServiceUnit, name: "Granted-Service-Unit", type: .grouped, mandatory: true),
        .init(key: .ratingGroup, name: "Rating-Group", type: .unsigned32, mandatory: true),
        .init(key: .redirectAddressType, name: "Redirect-Address-Type", type: .enumerated, mandatory: true),
        .init(key: .redirectServer, name: "Redirect-Server", type: .grouped, mandatory: true),
        .init(key: .redirectServerAddress, name: "Redirect-Server-Address", type: .utf8String, mandatory: true),
        .init(key: .requestedAction, name: "Requested-Action", type: .enumerated, mandatory: true),
        .init(key: .requestedServiceUnit, name: "Requested-Service-Unit", type: .grouped, mandatory: true),
        .init(key: .restrictionFilterRule, name: "Restriction-Filter-Rule", type: .ipFilterRule, mandatory: true),
        .init(key: .serviceIdentifier, name: "Service-Identifier", type: .unsigned32, mandatory: true),
        .init(key: .serviceParameterInfo, name: "Service-Parameter-Info", type: .grouped, mandatory: false),
        .init(key: .serviceParameterType, name: "Service-Parameter-Type", type: .unsigned32, mandatory: false),
        .init(key: .serviceParameterValue, name: "Service-Parameter-Value", type: .octetString, mandatory: false),
        .init(key: .subscriptionID, name: "Subscription-Id", type: .grouped, mandatory: true),
        .init(key: .subscriptionIDData, name: "Subscription-Id-Data", type: .utf8String, mandatory: true),
        .init(key: .unitValue, name: "Unit-Value", type: .grouped, mandatory: true),
        .init(key: .usedServiceUnit, name: "Used-Service-Unit", type: .grouped, mandatory: true),
        .init(key: .valueDigits, name: "Value-Digits", type: .integer64, mandatory: true),
        .init(key: .validityTime, name: "Validity-Time", type: .unsigned32, mandatory: true),
        .init(key: .finalUnitAction, name: "Final-Unit-Action", type: .enumerated, mandatory: true),
        .init(key: .subscriptionIDType, name: "Subscription-Id-Type", type: .enumerated, mandatory: true),
        .init(key: .tariffTimeChange, name: "Tariff-Time-Change", type: .time, mandatory: true),
        .init(key: .tariffChangeUsage, name: "Tariff-Change-Usage", type: .enumerated, mandatory: true),
        .init(key: .gSUPoolIdentifier, name: "G-S-U-Pool-Identifier", type: .unsigned32, mandatory: true),
        .init(key: .ccUnitType, name: "CC-Unit-Type", type: .enumerated, mandatory: true),
        .init(key: .multipleServicesIndicator, name: "Multiple-Services-Indicator", type: .enumerated, mandatory: true),
        .init(key: .multipleServicesCreditControl, name: "Multiple-Services-Credit-Control", type: .grouped, mandatory: true),
        .init(key: .gSUPoolReference, name: "G-S-U-Pool-Reference", type: .grouped, mandatory: true),
        .init(key: .userEquipmentInfo, name: "User-Equipment-Info", type: .grouped, mandatory: false),
        .init(key: .userEquipmentInfoType, name: "User-Equipment-Info-Type", type: .enumerated, mandatory: false),
        .init(key: .userEquipmentInfoValue, name: "User-Equipment-Info-Value", type: .octetString, mandatory: false),
        .init(key: .serviceContextID, name: "Service-Context-Id", type: .utf8String, mandatory: true),
        // 3GPP TS 29.061
        .init(key: .threeGPPIMSI, name: "3GPP-IMSI", type: .utf8String, mandatory: true),
        .init(key: .threeGPPChargingID, name: "3GPP-Charging-Id", type: .unsigned32, mandatory: true),
        .init(key: .threeGPPPDPType, name: "3GPP-PDP-Type", type: .enumerated, mandatory: true),
        .init(key: .threeGPPGGSNAddress, name: "3GPP-GGSN-Address", type: .octetString, mandatory: true),
        .init(key: .threeGPPIMSIMCCMNC, name: "3GPP-IMSI-MCC-MNC", type: .utf8String, mandatory: true),
        .init(key: .threeGPPGGSNMCCMNC, name: "3GPP-GGSN-MCC-MNC", type: .utf8String, mandatory: true),
        .init(key: .threeGPPNSAPI, name: "3GPP-NSAPI", type: .octetString, mandatory: true),
        .init(key: .threeGPPSelectionMode, name: "3GPP-Selection-Mode", type: .utf8String, mandatory: true),
        .init(key: .threeGPPChargingCharacteristics, name: "3GPP-Charging-Characteristics", type: .utf8String, mandatory: true),
        .init(key: .threeGPPSGSNMCCMNC, name: "3GPP-SGSN-MCC-MNC", type: .utf8String, mandatory: true),
        .init(key: .threeGPPIMEISV, name: "3GPP-IMEISV", type: .octetString, mandatory: true),
        .init(key: .threeGPPRATType, name: "3GPP-RAT-Type", type: .octetString, mandatory: true),
        .init(key: .threeGPPUserLocationInfo, name: "3GPP-User-Location-Info", type: .octetString, mandatory: true),
        .init(key: .threeGPPMSTimeZone, name: "3GPP-MS-TimeZone", type: .octetString, mandatory: true),
        // 3GPP TS 32.299
        .init(key: .eventType, name: "Event-Type", type: .grouped, mandatory: true),
        .init(key: .sipMethod, name: "SIP-Method", type: .utf8String, mandatory: true),
        .init(key: .event, name: "Event", type: .utf8String, mandatory: true),
        .init(key: .roleOfNode, name: "Role-Of-Node", type: .enumerated, mandatory: true),
        .init(key: .userSessionID, name: "User-Session-Id", type: .utf8String, mandatory: true),
        .init(key: .callingPartyAddress, name: "Calling-Party-Address", type: .utf8String, mandatory: true),
        .init(key: .calledPartyAddress, name: "Called-Party-Address", type: .utf8String, mandatory: true),
        .init(key: .imsChargingIdentifier, name: "IMS-Charging-Identifier", type: .utf8String, mandatory: true),
        .init(key: .ggsnAddress, name: "GGSN-Address", type: .address, mandatory: true),
        .init(key: .nodeFunctionality, name: "Node-Functionality", type: .enumerated, mandatory: true),
        .init(key: .serviceSpecificData, name: "Service-Specific-Data", type: .utf8String, mandatory: true),
        .init(key: .timeQuotaThreshold, name: "Time-Quota-Threshold", type: .unsigned32, mandatory: true),
        .init(key: .volumeQuotaThreshold, name: "Volume-Quota-Threshold", type: .unsigned32, mandatory: true),
        .init(key: .triggerType, name: "Trigger-Type", type: .enumerated, mandatory: true),
        .init(key: .quotaHoldingTime, name: "Quota-Holding-Time", type: .unsigned32, mandatory: true),
        .init(key: .reportingReason, name: "Reporting-Reason", type: .enumerated, mandatory: true),
        .init(key: .serviceInformation, name: "Service-Information", type: .grouped, mandatory: true),
        .init(key: .psInformation, name: "PS-Information", type: .grouped, mandatory: true),
        .init(key: .imsInformation, name: "IMS-Information", type: .grouped, mandatory: true),
        .init(key: .originatorAddress, name: "Originator-Address", type: .grouped, mandatory: true),
        .init(key: .addressData, name: "Address-Data", type: .utf8String, mandatory: true),
        .init(key: .addressDomain, name: "Address-Domain", type: .grouped, mandatory: true),
        .init(key: .addressType, name: "Address-Type", type: .enumerated, mandatory: true),
        .init(key: .chargingRuleBaseName, name: "Charging-Rule-Base-Name", type: .utf8String, mandatory: true),
        .init(key: .ratType, name: "RAT-Type", type: .enumerated, mandatory: false),
        .init(key: .recipientAddress, name: "Recipient-Address", type: .grouped, mandatory: false),
        .init(key: .submissionTime, name: "Submission-Time", type: .time, mandatory: false),
        .init(key: .pdpAddress, name: "PDP-Address", type: .address, mandatory: false),
        .init(key: .sgsnAddress, name: "SGSN-Address", type: .address, mandatory: false),
        .init(key: .serviceSpecificInfo, name: "Service-Specific-Info", type: .grouped, mandatory: false),
        .init(key: .serviceSpecificType, name: "Service-Specific-Type", type: .unsigned32, mandatory: false),
        .init(key: .trigger, name: "Trigger", type: .grouped, mandatory: false),
        .init(key: .smsInformation, name: "SMS-Information", type: .grouped, mandatory: false),
        .init(key: .dataCodingScheme, name: "Data-Coding-Scheme", type: .integer32, mandatory: false),
        .init(key: .smMessageType, name: "SM-Message-Type", type: .enumerated, mandatory: false),
        .init(key: .smsNode, name: "SMS-Node", type: .enumerated, mandatory: false),
        .init(key: .smscAddress, name: "SMSC-Address", type: .address, mandatory: false),
        .init(key: .numberOfMessagesSent, name: "Number-Of-Messages-Sent", type: .unsigned32, mandatory: false),
        .init(key: .recipientInfo, name: "Recipient-Info", type: .grouped, mandatory: false),
        .init(key: .originatorReceivedAddress, name: "Originator-Received-Address", type: .grouped, mandatory: false),
    ]
}

/// Lookup over `records`, built once (`standard` is a static let), so decoding never builds a table per message.
public struct DiameterDictionary: Sendable {
    public static let standard = DiameterDictionary(records: DiameterDictionary.records)

    private let byKey: [UInt64: DiameterAVPDefinition]

    public init(records: [DiameterAVPDefinition]) {
        var table: [UInt64: DiameterAVPDefinition] = [:]
        table.reserveCapacity(records.count)
        for record in records { table[record.key.packed] = record }
        byKey = table
    }

    public func definition(_ key: AVPKey) -> DiameterAVPDefinition? { byKey[key.packed] }

    public func definition(code: UInt32, vendorID: UInt32) -> DiameterAVPDefinition? {
        byKey[UInt64(vendorID) << 32 | UInt64(code)]
    }

    /// Every record, in no particular order.
    public var definitions: [DiameterAVPDefinition] { Array(byKey.values) }
}
