import Foundation
import Testing

@testable import RechargeMessaging

@Suite("Mail message builder")
struct MailMessageTests {
    static let date = Date(timeIntervalSince1970: 1_795_460_000)  // 2026-11-23, a fixed clock

    func message(subject: String, html: String? = "<p>您的充值已到账。</p>") -> MailMessage {
        MailMessage(
            from: MailAddress("noreply@recharge.example", displayName: "Recharge 充值中心"),
            to: [MailAddress("zhang.wei@example.com", displayName: "张伟"), MailAddress("ops@example.com")],
            subject: subject, textBody: "您的充值已到账。\n余额：¥100.00\n.\nThanks", htmlBody: html,
            date: Self.date, messageID: "20261123.1@recharge.example")
    }

    /// Unfolds a header and decodes its encoded-words, as a mail reader would.
    func decodedHeader(_ name: String, in rendered: String) -> String? {
        let head = rendered.components(separatedBy: "\r\n\r\n")[0]
        let unfolded = head.replacingOccurrences(of: "\r\n ", with: " ")
        guard let line = unfolded.components(separatedBy: "\r\n").first(where: { $0.hasPrefix(name + ": ") }) else {
            return nil
        }
        var value = String(line.dropFirst(name.count + 2))
        let pattern = try! NSRegularExpression(pattern: "=\\?UTF-8\\?B\\?([A-Za-z0-9+/=]*)\\?=(\\s+(?==\\?))?")
        while let match = pattern.firstMatch(in: value, range: NSRange(value.startIndex..., in: value)) {
            let base64 = String(value[Range(match.range(at: 1), in: value)!])
            let decoded = String(decoding: Data(base64Encoded: base64)!, as: UTF8.self)
            value.replaceSubrange(Range(match.range, in: value)!, with: decoded)
        }
        return value
    }

    @Test func chineseSubjectIsEncodedWordsAndDecodesBack() {
        let subject = "充值成功：您的账户已到账 ¥100.00，有效期至 2026年12月23日，感谢您使用 Recharge 充值服务"
        let rendered = message(subject: subject).rendered(boundary: "b1")
        #expect(rendered.contains("Subject: =?UTF-8?B?"))
        #expect(decodedHeader("Subject", in: rendered) == subject)
        #expect(rendered.unicodeScalars.allSatisfy { $0.isASCII })
    }

    @Test func everyLineFitsSeventyEightAndNoBareLineFeed() {
        let subject = String(repeating: "充值成功", count: 20)
        let rendered = message(subject: subject).rendered()  // the default boundary is long
        for line in rendered.components(separatedBy: "\r\n") {
            #expect(line.count <= 78, "line too long: \(line)")
            #expect(!line.contains("\n") && !line.contains("\r"))
        }
        #expect(decodedHeader("Subject", in: rendered) == subject)
    }

    @Test func displayNamesAreEncodedOutsideQuotes() {
        let rendered = message(subject: "Top-up").rendered(boundary: "b1")
        #expect(decodedHeader("To", in: rendered) == "张伟 <zhang.wei@example.com>, <ops@example.com>")
        #expect(decodedHeader("From", in: rendered) == "Recharge 充值中心 <noreply@recharge.example>")
        #expect(!rendered.contains("\"=?UTF-8"))
    }

    @Test func asciiDisplayNameWithSpecialsIsQuoted() {
        var mail = message(subject: "Hi")
        mail.to = [MailAddress("a@example.com", displayName: "Wei, Zhang \"VIP\"")]
        let rendered = mail.rendered(boundary: "b1")
        #expect(rendered.contains("To: \"Wei, Zhang \\\"VIP\\\"\" <a@example.com>"))
    }

    @Test func requiredHeadersArePresent() {
        let rendered = message(subject: "Top-up").rendered(boundary: "b1")
        #expect(rendered.contains("\r\nDate: Mon, 23 Nov 2026 "))
        #expect(rendered.contains("\r\nMessage-ID: <20261123.1@recharge.example>\r\n"))
        #expect(rendered.contains("\r\nMIME-Version: 1.0\r\n"))
        #expect(rendered.contains("Content-Type: multipart/alternative;\r\n boundary=\"b1\""))
        #expect(rendered.contains("\r\n--b1\r\nContent-Type: text/plain; charset=UTF-8\r\n"))
        #expect(rendered.contains("\r\n--b1\r\nContent-Type: text/html; charset=UTF-8\r\n"))
        #expect(rendered.hasSuffix("\r\n--b1--\r\n"))
    }

    @Test func chineseBodyGoesBase64AndDecodesBack() throws {
        var mail = message(subject: "x", html: nil)
        mail.textBody = "您的充值已到账。余额：¥100.00"
        let rendered = mail.rendered()
        #expect(rendered.contains("Content-Transfer-Encoding: base64"))
        let body = rendered.components(separatedBy: "\r\n\r\n")[1].replacingOccurrences(of: "\r\n", with: "")
        #expect(String(decoding: try #require(Data(base64Encoded: body)), as: UTF8.self) == mail.textBody)
    }

    @Test func quotedPrintableSoftBreaksAndEncodesTrailingSpace() {
        let line = String(repeating: "Top-up é ", count: 20) + " "
        let encoded = MIMEEncoding.quotedPrintable(line)
        let lines = encoded.components(separatedBy: "\r\n")
        #expect(lines.count > 1)
        #expect(lines.allSatisfy { $0.count <= 76 })
        #expect(lines.dropLast().allSatisfy { $0.hasSuffix("=") })
        #expect(encoded.hasSuffix("=20"))
        #expect(encoded.contains("=C3=A9"))
        #expect(MIMEEncoding.quotedPrintable(".hidden") == "=2Ehidden")
    }

    @Test func lineBreaksAreNormalisedToCRLF() {
        #expect(MIMEEncoding.normalizingLineBreaks("a\nb\r\nc\rd") == "a\r\nb\r\nc\r\nd")
    }

    @Test func dotStuffingDoublesLeadingDotsAndTerminates() {
        #expect(SMTPClient.dotStuffed("Hi\n.\n..x\nend") == "Hi\r\n..\r\n...x\r\nend\r\n.\r\n")
        #expect(SMTPClient.dotStuffed("done\r\n") == "done\r\n.\r\n")
    }

    @Test func envelopeIncludesBccButHeadersDoNot() {
        var mail = message(subject: "x")
        mail.bcc = [MailAddress("audit@recharge.example")]
        #expect(mail.envelopeRecipients == ["zhang.wei@example.com", "ops@example.com", "audit@recharge.example"])
        #expect(!mail.rendered().contains("audit@"))
    }
}
