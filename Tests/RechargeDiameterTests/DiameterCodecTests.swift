import NIOCore
import Testing

@testable import RechargeDiameter

/// Bytes from a hex string with spaces and newlines for readability.
func hex(_ text: String) -> [UInt8] {
    let digits = text.filter(\.isHexDigit)
    var bytes: [UInt8] = []
    var index = digits.startIndex
    while index < digits.endIndex {
        let next = digits.index(index, offsetBy: 2)
        bytes.append(UInt8(digits[index..<next], radix: 16)!)
        index = next
    }
    return bytes
}

func encoded(_ message: DiameterMessage) -> [UInt8] { Array(DiameterCodec.encode(message).readableBytesView) }

func decode(_ bytes: [UInt8]) throws(DiameterDecodeError) -> DiameterMessage {
    try DiameterCodec.decode(ByteBuffer(bytes: bytes))
}

/// A CCR-U laid out by hand from RFC 6733 §3/§4.1 and RFC 4006 §3.1, every length counted: the header, base AVPs
/// (8-byte AVP headers, M bit 0x40), a Subscription-Id, an MSCC with RSU, USU (+ 3GPP Reporting-Reason, V bit and
/// vendor 10415) and Rating-Group, and Service-Information/PS-Information/3GPP-SGSN-MCC-MNC "44010" (17 → 20 padded).
let handCCR = hex("""
    01 000128 C0 000110 00000004 00000001 00000002
    00000107 40 00000B 733B31 00
    00000108 40 00000A 6777 0000
    00000128 40 00000E 65782E636F6D 0000
    0000011B 40 00000B 6F6373 00
    00000102 40 00000C 00000004
    000001CD 40 000016 3332323531403367 70702E6F7267 0000
    000001A0 40 00000C 00000002
    0000019F 40 00000C 00000001
    000001BB 40 00002C
       000001C2 40 00000C 00000000
       000001BC 40 000015 38363133383030313338303030 000000
    000001C8 40 00004C
       000001B5 40 000014
          000001A4 40 00000C 0000003C
       000001BE 40 000024
          000001A4 40 00000C 0000001E
          00000368 C0 000010 000028AF 00000003
       000001B0 40 00000C 0000000A
    00000369 C0 00002C 000028AF
       0000036A C0 000020 000028AF
          00000012 C0 000011 000028AF 3434303130 000000
    """)

