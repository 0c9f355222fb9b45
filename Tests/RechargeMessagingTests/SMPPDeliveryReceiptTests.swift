import Testing

@testable import RechargeMessaging

@Suite("SMPP delivery receipts")
struct SMPPDeliveryReceiptTests {
    @Test func standardReceiptTextIsRead() throws {
        let text =
            "id:0123456789 sub:001 dlvrd:001 submit date:2611231910 done date:2611231911 stat:DELIVRD err:000 text:Your top-up of"
        let receipt = try #require(SMPPDeliveryReceipt.parse(text: text))
        #expect(receipt.messageID == "0123456789")
        #expect(receipt.state == .delivered)
        #expect(receipt.submitted == 1)
        #expect(receipt.delivered == 1)
        #expect(receipt.submitDate == "2611231910")
        #expect(receipt.doneDate == "2611231911")
        #expect(receipt.errorCode == "000")
        #expect(receipt.text == "Your top-up of")
    }

    @Test func tlvsWinOverTheText() throws {
        let receipt = try #require(
            SMPPDeliveryReceipt.parse(
                text: "id:short stat:ENROUTE",
                tlvs: [
                    SMPPTLV(tag: SMPPTLV.receiptedMessageIDTag, value: Array("full-id-42".utf8) + [0]),
                    SMPPTLV(tag: SMPPTLV.messageStateTag, value: [5]),
                ]))
        #expect(receipt.messageID == "full-id-42")
        #expect(receipt.state == .undeliverable)
        #expect(receipt.state?.isFinal == true)
    }

    @Test func lowerCaseKeysAndFailureStates() throws {
        let receipt = try #require(SMPPDeliveryReceipt.parse(text: "ID:7 SUB:001 DLVRD:000 STAT:UNDELIV ERR:034"))
        #expect(receipt.messageID == "7")
        #expect(receipt.state == .undeliverable)
        #expect(receipt.errorCode == "034")
    }

    @Test func noMessageIDMeansNoReceipt() {
        #expect(SMPPDeliveryReceipt.parse(text: "stat:DELIVRD err:000") == nil)
    }
}
