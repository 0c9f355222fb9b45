import Foundation
import RechargeCore
import RechargeMessaging
@testable import RechargeNotifications
import Testing

@Suite("IVR/USSD voucher messages")
struct VoucherChannelMessageTests {
    static let now = Date(timeIntervalSince1970: 1_800_000_000)

    /// Every message with the longest values it can take: the largest balances a line shows, the longest lockout
    /// (24 h) and a pack name far longer than any in a catalog.
    static let worstCases: [VoucherChannelMessage] = {
        let big = Money(micros: 99_999_999_990_000, currency: .usd)   // 99,999,999.99
        let cny = Money(micros: 99_999_999_990_000, currency: try! Currency(code: "CNY"))
        let negative = Money(micros: -99_999_999_990_000, currency: .usd)
        return [
            .redeemed(credited: big, balance: big), .redeemed(credited: cny, balance: cny), .redeemed(credited: big, balance: negative),
            .redeemedPack(pack: String(repeating: "Unlimited weekend data 5 GB ", count: 10), balance: big),
            .redeemedPack(pack: String(repeating: "周末无限流量包", count: 20), balance: cny),
            .mistyped, .wrongCard, .lockedOut(minutes: 1440), .paused(minutes: 1440), .alreadyUsed, .expired, .notActive, .currencyMismatch,
            .unavailable,
        ]
    }()

    @Test func everyKeyInBothLanguagesAndNoOther() throws {
        let catalog = try VoucherChannelCatalog.bundled()
        for language in NotificationLanguage.allCases {
            #expect(Set(catalog.tables[language]?.keys.map { $0 } ?? []) == Set(VoucherChannelMessage.keys), "\(language)")
        }
        // Each case's key is in the list (and the list has no key no case uses).
        #expect(Set(Self.worstCases.map(\.key)) == Set(VoucherChannelMessage.keys))
        // A table with a key missing is refused at load, naming it.
        var english = try #require(catalog.tables[.english])
        english["voucher_used"] = nil
        #expect(throws: VoucherChannelCatalog.LoadError.keys(language: "en", missing: ["voucher_used"], unknown: [])) {
            try VoucherChannelCatalog(tables: [.english: english, .simplifiedChinese: catalog.tables[.simplifiedChinese]!])
        }
    }

    /// 160 GSM 7-bit characters, or 70 UCS-2 when the text needs Chinese: one USSD screen, one SMS.
    @Test func everyMessageFitsOneScreen() throws {
        let catalog = try VoucherChannelCatalog.bundled()
        for language in NotificationLanguage.allCases {
            for message in Self.worstCases {
                let text = catalog.text(message, language: language)
                let coding = GSM7Alphabet.canEncode(text) ? "GSM 7-bit" : "UCS-2"
                let limit = coding == "GSM 7-bit" ? SMSText.singleGSM7Septets : SMSText.singleUCS2Units
                #expect(SMSText.units(of: text) <= limit && VoucherChannelCatalog.fitsOneScreen(text),
                        "\(language) \(message.key): \(SMSText.units(of: text)) \(coding) units > \(limit): \(text)")
                #expect(!text.contains("{") && !text.isEmpty, "\(language) \(message.key): \(text)")
            }
        }
        // The English texts themselves stay in GSM 7-bit (a Chinese pack name may still make one UCS-2, and fit).
        for (key, text) in try #require(catalog.tables[.english]) {
            #expect(GSM7Alphabet.canEncode(text), "en \(key) is GSM 7-bit: \(text)")
        }
    }

    @Test func textsSayWhatHappened() throws {
        let catalog = try VoucherChannelCatalog.bundled()
        let ten = Money(micros: 10_000_000, currency: .usd)
        let balance = Money(micros: 35_500_000, currency: .usd)
        #expect(catalog.text(.redeemed(credited: ten, balance: balance), language: .english) == "Recharge done: $10.00 added. Balance: $35.50.")
        #expect(catalog.text(.redeemed(credited: ten, balance: balance), language: .simplifiedChinese) == "充值成功：已充值10.00 美元，余额35.50 美元。")
        #expect(catalog.text(.lockedOut(minutes: 15), language: .english) == "Too many wrong tries. Try again in 15 min.")
        #expect(catalog.text(.lockedOut(minutes: 15), language: .simplifiedChinese) == "错误次数过多，请15分钟后再试。")
        // A long pack name is shortened with "..." to fit; a short one is kept whole, even if it holds braces.
        let long = catalog.text(.redeemedPack(pack: String(repeating: "x", count: 300), balance: balance), language: .english)
        #expect(long.contains("x...") && VoucherChannelCatalog.fitsOneScreen(long))
        #expect(catalog.text(.redeemedPack(pack: "5 GB {balance}", balance: balance), language: .english) == "Recharge done: 5 GB {balance} added. Balance: $35.50.")
    }

    /// The refusals map to messages exhaustively; a wrong pair and a wrong PIN are one message; minutes round up.
    @Test func refusalsMapToMessages() {
        let now = Self.now
        #expect(VoucherChannelMessage(refusal: .invalidPIN, now: now) == .wrongCard)
        #expect(VoucherChannelMessage(refusal: .malformedSerial("x"), now: now) == .mistyped)
        #expect(VoucherChannelMessage(refusal: .malformedPIN("x"), now: now) == .mistyped)
        #expect(VoucherChannelMessage(refusal: .lockedOut(subject: "line:+1", until: now.addingTimeInterval(61)), now: now) == .lockedOut(minutes: 2))
        #expect(VoucherChannelMessage(refusal: .lockedOut(subject: "line:+1", until: now), now: now) == .lockedOut(minutes: 1))
        #expect(VoucherChannelMessage(refusal: .channelPaused(channel: "ivr", until: now.addingTimeInterval(600)), now: now) == .paused(minutes: 10))
        #expect(VoucherChannelMessage(refusal: .alreadyRedeemed(at: now, maskedMSISDN: "+1••23"), now: now) == .alreadyUsed)
        #expect(VoucherChannelMessage(refusal: .expired(at: now), now: now) == .expired)
        #expect(VoucherChannelMessage(refusal: .blocked, now: now) == .notActive)
        #expect(VoucherChannelMessage(refusal: .notActive, now: now) == .notActive)
        #expect(VoucherChannelMessage(refusal: .batchNotFound(1), now: now) == .unavailable)
    }
}
