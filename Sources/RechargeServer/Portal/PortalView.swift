import Foundation
import Mustache
import RechargeCore

/// The view models every portal page shares, and the page that puts them together. A page's own model is a
/// `Sendable` struct built by a pure function from store data and a ``PortalLocale``; the templates read its fields
/// by name (swift-mustache reflects a struct's stored properties), and the layout's and flash's fields beside them.

/// `head.mustache`'s furniture: strings, language, the signed-in number, navigation and the CSRF token.
struct PortalLayout: Sendable {
    /// The locale table, already HTML-escaped (``PortalStrings/escapedTables``): `{{{t.key}}}`.
    let t: [String: String]
    let lang: String
    let title: String
    let csrf: String
    /// The page's own path: where the language switch comes back to.
    let path: String
    /// The signed-in account's number; nil for a visitor not signed in.
    let accountPhone: String?
    let isEnglish: Bool
    let isChinese: Bool
    let nav: PortalNavigation
    /// A page that reloads itself every two seconds (an order waiting for its payment).
    let refresh: Bool

    var signedIn: Bool { accountPhone != nil }
}

/// Which navigation link is the current page (`aria-current`).
struct PortalNavigation: Sendable {
    let dashboard: Bool
    let recharge: Bool
    let redeem: Bool
    let history: Bool
    let settings: Bool

    init(template: String) {
        dashboard = template == "dashboard"
        recharge = template == "recharge"
        redeem = template == "redeem"
        history = template == "history"
        settings = template == "settings"
    }
}

/// The messages above a page's content: a refusal (a form's error, an error page) and a notice.
struct PortalFlash: Sendable {
    var error: String?
    var notice: String?

    static let none = PortalFlash()
}

/// A page with nothing of its own beyond the layout and flash (`error.mustache`).
struct EmptyPortalView: Sendable {}

/// An `<option>` of a `<select>`: a language, a history filter's type.
struct PortalOption: Sendable {
    let value: String
    let label: String
    let selected: Bool
}

/// An `<option>` of a line picker.
struct LineOption: Sendable {
    let msisdn: String
    let selected: Bool

    static func list(_ lines: [MSISDN], selected: MSISDN?) -> [LineOption] {
        lines.map { LineOption(msisdn: $0.e164, selected: $0 == selected) }
    }
}

/// What a template is rendered with: the layout's and flash's fields, then the page model's. The layout's are
/// looked up by name (they are read on every line of every page: `t` above all); the model's by reflection, unless
/// it names them itself (``MustacheParent``: a model read on every row of a loop).
struct PortalPage<Model: Sendable>: Sendable, MustacheParent {
    let layout: PortalLayout
    let flash: PortalFlash
    let model: Model

    func child(named name: String) -> Any? {
        switch name {
        case "t": layout.t
        case "lang": layout.lang
        case "title": layout.title
        case "csrf": layout.csrf
        case "path": layout.path
        case "signedIn": layout.signedIn
        case "accountPhone": layout.accountPhone
        case "isEnglish": layout.isEnglish
        case "isChinese": layout.isChinese
        case "nav": layout.nav
        case "refresh": layout.refresh
        case "error": flash.error
        case "notice": flash.notice
        default: Self.field(name, of: model)
        }
    }

    /// A stored property of `value` by name, an optional's value unwrapped (nil when it is nil or missing).
    static func field(_ name: String, of value: Any) -> Any? {
        if let parent = value as? MustacheParent { return parent.child(named: name) }
        guard let found = Mirror(reflecting: value).children.first(where: { $0.label == name })?.value else { return nil }
        let mirror = Mirror(reflecting: found)
        guard mirror.displayStyle == .optional else { return found }
        return mirror.children.first?.value
    }
}

/// The strings and formats of one language: what a page's model is built with.
struct PortalLocale: Sendable {
    let strings: PortalStrings
    let language: NotificationLanguage

    func text(_ key: String, _ values: [String: String] = [:]) -> String {
        strings.text(key, language, values)
    }

    /// A product's or quote's name in this language, else English.
    func name(_ names: [String: String]) -> String? {
        names[language.rawValue] ?? names["en"]
    }

    /// `n days`.
    func days(_ days: Int) -> String { text("validity_days", ["days": String(days)]) }

    static func money(_ money: Money) -> String { "\(money.decimalString) \(money.currency.code)" }

    /// A bucket amount for people: money with its currency, data in GB or MB with two decimals (integer
    /// arithmetic), voice in minutes, SMS as a count.
    func quantity(_ amount: Int64, kind: BucketKind, unit: String) -> String {
        switch kind {
        case .monetary:
            guard let currency = try? Currency(code: unit) else { return "\(amount) \(unit)" }
            return Self.money(Money(micros: amount, currency: currency))
        case .data:
            let (size, name): (Int64, String) = amount >= 1 << 30 ? (1 << 30, "GB") : (1 << 20, "MB")
            let hundredths = amount.multipliedReportingOverflow(by: 100).overflow ? amount / size * 100 : amount * 100 / size
            let fraction = hundredths % 100
            return "\(hundredths / 100).\(fraction < 10 ? "0" : "")\(fraction) \(name)"
        case .voice:
            let minutes = amount / 60, seconds = amount % 60
            return text(seconds == 0 ? "unit_minutes" : "unit_minutes_seconds", ["minutes": String(minutes), "seconds": String(seconds)])
        case .sms:
            return text("unit_sms", ["count": String(amount)])
        }
    }
}

// The options are shown in loops: looked up by name (see PortalPage), not by reflection.

extension PortalOption: MustacheParent {
    func child(named name: String) -> Any? {
        switch name {
        case "value": self.value
        case "label": self.label
        case "selected": self.selected
        default: nil
        }
    }
}

extension LineOption: MustacheParent {
    func child(named name: String) -> Any? {
        switch name {
        case "msisdn": self.msisdn
        case "selected": self.selected
        default: nil
        }
    }
}
