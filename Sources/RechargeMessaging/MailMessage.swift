import Foundation

/// An email to send: addresses, subject, a plain-text body and optionally an HTML alternative. `rendered()`
/// turns it into RFC 5322 / MIME bytes that pass through any 7-bit SMTP server unchanged.
public struct MailMessage: Sendable, Hashable {
    /// How a UTF-8 body is put into 7-bit form.
    public enum BodyEncoding: Sendable, Hashable {
        /// Quoted-printable for mostly-ASCII text, base64 when most of it is not (Chinese), whichever is shorter.
        case automatic
        case quotedPrintable
        case base64
    }

    public var from: MailAddress
    public var to: [MailAddress]
    public var cc: [MailAddress] = []
    /// Envelope-only recipients: never written into the headers.
    public var bcc: [MailAddress] = []
    public var replyTo: MailAddress?
    public var subject: String
    public var textBody: String
    public var htmlBody: String?
    /// Injected so that tests and the outbox control it; the outbox stores it with the message.
    public var date: Date
    /// Without angle brackets, e.g. "3f2c…@recharge.example".
    public var messageID: String
    public var bodyEncoding: BodyEncoding = .automatic
    /// Extra headers (name, value) such as List-Unsubscribe; values must be plain ASCII.
    public var extraHeaders: [(String, String)] = []

    public init(
        from: MailAddress, to: [MailAddress], subject: String, textBody: String, htmlBody: String? = nil,
        date: Date, messageID: String
    ) {
        self.from = from
        self.to = to
        self.subject = subject
        self.textBody = textBody
        self.htmlBody = htmlBody
        self.date = date
        self.messageID = messageID
    }

    /// Every address the envelope carries: To, Cc and Bcc, in that order, without duplicates.
    public var envelopeRecipients: [String] {
        var seen = Set<String>()
        return (to + cc + bcc).map(\.address).filter { seen.insert($0.lowercased()).inserted }
    }

    public static func == (lhs: MailMessage, rhs: MailMessage) -> Bool {
        lhs.from == rhs.from && lhs.to == rhs.to && lhs.cc == rhs.cc && lhs.bcc == rhs.bcc
            && lhs.replyTo == rhs.replyTo && lhs.subject == rhs.subject && lhs.textBody == rhs.textBody
            && lhs.htmlBody == rhs.htmlBody && lhs.date == rhs.date && lhs.messageID == rhs.messageID
            && lhs.bodyEncoding == rhs.bodyEncoding
            && lhs.extraHeaders.map { [$0.0, $0.1] } == rhs.extraHeaders.map { [$0.0, $0.1] }
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(messageID)
    }

    /// The message as it goes after DATA: CRLF line ends throughout, 7-bit only, not yet dot-stuffed.
    /// `boundary` is injectable so that tests can predict the output.
    public func rendered(boundary: String = "=_recharge_" + UUID().uuidString.replacingOccurrences(of: "-", with: ""))
        -> String
    {
        var headers: [String] = []
        headers.append(addressField("From", [from]))
        if !to.isEmpty { headers.append(addressField("To", to)) }
        if !cc.isEmpty { headers.append(addressField("Cc", cc)) }
        if let replyTo { headers.append(addressField("Reply-To", [replyTo])) }
        var subjectField = HeaderFieldBuilder(name: "Subject")
        subjectField.appendText(subject)
        headers.append(subjectField.field)
        headers.append("Date: " + Self.rfc5322Date(date))
        headers.append("Message-ID: <\(messageID)>")
        for (name, value) in extraHeaders {
            var field = HeaderFieldBuilder(name: name)
            field.appendText(value)
            headers.append(field.field)
        }
        headers.append("MIME-Version: 1.0")

        var output = headers.joined(separator: "\r\n") + "\r\n"
        if let htmlBody {
            output += "Content-Type: multipart/alternative;\r\n boundary=\"\(boundary)\"\r\n\r\n"
            output += "This is a multi-part message in MIME format.\r\n"
            output += "--\(boundary)\r\n" + part(textBody, subtype: "plain")
            output += "\r\n--\(boundary)\r\n" + part(htmlBody, subtype: "html")
            output += "\r\n--\(boundary)--\r\n"
        } else {
            output += part(textBody, subtype: "plain")
            if !output.hasSuffix("\r\n") { output += "\r\n" }
        }
        return output
    }

    private func addressField(_ name: String, _ addresses: [MailAddress]) -> String {
        var field = HeaderFieldBuilder(name: name)
        for (index, address) in addresses.enumerated() {
            if index > 0 { field.attach(",") }
            address.appendTo(&field)
        }
        return field.field
    }

    /// Content headers and encoded body of one text part.
    private func part(_ body: String, subtype: String) -> String {
        let normalized = MIMEEncoding.normalizingLineBreaks(body)
        let bytes = Array(normalized.utf8)
        var header = "Content-Type: text/\(subtype); charset=UTF-8\r\n"
        if bytes.allSatisfy({ $0 < 0x80 }) && normalized.components(separatedBy: "\r\n").allSatisfy({ $0.utf8.count <= 998 }) {
            return header + "Content-Transfer-Encoding: 7bit\r\n\r\n" + normalized
        }
        let useBase64: Bool
        switch bodyEncoding {
        case .base64: useBase64 = true
        case .quotedPrintable: useBase64 = false
        case .automatic:
            // Each non-ASCII byte costs 3 characters in quoted-printable and 4/3 in base64.
            let nonASCII = bytes.lazy.filter { $0 >= 0x80 }.count
            useBase64 = nonASCII * 3 > bytes.count
        }
        if useBase64 {
            header += "Content-Transfer-Encoding: base64\r\n\r\n"
            return header + MIMEEncoding.base64Lines(bytes) + "\r\n"
        }
        header += "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
        return header + MIMEEncoding.quotedPrintable(normalized)
    }

    /// "Sun, 23 Nov 2026 19:11:00 +0000", always in UTC and with English names whatever the locale.
    static func rfc5322Date(_ date: Date) -> String {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let parts = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second, .weekday], from: date)
        let weekdays = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        func two(_ value: Int?) -> String { value.map { $0 < 10 ? "0\($0)" : "\($0)" } ?? "00" }
        return "\(weekdays[parts.weekday! - 1]), \(two(parts.day)) \(months[parts.month! - 1]) \(parts.year!) "
            + "\(two(parts.hour)):\(two(parts.minute)):\(two(parts.second)) +0000"
    }
}
