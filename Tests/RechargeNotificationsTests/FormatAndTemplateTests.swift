import Foundation
import RechargeCore
import RechargeMessaging
import Testing

@testable import RechargeNotifications

@Suite("Notification formatting")
struct NotificationFormatTests {
    func money(_ micros: Int64, _ code: String) -> Money { Money(micros: micros, currency: try! Currency(code: code)) }

    @Test func moneyInEnglish() {
        #expect(NotificationFormat.money(money(20_000_000, "USD"), language: .english) == "$20.00")
        #expect(NotificationFormat.money(money(1_234_567_890_000, "USD"), language: .english) == "$1,234,567.89")
        #expect(NotificationFormat.money(money(-5_000_000, "USD"), language: .english) == "-$5.00")
        #expect(NotificationFormat.money(money(0, "USD"), language: .english) == "$0.00")
        #expect(NotificationFormat.money(money(999_000_000, "EUR"), language: .english) == "€999.00")
        #expect(NotificationFormat.money(money(1_500_000_000, "JPY"), language: .english) == "¥1,500")
        #expect(NotificationFormat.money(money(1_234_500, "BHD"), language: .english) == "1.235 BHD")
        #expect(NotificationFormat.money(money(12_000_000, "CHF"), language: .english) == "12.00 CHF")
    }

    @Test func moneyInChinese() {
        #expect(NotificationFormat.money(money(20_000_000, "USD"), language: .simplifiedChinese) == "20.00 美元")
        #expect(NotificationFormat.money(money(1_000_000_000, "CNY"), language: .simplifiedChinese) == "1,000.00 元")
        #expect(NotificationFormat.money(money(-10_000, "HKD"), language: .simplifiedChinese) == "-0.01 港元")
        #expect(NotificationFormat.money(money(3_000_000, "CHF"), language: .simplifiedChinese) == "3.00 瑞士法郎")
    }

    /// Half a cent rounds away from zero; anything less rounds toward it. Integer arithmetic to the last micro.
    @Test func moneyRoundsHalfAwayFromZeroToTheMinorUnit() {
        #expect(NotificationFormat.money(money(1_005_000, "USD"), language: .english) == "$1.01")
        #expect(NotificationFormat.money(money(1_004_999, "USD"), language: .english) == "$1.00")
        #expect(NotificationFormat.money(money(-1_005_000, "USD"), language: .english) == "-$1.01")
        #expect(NotificationFormat.money(money(1, "USD"), language: .english) == "$0.00")
        #expect(NotificationFormat.money(money(Int64.max, "USD"), language: .english) == "$9,223,372,036,854.78")
        #expect(NotificationFormat.money(money(Int64.min, "USD"), language: .english) == "-$9,223,372,036,854.78")
    }

    @Test func dataDurationsAndDates() {
        #expect(NotificationFormat.dataVolume(bytes: 10_737_418_240, language: .english) == "10 GB")
        #expect(NotificationFormat.dataVolume(bytes: 1_610_612_736, language: .simplifiedChinese) == "1.5 GB")
        #expect(NotificationFormat.dataVolume(bytes: 524_288, language: .english) == "512 KB")
        #expect(NotificationFormat.dataVolume(bytes: 1_048_575, language: .english) == "1024 KB")
        #expect(NotificationFormat.dataVolume(bytes: 800, language: .english) == "800 bytes")
        #expect(NotificationFormat.dataVolume(bytes: -5, language: .simplifiedChinese) == "0 字节")
        #expect(NotificationFormat.duration(seconds: 45, language: .english) == "45 s")
        #expect(NotificationFormat.duration(seconds: 721, language: .simplifiedChinese) == "13 分钟")
        let date = Date(timeIntervalSince1970: 1_796_428_800)   // 2026-12-05T00:00:00Z
        #expect(NotificationFormat.date(date, language: .english) == "Dec 5, 2026")
        #expect(NotificationFormat.date(date, language: .simplifiedChinese) == "2026年12月5日")
        #expect(NotificationFormat.date(date, language: .english, timeZone: TimeZone(identifier: "America/Los_Angeles")!) == "Dec 4, 2026")
    }

