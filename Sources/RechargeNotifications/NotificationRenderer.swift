import Foundation
import Mustache
import RechargeCore

/// A notification rendered for every channel: the SMS text, and the email's subject, plain text and HTML.
public struct RenderedNotification: Sendable, Hashable {
    public let sms: String
    public let subject: String
    public let text: String
    public let html: String

    public init(sms: String, subject: String, text: String, html: String) {
        self.sms = sms
        self.subject = subject
        self.text = text
        self.html = html
    }
}

public enum NotificationTemplateError: Error, CustomStringConvertible, Equatable {
    case templatesNotFound(String)
    case unreadableTemplate(file: String, reason: String)
    case missingTemplate(String)

    public var description: String {
        switch self {
        case .templatesNotFound(let path): "notification templates not found at \(path)"
        case .unreadableTemplate(let file, let reason): "notification template \(file) cannot be parsed: \(reason)"
        case .missingTemplate(let name): "notification template \(name).mustache is missing"
        }
    }
}

/// Renders events with the Mustache templates under `templates/<language>/<event>.<part>.mustache`, where part
/// is `sms`, `subject`, `text` or `html`. Values reach templates already formatted for the language
/// (``NotificationFormat``). Text parts use triple braces (no HTML escaping); the HTML part uses double braces.
public struct NotificationRenderer: Sendable {
    /// The parts every event has in every language.
    public static let parts = ["sms", "subject", "text", "html"]

    private let library: MustacheLibrary
    /// Template names such as `en/top_up_applied.sms`.
    public let templateNames: Set<String>
    /// Which calendar day dates are written in.
    public let timeZone: TimeZone

    /// Loads every `*.mustache` under `directory`.
    public init(directory: URL, timeZone: TimeZone = TimeZone(identifier: "UTC")!) throws {
        let root = directory.standardizedFileURL.path
        guard let enumerator = FileManager.default.enumerator(atPath: root) else { throw NotificationTemplateError.templatesNotFound(root) }
        var templates: [String: MustacheTemplate] = [:]
        for case let path as String in enumerator where path.hasSuffix(".mustache") {
            let file = root + "/" + path
            do {
                let text = try String(contentsOfFile: file, encoding: .utf8)
                templates[String(path.dropLast(".mustache".count))] = try MustacheTemplate(string: text)
            } catch {
                throw NotificationTemplateError.unreadableTemplate(file: path, reason: String(describing: error))
            }
        }
        guard !templates.isEmpty else { throw NotificationTemplateError.templatesNotFound(root) }
        self.library = MustacheLibrary(templates: templates)
        self.templateNames = Set(templates.keys)
        self.timeZone = timeZone
    }

    /// The templates shipped with this module.
    public static func bundled(timeZone: TimeZone = TimeZone(identifier: "UTC")!) throws -> NotificationRenderer {
        guard let url = Bundle.module.url(forResource: "templates", withExtension: nil) else {
            throw NotificationTemplateError.templatesNotFound("the RechargeNotifications bundle")
        }
        return try NotificationRenderer(directory: url, timeZone: timeZone)
    }

    /// Template names per language folder, without the folder: `top_up_applied.sms` …
    public var templatesByLanguage: [String: Set<String>] {
        var result: [String: Set<String>] = [:]
        for name in templateNames {
            guard let slash = name.firstIndex(of: "/") else { continue }
            result[String(name[..<slash]), default: []].insert(String(name[name.index(after: slash)...]))
        }
        return result
    }

    /// Every part, or (with `channel`) only the parts that channel sends: the SMS text for `sms`, subject, text
    /// and HTML for `email` (the others are left empty). Delivery renders per channel: a quarter of the work
    /// for an SMS.
    public func render(_ event: NotificationEvent, language: NotificationLanguage, channel: NotificationChannel? = nil) throws -> RenderedNotification {
        let context = Self.context(for: event, language: language, timeZone: timeZone)
        func part(_ part: String, _ needed: Bool) throws -> String {
            guard needed else { return "" }
            let name = "\(language.rawValue)/\(event.name.rawValue).\(part)"
            guard let template = library.getTemplate(named: name) else { throw NotificationTemplateError.missingTemplate(name) }
            return Self.trimmed(template.render(context, library: library))
        }
        let sms = channel != .email
        let email = channel != .sms
        return RenderedNotification(sms: try part("sms", sms), subject: try part("subject", email), text: try part("text", email),
                                    html: try part("html", email))
    }