@Suite("Diameter codec")
struct DiameterCodecTests {
    /// A CER laid out by hand (RFC 6733 §5.3.1): 20-byte header with R set and command 257, then Origin-Host "gw"
    /// (10 → 12), Origin-Realm "ex.com" (14 → 16), Host-IP-Address family 1 + 127.0.0.1 (14 → 16), Vendor-Id 0,
    /// Product-Name "R" without the M bit (9 → 12), Auth-Application-Id 4: 100 bytes.
    @Test func capabilitiesExchangeRequestHasTheRFCLayout() {
        let cer = DiameterMessage(
            flags: .request, commandCode: 257, applicationID: 0, hopByHopID: 0x1122_3344, endToEndID: 0x5566_7788,
            avps: [
                .utf8(.originHost, "gw"), .utf8(.originRealm, "ex.com"), .address(.hostIPAddress, DiameterAddress(ipv4: "127.0.0.1")!),
                .unsigned32(.vendorID, 0), .utf8(.productName, "R"), .unsigned32(.authApplicationID, 4),
            ])
        #expect(encoded(cer) == hex("""
            01 000064 80 000101 00000000 11223344 55667788
            00000108 40 00000A 6777 0000
            00000128 40 00000E 65782E636F6D 0000
            00000101 40 00000E 0001 7F000001 0000
            0000010A 40 00000C 00000000
            0000010D 00 000009 52 000000
            00000102 40 00000C 00000004
            """))
    }

    @Test func theHandMadeCCRDecodesToTheTypedRequestAndEncodesBackByteForByte() throws {
        #expect(handCCR.count == 0x128)
        let message = try decode(handCCR)
        #expect(message.isRequest && message.flags.contains(.proxiable))
        #expect(message.commandCode == 272 && message.applicationID == 4 && message.hopByHopID == 1 && message.endToEndID == 2)
        let request = try CreditControlRequest(message: message)
        #expect(request.sessionID == "s;1")
        #expect(request.originHost == "gw" && request.originRealm == "ex.com" && request.destinationRealm == "ocs")
        #expect(request.serviceContextID == "32251@3gpp.org")
        #expect(request.requestType == .update && request.requestNumber == 1)
        #expect(request.subscriptionIDs == [SubscriptionID(type: .e164, data: "8613800138000")])
        #expect(request.msisdn == "8613800138000")
        #expect(request.visitedNetwork == "44010")
        #expect(request.services == [
            MSCCRequest(
                ratingGroup: 10, requested: ServiceUnits(time: 60),
                used: [UsedServiceUnit(units: ServiceUnits(time: 30), reportingReason: .quotaExhausted)]),
        ])
        #expect(encoded(request.message(hopByHopID: 1, endToEndID: 2)) == handCCR)
    }

    @Test func everyCCRFieldRoundTrips() throws {
        let request = CreditControlRequest(
            sessionID: "pgw.example;1;2", originHost: "pgw.example", originRealm: "example", destinationRealm: "ocs.example",
            destinationHost: "ocs1.ocs.example", serviceContextID: "32274@3gpp.org", requestType: .event, requestNumber: 0,
            userName: "alice", subscriptionIDs: [SubscriptionID(type: .e164, data: "8613800138000"), SubscriptionID(type: .imsi, data: "460001234567890")],
            eventTimestamp: DiameterTime(unixSeconds: 1_780_000_000), requestedAction: .directDebiting, multipleServicesIndicator: true,
            terminationCause: 1, visitedNetwork: "44010", userLocationInfo: [0x82, 0x44, 0xF0, 0x10],
            calledParty: CalledParty(raw: "+8613900139000", source: .sms),
            services: [
                MSCCRequest(ratingGroup: 1, serviceIdentifiers: [5, 6], requested: ServiceUnits(), reportingReason: .final),
                MSCCRequest(
                    ratingGroup: 2, requested: ServiceUnits(totalOctets: 1 << 40, inputOctets: 3, outputOctets: 4, serviceSpecificUnits: 1),
                    used: [UsedServiceUnit(units: ServiceUnits(time: 1)), UsedServiceUnit(units: ServiceUnits(totalOctets: 9), reportingReason: .validityTime)]),
            ],
            requested: ServiceUnits(time: 7), used: [UsedServiceUnit(units: ServiceUnits(serviceSpecificUnits: 1))], hopByHopID: 9, endToEndID: 10)
        let decoded = try CreditControlRequest(message: try decode(encoded(request.message(hopByHopID: 9, endToEndID: 10))))
        #expect(decoded == request)
        #expect(decoded.eventTimestamp?.unixSeconds == 1_780_000_000)
        #expect(decoded.services[0].requested?.isEmpty == true)
        #expect(decoded.calledParty?.normalized == "+8613900139000")
    }

    @Test func theCCAEchoesTheRequestAndCarriesGrantsAndTheFinalUnit() throws {
        let request = try CreditControlRequest(message: try decode(handCCR))
        let answer = CreditControlAnswer(
            resultCode: .success,
            services: [
                MSCCAnswer(
                    ratingGroup: 10, resultCode: .success, granted: ServiceUnits(time: 60), validityTime: 3600,
                    finalUnit: FinalUnitIndication(action: .redirect, redirectServer: RedirectServer(address: "https://top.up/"))),
                MSCCAnswer(ratingGroup: 11, resultCode: .creditLimitReached),
            ],
            validityTime: 600, errorMessage: nil)
        let identity = DiameterIdentity(originHost: "ocs1", originRealm: "ocs")
        let message = answer.message(answering: request, identity: identity)
        #expect(!message.isRequest && message.flags.contains(.proxiable) && !message.flags.contains(.error))
        #expect(message.hopByHopID == 1 && message.endToEndID == 2 && message.commandCode == 272 && message.applicationID == 4)
        #expect(message.avps.first?.code == AVPKey.sessionID.code)  // Session-Id first (RFC 6733 §8.8)
        let decoded = try CreditControlAnswer(message: try decode(encoded(message)))
        #expect(decoded.sessionID == "s;1" && decoded.requestType == .update && decoded.requestNumber == 1)
        #expect(decoded.resultCode == .success && decoded.validityTime == 600)
        #expect(decoded.services == answer.services)
        let fui = try #require(try decode(encoded(message)).all(.multipleServicesCreditControl).first?.first(.finalUnitIndication))
        #expect(fui.first(.redirectServer)?.first(.redirectAddressType)?.unsigned32 == 2)
        #expect(fui.first(.finalUnitAction)?.unsigned32 == 1)
    }

    @Test func reAuthRequestAndAnswer() throws {
        let rar = ReAuthRequest(sessionID: "s;1", originHost: "ocs1", originRealm: "ocs", destinationRealm: "ex.com", destinationHost: "gw")
        let message = try decode(encoded(rar.message(hopByHopID: 5, endToEndID: 6)))
        #expect(message.commandCode == 258 && message.applicationID == 4 && message.isRequest)
        #expect(message.first(.reAuthRequestType)?.unsigned32 == 0)
        #expect(try ReAuthRequest(message: message) == rar)
        let raa = DiameterIdentity(originHost: "gw", originRealm: "ex.com").answer(to: message.header, requestAVPs: message.avps, code: .success)
        let answer = try ReAuthAnswer(message: try decode(encoded(raa)))
        #expect(answer.resultCode == .success && answer.sessionID == "s;1")
    }

    @Test func typedValuesAndPadding() throws {
        let avps: [DiameterAVP] = [
            .integer32(.exponent, -2), .integer64(.valueDigits, -123_456_789_012), .unsigned64(.ccTotalOctets, .max),
            .time(.eventTimestamp, DiameterTime(unixSeconds: 0)), .octets(.threeGPPUserLocationInfo, [1, 2, 3]),
            .address(.hostIPAddress, DiameterAddress(family: 2, bytes: Array(repeating: 0xAB, count: 16))),
            .utf8(.errorMessage, "中文"),
        ]
        let message = DiameterMessage(flags: [], commandCode: 280, applicationID: 0, avps: avps)
        let bytes = encoded(message)
        #expect(bytes.count % 4 == 0)
        let decoded = try decode(bytes)
        #expect(decoded.avps[0].integer32 == -2)
        #expect(decoded.avps[1].integer64 == -123_456_789_012)
        #expect(decoded.avps[2].unsigned64 == .max)
        #expect(decoded.avps[3].time?.ntpSeconds == 2_208_988_800 && decoded.avps[3].time?.unixSeconds == 0)
        #expect(decoded.avps[4].octets == [1, 2, 3])
        #expect(decoded.avps[5].address == DiameterAddress(family: 2, bytes: Array(repeating: 0xAB, count: 16)))
        #expect(decoded.avps[6].utf8 == "中文")
        #expect(decoded.avps[4].flags == [.vendorSpecific, .mandatory] && decoded.avps[4].vendorID == 10415)
        #expect(decoded.avps[6].flags == [])
        // 2036 and later: NTP era 1 (values below 2^31).
        #expect(DiameterTime(unixSeconds: 2_200_000_000).unixSeconds == 2_200_000_000)
    }

    @Test func calledPartyNormalisation() {
        #expect(CalledParty.normalize("tel:+86 138-0013-8000") == "+8613800138000")
        #expect(CalledParty.normalize("sip:+8613800138000@ims.example;user=phone") == "+8613800138000")
        #expect(CalledParty.normalize("tel:13800138000;phone-context=+86") == "13800138000")
        #expect(CalledParty.normalize("+1 (555) 010.0000") == "+15550100000")
        #expect(CalledParty.normalize("sip:alice@example.org") == nil)
        #expect(CalledParty.normalize("tel:") == nil)
        #expect(CalledParty.normalize("12+3") == nil)
    }

    // MARK: Malformed input

    @Test func anAVPShorterThanItsHeaderIs5014() {
        // Length field 4 (< 8).
        let bytes = hex("01 00001C 80 000118 00000000 00000001 00000001 00000108 40 000004")
        let error = #expect(throws: DiameterDecodeError.self) { try decode(bytes) }
        #expect(error?.resultCode == .invalidAVPLength)
        #expect(error?.failedAVP?.code == 264)
        #expect(error?.header?.hopByHopID == 1)
    }

    @Test func anAVPLengthPastTheEndIs5014WithTheAVPInFailedAVP() {
        let bytes = hex("01 000020 80 000118 00000000 00000001 00000001 00000108 40 0000FF 6777 0000")
        let error = #expect(throws: DiameterDecodeError.self) { try decode(bytes) }
        #expect(error?.resultCode == .invalidAVPLength)
        #expect(error?.failedAVP?.code == 264)
    }

    @Test func aTruncatedAVPHeaderIs5014() {
        let bytes = hex("01 000018 80 000118 00000000 00000001 00000001 00000108")
        #expect(throws: DiameterDecodeError.self) { try decode(bytes) }
    }

    @Test func aFixedSizeAVPOfTheWrongSizeIs5014() {
        // Result-Code (Unsigned32) with 2 data bytes.
        let bytes = hex("01 000020 00 000118 00000000 00000001 00000001 0000010C 40 00000A 0001 0000")
        let error = #expect(throws: DiameterDecodeError.self) { try decode(bytes) }
        #expect(error?.resultCode == .invalidAVPLength && error?.failedAVP?.code == 268)
    }

    @Test func anUnknownAVPWithTheMBitIs5001AndWithoutItIsKept() throws {
        // Session-Id then unknown AVP 99999 with M.
        let withM = hex("01 00002C C0 000110 00000004 00000001 00000001 00000107 40 00000B 733B31 00 0001869F 40 00000C 00000001")
        let error = #expect(throws: DiameterDecodeError.self) { try decode(withM) }
        #expect(error?.resultCode == .avpUnsupported)
        #expect(error?.failedAVP?.code == 99_999)
        #expect(error?.partial.first?.utf8 == "s;1")  // so the answer can carry the Session-Id
        var withoutM = withM
        withoutM[36] = 0x00
        let message = try decode(withoutM)
        #expect(message.avps.count == 2 && message.avps[1].octets == [0, 0, 0, 1])
        // Inside a Grouped AVP the same rule applies: an unknown vendor AVP with M inside Service-Information.
        let nested = hex("01 000030 C0 000110 00000004 00000001 00000001 00000369 C0 00001C 000028AF 0000FFFF C0 000010 000028AF 00000000")
        let nestedError = #expect(throws: DiameterDecodeError.self) { try decode(nested) }
        #expect(nestedError?.resultCode == .avpUnsupported && nestedError?.failedAVP?.key == AVPKey(0xFFFF, vendor: 10415))
    }

    @Test func headerBitsLengthAndVersion() {
        let reserved = hex("01 000014 81 000118 00000000 00000001 00000001")
        #expect((#expect(throws: DiameterDecodeError.self) { try decode(reserved) })?.resultCode == .invalidHeaderBits)
        let requestWithError = hex("01 000014 A0 000118 00000000 00000001 00000001")
        #expect((#expect(throws: DiameterDecodeError.self) { try decode(requestWithError) })?.resultCode == .invalidHeaderBits)
        let version2 = hex("02 000014 80 000118 00000000 00000001 00000001")
        #expect((#expect(throws: DiameterDecodeError.self) { try decode(version2) })?.resultCode == .unsupportedVersion)
        let mismatch = hex("01 000018 80 000118 00000000 00000001 00000001")
        #expect((#expect(throws: DiameterDecodeError.self) { try decode(mismatch) })?.resultCode == .invalidMessageLength)
    }

    @Test func missingAndInvalidCCRFieldsAreTyped() throws {
        var message = try decode(handCCR)
        message.avps.removeAll { $0.code == AVPKey.serviceContextID.code }
        let missing = #expect(throws: DiameterDecodeError.self) { try CreditControlRequest(message: message) }
        #expect(missing?.resultCode == .missingAVP && missing?.failedAVP?.code == 461)
        var invalid = try decode(handCCR)
        let index = try #require(invalid.avps.firstIndex { $0.code == AVPKey.ccRequestType.code })
        invalid.avps[index] = .enumerated(.ccRequestType, 9)
        let error = #expect(throws: DiameterDecodeError.self) { try CreditControlRequest(message: invalid) }
        #expect(error?.resultCode == .invalidAVPValue && error?.failedAVP?.code == 416)
    }
}

@Suite("Diameter codec: Failed-AVP")
struct DiameterFailedAVPTests {
    /// An answer reporting an unknown M-bit AVP or a malformed one must itself decode.
    @Test func failedAVPContentIsNotValidated() throws {
        let identity = DiameterIdentity(originHost: "ocs", originRealm: "r")
        let header = DiameterHeader(flags: .request, commandCode: 272, applicationID: 4, hopByHopID: 1, endToEndID: 1)
        for failed in [
            DiameterAVP(code: 99_999, flags: .mandatory, vendorID: 0, value: .unsigned32(1)),
            DiameterAVP(.resultCode, .octets([0, 1])),  // Unsigned32 of two bytes
            DiameterAVP(.subscriptionID, .octets([1, 2, 3, 4, 5, 6, 7, 8, 9])),  // Grouped whose data is not AVPs
        ] {
            let answer = identity.answer(to: header, requestAVPs: [], code: .avpUnsupported, failedAVP: failed)
            let decoded = try decode(encoded(answer))
            #expect(decoded.first(.failedAVP)?.members.first?.code == failed.code)
        }
    }
}

@Suite("Diameter CCR details")
struct DiameterCCRDetailTests {
    func request(location: [UInt8]?, sgsn: String? = nil) -> CreditControlRequest {
        CreditControlRequest(
            sessionID: "s", originHost: "h", originRealm: "r", destinationRealm: "d", serviceContextID: "32251@3gpp.org",
            requestType: .initial, requestNumber: 0, visitedNetwork: sgsn, userLocationInfo: location)
    }

    /// TS 24.008 §10.5.1.3: MCC digits 2|1, MNC digit 3 | MCC digit 3, MNC digits 2|1.
    @Test func theServingPLMNComesFromTheSGSNOrTheUserLocation() {
        // TAI+ECGI (130), MCC 440 MNC 10: 0x44, 0xF0, 0x01.
        #expect(request(location: [130, 0x44, 0xF0, 0x01, 0, 1, 0, 0, 0, 0, 0, 0, 0]).locationPLMN == "44010")
        // ECGI (129), MCC 310 MNC 410 (three digits): 0x13, 0x00, 0x14.
        #expect(request(location: [129, 0x13, 0x00, 0x14, 0, 0, 0, 0]).locationPLMN == "310410")
        #expect(request(location: [130, 0x44, 0xF0, 0x01], sgsn: "46000").servingNetwork == "46000")
        #expect(request(location: [130, 0x44, 0xF0, 0x01]).servingNetwork == "44010")
        #expect(request(location: [3, 0x44, 0xF0, 0x01]).locationPLMN == nil)  // unknown location type
        #expect(request(location: [130, 0xAB, 0xF0, 0x01]).locationPLMN == nil)  // not BCD
        #expect(request(location: [130, 0x44]).locationPLMN == nil)
        #expect(request(location: nil).servingNetwork == nil)
    }

    /// 20,000 mutations of the hand-made CCR (a byte changed, the message cut short, lengths rewritten): each either
    /// decodes or throws a typed error; never a crash, never a read past the buffer.
    @Test func mutatedMessagesNeverCrashTheDecoder() {
        var generator = SystemRandomNumberGenerator()
        var decoded = 0
        var refused = 0
        for round in 0..<20_000 {
            var bytes = handCCR
            switch round % 3 {
            case 0: bytes[Int.random(in: 20..<bytes.count, using: &generator)] = UInt8.random(in: 0...255, using: &generator)
            case 1: bytes = Array(bytes.prefix(Int.random(in: 20..<bytes.count, using: &generator)))
            default:
                // An AVP length byte somewhere rewritten.
                let at = Int.random(in: 20..<bytes.count - 1, using: &generator)
                bytes[at] = UInt8.random(in: 0...255, using: &generator)
                bytes[at + 1] = UInt8.random(in: 0...255, using: &generator)
            }
            do {
                let message = try decode(bytes)
                _ = try? CreditControlRequest(message: message)
                decoded += 1
            } catch {
                #expect(error.resultCode.rawValue >= 3000)
                refused += 1
            }
        }
        #expect(decoded + refused == 20_000 && refused > 0)
    }
}