    @Test func languageTags() {
        #expect(NotificationLanguage(tag: "zh-Hans") == .simplifiedChinese)
        #expect(NotificationLanguage(tag: "zh-CN") == .simplifiedChinese)
        #expect(NotificationLanguage(tag: "zh") == .simplifiedChinese)
        #expect(NotificationLanguage(tag: "zh-Hant") == .english)
        #expect(NotificationLanguage(tag: nil) == .english)
        #expect(NotificationLanguage(tag: "fr") == .english)
    }

    @Test func retryPolicyBacksOffExponentiallyWithJitterAndACap() {
        let policy = OutboxRetryPolicy(maximumAttempts: 5, initialDelay: .seconds(30), maximumDelay: .seconds(600))
        #expect(policy.delay(afterAttempt: 1, jitter: 1) == .seconds(30))
        #expect(policy.delay(afterAttempt: 1, jitter: 0) == .seconds(15))
        #expect(policy.delay(afterAttempt: 3, jitter: 1) == .seconds(120))
        #expect(policy.delay(afterAttempt: 10, jitter: 1) == .seconds(600))
        #expect(policy.delay(afterAttempt: 10, jitter: 0.5) == .seconds(450))
        #expect(policy.allowsRetry(afterAttempt: 4) && !policy.allowsRetry(afterAttempt: 5))
    }

    @Test func lowBalanceAlarmFiresOncePerCrossing() {
        var alarm = LowBalanceAlarm(threshold: 5_000_000, armed: true)
        var fired: [Bool] = []
        fired.append(alarm.debited(to: 6_000_000))     // above
        fired.append(alarm.debited(to: 4_000_000))     // crosses
        fired.append(alarm.debited(to: 3_000_000))     // still below
        alarm.credited(to: 4_999_999)                   // not enough to re-arm
        fired.append(alarm.debited(to: 1_000_000))
        alarm.credited(to: 5_000_000)                   // re-armed
        #expect(alarm.armed)
        fired.append(alarm.debited(to: 5_000_000))     // at the threshold is not below
        fired.append(alarm.debited(to: 4_999_999))     // crosses again
        #expect(fired == [false, true, false, false, false, true])
        #expect(!alarm.armed)
    }

    @Test func endpointsFromURLs() throws {
        let smtp = try MessagingEndpoints.smtp(url: "smtp://mailer:p%40ss@mail.example.com:2525?starttls=required")
        #expect(smtp.host == "mail.example.com" && smtp.port == 2525)
        #expect(smtp.credentials == .init(username: "mailer", password: "p@ss"))
        guard case .startTLS = smtp.security else { Issue.record("expected STARTTLS required"); return }
        #expect(try MessagingEndpoints.smtp(url: "smtps://mail.example.com").port == 465)
        #expect(throws: MessagingConfigurationError.self) { try MessagingEndpoints.smtp(url: "http://mail.example.com") }
        #expect(throws: MessagingConfigurationError.self) { try MessagingEndpoints.smtp(url: "smtp://h?starttls=maybe") }
    }