    /// The values a template sees: strings already formatted for `language`.
    static func context(for event: NotificationEvent, language: NotificationLanguage, timeZone: TimeZone) -> [String: Any] {
        let money = { (value: Money) in NotificationFormat.money(value, language: language) }
        var context: [String: Any] = ["brand": "Recharge"]
        switch event {
        case .topUpApplied(let amount, let balance, let channel):
            context["amount"] = money(amount)
            context["balance"] = money(balance)
            context["channel"] = NotificationFormat.channelName(channel, language: language)
        case .debitApplied(let amount, let balance):
            context["amount"] = money(amount)
            context["balance"] = money(balance)
        case .packUsedUp(let packName, let kind):
            context["pack_name"] = packName
            context["has_name"] = !packName.isEmpty
            context["kind"] = NotificationFormat.bucketKindName(kind, language: language)
        case .lowBalance(let balance, let threshold):
            context["balance"] = money(balance)
            context["threshold"] = money(threshold)
        case .validityEnding(let notice, let validUntil, let balance, let bucket):
            context["days"] = notice.rawValue
            context["one_day"] = notice == .oneDay
            context["valid_until"] = NotificationFormat.date(validUntil, language: language, timeZone: timeZone)
            context["balance"] = money(balance)
            if let bucket {
                // `{{#bucket}}…{{/bucket}}`: a pack or bonus bucket ends, not the line.
                let name = bucket.name ?? ""
                context["bucket"] = [
                    "kind": NotificationFormat.bucketKindName(bucket.kind, language: language),
                    "pack_name": name,
                    "has_name": !name.isEmpty,
                    "remaining": NotificationFormat.quantity(bucket.remaining, kind: bucket.kind, currency: balance.currency, language: language),
                ] as [String: Any]
            }
        case .oneTimeCode(let code, let validMinutes):
            context["code"] = code
            context["minutes"] = validMinutes
        case .contactChanged(let channel, let masked):
            context["contact"] = NotificationFormat.contactChannelName(channel, language: language)
            context["masked"] = masked
        case .voucherRedeemed(let amount, let balance, let serial):
            context["amount"] = money(amount)
            context["balance"] = money(balance)
            context["voucher"] = serial
        case .paymentFailed(let amount, let reason):
            context["amount"] = money(amount)
            context["reason"] = NotificationFormat.paymentFailureReason(reason, language: language)
        case .refund(let amount, let balance):
            context["amount"] = money(amount)
            context["balance"] = money(balance)
        case .dataPackAdded(let bytes, let validUntil):
            context["data"] = NotificationFormat.dataVolume(bytes: bytes, language: language)
            if let validUntil { context["valid_until"] = NotificationFormat.date(validUntil, language: language, timeZone: timeZone) }
        case .bonusGranted(let promotionName, let grants):
            context["promotion"] = promotionName
            // `{{#grants}}…{{/grants}}`: each bucket, `last` to leave the separator off the last one.
            context["grants"] = grants.enumerated().map { index, grant in
                [
                    "amount": NotificationFormat.quantity(grant.amount, kind: grant.kind, currency: .usd, language: language),
                    "valid_until": NotificationFormat.date(grant.validUntil, language: language, timeZone: timeZone),
                    "last": index == grants.count - 1,
                ] as [String: Any]
            }
        case .packRenewed(let packName, let price, let balance, let validUntil):
            context["pack_name"] = packName
            context["price"] = money(price)
            context["balance"] = money(balance)
            context["valid_until"] = NotificationFormat.date(validUntil, language: language, timeZone: timeZone)
        case .packRenewalFailed(let packName, let price, let balance, let validUntil, let reason):
            context["pack_name"] = packName
            context["price"] = money(price)
            context["balance"] = money(balance)
            context["valid_until"] = NotificationFormat.date(validUntil, language: language, timeZone: timeZone)
            context["insufficient_balance"] = reason == .insufficientBalance
            context["no_longer_sold"] = reason == .noLongerSold
            context["line_not_active"] = reason == .lineNotActive
        case .serviceSuspended(let number):
            context["number"] = number
        case .serviceRestored(let number, let balance):
            context["number"] = number
            context["balance"] = money(balance)
        case .guestRecharge(let number, let item, let price, let orderID):
            context["number"] = number
            context["item"] = item
            context["price"] = money(price)
            context["order"] = orderID
        }
        return context
    }
}

extension NotificationRenderer {
    /// Without leading and trailing white space and newlines; in Swift, not through Foundation's NSString
    /// bridging (this runs for every part of every message).
    static func trimmed(_ text: String) -> String {
        guard let first = text.firstIndex(where: { !$0.isWhitespace }), let last = text.lastIndex(where: { !$0.isWhitespace }) else { return "" }
        return String(text[first...last])
    }
}
