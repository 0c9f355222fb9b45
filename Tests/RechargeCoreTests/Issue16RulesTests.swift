import Foundation
import Testing

@testable import RechargeCore

/// The pure rules of issue 16 (items 2 and 6): a card number as typed, the auto-renew switch, and which numbers may
/// receive a line's SMS.
@Suite("Card numbers, the auto-renew switch, SMS destinations")
struct Issue16RulesTests {
    @Test func cardNumbersAreTypedAsPrinted() throws {
        #expect(try VoucherSerial.parse(typed: "1000000042") == 1_000_000_042)
        #expect(try VoucherSerial.parse(typed: "1000 000-042") == 1_000_000_042)
        #expect(try VoucherSerial.parse(typed: " 0001000000042 ") == 1_000_000_042)   // leading zeros are not digits that count
        #expect(try VoucherSerial.parse(typed: "999999999999999999") == 999_999_999_999_999_999)
        #expect(throws: VoucherError.malformedSerial("a card number has only digits")) { try VoucherSerial.parse(typed: "10O0") }
        #expect(throws: VoucherError.malformedSerial("a card number has only digits")) { try VoucherSerial.parse(typed: "１０００") }   // full-width
        #expect(throws: VoucherError.malformedSerial("the card number is empty")) { try VoucherSerial.parse(typed: " - ") }
        #expect(throws: VoucherError.malformedSerial("no card has number 0")) { try VoucherSerial.parse(typed: "000") }
        #expect(throws: VoucherError.malformedSerial("a card number has at most 18 digits")) { try VoucherSerial.parse(typed: "1000000000000000000") }
        #expect(VoucherError.malformedSerial("x").code == "malformed-voucher-serial")
    }

    @Test func theSwitch() {
        let now = Date(timeIntervalSince1970: 1_800_000_000)
        let later = now.addingTimeInterval(86_400)
        #expect(PackRenewalSwitch.turnOff(state: .active) == .success(.cancelled))
        #expect(PackRenewalSwitch.turnOff(state: .cancelled) == .success(.cancelled))
        #expect(PackRenewalSwitch.turnOff(state: .failed) == .failure(.failed))
        #expect(PackRenewalSwitch.turnOn(state: .cancelled, validUntil: later, refunded: false, now: now) == .success(.active))
        #expect(PackRenewalSwitch.turnOn(state: .active, validUntil: later, refunded: false, now: now) == .success(.active))
        #expect(PackRenewalSwitch.turnOn(state: .cancelled, validUntil: now, refunded: false, now: now) == .failure(.periodOver))
        #expect(PackRenewalSwitch.turnOn(state: .cancelled, validUntil: later, refunded: true, now: now) == .failure(.refunded))
        #expect(PackRenewalSwitch.turnOn(state: .failed, validUntil: later, refunded: false, now: now) == .failure(.failed))
    }

    @Test func smsGoesOnlyToNumbersTheAccountHolds() throws {
        let a = try MSISDN("+14155550100"), b = try MSISDN("+14155550101"), phone = try MSISDN("+8613800138000"), stranger = try MSISDN("+14155550177")
        #expect(try SMSNoticeDestination.resolve(a, line: a, accountLines: [a, b], verifiedPhone: nil) == nil)
        #expect(try SMSNoticeDestination.resolve(b, line: a, accountLines: [a, b], verifiedPhone: nil) == b)
        #expect(try SMSNoticeDestination.resolve(phone, line: a, accountLines: [a, b], verifiedPhone: phone) == phone)
        #expect(throws: AccountError.smsNumberNotVerified(stranger.e164)) {
            try SMSNoticeDestination.resolve(stranger, line: a, accountLines: [a, b], verifiedPhone: phone)
        }
        #expect(throws: AccountError.lineNotOnAccount(stranger.e164)) {
            try SMSNoticeDestination.resolve(a, line: stranger, accountLines: [a, b], verifiedPhone: phone)
        }
        #expect(SMSNoticeDestination.choices(line: b, accountLines: [a, b], verifiedPhone: a) == [b, a])
        #expect(SMSNoticeDestination.choices(line: a, accountLines: [a, b], verifiedPhone: phone) == [a, b, phone])
    }
}
