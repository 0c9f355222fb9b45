import Testing

@testable import RechargeDiameter

@Suite("Diameter dictionary")
struct DiameterDictionaryTests {
    /// Every record as "Name code vendor type M-bit". Codes, vendors and names were checked one by one against the
    /// dictionary of python-diameter 0.9.0 (the peer the gateway tests use) and RFC 6733 §4.5 / RFC 4006 §8 / TS 32.299
    /// §7; this list pins them so a slip in the table fails here.
    static let expected: [String] = [
        "User-Name 1 0 utf8String M",
        "Proxy-State 33 0 octetString M",
        "Event-Timestamp 55 0 time M",
        "Host-IP-Address 257 0 address M",
        "Auth-Application-Id 258 0 unsigned32 M",
        "Acct-Application-Id 259 0 unsigned32 M",
        "Vendor-Specific-Application-Id 260 0 grouped M",
        "Session-Id 263 0 utf8String M",
        "Origin-Host 264 0 diameterIdentity M",
        "Supported-Vendor-Id 265 0 unsigned32 M",
        "Vendor-Id 266 0 unsigned32 M",
        "Firmware-Revision 267 0 unsigned32 -",
        "Result-Code 268 0 unsigned32 M",
        "Product-Name 269 0 utf8String -",
        "Disconnect-Cause 273 0 enumerated M",
        "Auth-Session-State 277 0 enumerated M",
        "Origin-State-Id 278 0 unsigned32 M",
        "Failed-AVP 279 0 grouped M",
        "Proxy-Host 280 0 diameterIdentity M",
        "Error-Message 281 0 utf8String -",
        "Route-Record 282 0 diameterIdentity M",
        "Destination-Realm 283 0 diameterIdentity M",
        "Proxy-Info 284 0 grouped M",
        "Re-Auth-Request-Type 285 0 enumerated M",
        "Destination-Host 293 0 diameterIdentity M",
        "Error-Reporting-Host 294 0 diameterIdentity -",
        "Termination-Cause 295 0 enumerated M",
        "Origin-Realm 296 0 diameterIdentity M",
        "Experimental-Result 297 0 grouped M",
        "Experimental-Result-Code 298 0 unsigned32 M",
        "Inband-Security-Id 299 0 unsigned32 M",
        "Filter-Id 11 0 utf8String M",
        "Called-Station-Id 30 0 utf8String M",
        "Calling-Station-Id 31 0 utf8String M",
        "CC-Correlation-Id 411 0 octetString -",
        "CC-Input-Octets 412 0 unsigned64 M",
        "CC-Money 413 0 grouped M",
        "CC-Output-Octets 414 0 unsigned64 M",
        "CC-Request-Number 415 0 unsigned32 M",
        "CC-Request-Type 416 0 enumerated M",
        "CC-Service-Specific-Units 417 0 unsigned64 M",
        "CC-Session-Failover 418 0 enumerated M",
        "CC-Sub-Session-Id 419 0 unsigned64 M",
        "CC-Time 420 0 unsigned32 M",
        "CC-Total-Octets 421 0 unsigned64 M",
        "Check-Balance-Result 422 0 enumerated M",
        "Cost-Information 423 0 grouped M",
        "Cost-Unit 424 0 utf8String M",
        "Currency-Code 425 0 unsigned32 M",
        "Credit-Control 426 0 enumerated M",
        "Credit-Control-Failure-Handling 427 0 enumerated M",
        "Direct-Debiting-Failure-Handling 428 0 enumerated M",
        "Exponent 429 0 integer32 M",
        "Final-Unit-Indication 430 0 grouped M",
        "Granted-Service-Unit 431 0 grouped M",
        "Rating-Group 432 0 unsigned32 M",
        "Redirect-Address-Type 433 0 enumerated M",
        "Redirect-Server 434 0 grouped M",
        "Redirect-Server-Address 435 0 utf8String M",
        "Requested-Action 436 0 enumerated M",
        "Requested-Service-Unit 437 0 grouped M",
        "Restriction-Filter-Rule 438 0 ipFilterRule M",
        "Service-Identifier 439 0 unsigned32 M",
        "Service-Parameter-Info 440 0 grouped -",
        "Service-Parameter-Type 441 0 unsigned32 -",
        "Service-Parameter-Value 442 0 octetString -",
        "Subscription-Id 443 0 grouped M",
        "Subscription-Id-Data 444 0 utf8String M",
        "Unit-Value 445 0 grouped M",
        "Used-Service-Unit 446 0 grouped M",
        "Value-Digits 447 0 integer64 M",
        "Validity-Time 448 0 unsigned32 M",
        "Final-Unit-Action 449 0 enumerated M",
        "Subscription-Id-Type 450 0 enumerated M",
        "Tariff-Time-Change 451 0 time M",
        "Tariff-Change-Usage 452 0 enumerated M",
        "G-S-U-Pool-Identifier 453 0 unsigned32 M",
        "CC-Unit-Type 454 0 enumerated M",
        "Multiple-Services-Indicator 455 0 enumerated M",
        "Multiple-Services-Credit-Control 456 0 grouped M",
        "G-S-U-Pool-Reference 457 0 grouped M",
        "User-Equipment-Info 458 0 grouped -",
        "User-Equipment-Info-Type 459 0 enumerated -",
        "User-Equipment-Info-Value 460 0 octetString -",
        "Service-Context-Id 461 0 utf8String M",
        "3GPP-IMSI 1 10415 utf8String M",
        "3GPP-Charging-Id 2 10415 unsigned32 M",
        "3GPP-PDP-Type 3 10415 enumerated M",
        "3GPP-GGSN-Address 7 10415 octetString M",
        "3GPP-IMSI-MCC-MNC 8 10415 utf8String M",
        "3GPP-GGSN-MCC-MNC 9 10415 utf8String M",
        "3GPP-NSAPI 10 10415 octetString M",
        "3GPP-Selection-Mode 12 10415 utf8String M",
        "3GPP-Charging-Characteristics 13 10415 utf8String M",
        "3GPP-SGSN-MCC-MNC 18 10415 utf8String M",
        "3GPP-IMEISV 20 10415 octetString M",
        "3GPP-RAT-Type 21 10415 octetString M",
        "3GPP-User-Location-Info 22 10415 octetString M",
        "3GPP-MS-TimeZone 23 10415 octetString M",
        "Event-Type 823 10415 grouped M",
        "SIP-Method 824 10415 utf8String M",
        "Event 825 10415 utf8String M",
        "Role-Of-Node 829 10415 enumerated M",
        "User-Session-Id 830 10415 utf8String M",
        "Calling-Party-Address 831 10415 utf8String M",
        "Called-Party-Address 832 10415 utf8String M",
        "IMS-Charging-Identifier 841 10415 utf8String M",
        "GGSN-Address 847 10415 address M",
        "Node-Functionality 862 10415 enumerated M",
        "Service-Specific-Data 863 10415 utf8String M",
        "Time-Quota-Threshold 868 10415 unsigned32 M",
        "Volume-Quota-Threshold 869 10415 unsigned32 M",
        "Trigger-Type 870 10415 enumerated M",
        "Quota-Holding-Time 871 10415 unsigned32 M",
        "Reporting-Reason 872 10415 enumerated M",
        "Service-Information 873 10415 grouped M",
        "PS-Information 874 10415 grouped M",
        "IMS-Information 876 10415 grouped M",
        "Originator-Address 886 10415 grouped M",
        "Address-Data 897 10415 utf8String M",
        "Address-Domain 898 10415 grouped M",
        "Address-Type 899 10415 enumerated M",
        "Charging-Rule-Base-Name 1004 10415 utf8String M",
        "RAT-Type 1032 10415 enumerated -",
        "Recipient-Address 1201 10415 grouped -",
        "Submission-Time 1202 10415 time -",
        "PDP-Address 1227 10415 address -",
        "SGSN-Address 1228 10415 address -",
        "Service-Specific-Info 1249 10415 grouped -",
        "Service-Specific-Type 1257 10415 unsigned32 -",
        "Trigger 1264 10415 grouped -",
        "SMS-Information 2000 10415 grouped -",
        "Data-Coding-Scheme 2001 10415 integer32 -",
        "SM-Message-Type 2007 10415 enumerated -",
        "SMS-Node 2016 10415 enumerated -",
        "SMSC-Address 2017 10415 address -",
        "Number-Of-Messages-Sent 2019 10415 unsigned32 -",
        "Recipient-Info 2026 10415 grouped -",
        "Originator-Received-Address 2027 10415 grouped -",
    ]

