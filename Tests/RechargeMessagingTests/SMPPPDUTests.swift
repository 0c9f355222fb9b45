import NIOCore
import Testing

@testable import RechargeMessaging

@Suite("SMPP PDU codec")
struct SMPPPDUTests {
    func roundTrip(_ pdu: SMPPPDU) throws -> SMPPPDU {
        var buffer = ByteBuffer()
        pdu.encode(into: &buffer)
        #expect(buffer.getInteger(at: 0, as: UInt32.self) == UInt32(buffer.readableBytes))
        let decoded = try #require(try SMPPPDU.decode(from: &buffer))
        #expect(buffer.readableBytes == 0)
        return decoded
    }

    @Test func enquireLinkIsJustTheHeader() {
        var buffer = ByteBuffer()
        SMPPPDU(.enquireLink, sequenceNumber: 7).encode(into: &buffer)
        #expect(Array(buffer.readableBytesView) == [0, 0, 0, 16, 0, 0, 0, 0x15, 0, 0, 0, 0, 0, 0, 0, 7])
    }

    @Test func bindTransceiverHasTheSpecifiedLayout() throws {
        var buffer = ByteBuffer()
        SMPPPDU(.bindTransceiver(SMPPBind(systemID: "esme", password: "pw", systemType: "")), sequenceNumber: 1)
            .encode(into: &buffer)
        let bytes = Array(buffer.readableBytesView)
        #expect(bytes[4..<8] == [0, 0, 0, 9])
        #expect(Array(bytes[16...]) == Array("esme".utf8) + [0] + Array("pw".utf8) + [0, 0, 0x34, 0, 0, 0])
    }

    @Test func everyBodyRoundTrips() throws {
        var message = SMPPShortMessage()
        message.sourceAddress = "Recharge"
        message.sourceAddressTON = 5
        message.destinationAddress = "8613800138000"
        message.esmClass = 0x40
        message.dataCoding = 8
        message.registeredDelivery = 1
        message.shortMessage = [0x05, 0x00, 0x03, 0x01, 0x02, 0x01, 0x51, 0x45]
        message.tlvs = [SMPPTLV(tag: 0x0204, value: [0, 42])]
        let bodies: [SMPPPDU.Body] = [
            .bindTransceiver(SMPPBind(systemID: "esme", password: "secret", systemType: "OTA")),
            .bindTransceiverResp(systemID: "SMSC", tlvs: [SMPPTLV(tag: SMPPTLV.scInterfaceVersionTag, value: [0x34])]),
            .enquireLink, .enquireLinkResp, .submitSM(message), .submitSMResp(messageID: "abc123"),
            .deliverSM(message), .deliverSMResp(messageID: ""), .unbind, .unbindResp, .genericNack,
            .other(commandID: 0x0000_0103, body: [1, 2, 3]),
        ]
        for (index, body) in bodies.enumerated() {
            let pdu = SMPPPDU(body, sequenceNumber: UInt32(index + 1), status: index == 10 ? .invalidCommandID : .ok)
            #expect(try roundTrip(pdu) == pdu)
        }
    }

    @Test func incompleteBytesWaitAndConsumeNothing() throws {
        var full = ByteBuffer()
        SMPPPDU(.submitSMResp(messageID: "id-1"), sequenceNumber: 3).encode(into: &full)
        var partial = full.getSlice(at: 0, length: full.readableBytes - 1)!
        #expect(try SMPPPDU.decode(from: &partial) == nil)
        #expect(partial.readerIndex == 0)
        var header = full.getSlice(at: 0, length: 3)!
        #expect(try SMPPPDU.decode(from: &header) == nil)
    }

    @Test func twoPDUsInOneReadComeOutInOrder() throws {
        var buffer = ByteBuffer()
        SMPPPDU(.enquireLink, sequenceNumber: 1).encode(into: &buffer)
        SMPPPDU(.unbind, sequenceNumber: 2).encode(into: &buffer)
        #expect(try SMPPPDU.decode(from: &buffer)?.body == .enquireLink)
        #expect(try SMPPPDU.decode(from: &buffer)?.body == .unbind)
        #expect(try SMPPPDU.decode(from: &buffer) == nil)
    }

    @Test func absurdCommandLengthIsAnError() {
        var buffer = ByteBuffer(bytes: [0, 0, 0, 8, 0, 0, 0, 0x15, 0, 0, 0, 0, 0, 0, 0, 1])
        #expect(throws: SMPPDecodingError.invalidCommandLength(8)) { try SMPPPDU.decode(from: &buffer) }
    }

    @Test func failedBindResponseMayHaveNoBody() throws {
        var buffer = ByteBuffer(bytes: [0, 0, 0, 16, 0x80, 0, 0, 0x09, 0, 0, 0, 0x0E, 0, 0, 0, 1])
        let pdu = try #require(try SMPPPDU.decode(from: &buffer))
        #expect(pdu.status == .invalidPassword)
        #expect(pdu.body == .bindTransceiverResp(systemID: "", tlvs: []))
    }

    @Test func bindResponseWithSixteenCharacterSystemIDIsAccepted() throws {
        // smpp34's SMSC answers with such a system_id; the specification allows 15 characters.
        var buffer = ByteBuffer()
        SMPPPDU(.bindTransceiverResp(systemID: "RechargeTestSMSC", tlvs: []), sequenceNumber: 1).encode(into: &buffer)
        #expect(try SMPPPDU.decode(from: &buffer)?.body == .bindTransceiverResp(systemID: "RechargeTestSMSC", tlvs: []))
    }

    @Test func overlongCOctetStringIsRejected() {
        var bind = SMPPBind(systemID: String(repeating: "x", count: 20), password: "", systemType: "")
        bind.addressRange = ""
        var buffer = ByteBuffer()
        SMPPPDU(.bindTransceiver(bind), sequenceNumber: 1).encode(into: &buffer)
        #expect(throws: SMPPDecodingError.fieldTooLong(field: "system_id", maximum: 16)) {
            try SMPPPDU.decode(from: &buffer)
        }
    }

    @Test func sequenceNumbersWrapWithinThirtyOneBits() {
        var numbers = SMPPSequenceNumbers(startingAfter: SMPPSequenceNumbers.maximum - 1)
        #expect(numbers.next() == 0x7FFF_FFFF)
        #expect(numbers.next() == 1)
        #expect(numbers.next() == 2)
    }

    @Test func statusesSayWhatIsTransient() {
        #expect(SMPPCommandStatus.throttled.asksForBackOff)
        #expect(SMPPCommandStatus.messageQueueFull.asksForBackOff)
        #expect(!SMPPCommandStatus.invalidDestinationAddress.isTransient)
        #expect(SMPPError.rejected(status: .invalidDestinationAddress, part: 1).isPermanent)
        #expect(SMPPError.connectionLost(part: 1).isTransient)
        #expect(SMPPError.invalidText(.tooManyParts(needed: 300)).isPermanent)
        #expect(SMPPCommandStatus.throttled.description == "ESME_RTHROTTLED (0x58)")
    }
}