    /// A password never goes over a connection an attacker could keep plain: with AUTH, STARTTLS is required by
    /// default and opportunistic STARTTLS (strippable) is refused; without AUTH the default stays opportunistic.
    @Test func smtpWithCredentialsRequiresSTARTTLS() throws {
        guard case .startTLS = try MessagingEndpoints.smtp(url: "smtp://mailer:secret@mail.example.com:587").security else {
            Issue.record("AUTH without a starttls option must default to required"); return
        }
        #expect(throws: MessagingConfigurationError.self) {
            try MessagingEndpoints.smtp(url: "smtp://mailer:secret@mail.example.com:587?starttls=opportunistic")
        }
        guard case .plain = try MessagingEndpoints.smtp(url: "smtp://mailer:secret@127.0.0.1:25?starttls=never").security else {
            Issue.record("starttls=never is an explicit choice for a local relay"); return
        }
        guard case .startTLSIfOffered = try MessagingEndpoints.smtp(url: "smtp://mail.example.com").security else {
            Issue.record("without AUTH the default stays opportunistic"); return
        }
        let from = try MessagingEndpoints.mailFrom("Recharge 充值 <noreply@recharge.example>")
        #expect(from.address == "noreply@recharge.example" && from.displayName == "Recharge 充值")
        #expect(throws: MessagingConfigurationError.self) { try MessagingEndpoints.mailFrom("nobody") }
        let smpp = try MessagingEndpoints.smpp(url: "smpp://esme:secret@smsc.example.com", source: "+14155550000")
        #expect(smpp.host == "smsc.example.com" && smpp.port == 2775 && smpp.systemID == "esme" && smpp.password == "secret")
        #expect(smpp.sourceAddress == "14155550000" && smpp.sourceAddressTON == 1)
        #expect(try MessagingEndpoints.smpp(url: "smpp://esme:pw@h:2776", source: nil).sourceAddress == "Recharge")
        #expect(throws: MessagingConfigurationError.self) { try MessagingEndpoints.smpp(url: "smpp://h:2775", source: nil) }
        #expect(throws: MessagingConfigurationError.self) { try MessagingEndpoints.smpp(url: "smpp://a:b@h", source: "A very long sender") }
    }
}

@Suite("Notification templates")
struct NotificationTemplateTests {
    let renderer = try! NotificationRenderer.bundled()
    static let now = Date(timeIntervalSince1970: 1_795_000_000)

    @Test func bothLanguagesHaveTheSameTemplatesForEveryEvent() {
        let byLanguage = renderer.templatesByLanguage
        #expect(Set(byLanguage.keys) == Set(NotificationLanguage.allCases.map(\.rawValue)))
        let expected = Set(NotificationEvent.Name.allCases.flatMap { name in NotificationRenderer.parts.map { "\(name.rawValue).\($0)" } })
        for language in NotificationLanguage.allCases {
            #expect(byLanguage[language.rawValue] == expected, "templates of \(language.rawValue)")
        }
    }

    /// Delivery renders only what a channel sends; the parts it renders are those a full render gives.
    @Test func renderingForAChannelRendersItsPartsOnly() throws {
        let event = NotificationEvent.sample(.packRenewalFailed, now: Self.now)
        let full = try renderer.render(event, language: .simplifiedChinese)
        let sms = try renderer.render(event, language: .simplifiedChinese, channel: .sms)
        let email = try renderer.render(event, language: .simplifiedChinese, channel: .email)
        #expect(sms == RenderedNotification(sms: full.sms, subject: "", text: "", html: ""))
        #expect(email == RenderedNotification(sms: "", subject: full.subject, text: full.text, html: full.html))
        #expect(try renderer.render(event, language: .simplifiedChinese, channel: .dev) == full)
        #expect(full.sms.contains("余额") && full.sms.contains("续订失败"), "\(full.sms)")
    }

    /// Every SMS, rendered with long-ish sample values, costs one or two parts, and leaves no tag behind.
    @Test(arguments: NotificationLanguage.allCases)
    func everySMSFitsInTwoParts(language: NotificationLanguage) throws {
        for name in NotificationEvent.Name.allCases {
            var events = [NotificationEvent.sample(name, now: Self.now)]
            if case .validityEnding(_, let until, let balance, let bucket) = events[0] {
                // Tomorrow, the line itself, and a pack without a name.
                events.append(.validityEnding(notice: .oneDay, validUntil: until, balance: balance, bucket: bucket))
                events.append(.validityEnding(notice: .sevenDays, validUntil: until, balance: balance, bucket: nil))
                events.append(.validityEnding(notice: .oneDay, validUntil: until, balance: balance, bucket: ExpiringBucket(kind: .sms, name: nil, remaining: 99)))
            }
            if case .packUsedUp(_, let kind) = events[0] { events.append(.packUsedUp(packName: "", kind: kind)) }
            for event in events {
                let rendered = try renderer.render(event, language: language)
                let parts = SMSText.partCount(for: rendered.sms)
                #expect((1...2).contains(parts), "\(name.rawValue) in \(language.rawValue) is \(parts) parts: \(rendered.sms)")
                for text in [rendered.sms, rendered.subject, rendered.text, rendered.html] {
                    #expect(!text.contains("{{") && !text.contains("}}") && !text.isEmpty, "\(name.rawValue): \(text)")
                }
                #expect(!rendered.subject.contains("\n"))
            }
        }
    }