    @Test func everyRecordHasItsCodeVendorTypeAndMBit() {
        let dictionary = DiameterDictionary.standard
        #expect(DiameterDictionary.records.count == Self.expected.count)
        for line in Self.expected {
            let parts = line.split(separator: " ").map(String.init)
            let key = AVPKey(UInt32(parts[1])!, vendor: UInt32(parts[2])!)
            let definition = dictionary.definition(key)
            #expect(definition?.name == parts[0], "\(line)")
            #expect(definition?.type.rawValue.lowercased() == parts[3].lowercased(), "\(line)")
            #expect(definition?.mandatory == (parts[4] == "M"), "\(line)")
        }
    }

    @Test func keysAndNamesAreUnique() {
        let records = DiameterDictionary.records
        #expect(Set(records.map(\.key)).count == records.count)
        #expect(Set(records.map(\.name)).count == records.count)
    }

    @Test func theBriefsAVPsAreAllThere() {
        let required: [(UInt32, UInt32)] = [
            (263, 0), (264, 0), (296, 0), (293, 0), (283, 0), (268, 0), (258, 0), (257, 0), (266, 0), (269, 0), (265, 0), (260, 0),
            (278, 0), (279, 0), (281, 0), (273, 0), (285, 0), (267, 0), (416, 0), (415, 0), (461, 0), (443, 0), (450, 0), (444, 0),
            (456, 0), (432, 0), (439, 0), (437, 0), (431, 0), (446, 0), (420, 0), (421, 0), (412, 0), (414, 0), (417, 0), (448, 0),
            (430, 0), (449, 0), (434, 0), (433, 0), (435, 0), (436, 0), (55, 0), (455, 0), (295, 0), (872, 10415), (873, 10415),
            (874, 10415), (18, 10415), (876, 10415), (832, 10415), (2000, 10415), (2026, 10415), (1201, 10415), (897, 10415), (22, 10415),
        ]
        for (code, vendor) in required {
            #expect(DiameterDictionary.standard.definition(code: code, vendorID: vendor) != nil, "AVP \(code)/\(vendor)")
        }
    }

    @Test func fixedLengthsFollowTheTypes() {
        #expect(DiameterAVPType.unsigned32.fixedLength == 4 && DiameterAVPType.enumerated.fixedLength == 4)
        #expect(DiameterAVPType.time.fixedLength == 4 && DiameterAVPType.unsigned64.fixedLength == 8)
        #expect(DiameterAVPType.grouped.fixedLength == nil && DiameterAVPType.address.fixedLength == nil)
    }

    @Test func buildersUseTheDictionarysMBitAndTheVendorBit() {
        #expect(DiameterAVP.utf8(.productName, "x").flags == [])
        #expect(DiameterAVP.utf8(.originHost, "x").flags == [.mandatory])
        #expect(DiameterAVP.utf8(.threeGPPSGSNMCCMNC, "x").flags == [.vendorSpecific, .mandatory])
        #expect(DiameterAVP.grouped(.smsInformation, []).flags == [.vendorSpecific])
    }
}