    @Test func topUpRendersFormattedValuesInEachLanguage() throws {
        let event = NotificationEvent.topUpApplied(amount: Money(micros: 20_000_000, currency: .usd), balance: Money(micros: 25_500_000, currency: .usd), channel: .wechatPay)
        let english = try renderer.render(event, language: .english)
        #expect(english.sms == "Recharge: top-up of $20.00 by WeChat Pay received. Balance: $25.50. Thank you!")
        #expect(english.subject == "Top-up of $20.00 received")
        let chinese = try renderer.render(event, language: .simplifiedChinese)
        #expect(chinese.sms == "【Recharge】您通过微信支付充值20.00 美元已到账，当前余额25.50 美元。感谢使用！")
        #expect(try SMSText(chinese.sms).dataCoding == .ucs2)
        #expect(chinese.html.contains("<strong>20.00 美元</strong>"))
    }

    /// A reminder names the pack, what is left of it and when it ends; the line's own reminder asks for a top-up.
    @Test func validityRemindersSayWhatEnds() throws {
        let until = Date(timeIntervalSince1970: 1_796_428_800)   // 2026-12-05 00:00 UTC
        let balance = Money(micros: 12_340_000, currency: .usd)
        let pack = NotificationEvent.validityEnding(notice: .sevenDays, validUntil: until, balance: balance,
                                                    bucket: ExpiringBucket(kind: .data, name: "Travel 30", remaining: 1_610_612_736))
        #expect(try renderer.render(pack, language: .english).sms
            == "Recharge: your data pack \"Travel 30\" expires on Dec 5, 2026 (in 7 days), 1.5 GB left. Balance: $12.34.")
        #expect(try renderer.render(pack, language: .simplifiedChinese).sms
            == "【Recharge】您的流量套餐“Travel 30”将于2026年12月5日到期（7天后），剩余1.5 GB，余额12.34 美元。")
        let texts = NotificationEvent.validityEnding(notice: .oneDay, validUntil: until, balance: balance, bucket: ExpiringBucket(kind: .sms, name: nil, remaining: 40))
        #expect(try renderer.render(texts, language: .english).sms
            == "Recharge: your texts pack expires on Dec 5, 2026 (tomorrow), 40 texts left. Balance: $12.34.")
        let line = NotificationEvent.validityEnding(notice: .oneDay, validUntil: until, balance: balance, bucket: nil)
        #expect(try renderer.render(line, language: .english).sms
            == "Recharge: your line expires on Dec 5, 2026 (tomorrow). Balance: $12.34. Top up to keep it.")
        #expect(try renderer.render(.packUsedUp(packName: "", kind: .voice), language: .english).sms
            == "Recharge: your minutes pack is used up. Buy a new pack or top up to stay connected.")
    }

    /// Values are escaped in HTML and left alone in text.
    @Test func htmlEscapesValuesAndTextDoesNot() throws {
        let event = NotificationEvent.packUsedUp(packName: "Talk & <Text>", kind: .voice)
        let rendered = try renderer.render(event, language: .english)
        #expect(rendered.html.contains("Talk &amp; &lt;Text&gt;"))
        #expect(rendered.sms.contains("\"Talk & <Text>\""))
        #expect(rendered.text.contains("Talk & <Text>"))
    }

    @Test func missingTemplatesAreAClearError() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("templates-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder.appendingPathComponent("en"), withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        try "{{{code}}}".write(to: folder.appendingPathComponent("en/one_time_code.sms.mustache"), atomically: true, encoding: .utf8)
        let partial = try NotificationRenderer(directory: folder)
        #expect(throws: NotificationTemplateError.missingTemplate("en/one_time_code.subject")) {
            try partial.render(.oneTimeCode(code: "1", validMinutes: 1), language: .english)
        }
        #expect(throws: NotificationTemplateError.self) { try NotificationRenderer(directory: folder.appendingPathComponent("nowhere")) }
    }
}
